//! Partials to published KPI records (`vardpuls.kpi.v1`).

use crate::catalogue::{self, Measure};
use crate::partial::{Partial, Period};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use std::collections::BTreeMap;
use vardpuls_core::outputs::{Grain, KpiRecord, LiveOutcome, Scope, Status};

/// `as_of` stamps final records (the instant the period closed) and open ones without events.
pub fn to_record(p: &Partial, is_final: bool, as_of: DateTime<Utc>) -> KpiRecord {
    let live =
        if is_final { None } else { p.pending.and_then(|pending| live(&p.kpi, p.numerator, p.denominator, pending)) };
    KpiRecord {
        schema_version: 1,
        kpi: p.kpi.to_string(),
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
        value: value(&p.kpi, p.numerator, p.denominator),
        target: None,
        status: Status::NoTarget,
        is_final,
        live,
        updated_at: match (is_final, p.last_event_at) {
            (false, Some(micros)) => DateTime::from_timestamp_micros(micros).unwrap_or(as_of),
            _ => as_of,
        },
    }
}

/// The KPI's value from its numerator and denominator, by the catalogue's measure.
pub fn value(kpi: &str, numerator: Decimal, denominator: Option<Decimal>) -> Option<f64> {
    let measure = catalogue::find(kpi).map(|k| k.measure).unwrap_or(Measure::Count);
    match (measure, denominator) {
        (Measure::Growth, Some(d)) => ratio(numerator, d).map(|r| r - 1.0),
        (Measure::Ratio | Measure::Mean, Some(d)) => ratio(numerator, d),
        (Measure::Count | Measure::Money | Measure::Stock, _) => numerator.to_f64(),
        (_, None) => None,
    }
}

/// The live outcome of a same-day KPI that is not final: met, missed, pending, best and worst.
pub fn live(kpi: &str, numerator: Decimal, denominator: Option<Decimal>, pending: i64) -> Option<LiveOutcome> {
    let d = denominator.filter(|_| kpi == "same_day_contact")?;
    let met = numerator.to_u64().unwrap_or(0);
    let pending = pending.max(0) as u64;
    Some(LiveOutcome {
        met,
        pending,
        missed: d.to_u64().unwrap_or(0).saturating_sub(met + pending),
        best_value: ratio(numerator + Decimal::from(pending), d),
        worst_value: ratio(numerator, d),
    })
}

fn ratio(n: Decimal, d: Decimal) -> Option<f64> {
    (!d.is_zero()).then(|| (n / d).to_f64().unwrap_or(f64::NAN))
}

pub fn parse_dimensions(s: &str) -> BTreeMap<String, String> {
    s.split(';')
        .filter(|kv| !kv.is_empty())
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}
