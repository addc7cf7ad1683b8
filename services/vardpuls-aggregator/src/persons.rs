//! Persons, not events: who was listed via the 1177 e-services, per unit and month.
//!
//! Dalarna follows "7 500 persons listed digitally via 1177" accumulated over the year: a person
//! who lists, moves and lists again is one person. Daily partials are sums of events and cannot
//! say that, so a listings shard keeps the set itself: for each month, each unit's persons
//! (pseudonymous `patient_ref`) with the time of their first such listing in the month. A set
//! only grows, and the same events give the same set in any order; restated events add to it
//! like any other (docs/kpis.md, "Listings via 1177 are persons"). The monthly KPIs
//! `persons_listed_via_1177` and `persons_listed_via_1177_ytd` count it in SQL, from the table
//! [`table`] makes.
//!
//! Each month's set is its own checkpoint file, written when it changed. A file may hold
//! persons of events after the checkpoint's offset (a crash between the two): the replay adds
//! the same persons again, so nothing counts twice.

use chrono::{DateTime, Utc};
use compact_str::CompactString;
use datafusion::arrow::array::{ArrayRef, Int64Builder, StringBuilder};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use vardpuls_core::calendar::LocalMonth;

/// One month's persons: (unit, person) -> the first listing's `occurred_at`, in microseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MonthPersons(pub BTreeMap<CompactString, BTreeMap<CompactString, i64>>);

#[derive(Debug, Clone, Default)]
pub struct PersonsListed {
    pub months: BTreeMap<LocalMonth, MonthPersons>,
    /// Months changed since the last checkpoint.
    pub changed: BTreeSet<LocalMonth>,
}

impl PersonsListed {
    /// Takes a listing via 1177 of `person` at `unit` in `month`.
    pub fn add(&mut self, month: LocalMonth, unit: &str, person: &str, at: DateTime<Utc>) {
        let micros = at.timestamp_micros();
        let persons = self.months.entry(month).or_default().0.entry(unit.into()).or_default();
        let first = persons.entry(person.into()).or_insert(micros);
        if micros <= *first {
            // The earliest listing dates the person in the month: the same in every order.
            *first = micros;
            self.changed.insert(month);
        }
    }

    /// Forgets months before `oldest`.
    pub fn expire(&mut self, oldest: LocalMonth) {
        self.months.retain(|m, _| *m >= oldest);
    }

    /// The months of `months`' years up to each of them: what the year-to-date counts read.
    pub fn year_to(months: &BTreeSet<LocalMonth>) -> BTreeSet<LocalMonth> {
        months.iter().flat_map(|m| (1..=m.month).map(move |month| LocalMonth { year: m.year, month })).collect()
    }
}

/// The table `persons_via_1177` (`unit_id`, `month` as `YYYY-MM`, `year`, `person`,
/// `first_at`) of `shards`' persons in `months`.
pub fn table<'a>(
    shards: impl Iterator<Item = &'a PersonsListed>,
    months: &BTreeSet<LocalMonth>,
) -> anyhow::Result<RecordBatch> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("unit_id", DataType::Utf8, false),
        Field::new("month", DataType::Utf8, false),
        Field::new("year", DataType::Int64, false),
        Field::new("person", DataType::Utf8, false),
        Field::new("first_at", DataType::Int64, false),
    ]));
    let (mut unit, mut month, mut year, mut person, mut first) =
        (StringBuilder::new(), StringBuilder::new(), Int64Builder::new(), StringBuilder::new(), Int64Builder::new());
    for shard in shards {
        for (m, persons) in shard.months.iter().filter(|(m, _)| months.contains(m)) {
            let text = m.to_string();
            for (u, listed) in &persons.0 {
                for (p, at) in listed {
                    unit.append_value(u);
                    month.append_value(&text);
                    year.append_value(i64::from(m.year));
                    person.append_value(p);
                    first.append_value(*at);
                }
            }
        }
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(unit.finish()),
        Arc::new(month.finish()),
        Arc::new(year.finish()),
        Arc::new(person.finish()),
        Arc::new(first.finish()),
    ];
    Ok(RecordBatch::try_new(schema, columns)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn month(s: &str) -> LocalMonth {
        let (y, m) = s.split_once('-').unwrap();
        LocalMonth { year: y.parse().unwrap(), month: m.parse().unwrap() }
    }

    #[test]
    fn a_person_counts_once_dated_by_the_first_listing_in_any_order() {
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        let (mut a, mut b) = (PersonsListed::default(), PersonsListed::default());
        let events =
            [("p-1", "2026-03-10T10:00:00Z"), ("p-1", "2026-03-02T10:00:00Z"), ("p-2", "2026-03-05T10:00:00Z")];
        for (person, t) in events {
            a.add(month("2026-03"), "U1", person, at(t));
        }
        for (person, t) in events.iter().rev() {
            b.add(month("2026-03"), "U1", person, at(t));
        }
        assert_eq!(a.months, b.months);
        let march = &a.months[&month("2026-03")].0["U1"];
        assert_eq!(march.len(), 2);
        assert_eq!(march["p-1"], at("2026-03-02T10:00:00Z").timestamp_micros());
    }

    #[test]
    fn the_year_to_a_month_is_january_through_it() {
        let months = BTreeSet::from([month("2026-03"), month("2025-12")]);
        let year_to: Vec<String> = PersonsListed::year_to(&months).iter().map(|m| m.to_string()).collect();
        assert_eq!(year_to.len(), 15);
        assert_eq!((year_to[0].as_str(), year_to[14].as_str()), ("2025-01", "2026-03"));
    }
}
