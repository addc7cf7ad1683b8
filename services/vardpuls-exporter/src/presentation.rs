//! What a KPI record means to its readers: the target in effect, met or not, and whether the
//! value is too small to publish (small-cell suppression). Shared by `/metrics`, the JSON API
//! and the wallboard, so they never disagree.

use crate::targets::{Target, Targets};
use chrono::NaiveDate;
use vardpuls_aggregator::catalogue::{self, Measure};
use vardpuls_core::outputs::{KpiRecord, Scope, Status};
use vardpuls_core::units::UnitRegistry;

pub struct Presenter {
    pub targets: Targets,
    pub units: UnitRegistry,
    /// Values resting on fewer cases than this are suppressed in public outputs (default 20,
    /// as in published Swedish tables).
    pub min_cases: u64,
}

/// A record with its target, status and suppression decided.
#[derive(Debug, Clone)]
pub struct Presented<'a> {
    pub record: &'a KpiRecord,
    pub target: Option<Target>,
    pub status: Status,
    /// How many cases the value rests on (the denominator, or the count itself); None for
    /// money, which is not a count of patients.
    pub cases: Option<u64>,
    pub suppressed: bool,
}

impl Presenter {
    /// The län a scope belongs to: a unit's from the registry (or its HSA-id), a kommun's from
    /// its first two digits, a region's is itself.
    pub fn region_of(&self, scope: Scope, scope_id: &str) -> Option<String> {
        match scope {
            Scope::Unit => self.units.get(scope_id).map(|u| u.region.as_str().to_string()),
            Scope::Kommun => scope_id.get(..2).map(str::to_string),
            Scope::Region => Some(scope_id.to_string()),
        }
    }

    pub fn present<'a>(&self, record: &'a KpiRecord) -> Presented<'a> {
        let target = period_start(&record.period).and_then(|start| {
            let region = self.region_of(record.scope, &record.scope_id);
            self.targets.resolve(&record.kpi, record.scope, &record.scope_id, region.as_deref(), start)
        });
        let cases = cases_of(record);
        Presented {
            record,
            target,
            status: status(record, target),
            cases,
            suppressed: cases.is_some_and(|n| n < self.min_cases),
        }
    }
}

fn period_start(period: &str) -> Option<NaiveDate> {
    match period.len() {
        10 => NaiveDate::parse_from_str(period, "%Y-%m-%d").ok(),
        7 => NaiveDate::parse_from_str(&format!("{period}-01"), "%Y-%m-%d").ok(),
        _ => None,
    }
}

fn cases_of(record: &KpiRecord) -> Option<u64> {
    let measure = catalogue::find(&record.kpi).map(|k| k.measure);
    if measure == Some(Measure::Money) {
        return None;
    }
    let n = record.denominator.unwrap_or(record.numerator);
    u64::try_from(n.trunc()).ok().or(Some(0))
}

/// Met or missed only once final: before that, the rest of the period can change either (at
/// 09:30 with 39 of 40 calls met a day may still end at 83 %; a day below target at noon can
/// recover). A period not final yet is on track while its value so far meets the target and at
/// risk while it does not (docs/kpis.md, "Status").
pub fn status(record: &KpiRecord, target: Option<Target>) -> Status {
    let Some(target) = target else { return Status::NoTarget };
    let Some(value) = record.value else { return Status::NoData };
    let met = target.direction.is_met(value, target.value);
    match (record.is_final, met) {
        (true, true) => Status::Met,
        (true, false) => Status::Missed,
        (false, true) => Status::OnTrack,
        (false, false) => Status::AtRisk,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::targets::Direction;
    use crate::view::tests::record;
    use vardpuls_core::outputs::LiveOutcome;

    const AT_LEAST_95: Option<Target> = Some(Target { value: 0.95, direction: Direction::AtLeast });

    #[test]
    fn final_values_are_met_or_missed() {
        let mut r = record("same_day_contact", "U1", "2026-11-20", 95, Some(100));
        r.is_final = true;
        assert_eq!(status(&r, AT_LEAST_95), Status::Met);
        r.numerator = 94.into();
        r.value = Some(0.94);
        assert_eq!(status(&r, AT_LEAST_95), Status::Missed);
        assert_eq!(status(&r, None), Status::NoTarget);
    }

    #[test]
    fn an_open_period_is_never_decided() {
        // 09:30: 39 of 40 calls met, none pending. The day may still end at 83 %: on track.
        let mut r = record("same_day_contact", "U1", "2026-11-23", 39, Some(40));
        r.live =
            Some(LiveOutcome { met: 39, missed: 1, pending: 0, best_value: Some(0.975), worst_value: Some(0.975) });
        assert_eq!(status(&r, AT_LEAST_95), Status::OnTrack);
        // 80 met, 10 missed, 10 pending: below target so far, even if every pending call is
        // met (90 %), yet more calls today can still lift it: at risk, not missed.
        let mut r = record("same_day_contact", "U1", "2026-11-23", 80, Some(100));
        r.live =
            Some(LiveOutcome { met: 80, missed: 10, pending: 10, best_value: Some(0.90), worst_value: Some(0.80) });
        assert_eq!(status(&r, AT_LEAST_95), Status::AtRisk);
        // A month to date is the same: on track, not met, until its last day is final.
        let mut month = record("assessment_within_3_days", "U1", "2026-11", 96, Some(100));
        assert_eq!(status(&month, AT_LEAST_95), Status::OnTrack);
        month.is_final = true;
        assert_eq!(status(&month, AT_LEAST_95), Status::Met);
        // Nothing counted yet.
        let mut empty = record("same_day_contact", "U1", "2026-11-23", 0, Some(0));
        empty.value = None;
        assert_eq!(status(&empty, AT_LEAST_95), Status::NoData);
    }

    #[test]
    fn few_cases_are_suppressed_money_never() {
        let presenter = Presenter { targets: Targets::default(), units: UnitRegistry::default(), min_cases: 20 };
        assert!(presenter.present(&record("same_day_contact", "U1", "2026-11-23", 5, Some(19))).suppressed);
        assert!(!presenter.present(&record("same_day_contact", "U1", "2026-11-23", 5, Some(20))).suppressed);
        assert!(presenter.present(&record("visits", "U1", "2026-11-23", 7, None)).suppressed);
        assert!(!presenter.present(&record("out_of_county_digital_cost_sek", "U1", "2026-11", 500, None)).suppressed);
    }
}
