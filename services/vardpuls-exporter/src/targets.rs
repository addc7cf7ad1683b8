//! Targets: what each KPI should reach, from one file (`deploy/targets.toml`).
//!
//! A rule names a KPI and optionally a region, a group of units (`operator`, `care_area`, as
//! the unit register gives them) or a unit, a value, a direction and the day it takes effect.
//! For a KPI value the most specific rule wins (a unit; then a group, within a region before
//! anywhere; then a region; then the default); among equally specific rules the one with the
//! latest `from` on or before the period's first day wins, so a target change does not rewrite
//! history. Group rules apply to units only: kommun and region totals mix groups.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use vardpuls_core::catalogue::KpiId;
use vardpuls_core::outputs::Scope;
use vardpuls_core::units::{Operator, Unit};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Higher is better: met when value >= target (shares, growth).
    AtLeast,
    /// Lower is better: met when value <= target (waits).
    AtMost,
}

impl Direction {
    pub fn is_met(self, value: f64, target: f64) -> bool {
        match self {
            Direction::AtLeast => value >= target,
            Direction::AtMost => value <= target,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetRule {
    /// A KPI of the catalogue; an unknown id is refused when the file is read.
    pub kpi: KpiId,
    /// Two-digit län code; the rule then applies to the region, its kommuner and its units.
    #[serde(default)]
    pub region: Option<String>,
    /// HSA-id of one unit.
    #[serde(default)]
    pub unit: Option<String>,
    /// Units run by this operator (`region` or `private`, from the unit register).
    #[serde(default)]
    pub operator: Option<Operator>,
    /// Units of this care area (from the unit register).
    #[serde(default)]
    pub care_area: Option<String>,
    /// A ratio from 0 to 1 for shares; seconds for waits; growth as a fraction (0.10 = +10 %).
    pub target: f64,
    pub direction: Direction,
    pub from: NaiveDate,
    /// Where the figure comes from (a report, a decision); shown in the API.
    #[serde(default)]
    pub source: Option<String>,
}

impl TargetRule {
    /// A unit before groups, groups (the more named, the more specific) before a region.
    fn specificity(&self) -> u8 {
        let groups = u8::from(self.operator.is_some()) + u8::from(self.care_area.is_some());
        if self.unit.is_some() { 8 } else { groups * 2 + u8::from(self.region.is_some()) }
    }

    /// Whether the rule's groups hold for a value of `scope` (the unit's register entry).
    fn groups_match(&self, scope: Scope, unit: Option<&Unit>) -> bool {
        if self.operator.is_none() && self.care_area.is_none() {
            return true;
        }
        let Some(unit) = unit.filter(|_| scope == Scope::Unit) else { return false };
        self.operator.is_none_or(|o| unit.operator == Some(o))
            && self.care_area.as_ref().is_none_or(|a| unit.care_area.as_ref() == Some(a))
    }
}

/// The target in effect for one KPI value.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Target {
    pub value: f64,
    pub direction: Direction,
}

#[derive(Debug, Clone, Default)]
pub struct Targets {
    rules: Vec<TargetRule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TargetsFile {
    #[serde(default, rename = "target")]
    targets: Vec<TargetRule>,
}

/// What is wrong with a targets file, naming the file, the rule (1-based) and the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetsError(String);

impl std::fmt::Display for TargetsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TargetsError {}

impl Targets {
    /// Parses the file and checks every rule (KPI ids against the catalogue).
    pub fn parse(text: &str) -> Result<Targets, TargetsError> {
        Self::parse_rules(text).map_err(TargetsError)
    }

    fn parse_rules(text: &str) -> Result<Targets, String> {
        let file: TargetsFile = toml::from_str(text).map_err(|e| e.to_string())?;
        for (i, rule) in file.targets.iter().enumerate() {
            let at = format!("target #{} ({})", i + 1, rule.kpi);
            if !rule.target.is_finite() {
                return Err(format!("{at}: target: must be a number"));
            }
            if let Some(region) = &rule.region {
                vardpuls_core::domain::RegionCode::parse(region).map_err(|e| format!("{at}: region: {e}"))?;
            }
            if let Some(unit) = &rule.unit {
                vardpuls_core::domain::HsaId::parse(unit).map_err(|e| format!("{at}: unit: {e}"))?;
            }
        }
        Ok(Targets { rules: file.targets })
    }

    pub fn load(path: &std::path::Path) -> Result<Targets, TargetsError> {
        let at = |e: String| TargetsError(format!("{}: {e}", path.display()));
        let text = std::fs::read_to_string(path).map_err(|e| at(e.to_string()))?;
        Self::parse_rules(&text).map_err(at)
    }

    pub fn rules(&self) -> &[TargetRule] {
        &self.rules
    }

    /// KPI ids that have at least one rule, in file order.
    pub fn kpis(&self) -> Vec<KpiId> {
        let mut ids: Vec<KpiId> = Vec::new();
        for rule in &self.rules {
            if !ids.contains(&rule.kpi) {
                ids.push(rule.kpi);
            }
        }
        ids
    }

    /// The target for `kpi` at `scope`/`scope_id` (in `region`, when known; `unit`: a unit's
    /// register entry, for group rules) for a period that starts on `period_start`.
    pub fn resolve(
        &self,
        kpi: KpiId,
        scope: Scope,
        scope_id: &str,
        region: Option<&str>,
        unit: Option<&Unit>,
        period_start: NaiveDate,
    ) -> Option<Target> {
        self.rules
            .iter()
            .filter(|r| r.kpi == kpi && r.from <= period_start)
            .filter(|r| r.groups_match(scope, unit))
            .filter(|r| match (&r.unit, &r.region) {
                (Some(unit), _) => scope == Scope::Unit && unit == scope_id,
                (None, Some(rule_region)) => region == Some(rule_region.as_str()),
                (None, None) => true,
            })
            .max_by_key(|r| (r.specificity(), r.from))
            .map(|r| Target { value: r.target, direction: r.direction })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
[[target]]
kpi = "same_day_contact"
target = 0.95
direction = "at_least"
from = "2019-01-01"

[[target]]
kpi = "same_day_contact"
region = "13"
target = 0.90
direction = "at_least"
from = "2024-01-01"

[[target]]
kpi = "same_day_contact"
unit = "SE2321000115-E00001"
target = 0.80
direction = "at_least"
from = "2024-01-01"

[[target]]
kpi = "same_day_contact"
target = 0.97
direction = "at_least"
from = "2027-01-01"
"#;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn most_specific_then_latest_effective_rule_wins() {
        let t = Targets::parse(FILE).unwrap();
        let get =
            |scope, id, region, d| t.resolve(KpiId::SameDayContact, scope, id, region, None, day(d)).map(|t| t.value);
        assert_eq!(get(Scope::Unit, "SE2321000180-E00101", Some("20"), "2026-11-23"), Some(0.95));
        assert_eq!(get(Scope::Unit, "SE2321000115-E00002", Some("13"), "2026-11-23"), Some(0.90));
        assert_eq!(get(Scope::Region, "13", Some("13"), "2026-11-23"), Some(0.90));
        // Before Halland's rule took effect, the default applied.
        assert_eq!(get(Scope::Unit, "SE2321000115-E00002", Some("13"), "2023-12-31"), Some(0.95));
        assert_eq!(get(Scope::Unit, "SE2321000115-E00001", Some("13"), "2026-11-23"), Some(0.80));
        // A later default does not beat a region rule, but replaces the older default.
        assert_eq!(get(Scope::Unit, "SE2321000180-E00101", Some("20"), "2027-02-01"), Some(0.97));
        assert_eq!(get(Scope::Region, "13", Some("13"), "2027-02-01"), Some(0.90));
        assert_eq!(t.resolve(KpiId::Visits, Scope::Unit, "x", None, None, day("2026-01-01")), None);
        assert_eq!(get(Scope::Unit, "x", None, "2018-01-01"), None);
    }

    #[test]
    fn group_rules_apply_to_the_units_of_the_group() {
        // Halland: 95 % for its own vårdcentraler, 90 % for private ones; one care area's
        // private units at 85 %.
        let file = r#"
[[target]]
kpi = "same_day_contact"
region = "13"
target = 0.95
direction = "at_least"
from = "2024-01-01"

[[target]]
kpi = "same_day_contact"
region = "13"
operator = "private"
target = 0.90
direction = "at_least"
from = "2024-01-01"

[[target]]
kpi = "same_day_contact"
operator = "private"
care_area = "Halmstad norr"
target = 0.85
direction = "at_least"
from = "2024-01-01"
"#;
        let t = Targets::parse(file).unwrap();
        let units = vardpuls_core::units::UnitRegistry::parse(
            "hsa_id,name,kommun_code,operator,care_area\nSE2321000115-E1,Halmstad privat,1380,private,Halmstad norr\nSE2321000115-E2,Varberg privat,1383,private,\nSE2321000115-E3,Varberg,1383,region,\n",
        )
        .unwrap();
        let get = |scope, id: &str| {
            let unit = units.get(id);
            t.resolve(KpiId::SameDayContact, scope, id, Some("13"), unit.as_ref(), day("2026-11-01")).map(|t| t.value)
        };
        assert_eq!(get(Scope::Unit, "SE2321000115-E1"), Some(0.85));
        assert_eq!(get(Scope::Unit, "SE2321000115-E2"), Some(0.90));
        assert_eq!(get(Scope::Unit, "SE2321000115-E3"), Some(0.95));
        // A region's total mixes groups: the region's rule.
        assert_eq!(get(Scope::Region, "13"), Some(0.95));
        let bad = file.replace("operator = \"private\"\ncare_area", "operator = \"privat\"\ncare_area");
        assert!(Targets::parse(&bad).is_err());
    }

    #[test]
    fn errors_name_the_rule_and_field() {
        let bad = FILE.replace("region = \"13\"", "region = \"1\"");
        let e = Targets::parse(&bad).unwrap_err().to_string();
        assert!(e.starts_with("target #2 (same_day_contact): region:"), "{e}");
        let e =
            Targets::parse(&FILE.replacen("\"same_day_contact\"", "\"same_day_contacts\"", 1)).unwrap_err().to_string();
        assert!(e.contains("unknown KPI `same_day_contacts`"), "{e}");
    }

    #[test]
    fn direction_decides_met() {
        assert!(Direction::AtLeast.is_met(0.95, 0.95));
        assert!(!Direction::AtLeast.is_met(0.94, 0.95));
        assert!(Direction::AtMost.is_met(470.0, 480.0));
        assert!(!Direction::AtMost.is_met(695.0, 480.0));
    }
}
