//! The roll-up's view: each unit's latest contribution to each group (a kommun, a region, a
//! listing unit), and the groups' records: numerators and denominators summed, then divided
//! (never an average of unit ratios). Running it twice publishes the same values twice.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use vardpuls_core::catalogue::{KpiId, Rollup};
use vardpuls_core::outputs::{Grain, KpiRecord, Scope};
use vardpuls_core::outputs::{live, value};
use vardpuls_core::units::{Operator, UnitRegistry};

/// One unit's part of a group.
#[derive(Debug, Clone, PartialEq)]
struct Contribution {
    numerator: Decimal,
    denominator: Option<Decimal>,
    pending: Option<i64>,
    cases: Option<u64>,
    is_final: bool,
    revision: u32,
    updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
struct Group {
    kpi: KpiId,
    scope: Scope,
    scope_id: String,
    grain: Grain,
    period: String,
    dimensions: BTreeMap<String, String>,
    members: BTreeMap<String, Contribution>,
}

/// The region a unit rolls up to when neither the unit register nor its HSA-id's organisation
/// number names one: an explicit bucket, so a region's figures plus this one add up to
/// everything counted, and nothing vanishes.
pub const UNKNOWN_REGION: &str = "unknown";

/// One group a unit record contributes to.
struct Target {
    kpi: KpiId,
    scope: Scope,
    scope_id: String,
    dimensions: BTreeMap<String, String>,
    /// For a listing unit's share: whether the visits were made at another unit.
    elsewhere: Option<bool>,
}

/// How a unit missing from the register (`deploy/units.csv`) was rolled up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Unregistered {
    /// To the region of its HSA-id's organisation number; to no kommun.
    ByOrganisation,
    /// To [`UNKNOWN_REGION`].
    Unknown,
}

impl Unregistered {
    pub fn as_str(self) -> &'static str {
        match self {
            Unregistered::ByOrganisation => "organisation",
            Unregistered::Unknown => "unknown",
        }
    }
}

pub struct RollupView {
    registry: UnitRegistry,
    groups: HashMap<String, Group>,
    dirty: BTreeSet<String>,
    /// Units seen that the register lacks, and how each was rolled up.
    unregistered: BTreeMap<String, Unregistered>,
}

impl RollupView {
    pub fn new(registry: UnitRegistry) -> RollupView {
        RollupView { registry, groups: HashMap::new(), dirty: BTreeSet::new(), unregistered: BTreeMap::new() }
    }

    /// How many units missing from the register were seen, by how they were rolled up.
    pub fn unregistered(&self) -> BTreeMap<Unregistered, usize> {
        let mut counts = BTreeMap::new();
        for how in self.unregistered.values() {
            *counts.entry(*how).or_default() += 1;
        }
        counts
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
            cases: record.cases,
            is_final: record.is_final,
            revision: record.revision,
            updated_at: record.updated_at,
        };
        for target in self.targets(record) {
            let contribution = match target.elsewhere {
                // A listing unit's share: all its listed patients' visits in the denominator,
                // those made at another unit in the numerator.
                Some(elsewhere) => Contribution {
                    numerator: if elsewhere { record.numerator } else { Decimal::ZERO },
                    denominator: Some(record.numerator),
                    ..contribution.clone()
                },
                None => contribution.clone(),
            };
            let mut group = Group {
                kpi: target.kpi,
                scope: target.scope,
                scope_id: target.scope_id,
                grain: record.grain,
                period: record.period.clone(),
                dimensions: target.dimensions,
                members: BTreeMap::new(),
            };
            let key = key_of(&group);
            let group = self.groups.entry(key.clone()).or_insert_with(|| {
                group.members.clear();
                group
            });
            if group.members.get(&record.scope_id) != Some(&contribution) {
                group.members.insert(record.scope_id.clone(), contribution);
                self.dirty.insert(key);
            }
        }
    }

    /// The kommun and region records that changed since the last call.
    pub fn flush(&mut self) -> Vec<KpiRecord> {
        std::mem::take(&mut self.dirty).iter().filter_map(|key| self.groups.get(key)).map(to_record).collect()
    }

    /// Where a unit record rolls up to, by the KPI's roll-up rule.
    fn targets(&mut self, record: &KpiRecord) -> Vec<Target> {
        let rule = record.kpi.definition().rollup;
        if let Rollup::ToListingUnit { derived } = rule {
            let mut dimensions = record.dimensions.clone();
            let Some(listing_unit) = dimensions.remove("listed_unit") else { return Vec::new() };
            let elsewhere = Some(listing_unit != record.scope_id);
            return vec![Target { kpi: derived, scope: Scope::Unit, scope_id: listing_unit, dimensions, elsewhere }];
        }
        let kpi = record.kpi;
        let (kommun, region, operator) = self.location_of(&record.scope_id);
        let target = |scope, scope_id, dimensions| Target { kpi, scope, scope_id, dimensions, elsewhere: None };
        let targets: Vec<(Scope, String, BTreeMap<String, String>)> = match rule {
            Rollup::UnitLocation => {
                let mut out = Vec::new();
                if let Some(kommun) = kommun {
                    out.push((Scope::Kommun, kommun, record.dimensions.clone()));
                }
                // Region-run and private units side by side: the region's total per operator.
                if let Some(operator) = operator {
                    let mut dims = record.dimensions.clone();
                    dims.insert("operator".into(), operator.as_str().into());
                    out.push((Scope::Region, region.clone(), dims));
                }
                out.push((Scope::Region, region, record.dimensions.clone()));
                out
            }
            Rollup::Dimension { dimension, scope } => {
                let mut dims = record.dimensions.clone();
                match dims.remove(dimension) {
                    Some(id) => vec![(scope, id, dims)],
                    // The total row: by the unit's region only (its kommun would collide with
                    // the per-kommun rows).
                    None => vec![(Scope::Region, region, dims)],
                }
            }
            Rollup::ToListingUnit { .. } => unreachable!("handled above"),
        };
        targets.into_iter().map(|(scope, id, dims)| target(scope, id, dims)).collect()
    }

    /// A unit's kommun (if known) and region: from the register, else the region of its
    /// organisation number, else [`UNKNOWN_REGION`]. A unit missing from the register is
    /// logged once, and counted (`vardpuls_rollup_unregistered_units`). With its operator,
    /// where the register names one.
    fn location_of(&mut self, hsa_id: &str) -> (Option<String>, String, Option<Operator>) {
        let unit = self.registry.get(hsa_id);
        if !self.registry.is_registered(hsa_id) && !self.unregistered.contains_key(hsa_id) {
            let how = if unit.is_some() { Unregistered::ByOrganisation } else { Unregistered::Unknown };
            let region = unit.as_ref().map_or(UNKNOWN_REGION.to_string(), |u| u.region.to_string());
            tracing::warn!(
                unit = hsa_id,
                region,
                "unit is not in the unit register (deploy/units.csv): rolled up to region {region} and to no kommun; add it to the register"
            );
            self.unregistered.insert(hsa_id.to_string(), how);
        }
        match unit {
            Some(u) => (u.kommun.map(|k| k.to_string()), u.region.to_string(), u.operator),
            None => (None, UNKNOWN_REGION.to_string(), None),
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
    let cases: Option<u64> = g.members.values().filter_map(|c| c.cases).fold(None, |acc, n| Some(acc.unwrap_or(0) + n));
    let is_final = g.members.values().all(|c| c.is_final);
    KpiRecord {
        schema_version: 1,
        kpi: g.kpi,
        scope: g.scope,
        scope_id: g.scope_id.clone(),
        grain: g.grain,
        period: g.period.clone(),
        dimensions: g.dimensions.clone(),
        numerator: numerator.normalize(),
        denominator: denominator.map(|d| d.normalize()),
        value: value(g.kpi, numerator, denominator),
        is_final,
        // A member's restatement restates the sum: the count of its members' restatements.
        revision: g.members.values().map(|c| c.revision).sum(),
        live: if is_final { None } else { live(g.kpi, numerator, denominator, pending.unwrap_or(0)) },
        cases,
        updated_at: g.members.values().map(|c| c.updated_at).max().unwrap_or(DateTime::<Utc>::UNIX_EPOCH),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit_record(unit: &str, kpi: &str, n: i64, d: Option<i64>, dims: &[(&str, &str)]) -> KpiRecord {
        KpiRecord {
            schema_version: 1,
            kpi: kpi.parse().unwrap(),
            scope: Scope::Unit,
            scope_id: unit.into(),
            grain: Grain::Day,
            period: "2026-03-29".into(),
            dimensions: dims.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            numerator: Decimal::from(n),
            denominator: d.map(Decimal::from),
            value: None,
            is_final: true,
            revision: 0,
            cases: None,
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
    fn units_missing_from_the_register_roll_up_by_organisation_or_to_the_unknown_bucket() {
        let mut view = RollupView::new(registry());
        view.apply(&unit_record("SE2321000180-E1", "same_day_contact", 90, Some(100), &[]));
        // Not in the register, but a Dalarna HSA-id: Dalarna, no kommun.
        view.apply(&unit_record("SE2321000180-E9", "same_day_contact", 7, Some(10), &[]));
        // Not in the register, and an organisation number of no known region.
        view.apply(&unit_record("SE5560000000-X9", "same_day_contact", 3, Some(4), &[]));
        view.apply(&unit_record("SE5560000000-X9", "listing_net_change", -2, None, &[]));
        let out: HashMap<String, KpiRecord> = view.flush().into_iter().map(|r| (r.key(), r)).collect();
        let sums = |key: &str| (out[key].numerator, out[key].denominator);
        let d = |n: i64| Decimal::from(n);
        assert_eq!(sums("same_day_contact/region/20/2026-03-29"), (d(97), Some(d(110))));
        assert_eq!(sums("same_day_contact/kommun/2062/2026-03-29"), (d(90), Some(d(100))));
        assert_eq!(sums("same_day_contact/region/unknown/2026-03-29"), (d(3), Some(d(4))));
        assert_eq!(sums("listing_net_change/region/unknown/2026-03-29"), (d(-2), None));
        let counts: Vec<_> = view.unregistered().into_iter().collect();
        assert_eq!(counts, [(Unregistered::ByOrganisation, 1), (Unregistered::Unknown, 1)]);
    }

    #[test]
    fn listing_change_per_kommun_is_the_kommuns_units_and_reconciles_with_their_list_sizes() {
        let mut view = RollupView::new(registry());
        let day = |unit: &str, kpi: &str, n: i64, dims: &[(&str, &str)], period: &str| {
            let mut r = unit_record(unit, kpi, n, None, dims);
            r.period = period.into();
            r
        };
        // Mora (2062) and Mora norra (2062): list sizes on the 28th and 29th, and the 29th's
        // listings by the patients' kommun: Mora +3 (2 Mora residents, 1 from Falun), Mora
        // norra -1 (a Falun resident left). Falun's unit (2080) +2, both Falun residents.
        for (unit, before, after) in [("SE2321000180-E1", 1000, 1003), ("SE2321000180-E2", 500, 499)] {
            view.apply(&day(unit, "listed_patients", before, &[], "2026-03-28"));
            view.apply(&day(unit, "listed_patients", after, &[], "2026-03-29"));
        }
        let change = [
            ("SE2321000180-E1", 3, vec![("2062", 2), ("2080", 1)]),
            ("SE2321000180-E2", -1, vec![("2080", -1)]),
            ("SE2321000180-E3", 2, vec![("2080", 2)]),
        ];
        for (unit, total, by_kommun) in change {
            view.apply(&day(unit, "listing_net_change", total, &[], "2026-03-29"));
            for (kommun, n) in by_kommun {
                view.apply(&day(unit, "listing_net_change", n, &[("kommun_code", kommun)], "2026-03-29"));
            }
        }
        let out: HashMap<String, KpiRecord> = view.flush().into_iter().map(|r| (r.key(), r)).collect();
        let n = |key: &str| i64::try_from(out[key].numerator).unwrap();
        // Kommun 2062's units: +3 - 1 = +2, the change of their list sizes (1 500 -> 1 502).
        assert_eq!(n("listing_net_change/kommun/2062/2026-03-29"), 2);
        assert_eq!(n("listed_patients/kommun/2062/2026-03-29") - n("listed_patients/kommun/2062/2026-03-28"), 2);
        assert_eq!(n("listing_net_change/kommun/2080/2026-03-29"), 2);
        // By residence, in the region: Falun residents +1 - 1 + 2 = +2, Mora residents +2.
        assert_eq!(n("listing_net_change/region/20/2026-03-29/kommun_code=2080"), 2);
        assert_eq!(n("listing_net_change/region/20/2026-03-29/kommun_code=2062"), 2);
        assert_eq!(n("listing_net_change/region/20/2026-03-29"), 4);
    }

    #[test]
    fn a_region_is_also_summed_per_operator() {
        let registry = UnitRegistry::parse(
            "hsa_id,name,kommun_code,operator,care_area\nSE2321000115-E1,Halmstad,1380,private,\nSE2321000115-E2,Varberg,1383,region,\nSE2321000115-E3,Falkenberg,1382,region,\n",
        )
        .unwrap();
        let mut view = RollupView::new(registry);
        for (unit, n, d) in [("SE2321000115-E1", 87, 100), ("SE2321000115-E2", 190, 200), ("SE2321000115-E3", 48, 50)] {
            view.apply(&unit_record(unit, "same_day_contact", n, Some(d), &[]));
        }
        let out: HashMap<String, KpiRecord> = view.flush().into_iter().map(|r| (r.key(), r)).collect();
        let sums = |key: &str| (out[key].numerator, out[key].denominator.unwrap());
        let d = |n: i64| Decimal::from(n);
        assert_eq!(sums("same_day_contact/region/13/2026-03-29/operator=private"), (d(87), d(100)));
        assert_eq!(sums("same_day_contact/region/13/2026-03-29/operator=region"), (d(238), d(250)));
        assert_eq!(sums("same_day_contact/region/13/2026-03-29"), (d(325), d(350)));
        assert!(
            !out.keys().any(|k| k.contains("kommun") && k.contains("operator")),
            "per operator at region scope only"
        );
    }

    #[test]
    fn visits_by_listing_unit_turn_into_each_listing_units_share_seen_elsewhere() {
        let mut view = RollupView::new(registry());
        let (e1, e2, e3) = ("SE2321000180-E1", "SE2321000180-E2", "SE2321000180-E3");
        // Visited unit, listing unit, visits: E1's listed patients 5 visits at E1, 2 at E2, 1 at
        // E3; E2's 3 at E1 and 7 at E2.
        for (visited, listing, n) in [(e1, e1, 5), (e2, e1, 2), (e3, e1, 1), (e1, e2, 3), (e2, e2, 7)] {
            view.apply(&unit_record(visited, "visits_by_listing_unit", n, None, &[("listed_unit", listing)]));
        }
        let published = view.flush();
        assert!(published.iter().all(|r| r.kpi == KpiId::ListedPatientsSeenElsewhereShare && r.scope == Scope::Unit));
        let out: HashMap<String, KpiRecord> = published.iter().map(|r| (r.key(), r.clone())).collect();
        let share = |key: &str| (out[key].numerator, out[key].denominator.unwrap(), out[key].value.unwrap());
        let d = |n: i64| Decimal::from(n);
        assert_eq!(
            share(&format!("listed_patients_seen_elsewhere_share/unit/{e1}/2026-03-29")),
            (d(3), d(8), 3.0 / 8.0)
        );
        assert_eq!(share(&format!("listed_patients_seen_elsewhere_share/unit/{e2}/2026-03-29")), (d(3), d(10), 0.3));
        assert_eq!(out.len(), 2, "E3 lists no one here");
        // Read back from the topic, the listing units' values roll up like any: kommun 2062
        // holds E1 and E2: 6 of 18.
        for record in &published {
            view.apply(record);
        }
        let rolled: HashMap<String, KpiRecord> = view.flush().into_iter().map(|r| (r.key(), r)).collect();
        let kommun = &rolled["listed_patients_seen_elsewhere_share/kommun/2062/2026-03-29"];
        assert_eq!((kommun.numerator, kommun.denominator), (d(6), Some(d(18))));
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
