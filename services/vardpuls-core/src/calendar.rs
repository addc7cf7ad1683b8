//! Calendar days and months in Europe/Stockholm.
//!
//! Every KPI period in vardpuls is a local calendar period. A local day is 23, 24 or 25 hours
//! long (2026-03-29 has 23, 2026-10-25 has 25), so periods are computed from local midnights,
//! never by adding 24 hours to a UTC instant.

use chrono::{DateTime, Datelike, Duration, LocalResult, NaiveDate, TimeZone, Utc};
use chrono_tz::Europe::Stockholm;
use std::fmt;

/// The time zone of every vardpuls period.
pub const TIME_ZONE: chrono_tz::Tz = Stockholm;
pub const TIME_ZONE_NAME: &str = "Europe/Stockholm";

/// A calendar day in Europe/Stockholm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LocalDay(NaiveDate);

impl LocalDay {
    pub fn of(instant: DateTime<Utc>) -> LocalDay {
        LocalDay(instant.with_timezone(&TIME_ZONE).date_naive())
    }

    pub fn from_date(date: NaiveDate) -> LocalDay {
        LocalDay(date)
    }

    pub fn parse(s: &str) -> Option<LocalDay> {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").ok().map(LocalDay)
    }

    pub fn date(&self) -> NaiveDate {
        self.0
    }

    /// The UTC instant of this day's local midnight.
    pub fn start(&self) -> DateTime<Utc> {
        local_midnight(self.0)
    }

    /// The UTC instant of the next day's local midnight (exclusive end).
    pub fn end(&self) -> DateTime<Utc> {
        self.next().start()
    }

    pub fn length(&self) -> Duration {
        self.end() - self.start()
    }

    pub fn next(&self) -> LocalDay {
        LocalDay(self.0.succ_opt().expect("date in range"))
    }

    /// Whole calendar days from `self` to `later` (5 March to 8 March is 3).
    pub fn days_until(&self, later: LocalDay) -> i64 {
        (later.0 - self.0).num_days()
    }

    pub fn month(&self) -> LocalMonth {
        LocalMonth { year: self.0.year(), month: self.0.month() }
    }
}

impl fmt::Display for LocalDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not `format("%Y-%m-%d")`: that parses the pattern on every call, and records and
        // checkpoints print a day per KPI value.
        write!(f, "{:04}-{:02}-{:02}", self.0.year(), self.0.month(), self.0.day())
    }
}

/// A local day with its UTC bounds, for placing many instants in a row: events arrive
/// roughly in time order, so most fall in the same day as the one before, and a check of two
/// bounds replaces a time-zone lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DaySpan {
    pub day: LocalDay,
    /// Local midnight starting the day, in UTC.
    pub start: DateTime<Utc>,
    /// The next local midnight (exclusive), in UTC.
    pub end: DateTime<Utc>,
}

impl DaySpan {
    pub fn containing(instant: DateTime<Utc>) -> DaySpan {
        let day = LocalDay::of(instant);
        DaySpan { day, start: day.start(), end: day.end() }
    }

    pub fn contains(&self, instant: DateTime<Utc>) -> bool {
        self.start <= instant && instant < self.end
    }

    /// The span of `instant`, reusing `cached` when the instant falls inside it.
    pub fn of(instant: DateTime<Utc>, cached: &mut Option<DaySpan>) -> DaySpan {
        match cached {
            Some(span) if span.contains(instant) => *span,
            _ => *cached.insert(DaySpan::containing(instant)),
        }
    }
}

/// A calendar month in Europe/Stockholm, shown as `2026-11`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LocalMonth {
    pub year: i32,
    pub month: u32,
}

impl LocalMonth {
    /// `2026-03`, as records write a month.
    pub fn parse(s: &str) -> Option<LocalMonth> {
        let (year, month) = s.split_once('-')?;
        let (year, month) = (year.parse().ok()?, month.parse().ok()?);
        (s.len() == 7 && (1..=12).contains(&month)).then_some(LocalMonth { year, month })
    }

    pub fn first_day(&self) -> LocalDay {
        LocalDay(NaiveDate::from_ymd_opt(self.year, self.month, 1).expect("valid month"))
    }

    pub fn same_month_last_year(&self) -> LocalMonth {
        LocalMonth { year: self.year - 1, month: self.month }
    }

    pub fn same_month_next_year(&self) -> LocalMonth {
        LocalMonth { year: self.year + 1, month: self.month }
    }

    pub fn last_day(&self) -> LocalDay {
        let (year, month) = if self.month == 12 { (self.year + 1, 1) } else { (self.year, self.month + 1) };
        let first_of_next = NaiveDate::from_ymd_opt(year, month, 1).expect("valid month");
        LocalDay(first_of_next.pred_opt().expect("has a previous day"))
    }
}

impl fmt::Display for LocalMonth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

fn local_midnight(date: NaiveDate) -> DateTime<Utc> {
    let naive = date.and_hms_opt(0, 0, 0).expect("midnight exists");
    match TIME_ZONE.from_local_datetime(&naive) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        // Sweden shifts at 02:00/03:00, never at midnight; keep a defined answer regardless.
        LocalResult::Ambiguous(first, _) => first.with_timezone(&Utc),
        LocalResult::None => TIME_ZONE
            .from_local_datetime(&(naive + Duration::hours(1)))
            .earliest()
            .expect("an hour after a gap exists")
            .with_timezone(&Utc),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> LocalDay {
        LocalDay::parse(s).unwrap()
    }

    #[test]
    fn dst_days_have_23_and_25_hours() {
        assert_eq!(day("2026-03-29").length(), Duration::hours(23));
        assert_eq!(day("2026-10-25").length(), Duration::hours(25));
        assert_eq!(day("2026-11-23").length(), Duration::hours(24));
    }

    #[test]
    fn instants_near_midnight_land_on_the_local_day() {
        let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        // 22:59 UTC on 28 March is 23:59 CET: still the 28th.
        assert_eq!(LocalDay::of(t("2026-03-28T22:59:00Z")), day("2026-03-28"));
        // 22:30 UTC on 29 March is 00:30 CEST on the 30th (after the spring shift).
        assert_eq!(LocalDay::of(t("2026-03-29T22:30:00Z")), day("2026-03-30"));
        // 22:30 UTC on 25 October is 23:30 CET: still the 25th (after the autumn shift).
        assert_eq!(LocalDay::of(t("2026-10-25T22:30:00Z")), day("2026-10-25"));
    }

    #[test]
    fn day_spans_follow_dst_and_the_cache_never_answers_for_another_day() {
        let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        let spring = DaySpan::containing(t("2026-03-29T12:00:00Z"));
        assert_eq!(spring.end - spring.start, Duration::hours(23));
        let mut cached = None;
        for (instant, expected) in [
            ("2026-10-25T12:00:00Z", "2026-10-25"),
            ("2026-10-25T22:59:59Z", "2026-10-25"),
            ("2026-10-25T23:00:00Z", "2026-10-26"),
            ("2026-10-24T21:59:59Z", "2026-10-24"),
            ("2026-10-24T22:00:00Z", "2026-10-25"),
        ] {
            let span = DaySpan::of(t(instant), &mut cached);
            assert_eq!(span.day, day(expected), "{instant}");
            assert_eq!(span, DaySpan::containing(t(instant)), "{instant}");
        }
    }

    #[test]
    fn calendar_days_count_weekends() {
        assert_eq!(day("2026-03-05").days_until(day("2026-03-08")), 3);
        assert_eq!(day("2026-03-29").month().to_string(), "2026-03");
        assert_eq!(day("2026-03-29").month().same_month_last_year().to_string(), "2025-03");
    }
}
