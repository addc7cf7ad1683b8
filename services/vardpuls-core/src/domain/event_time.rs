//! When something happened: an RFC 3339 instant with an explicit UTC offset.

use super::personnummer;
use crate::calendar::LocalDay;
use crate::rejection::{Invalid, Rule};
use chrono::{DateTime, Datelike, FixedOffset, Utc};
use std::fmt;

/// An instant as the source system wrote it. The offset is required: a local time without one
/// is ambiguous on the DST days (02:30 on 2026-10-25 happens twice in Stockholm).
///
/// The accepted form is exactly the contract's (`schemas/*.schema.json`, `occurred_at`):
/// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|+hh:mm|-hh:mm)`, upper-case `T` and `Z`, no leap second,
/// and the year as written 2000-2099. RFC 3339 itself also allows a space or a lower-case `t`,
/// which JSON Schema's pattern does not; a producer checked against the schema and one checked
/// by vardpuls must get the same answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventTime(DateTime<FixedOffset>);

impl EventTime {
    /// Instants outside these years are refused as typos (`0026`, `20226`).
    pub const MIN_YEAR: i32 = 2000;
    pub const MAX_YEAR: i32 = 2099;

    pub fn parse(s: &str) -> Result<EventTime, Invalid> {
        if !has_contract_form(s.as_bytes()) {
            return Err(Invalid::new(
                Rule::TimestampFormat,
                format!(
                    "{} is not in the form YYYY-MM-DDTHH:MM:SS[.fraction] with Z or +hh:mm, e.g. 2026-03-29T08:15:00+02:00",
                    personnummer::quote(s, 40)
                ),
            ));
        }
        let t = DateTime::parse_from_rfc3339(s).map_err(|e| {
            Invalid::new(
                Rule::TimestampFormat,
                format!(
                    "{} is not an RFC 3339 timestamp with offset ({e}), e.g. 2026-03-29T08:15:00+02:00",
                    personnummer::quote(s, 40)
                ),
            )
        })?;
        // The year as written, as the schema's pattern sees it: 2099-12-31T23:30:00-01:00 is
        // in range, though it is 2100 in UTC.
        let year = t.year();
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

/// The contract's shape, position by position; ranges (month 13, 30 February, offset +24:00) are
/// left to the RFC 3339 parser that follows.
fn has_contract_form(b: &[u8]) -> bool {
    let digits = |r: std::ops::Range<usize>| b.get(r).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    let at = |i: usize, c: u8| b.get(i) == Some(&c);
    let date_time = digits(0..4)
        && at(4, b'-')
        && digits(5..7)
        && at(7, b'-')
        && digits(8..10)
        && at(10, b'T')
        && digits(11..13)
        && at(13, b':')
        && digits(14..16)
        && at(16, b':')
        && digits(17..19)
        && b[17] <= b'5';
    if !date_time {
        return false;
    }
    let mut i = 19;
    if at(i, b'.') {
        let fraction = b[i + 1..].iter().take_while(|d| d.is_ascii_digit()).count();
        if fraction == 0 {
            return false;
        }
        i += 1 + fraction;
    }
    match &b[i..] {
        b"Z" => true,
        [b'+' | b'-', ..] => b.len() == i + 6 && digits(i + 1..i + 3) && at(i + 3, b':') && digits(i + 4..i + 6),
        _ => false,
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
    fn accepts_exactly_what_the_schema_accepts() {
        // The year as written decides, as in the schema's pattern.
        for ok in [
            "2099-12-31T23:30:00-01:00",
            "2000-01-01T00:30:00+01:00",
            "2026-03-29T08:15:00.123456+02:00",
            "2028-02-29T12:00:00Z",
        ] {
            assert!(EventTime::parse(ok).is_ok(), "{ok}");
        }
        for (bad, rule) in [
            ("2026-12-01 08:02:11+01:00", Rule::TimestampFormat),
            ("2026-12-01t08:02:11+01:00", Rule::TimestampFormat),
            ("2026-12-01T08:02:11z", Rule::TimestampFormat),
            ("2026-12-01T08:02:60Z", Rule::TimestampFormat),
            ("2026-12-01T08:02:11.Z", Rule::TimestampFormat),
            ("2026-12-01T08:02:11+0100", Rule::TimestampFormat),
            ("2026-02-30T08:02:11Z", Rule::TimestampFormat),
            ("2026-12-01T08:02:11+24:00", Rule::TimestampFormat),
            ("1999-12-31T23:30:00-01:00", Rule::TimestampRange),
            ("2100-01-01T00:30:00+01:00", Rule::TimestampRange),
        ] {
            assert_eq!(EventTime::parse(bad).map_err(|e| e.rule), Err(rule), "{bad}");
        }
    }

    #[test]
    fn local_day_uses_stockholm_time() {
        // 23:30 UTC on 28 March 2026 is 00:30 CET on the 29th.
        let t = EventTime::parse("2026-03-28T23:30:00Z").unwrap();
        assert_eq!(t.local_day().to_string(), "2026-03-29");
    }
}
