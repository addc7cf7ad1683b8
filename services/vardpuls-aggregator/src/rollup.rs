//! Roll-ups: unit values summed to kommun and region.
//!
//! A unit's values come from one input partition, but a kommun's units are spread over all of
//! them, so roll-ups cannot happen inside the shards. This stage reads the unit-scope upserts
//! of `vardpuls.kpi.v1`, keeps each unit's latest contribution per group, and publishes the
//! kommun- and region-scope upserts: numerators and denominators summed, then divided (never an
//! average of unit ratios). It rebuilds its view from the compacted topic on start, so it needs
//! no state of its own, and running it twice publishes the same values twice.

use crate::catalogue::{self, Rollup};
use crate::records::{live, value};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use vardpuls_core::outputs::{Grain, KpiRecord, Scope, Status};
use vardpuls_core::units::UnitRegistry;

/// One unit's part of a group.
#[derive(Debug, Clone, PartialEq)]
struct Contribution {
    numerator: Decimal,
    denominator: Option<Decimal>,
    pending: Option<i64>,
    is_final: bool,
    revision: u32,
    updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
struct Group {
    kpi: String,
    scope: Scope,
    scope_id: String,
    grain: Grain,
    period: String,
    dimensions: BTreeMap<String, String>,
    members: BTreeMap<String, Contribution>,
}

pub struct RollupView {
    registry: UnitRegistry,
    groups: HashMap<String, Group>,
    dirty: BTreeSet<String>,
}

impl RollupView {
    pub fn new(registry: UnitRegistry) -> RollupView {
        RollupView { registry, groups: HashMap::new(), dirty: BTreeSet::new() }
    }

    /// Takes one published record; only unit-scope records contribute.
    pub fn apply(&mut self, record: &KpiRecord) {
        if record.scope != Scope::Unit {
            return;
        }
        let contribution = Contribution {
            numerator: record.numerator,
            denominator: record.denominator,
            pending: record.live.as_ref().map(|l| l.pending as i64),
            is_final: record.is_final,
            revision: record.revision,
            updated_at: record.updated_at,
        };
        for (scope, scope_id, dimensions) in self.targets(record) {
            let mut group = Group {
                kpi: record.kpi.clone(),
                scope,
                scope_id,
                grain: record.grain,
                period: record.period.clone(),
                dimensions,
                members: BTreeMap::new(),
            };
            let key = key_of(&group);
            let group = self.groups.entry(key.clone()).or_insert_with(|| {
                group.members.clear();
                group
            });
            if group.members.get(&record.scope_id) != Some(&contribution) {
                group.members.insert(record.scope_id.clone(), contribution.clone());
                self.dirty.insert(key);
            }
        }
    }

    /// The kommun and region records that changed since the last call.
    pub fn flush(&mut self) -> Vec<KpiRecord> {
        std::mem::take(&mut self.dirty).iter().filter_map(|key| self.groups.get(key)).map(to_record).collect()
    }

    /// Where a unit record rolls up to, by the KPI's roll-up rule.
    fn targets(&self, record: &KpiRecord) -> Vec<(Scope, String, BTreeMap<String, String>)> {
        let rule = catalogue::find(&record.kpi).map(|k| k.rollup).unwrap_or(Rollup::UnitLocation);
        let unit = self.registry.get(&record.scope_id);
        match rule {
            Rollup::UnitLocation => {
                let mut out = Vec::new();
                if let Some(unit) = unit {
                    if let Some(kommun) = unit.kommun {
                        out.push((Scope::Kommun, kommun.to_string(), record.dimensions.clone()));
                    }
                    out.push((Scope::Region, unit.region.to_string(), record.dimensions.clone()));
                }
                out
            }
            Rollup::Dimension { dimension, scope } => {
                let mut dims = record.dimensions.clone();
                match dims.remove(dimension) {
                    Some(id) => vec![(scope, id, dims)],
                    // The total row: by the unit's region only (its kommun would collide with
                    // the per-kommun rows).
                    None => unit.map(|u| vec![(Scope::Region, u.region.to_string(), dims)]).unwrap_or_default(),
                }
            }
        }
    }
}

fn key_of(g: &Group) -> String {
    let mut key = format!("{}/{:?}/{}/{}", g.kpi, g.scope, g.scope_id, g.period);
    for (k, v) in &g.dimensions {
        key.push_str(&format!("/{k}={v}"));
    }
    key
}

fn to_record(g: &Group) -> KpiRecord {
    let numerator: Decimal = g.members.values().map(|c| c.numerator).sum();
    let denominator: Option<Decimal> =
        g.members.values().filter_map(|c| c.denominator).fold(None, |acc, d| Some(acc.unwrap_or_default() + d));
    let pending: Option<i64> =
        g.members.values().filter_map(|c| c.pending).fold(None, |acc, p| Some(acc.unwrap_or(0) + p));
    let is_final = g.members.values().all(|c| c.is_final);
    KpiRecord {
        schema_version: 1,
        kpi: g.kpi.clone(),
        scope: g.scope,
        scope_id: g.scope_id.clone(),
        grain: g.grain,
        period: g.period.clone(),
        dimensions: g.dimensions.clone(),
        numerator: numerator.normalize(),
        denominator: denominator.map(|d| d.normalize()),
        value: value(&g.kpi, numerator, denominator),
        target: None,
        status: Status::NoTarget,
        is_final,
        // A member's restatement restates the sum: the count of its members' restatements.
        revision: g.members.values().map(|c| c.revision).sum(),
        live: if is_final { None } else { live(&g.kpi, numerator, denominator, pending.unwrap_or(0)) },
        updated_at: g.members.values().map(|c| c.updated_at).max().unwrap_or(DateTime::<Utc>::UNIX_EPOCH),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit_record(unit: &str, kpi: &str, n: i64, d: Option<i64>, dims: &[(&str, &str)]) -> KpiRecord {
        KpiRecord {
            schema_version: 1,
            kpi: kpi.into(),
            scope: Scope::Unit,
            scope_id: unit.into(),
            grain: Grain::Day,
            period: "2026-03-29".into(),
            dimensions: dims.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            numerator: Decimal::from(n),
            denominator: d.map(Decimal::from),
            value: None,
            target: None,
            status: Status::NoTarget,
            is_final: true,
            revision: 0,
            live: None,
            updated_at: DateTime::<Utc>::UNIX_EPOCH,
        }
    }

    fn registry() -> UnitRegistry {
        UnitRegistry::parse("hsa_id,name,kommun_code\nSE2321000180-E1,Mora,2062\nSE2321000180-E2,Mora norra,2062\nSE2321000180-E3,Falun,2080\n").unwrap()
    }

    #[test]
    fn sums_then_divides_and_replaces_a_units_earlier_value() {
        let mut view = RollupView::new(registry());
        view.apply(&unit_record("SE2321000180-E1", "same_day_contact", 90, Some(100), &[]));
        view.apply(&unit_record("SE2321000180-E2", "same_day_contact", 5, Some(10), &[]));
        view.apply(&unit_record("SE2321000180-E3", "same_day_contact", 10, Some(10), &[]));
        // A corrected value for E1 replaces its earlier one.
        view.apply(&unit_record("SE2321000180-E1", "same_day_contact", 91, Some(100), &[]));
        let out: HashMap<String, KpiRecord> = view.flush().into_iter().map(|r| (r.key(), r)).collect();
        let mora = &out["same_day_contact/kommun/2062/2026-03-29"];
        assert_eq!((mora.numerator, mora.denominator), (Decimal::from(96), Some(Decimal::from(110))));
        let dalarna = &out["same_day_contact/region/20/2026-03-29"];
        assert_eq!((dalarna.numerator, dalarna.denominator), (Decimal::from(106), Some(Decimal::from(120))));
        // 106/120, not the mean of 0.91, 0.5 and 1.0.
        assert!((dalarna.value.unwrap() - 106.0 / 120.0).abs() < 1e-12);
        assert!(view.flush().is_empty(), "nothing changed since");
    }

    #[test]
    fn cost_rolls_up_to_the_patients_home_region() {
        let mut view = RollupView::new(registry());
        let provider = "SE2321000131-P000000123457";
        view.apply(&unit_record(provider, "out_of_county_digital_cost_sek", 500, None, &[("home_region", "20")]));
        view.apply(&unit_record(
            "SE2321000115-K1",
            "out_of_county_digital_cost_sek",
            275,
            None,
            &[("home_region", "20")],
        ));
        let out: HashMap<String, KpiRecord> = view.flush().into_iter().map(|r| (r.key(), r)).collect();
        assert_eq!(out.len(), 1, "{:?}", out.keys());
        assert_eq!(out["out_of_county_digital_cost_sek/region/20/2026-03-29"].numerator, Decimal::from(775));
    }
}
