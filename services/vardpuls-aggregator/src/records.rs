//! Partials to published KPI records (`vardpuls.kpi.v1`).

use crate::partial::{Partial, Period};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use vardpuls_core::outputs::{Grain, KpiRecord, Scope, live, value};

/// A partial to publish: whether its period is final, and the instant that stamps it.
pub struct ToPublish {
    pub partial: Partial,
    pub is_final: bool,
    pub as_of: DateTime<Utc>,
}

/// What a batch changed: the KPI records to publish, in order, made when they are read and a
/// slice at a time. A batch that closes days changes hundreds of thousands of values; holding
/// all their records at once was a large part of the aggregator's peak memory
/// (docs/performance.md, session 18).
pub struct Changed {
    publish: Vec<ToPublish>,
    threads: usize,
}

/// Nothing changed.
impl Default for Changed {
    fn default() -> Changed {
        Changed::new(Vec::new(), 1)
    }
}

/// Records a thread makes at a time: below this, a thread would cost more than it saves.
const RECORDS_PER_THREAD: usize = 8_192;

impl Changed {
    /// The records of `publish`, made on up to `threads` threads when read.
    pub fn new(publish: Vec<ToPublish>, threads: usize) -> Changed {
        Changed { publish, threads: threads.max(1) }
    }

    pub fn len(&self) -> usize {
        self.publish.len()
    }

    pub fn is_empty(&self) -> bool {
        self.publish.is_empty()
    }

    /// Makes each record and applies `f` to it (serialising it, say) on up to `threads`
    /// threads, and hands the results to `sink` in the records' order. At most
    /// `threads × RECORDS_PER_THREAD` records exist at a time.
    pub fn for_each<T: Send>(&self, f: impl Fn(KpiRecord) -> T + Sync, mut sink: impl FnMut(T)) {
        let make = |p: &ToPublish| f(to_record(&p.partial, p.is_final, p.as_of));
        for slice in self.publish.chunks(self.threads * RECORDS_PER_THREAD) {
            let per_thread = slice.len().div_ceil(self.threads).max(RECORDS_PER_THREAD);
            let (first, rest) = slice.split_at(per_thread.min(slice.len()));
            std::thread::scope(|scope| {
                let others: Vec<_> = rest
                    .chunks(per_thread)
                    .map(|part| scope.spawn(move || part.iter().map(make).collect::<Vec<T>>()))
                    .collect();
                first.iter().map(make).for_each(&mut sink);
                for other in others {
                    other.join().expect("a record-making thread panicked").into_iter().for_each(&mut sink);
                }
            });
        }
    }

    /// Every record at once, in order.
    pub fn into_records(self) -> Vec<KpiRecord> {
        let mut records = Vec::with_capacity(self.len());
        self.for_each(|r| r, |r| records.push(r));
        records
    }
}

/// `as_of` stamps final records (the instant the period closed) and open ones without events.
pub fn to_record(p: &Partial, is_final: bool, as_of: DateTime<Utc>) -> KpiRecord {
    let live =
        if is_final { None } else { p.pending.and_then(|pending| live(p.kpi, p.numerator, p.denominator, pending)) };
    KpiRecord {
        schema_version: 1,
        kpi: p.kpi,
        scope: Scope::Unit,
        scope_id: p.unit_id.to_string(),
        grain: match p.period {
            Period::Day(_) => Grain::Day,
            Period::Month { .. } => Grain::Month,
        },
        period: p.period.to_string(),
        dimensions: parse_dimensions(&p.dimensions),
        numerator: p.numerator.normalize(),
        denominator: p.denominator.map(|d| d.normalize()),
        value: value(p.kpi, p.numerator, p.denominator),
        is_final,
        revision: p.revision,
        live,
        cases: p.cases.map(|c| c.max(0) as u64),
        updated_at: match (is_final, p.last_event_at) {
            (false, Some(micros)) => DateTime::from_timestamp_micros(micros).unwrap_or(as_of),
            _ => as_of,
        },
    }
}

pub fn parse_dimensions(s: &str) -> BTreeMap<String, String> {
    s.split(';')
        .filter(|kv| !kv.is_empty())
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    #[test]
    fn records_made_on_threads_come_in_order_as_made_one_by_one() {
        let day = NaiveDate::from_ymd_opt(2026, 3, 29).unwrap();
        let publish = |n: i64| -> Vec<ToPublish> {
            (0..n)
                .map(|i| ToPublish {
                    partial: Partial {
                        kpi: vardpuls_core::catalogue::KpiId::Visits,
                        unit_id: format!("SE2321000180-E{:03}", i % 500).into(),
                        period: Period::Day(day),
                        dimensions: if i % 2 == 0 { "".into() } else { "profession=doctor".into() },
                        numerator: rust_decimal::Decimal::from(i),
                        denominator: None,
                        pending: None,
                        last_event_at: None,
                        cases: None,
                        revision: 0,
                    },
                    is_final: i % 3 == 0,
                    as_of: DateTime::from_timestamp(1_774_000_000 + i, 0).unwrap(),
                })
                .collect()
        };
        let one_by_one: Vec<KpiRecord> =
            publish(40_000).iter().map(|p| to_record(&p.partial, p.is_final, p.as_of)).collect();
        // 40 000 records on 3 threads: a slice of 24 576 (three parts of 8 192), then one of
        // 15 424 (parts of 8 192 and 7 232).
        let changed = Changed::new(publish(40_000), 3);
        let mut serialised = Vec::new();
        changed.for_each(|r| serde_json::to_vec(&r).unwrap(), |json| serialised.push(json));
        let expected: Vec<Vec<u8>> = one_by_one.iter().map(|r| serde_json::to_vec(r).unwrap()).collect();
        assert_eq!(serialised, expected);
        assert_eq!(changed.into_records(), one_by_one);
        let few = Changed::new(publish(10), 2);
        assert_eq!(few.into_records(), one_by_one[..10]);
        assert!(Changed::default().into_records().is_empty());
    }
}
