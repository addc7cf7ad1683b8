//! Times as exports write them: local wall-clock times without an offset, read in the mapping's
//! zone (Europe/Stockholm unless it says otherwise). Twice a year the wall clock is ambiguous:
//! on the last Sunday in March 02:00–03:00 does not happen, on the last Sunday in October it
//! happens twice. Such a time has two candidate instants, one per offset around the change;
//! [`Reading`] says which case a cell is, and the mapping's rule picks one or refuses the row.

use chrono::{DateTime, LocalResult, NaiveDateTime, SecondsFormat, TimeZone, Utc};
use chrono_tz::Tz;

/// What a time cell says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reading {
    /// One instant: a time with an offset, or a local time outside the clock changes.
    Exact(DateTime<Utc>),
    /// A local time in the skipped hour: read with the offset before the change it is
    /// `later`, with the offset after it, `earlier`.
    Nonexistent { earlier: DateTime<Utc>, later: DateTime<Utc> },
    /// A local time in the repeated hour: the first pass (summer time) is `earlier`.
    Repeated { earlier: DateTime<Utc>, later: DateTime<Utc> },
    /// Matches none of the formats.
    Unreadable,
}

/// How times are read: the zone of local times and the formats tried in order.
#[derive(Debug, Clone)]
pub struct TimeFormats {
    pub zone: Tz,
    formats: Vec<String>,
}

/// Always understood, before the mapping's formats: RFC 3339 with an offset (the contracts'
/// own form), and ISO local times (as Parquet timestamps are formatted), with or without seconds.
const BUILT_IN: [&str; 3] = ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%d %H:%M"];

impl TimeFormats {
    pub fn new(zone: Tz, formats: Vec<String>) -> TimeFormats {
        TimeFormats { zone, formats }
    }

    pub fn formats(&self) -> &[String] {
        &self.formats
    }

    pub fn read(&self, text: &str) -> Reading {
        let text = text.trim();
        if let Ok(instant) = DateTime::parse_from_rfc3339(text) {
            return Reading::Exact(instant.with_timezone(&Utc));
        }
        let naive = iso_local(text).or_else(|| {
            BUILT_IN
                .iter()
                .map(|f| f as &str)
                .chain(self.formats.iter().map(String::as_str))
                .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
        });
        match naive {
            Some(local) => self.place(local),
            None => Reading::Unreadable,
        }
    }

    fn place(&self, local: NaiveDateTime) -> Reading {
        match self.zone.from_local_datetime(&local) {
            LocalResult::Single(t) => Reading::Exact(t.with_timezone(&Utc)),
            LocalResult::Ambiguous(a, b) => {
                let (a, b) = (a.with_timezone(&Utc), b.with_timezone(&Utc));
                Reading::Repeated { earlier: a.min(b), later: a.max(b) }
            }
            LocalResult::None => {
                // The offsets in force a few hours either side of the gap.
                let around = |hours| {
                    let probe = local.and_utc() + chrono::Duration::hours(hours);
                    let offset = self.zone.offset_from_utc_datetime(&probe.naive_utc());
                    local.and_utc()
                        - chrono::Duration::seconds(i64::from(chrono::Offset::fix(&offset).local_minus_utc()))
                };
                let (before, after) = (around(-6), around(6));
                Reading::Nonexistent { earlier: before.min(after), later: before.max(after) }
            }
        }
    }

    /// The contract's form: RFC 3339 with the zone's offset at that instant.
    pub fn write(&self, instant: DateTime<Utc>) -> String {
        instant.with_timezone(&self.zone).to_rfc3339_opts(SecondsFormat::AutoSi, false)
    }
}

/// `2026-03-29 08:02:11` and `2026-03-29T08:02` read by hand: the form nearly every export
/// uses, and chrono's format parser was a tenth of a mapped import's time
/// (docs/performance.md). Anything else falls through to the formats.
fn iso_local(text: &str) -> Option<NaiveDateTime> {
    let b = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| -> Option<u32> {
        b.get(range)?.iter().try_fold(0u32, |n, c| c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0')))
    };
    if !(b.len() == 16 || b.len() == 19)
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b' ' | b'T')
        || b[13] != b':'
    {
        return None;
    }
    let seconds = if b.len() == 19 {
        if b[16] != b':' {
            return None;
        }
        digits(17..19)?
    } else {
        0
    };
    chrono::NaiveDate::from_ymd_opt(digits(0..4)? as i32, digits(5..7)?, digits(8..10)?)?.and_hms_opt(
        digits(11..13)?,
        digits(14..16)?,
        seconds,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stockholm() -> TimeFormats {
        TimeFormats::new(chrono_tz::Europe::Stockholm, vec!["%d.%m.%Y %H:%M".into()])
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn local_times_take_the_offset_of_their_day() {
        let t = stockholm();
        assert_eq!(t.read("2026-03-29 08:02:11"), Reading::Exact(utc("2026-03-29T06:02:11Z")));
        assert_eq!(t.read("28.03.2026 08:02"), Reading::Exact(utc("2026-03-28T07:02:00Z")));
        assert_eq!(t.read("2026-03-29T08:02:11+02:00"), Reading::Exact(utc("2026-03-29T06:02:11Z")));
        assert_eq!(t.write(utc("2026-03-29T06:02:11Z")), "2026-03-29T08:02:11+02:00");
        assert_eq!(t.read("29/03/2026"), Reading::Unreadable);
        assert_eq!(t.read("2026-02-30 08:00:00"), Reading::Unreadable, "no such day");
        assert_eq!(t.read("2026-03-29T08:02"), Reading::Exact(utc("2026-03-29T06:02:00Z")));
        assert_eq!(t.read("2026-03-29 08:02:11.250"), Reading::Exact(utc("2026-03-29T06:02:11.250Z")));
    }

    #[test]
    fn the_skipped_and_the_repeated_hour_have_two_candidates() {
        let t = stockholm();
        // 02:30 on 29 March does not exist: 01:30 CET (00:30Z) or 03:30 CEST (01:30Z).
        assert_eq!(
            t.read("2026-03-29 02:30:00"),
            Reading::Nonexistent { earlier: utc("2026-03-29T00:30:00Z"), later: utc("2026-03-29T01:30:00Z") }
        );
        // 02:30 on 25 October happens at 00:30Z (CEST) and again at 01:30Z (CET).
        assert_eq!(
            t.read("2026-10-25 02:30:00"),
            Reading::Repeated { earlier: utc("2026-10-25T00:30:00Z"), later: utc("2026-10-25T01:30:00Z") }
        );
        assert_eq!(t.write(utc("2026-10-25T01:30:00Z")), "2026-10-25T02:30:00+01:00");
    }
}
