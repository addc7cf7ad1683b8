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

/// Below this many records they are made on the calling thread: a thread would cost more.
const MIN_RECORDS_PER_THREAD: usize = 16_384;

/// The records of `publish`, in order, made on up to `threads` threads: a batch that closes
/// days publishes hundreds of thousands, and the rest of the batch waits for them.
pub fn to_records(publish: &[ToPublish], threads: usize) -> Vec<KpiRecord> {
    fn make(part: &[ToPublish]) -> impl Iterator<Item = KpiRecord> + '_ {
        part.iter().map(|p| to_record(&p.partial, p.is_final, p.as_of))
    }
    let per_thread = publish.len().div_ceil(threads.max(1)).max(MIN_RECORDS_PER_THREAD);
    let (first, rest) = publish.split_at(per_thread.min(publish.len()));
    let mut records = Vec::with_capacity(publish.len());
    std::thread::scope(|scope| {
        let others: Vec<_> =
            rest.chunks(per_thread).map(|part| scope.spawn(move || make(part).collect::<Vec<_>>())).collect();
        records.extend(make(first));
        for other in others {
            records.extend(other.join().expect("a record-making thread panicked"));
        }
    });
    records
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
        let publish: Vec<ToPublish> = (0..40_000)
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
            .collect();
        let one_by_one: Vec<KpiRecord> = publish.iter().map(|p| to_record(&p.partial, p.is_final, p.as_of)).collect();
        // 40 000 records on 3 threads: parts of 16 384, 16 384 and 7 232.
        assert_eq!(to_records(&publish, 3), one_by_one);
        assert_eq!(to_records(&publish[..10], 2), one_by_one[..10]);
    }
}
