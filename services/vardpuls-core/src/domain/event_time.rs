//! When something happened: an RFC 3339 instant with an explicit UTC offset.

use crate::calendar::LocalDay;
use crate::rejection::{Invalid, Rule};
use chrono::{DateTime, Datelike, FixedOffset, Utc};
use std::fmt;

/// An instant as the source system wrote it. The offset is required: a local time without one
/// is ambiguous on the DST days (02:30 on 2026-10-25 happens twice in Stockholm).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventTime(DateTime<FixedOffset>);

impl EventTime {
    /// Instants outside these years are refused as typos (`0026`, `20226`).
    pub const MIN_YEAR: i32 = 2000;
    pub const MAX_YEAR: i32 = 2099;

    pub fn parse(s: &str) -> Result<EventTime, Invalid> {
        let t = DateTime::parse_from_rfc3339(s).map_err(|e| {
            Invalid::new(
                Rule::TimestampFormat,
                format!(
                    "`{}` is not an RFC 3339 timestamp with offset ({e}), e.g. 2026-03-29T08:15:00+02:00",
                    s.chars().take(40).collect::<String>()
                ),
            )
        })?;
        let year = t.with_timezone(&Utc).year();
        if !(Self::MIN_YEAR..=Self::MAX_YEAR).contains(&year) {
            return Err(Invalid::new(
                Rule::TimestampRange,
                format!("year {year} is outside {}-{}", Self::MIN_YEAR, Self::MAX_YEAR),
            ));
        }
        Ok(EventTime(t))
    }

    pub fn from_utc(t: DateTime<Utc>) -> EventTime {
        EventTime(t.fixed_offset())
    }

    pub fn utc(&self) -> DateTime<Utc> {
        self.0.with_timezone(&Utc)
    }

    pub fn timestamp_micros(&self) -> i64 {
        self.0.timestamp_micros()
    }

    /// The calendar day in Europe/Stockholm this instant falls on.
    pub fn local_day(&self) -> LocalDay {
        LocalDay::of(self.utc())
    }
}

impl fmt::Display for EventTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.to_rfc3339())
    }
}

super::serde_via_parse!(EventTime);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requires_an_offset() {
        assert!(EventTime::parse("2026-03-29T08:15:00+02:00").is_ok());
        assert!(EventTime::parse("2026-03-29T06:15:00Z").is_ok());
        assert_eq!(EventTime::parse("2026-03-29T08:15:00").unwrap_err().rule, Rule::TimestampFormat);
        assert_eq!(EventTime::parse("1999-12-31T23:00:00Z").unwrap_err().rule, Rule::TimestampRange);
    }

    #[test]
    fn local_day_uses_stockholm_time() {
        // 23:30 UTC on 28 March 2026 is 00:30 CET on the 29th.
        let t = EventTime::parse("2026-03-28T23:30:00Z").unwrap();
        assert_eq!(t.local_day().to_string(), "2026-03-29");
    }
}
