//! The exporter's view of `vardpuls.kpi.v1`: the latest record per key, grouped by period, for
//! the recent periods the outputs need (days for the drill-down, months for last-year
//! comparisons). Older periods are dropped so memory stays bounded at national scale.

use crate::year_of_days::YearOfDays;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use std::collections::{BTreeMap, HashMap};
use vardpuls_core::calendar::LocalDay;
use vardpuls_core::catalogue::KpiId;
use vardpuls_core::outputs::{Grain, KpiRecord, Scope};

/// How much history the view keeps.
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    pub days: i64,
    pub months: i64,
}

impl Default for Retention {
    fn default() -> Self {
        // 35 days: a 30-day drill-down plus four same-weekdays for expected volumes.
        // 25 months: this month against the same month last year, with a month of slack.
        Retention { days: 35, months: 25 }
    }
}

#[derive(Debug, Default)]
pub struct KpiView {
    retention: Retention,
    /// period (`2026-11-23` or `2026-11`) -> key -> latest record.
    periods: BTreeMap<String, HashMap<String, KpiRecord>>,
    /// (unit, source feed) -> latest event time behind any of the unit's values from that feed.
    last_event: HashMap<(String, &'static str), DateTime<Utc>>,
    /// Daily totals older than the kept days, for a year: the same weekday last year.
    year_of_days: YearOfDays,
    records_applied: u64,
}

impl KpiView {
    pub fn new(retention: Retention) -> KpiView {
        KpiView { retention, ..KpiView::default() }
    }

    /// Upserts a record. Records of periods older than the retention (relative to `today`) are
    /// ignored; returns whether the record was kept.
    pub fn apply(&mut self, record: KpiRecord, today: LocalDay) -> bool {
        self.records_applied += 1;
        // Plumbing between stages, not a figure (a breakdown row per pair of units).
        if vardpuls_core::catalogue::is_internal(record.kpi) {
            return false;
        }
        if record.scope == Scope::Unit
            && let Some(feed) = feed_of(record.kpi)
        {
            let last = self.last_event.entry((record.scope_id.clone(), feed)).or_insert(record.updated_at);
            *last = (*last).max(record.updated_at);
        }
        if record.period < self.oldest_kept(record.grain, today) {
            if record.grain == Grain::Day {
                self.year_of_days.keep(&record, crate::presentation::cases_of(&record));
            }
            return false;
        }
        self.periods.entry(record.period.clone()).or_default().insert(record.key(), record);
        true
    }

    /// Drops periods that fell out of the retention as the calendar moved on.
    pub fn prune(&mut self, today: LocalDay) {
        let (oldest_day, oldest_month) = (self.oldest_kept(Grain::Day, today), self.oldest_kept(Grain::Month, today));
        // Days leaving the view stay a year as daily totals.
        for (period, records) in self.periods.range(..oldest_day.clone()) {
            if Grain::of_period(period) == Some(Grain::Day) {
                for record in records.values() {
                    self.year_of_days.keep(record, crate::presentation::cases_of(record));
                }
            }
        }
        self.periods.retain(|period, _| {
            if Grain::of_period(period) == Some(Grain::Day) { *period >= oldest_day } else { *period >= oldest_month }
        });
    }

    fn oldest_kept(&self, grain: Grain, today: LocalDay) -> String {
        match grain {
            Grain::Day => LocalDay::from_date(today.date() - Duration::days(self.retention.days)).to_string(),
            Grain::Month => {
                let m = today.month();
                let index = m.year as i64 * 12 + m.month as i64 - 1 - self.retention.months;
                format!("{:04}-{:02}", index.div_euclid(12), index.rem_euclid(12) + 1)
            }
        }
    }

    /// Every record of one period (a day `YYYY-MM-DD` or a month `YYYY-MM`).
    pub fn period(&self, period: &str) -> impl Iterator<Item = &KpiRecord> {
        self.periods.get(period).into_iter().flat_map(|records| records.values())
    }

    pub fn get(&self, period: &str, key: &str) -> Option<&KpiRecord> {
        self.periods.get(period)?.get(key)
    }

    /// Periods held, oldest first.
    pub fn periods(&self) -> impl Iterator<Item = &str> {
        self.periods.keys().map(String::as_str)
    }

    pub fn last_event(&self) -> &HashMap<(String, &'static str), DateTime<Utc>> {
        &self.last_event
    }

    pub fn len(&self) -> usize {
        self.periods.values().map(HashMap::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Daily totals of days older than the kept days, for a year.
    pub fn year_of_days(&self) -> &YearOfDays {
        &self.year_of_days
    }

    pub fn records_applied(&self) -> u64 {
        self.records_applied
    }

    /// The mean final denominator of the same weekday over the last four weeks: how many cases
    /// a day like `record`'s usually has. None without any such day.
    pub fn expected_denominator(&self, record: &KpiRecord) -> Option<f64> {
        let day = NaiveDate::parse_from_str(&record.period, "%Y-%m-%d").ok()?;
        let mut seen = Vec::new();
        for weeks in 1..=4 {
            let earlier = LocalDay::from_date(day - Duration::weeks(weeks)).to_string();
            let key = record.key().replacen(&record.period, &earlier, 1);
            if let Some(denominator) = self.get(&earlier, &key).and_then(|r| r.denominator) {
                seen.push(f64::try_from(denominator).unwrap_or(0.0));
            }
        }
        (!seen.is_empty()).then(|| seen.iter().sum::<f64>() / seen.len() as f64)
    }
}

/// The input feed behind a KPI, for "feed silent" detection.
pub fn feed_of(kpi: KpiId) -> Option<&'static str> {
    match kpi.definition().stage {
        vardpuls_core::catalogue::Stage::Daily { source } => Some(source.short_name()),
        vardpuls_core::catalogue::Stage::Monthly { .. } | vardpuls_core::catalogue::Stage::Derived => None,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use rust_decimal::Decimal;

    pub fn record(kpi: &str, unit: &str, period: &str, num: i64, den: Option<i64>) -> KpiRecord {
        KpiRecord {
            schema_version: 1,
            kpi: kpi.parse().unwrap(),
            scope: Scope::Unit,
            scope_id: unit.into(),
            grain: if period.len() == 10 { Grain::Day } else { Grain::Month },
            period: period.into(),
            dimensions: Default::default(),
            numerator: Decimal::from(num),
            denominator: den.map(Decimal::from),
            value: den.map(|d| num as f64 / d as f64),
            is_final: false,
            revision: 0,
            cases: None,
            live: None,
            updated_at: "2026-11-23T09:00:00Z".parse().unwrap(),
        }
    }

    fn today() -> LocalDay {
        LocalDay::parse("2026-11-23").unwrap()
    }

    #[test]
    fn latest_record_per_key_wins_and_old_periods_are_dropped() {
        let mut view = KpiView::new(Retention::default());
        assert!(view.apply(record("same_day_contact", "U1", "2026-11-23", 5, Some(10)), today()));
        assert!(view.apply(record("same_day_contact", "U1", "2026-11-23", 8, Some(10)), today()));
        assert!(view.apply(record("same_day_contact", "U1", "2024-10", 8, Some(10)), today()));
        assert!(!view.apply(record("same_day_contact", "U1", "2024-09", 8, Some(10)), today()));
        assert!(!view.apply(record("same_day_contact", "U1", "2026-10-18", 8, Some(10)), today()));
        assert_eq!(view.len(), 2);
        assert_eq!(view.period("2026-11-23").next().unwrap().numerator, Decimal::from(8));
        view.prune(LocalDay::parse("2026-12-01").unwrap());
        assert_eq!(view.periods().collect::<Vec<_>>(), vec!["2026-11-23"]);
    }

    #[test]
    fn expected_denominator_is_the_mean_of_the_same_weekday() {
        let mut view = KpiView::new(Retention::default());
        view.apply(record("same_day_contact", "U1", "2026-11-16", 90, Some(100)), today());
        view.apply(record("same_day_contact", "U1", "2026-11-09", 150, Some(200)), today());
        view.apply(record("same_day_contact", "U1", "2026-11-10", 1, Some(1000)), today());
        let now = record("same_day_contact", "U1", "2026-11-23", 5, Some(10));
        assert_eq!(view.expected_denominator(&now), Some(150.0));
        assert_eq!(view.expected_denominator(&record("same_day_contact", "U2", "2026-11-23", 5, Some(10))), None);
    }

    #[test]
    fn last_event_follows_the_latest_phone_value() {
        let mut view = KpiView::new(Retention::default());
        let mut r = record("same_day_contact", "U1", "2026-11-20", 5, Some(10));
        r.updated_at = "2026-11-20T15:00:00Z".parse().unwrap();
        view.apply(r.clone(), today());
        r.updated_at = "2026-11-20T11:00:00Z".parse().unwrap();
        view.apply(r, today());
        assert_eq!(
            view.last_event()[&("U1".to_string(), "phone")],
            "2026-11-20T15:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
    }
}
