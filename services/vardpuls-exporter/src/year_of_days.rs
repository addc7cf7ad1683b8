//! A year of daily values, for "the same weekday last year" (364 days back, the same weekday)
//! that the regions' reports set beside a day. The view keeps whole records for its recent
//! days only; a year of them at national scale would be millions of records. So for days older
//! than the view's, each series (KPI, scope, scope id, no breakdown) keeps one slot per day of
//! a year: its value and the cases it rests on, 16 bytes. About 18 000 series nationally
//! (1 200 units and their kommuner and regions, a dozen daily KPIs) make at most 107 MB once a
//! year of history is there; a region's exporter a few MB.

use chrono::{Datelike, NaiveDate};
use std::collections::HashMap;
use vardpuls_core::catalogue::KpiId;
use vardpuls_core::outputs::{KpiRecord, scope_str};

/// Days a series keeps: a year and a week, so 364 days back is always held.
pub const DAYS: usize = 371;

#[derive(Debug, Clone, Copy)]
struct Slot {
    /// Days from the common era: which day the slot holds (a ring slot is reused yearly);
    /// `i32::MIN` for none, which keeps a slot at 16 bytes.
    day: i32,
    cases: u32,
    value: f64,
}

const EMPTY: Slot = Slot { day: i32::MIN, cases: 0, value: 0.0 };

/// A day's value kept for a year.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PastDay {
    pub value: f64,
    pub cases: u64,
}

#[derive(Debug, Default)]
pub struct YearOfDays {
    series: HashMap<String, Box<[Slot]>>,
}

/// The same weekday last year: 364 days back, 52 weeks, whatever leap day lies between.
pub fn same_weekday_last_year(day: NaiveDate) -> NaiveDate {
    day - chrono::Duration::days(364)
}

/// `kpi/scope/scope_id`: a daily total's series.
pub fn series_of(kpi: KpiId, scope: vardpuls_core::outputs::Scope, scope_id: &str) -> String {
    format!("{kpi}/{}/{scope_id}", scope_str(scope))
}

impl YearOfDays {
    /// Keeps a daily total's value (records with a breakdown or without a value are not kept).
    pub fn keep(&mut self, record: &KpiRecord, cases: u64) {
        let (Some(value), true) = (record.value, record.dimensions.is_empty()) else { return };
        let Ok(day) = NaiveDate::parse_from_str(&record.period, "%Y-%m-%d") else { return };
        let series = series_of(record.kpi, record.scope, &record.scope_id);
        let ring = self.series.entry(series).or_insert_with(|| vec![EMPTY; DAYS].into_boxed_slice());
        let day = day.num_days_from_ce();
        let slot = &mut ring[day.rem_euclid(DAYS as i32) as usize];
        // A ring slot holds the newest day that fell on it; an older year's record read late
        // (the KPI topic is read from its start) does not overwrite it.
        if slot.day <= day {
            *slot = Slot { day, value, cases: u32::try_from(cases).unwrap_or(u32::MAX) };
        }
    }

    pub fn get(&self, series: &str, day: NaiveDate) -> Option<PastDay> {
        let day = day.num_days_from_ce();
        let slot = self.series.get(series)?[day.rem_euclid(DAYS as i32) as usize];
        (slot.day == day).then_some(PastDay { value: slot.value, cases: u64::from(slot.cases) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::view::tests::record;

    #[test]
    fn the_same_weekday_last_year_across_a_leap_day() {
        let day = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        // Worked out by hand from the calendar: each pair is two Wednesdays (or Tuesdays).
        assert_eq!(same_weekday_last_year(day("2028-03-01")), day("2027-03-03"));
        assert_eq!(same_weekday_last_year(day("2029-02-28")), day("2028-03-01"));
        assert_eq!(same_weekday_last_year(day("2028-02-29")), day("2027-03-02"));
        // The leap day itself is kept and found like any other.
        let mut year = YearOfDays::default();
        let mut r = record("same_day_contact", "U1", "2028-02-29", 30, Some(40));
        r.value = Some(0.75);
        year.keep(&r, 40);
        let series = series_of(KpiId::SameDayContact, vardpuls_core::outputs::Scope::Unit, "U1");
        assert_eq!(year.get(&series, day("2028-02-29")).unwrap().value, 0.75);
        assert_eq!(year.get(&series, day("2028-03-01")), None);
    }

    #[test]
    fn keeps_a_year_of_daily_totals_and_knows_which_day_a_slot_holds() {
        let mut year = YearOfDays::default();
        let mut r = record("same_day_contact", "U1", "2025-12-08", 41, Some(50));
        r.value = Some(0.82);
        year.keep(&r, 50);
        let series = series_of(KpiId::SameDayContact, vardpuls_core::outputs::Scope::Unit, "U1");
        let day = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(year.get(&series, day("2025-12-08")), Some(PastDay { value: 0.82, cases: 50 }));
        // 371 days later the slot is the same, the day is not.
        assert_eq!(year.get(&series, day("2026-12-14")), None);
        // An older year's record for the same slot does not replace the newer day.
        let mut older = record("same_day_contact", "U1", "2024-12-02", 1, Some(1));
        older.value = Some(1.0);
        year.keep(&older, 1);
        assert_eq!(year.get(&series, day("2025-12-08")).unwrap().value, 0.82);
        // Breakdowns are not kept.
        let mut by = r.clone();
        by.dimensions.insert("profession".into(), "doctor".into());
        by.period = "2025-12-09".into();
        year.keep(&by, 50);
        assert_eq!(year.get(&series, day("2025-12-09")), None);
    }
}
