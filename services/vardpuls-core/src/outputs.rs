//! Records vardpuls publishes: KPI upserts (`vardpuls.kpi.v1`), alert state changes
//! (`vardpuls.alerts.v1`) and events that arrived after their day was final
//! (`vardpuls.late.v1`).

use crate::catalogue::{KpiId, Measure};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    Unit,
    Kommun,
    Region,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Grain {
    Day,
    Month,
}

impl Grain {
    /// The grain of a period as records write it: a day `2026-03-29` or a month `2026-03`.
    pub fn of_period(period: &str) -> Option<Grain> {
        if crate::calendar::LocalDay::parse(period).is_some() {
            Some(Grain::Day)
        } else if crate::calendar::LocalMonth::parse(period).is_some() {
            Some(Grain::Month)
        } else {
            None
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Final, and the target is met: the rest of the period cannot change it.
    Met,
    /// Final, and the target is missed.
    Missed,
    /// Not final yet; the value so far meets the target (for same-day contact, counting every
    /// pending call as missed). More cases can still change that.
    OnTrack,
    /// Not final yet; the value so far misses the target.
    AtRisk,
    /// No value: nothing counted in the period (yet).
    NoData,
    NoTarget,
}

/// The live state of a same-day KPI before its day ends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LiveOutcome {
    pub met: u64,
    pub missed: u64,
    pub pending: u64,
    /// The value if every pending case is met before midnight.
    pub best_value: Option<f64>,
    /// The value if no pending case is met.
    pub worst_value: Option<f64>,
}

/// One KPI value for one scope, period and breakdown. An upsert: the latest record with the same
/// [`KpiRecord::key`] replaces earlier ones, so a replay overwrites and never adds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KpiRecord {
    pub schema_version: u32,
    pub kpi: KpiId,
    pub scope: Scope,
    pub scope_id: String,
    pub grain: Grain,
    /// `2026-03-29` for a day, `2026-03` for a month (Europe/Stockholm).
    pub period: String,
    /// Breakdown such as `profession` or `contact_form`; empty for the total.
    #[serde(default)]
    pub dimensions: BTreeMap<String, String>,
    /// Exact decimal as a string (`"1234.50"` for money, `"87"` for counts).
    pub numerator: Decimal,
    pub denominator: Option<Decimal>,
    /// numerator / denominator as a ratio from 0 to 1, or the numerator where there is no
    /// denominator.
    pub value: Option<f64>,
    /// True once the period's values are final (see docs/kpis.md): they then change only by
    /// restatement, each time with the next `revision`.
    #[serde(rename = "final")]
    pub is_final: bool,
    /// How often this final value was restated; 0 for values not final or first made final.
    #[serde(default)]
    pub revision: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live: Option<LiveOutcome>,
    /// How many cases (contacts, listings) the value rests on, where neither the denominator
    /// nor the numerator counts them: a sum of money, a net change. Small-cell suppression
    /// reads it; absent elsewhere (the denominator, or else the numerator, counts the cases).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cases: Option<u64>,
    pub updated_at: DateTime<Utc>,
}

impl KpiRecord {
    /// The Kafka key and upsert identity: kpi, scope, scope id, period and breakdown.
    pub fn key(&self) -> String {
        use std::fmt::Write;
        let mut key = format!("{}/{}/{}/{}", self.kpi, scope_str(self.scope), self.scope_id, self.period);
        for (k, v) in &self.dimensions {
            write!(key, "/{k}={v}").expect("writing to a String");
        }
        key
    }
}

pub fn scope_str(scope: Scope) -> &'static str {
    match scope {
        Scope::Unit => "unit",
        Scope::Kommun => "kommun",
        Scope::Region => "region",
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    Firing,
    Resolved,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Page,
    Ticket,
    Info,
}

/// An alert starting or ending, as Alertmanager reported it to HTTP ingest (`POST /v1/alerts`):
/// the alert history in Kafka. KPI alerts name their scope; pipeline alerts have none.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertChange {
    pub schema_version: u32,
    pub alert: String,
    pub state: AlertState,
    pub severity: Severity,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<Scope>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kpi: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<f64>,
    pub summary: String,
    /// Every label of the alert (region, unit name, grain, ...).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Alertmanager's fingerprint of the labels: an alert's firing and its resolution share it.
    pub fingerprint: String,
    /// When it started firing, or when it ended.
    pub changed_at: DateTime<Utc>,
}

impl AlertChange {
    /// The Kafka key: one alert's changes stay in one partition, in order.
    pub fn key(&self) -> String {
        format!("{}/{}", self.alert, self.fingerprint)
    }
}

/// A valid event that arrived after its day was final. It is not counted in KPI state; it is
/// kept here, whole, with the reason, for the monthly reconciliation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LateEvent {
    pub schema_version: u32,
    pub routed_at: DateTime<Utc>,
    pub source_topic: String,
    pub partition: i32,
    pub offset: i64,
    /// The local day the event belongs to.
    pub day: String,
    pub reason: String,
    pub event: serde_json::Value,
}

/// The KPI's value from its numerator and denominator, by the catalogue's measure: one
/// function for the aggregator's unit records and the roll-up's sums.
pub fn value(kpi: KpiId, numerator: Decimal, denominator: Option<Decimal>) -> Option<f64> {
    match (kpi.definition().measure, denominator) {
        (Measure::Growth, Some(d)) => ratio(numerator, d).map(|r| r - 1.0),
        (Measure::Ratio | Measure::Mean, Some(d)) => ratio(numerator, d),
        (Measure::Count | Measure::Money | Measure::Stock, _) => numerator.to_f64(),
        (_, None) => None,
    }
}

/// The live outcome of a KPI with open cases ([`crate::catalogue::KpiDefinition::live_outcome`])
/// that is not final: met, missed, pending, best and worst.
pub fn live(kpi: KpiId, numerator: Decimal, denominator: Option<Decimal>, pending: i64) -> Option<LiveOutcome> {
    let d = denominator.filter(|_| kpi.definition().live_outcome)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_includes_breakdown_in_stable_order() {
        let mut dims = BTreeMap::new();
        dims.insert("profession".to_string(), "doctor".to_string());
        dims.insert("contact_form".to_string(), "video".to_string());
        let r = KpiRecord {
            schema_version: 1,
            kpi: KpiId::Visits,
            scope: Scope::Unit,
            scope_id: "SE2321000180-E001".into(),
            grain: Grain::Day,
            period: "2026-03-29".into(),
            dimensions: dims,
            numerator: Decimal::new(12, 0),
            denominator: None,
            value: Some(12.0),
            is_final: false,
            revision: 0,
            cases: None,
            live: None,
            updated_at: Utc::now(),
        };
        assert_eq!(r.key(), "visits/unit/SE2321000180-E001/2026-03-29/contact_form=video/profession=doctor");
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["numerator"], "12");
        assert_eq!(json["final"], false);
    }
}
