//! Stocks on every day: a unit's level (listed patients) holds until an event moves it, so
//! every day has a value for every unit that has a level, not only the days with its events.
//!
//! A stock KPI's SQL gives a row where a unit had events. Without the others, a kommun's or
//! region's total on a weekend would sum only the units that had listing events that day, and a
//! unit without events in a month would have no month value. The shard opens every day up to
//! its progress ([`crate::shard::Shard::open_days_without_events`]), and this step fills each
//! of those days with the level of the unit's latest day before it.

use crate::catalogue;
use crate::partial::{Partial, Period};
use chrono::NaiveDate;
use std::collections::{BTreeMap, BTreeSet};

/// The rows to add to `computed` (a shard's daily partials of `days`): for every day in `days`
/// and every stock KPI, unit and breakdown with a level by then (from `openings`, the levels
/// before the first open day, or an earlier day of `computed`) but no row that day, the level
/// carried, with the time of the latest event behind it.
pub fn carried<'a>(
    openings: impl Iterator<Item = &'a Partial>,
    days: &BTreeSet<NaiveDate>,
    computed: &'a [Partial],
) -> Vec<Partial> {
    type Key<'k> = (&'k str, &'k str, &'k str);
    let key = |p: &'a Partial| -> Key<'a> { (p.kpi.as_str(), p.unit_id.as_str(), p.dimensions.as_str()) };
    let mut on_day: BTreeMap<NaiveDate, Vec<&Partial>> = BTreeMap::new();
    for p in computed.iter().filter(|p| catalogue::is_stock(p.kpi)) {
        if let Period::Day(day) = p.period {
            on_day.entry(day).or_default().push(p);
        }
    }
    // A BTreeMap, so the rows come out in the same order in every run.
    let mut level: BTreeMap<Key, &Partial> =
        openings.filter(|p| catalogue::is_stock(p.kpi)).map(|p| (key(p), p)).collect();
    let mut out = Vec::new();
    for day in days {
        let present = on_day.remove(day).unwrap_or_default();
        for p in &present {
            level.insert(key(p), p);
        }
        let present: BTreeSet<Key> = present.iter().map(|p| key(p)).collect();
        for (k, p) in &level {
            if !present.contains(k) {
                out.push(Partial { period: Period::Day(*day), pending: None, revision: 0, ..(*p).clone() });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(unit: &str, day: &str, n: i64, last_event_at: i64) -> Partial {
        Partial {
            kpi: vardpuls_core::catalogue::KpiId::ListedPatients,
            unit_id: unit.into(),
            period: Period::Day(day.parse().unwrap()),
            dimensions: "".into(),
            numerator: n.into(),
            denominator: None,
            pending: None,
            last_event_at: Some(last_event_at),
            cases: None,
            revision: 2,
        }
    }

    #[test]
    fn a_level_holds_until_a_day_with_events_moves_it() {
        // Mora's level was 5 000 at the last closed day (Thursday); Särna has none before.
        let opening = [listed("MORA", "2026-11-26", 5000, 1)];
        // Friday: Mora 5 002. Saturday and Sunday: no events. Monday: Särna appears with 800.
        let days: BTreeSet<NaiveDate> =
            ["2026-11-27", "2026-11-28", "2026-11-29", "2026-11-30"].iter().map(|d| d.parse().unwrap()).collect();
        let computed = [listed("MORA", "2026-11-27", 5002, 7), listed("SARNA", "2026-11-30", 800, 9)];
        let rows: Vec<(String, String, i64, Option<i64>, u32)> = carried(opening.iter(), &days, &computed)
            .into_iter()
            .map(|p| {
                let n: i64 = p.numerator.try_into().unwrap();
                (p.unit_id.to_string(), p.period.to_string(), n, p.last_event_at, p.revision)
            })
            .collect();
        let row = |u: &str, d: &str, n, at| (u.to_string(), d.to_string(), n, Some(at), 0);
        assert_eq!(
            rows,
            [
                // Saturday, Sunday and Monday carry Friday's 5 002; Särna has no level before
                // Monday, and on Monday its own row.
                row("MORA", "2026-11-28", 5002, 7),
                row("MORA", "2026-11-29", 5002, 7),
                row("MORA", "2026-11-30", 5002, 7),
            ]
        );
    }

    #[test]
    fn the_opening_level_fills_days_before_the_first_row() {
        let opening = [listed("MORA", "2026-11-26", 5000, 1)];
        let days: BTreeSet<NaiveDate> = ["2026-11-27"].iter().map(|d| d.parse().unwrap()).collect();
        let rows = carried(opening.iter(), &days, &[]);
        assert_eq!(rows.len(), 1);
        assert_eq!((rows[0].period.to_string(), rows[0].numerator), ("2026-11-27".to_string(), 5000.into()));
    }
}
