//! What a KPI record means to its readers: the target in effect, met or not, and whether the
//! value is too small to publish (small-cell suppression). Shared by `/metrics`, the JSON API
//! and the wallboard, so they never disagree.

use crate::targets::{Target, Targets};
use crate::view::KpiView;
use chrono::NaiveDate;
use vardpuls_core::catalogue::Measure;
use vardpuls_core::outputs::{Grain, KpiRecord, Scope, Status};
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
    /// How many cases the value rests on: the record's own count where it has one (contacts
    /// behind a sum of money, listings behind a net change), else the denominator (calls,
    /// visits, answered calls), else the count itself.
    pub cases: u64,
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

    /// As [`Presenter::present`], for public outputs: a value is also suppressed where, with
    /// its parent's total published, it would give away a sibling's suppressed value
    /// (complementary suppression, docs/metrics.md). Among the units of a kommun (or the
    /// kommuner of a region) with exactly one suppressed, the one with the fewest cases of the
    /// others is suppressed too, so the total less the visible ones is a sum of at least two.
    pub fn present_public<'a>(&self, view: &KpiView, record: &'a KpiRecord) -> Presented<'a> {
        let mut presented = self.present(record);
        if !presented.suppressed && self.smallest_beside_one_suppressed(view, record) {
            presented.suppressed = true;
        }
        presented
    }

    /// Whether `record` is the smallest unsuppressed sibling where exactly one is suppressed.
    fn smallest_beside_one_suppressed(&self, view: &KpiView, record: &KpiRecord) -> bool {
        let siblings: &[String] = match record.scope {
            Scope::Unit => match self.units.get(&record.scope_id).and_then(|u| u.kommun) {
                Some(kommun) => self.units.units_in_kommun(kommun.as_str()),
                None => return false,
            },
            Scope::Kommun => match record.scope_id.get(..2) {
                Some(region) => self.units.kommuner_in_region(region),
                None => return false,
            },
            Scope::Region => return false,
        };
        let (key, own) = (record.key(), format!("/{}/", record.scope_id));
        let mut suppressed = 0;
        let mut smallest: Option<(u64, &str)> = None;
        for id in siblings {
            let key = key.replacen(&own, &format!("/{id}/"), 1);
            let Some(sibling) = view.get(&record.period, &key) else { continue };
            let cases = cases_of(sibling);
            if cases < self.min_cases {
                suppressed += 1;
            } else if smallest.is_none_or(|s| (cases, id.as_str()) < s) {
                smallest = Some((cases, id));
            }
        }
        suppressed == 1 && smallest.is_some_and(|(_, id)| id == record.scope_id)
    }

    pub fn present<'a>(&self, record: &'a KpiRecord) -> Presented<'a> {
        let target = period_start(&record.period).and_then(|start| {
            let region = self.region_of(record.scope, &record.scope_id);
            let unit = (record.scope == Scope::Unit).then(|| self.units.get(&record.scope_id)).flatten();
            self.targets.resolve(record.kpi, record.scope, &record.scope_id, region.as_deref(), unit.as_ref(), start)
        });
        let cases = cases_of(record);
        Presented { record, target, status: status(record, target), cases, suppressed: cases < self.min_cases }
    }
}

fn period_start(period: &str) -> Option<NaiveDate> {
    match Grain::of_period(period)? {
        Grain::Day => NaiveDate::parse_from_str(period, "%Y-%m-%d").ok(),
        Grain::Month => NaiveDate::parse_from_str(&format!("{period}-01"), "%Y-%m-%d").ok(),
    }
}

/// Chat growth rests on this year's and last year's chats; any other KPI on its denominator's
/// cases or, without one, its numerator's (a count, a level).
pub(crate) fn cases_of(record: &KpiRecord) -> u64 {
    if let Some(cases) = record.cases {
        return cases;
    }
    let count = |n: rust_decimal::Decimal| u64::try_from(n.abs().trunc()).unwrap_or(0);
    match (record.kpi.definition().measure, record.denominator) {
        (Measure::Growth, d) => count(record.numerator) + d.map_or(0, count),
        (_, Some(d)) => count(d),
        (_, None) => count(record.numerator),
    }
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
    fn a_total_less_the_visible_units_never_gives_away_one_suppressed_unit() {
        use crate::view::{KpiView, Retention};
        let units = UnitRegistry::parse(
            "hsa_id,name,kommun_code\nSE2321000180-E1,Mora,2062\nSE2321000180-E2,Mora norra,2062\nSE2321000180-E3,Mora södra,2062\nSE2321000180-E4,Falun,2080\n",
        )
        .unwrap();
        let presenter = Presenter { targets: Targets::default(), units, min_cases: 20 };
        let today = vardpuls_core::calendar::LocalDay::parse("2026-11-23").unwrap();
        let mut view = KpiView::new(Retention::default());
        // Kommun 2062: 12 visits (suppressed), 40 and 300. The kommun's 352 less 300 would
        // give away the 12 if the 40 were shown: the 40 is suppressed too, the 300 is not.
        for (unit, n) in [("SE2321000180-E1", 12), ("SE2321000180-E2", 40), ("SE2321000180-E3", 300)] {
            view.apply(record("visits", unit, "2026-11-23", n, None), today);
        }
        // Falun has one unit, not suppressed: nothing to hide beside it.
        view.apply(record("visits", "SE2321000180-E4", "2026-11-23", 25, None), today);
        let public = |view: &KpiView, unit: &str| {
            let key = format!("visits/unit/{unit}/2026-11-23");
            presenter.present_public(view, view.get("2026-11-23", &key).unwrap()).suppressed
        };
        assert_eq!(
            ["SE2321000180-E1", "SE2321000180-E2", "SE2321000180-E3", "SE2321000180-E4"].map(|u| public(&view, u)),
            [true, true, false, false]
        );
        // Internally (/metrics), only the small cell is flagged.
        let key = "visits/unit/SE2321000180-E2/2026-11-23";
        assert!(!presenter.present(view.get("2026-11-23", key).unwrap()).suppressed);
        // With two small units in the kommun, nothing more is hidden.
        view.apply(record("visits", "SE2321000180-E2", "2026-11-23", 15, None), today);
        assert_eq!(
            ["SE2321000180-E1", "SE2321000180-E2", "SE2321000180-E3"].map(|u| public(&view, u)),
            [true, true, false]
        );
    }

    #[test]
    fn few_cases_are_suppressed_money_and_net_changes_by_theirs() {
        let presenter = Presenter { targets: Targets::default(), units: UnitRegistry::default(), min_cases: 20 };
        let cases = |r: &KpiRecord| {
            let p = presenter.present(r);
            (p.cases, p.suppressed)
        };
        assert_eq!(cases(&record("same_day_contact", "U1", "2026-11-23", 5, Some(19))), (19, true));
        assert_eq!(cases(&record("same_day_contact", "U1", "2026-11-23", 5, Some(20))), (20, false));
        assert_eq!(cases(&record("visits", "U1", "2026-11-23", 7, None)), (7, true));
        // 425.50 SEK from one psychologist contact: one case, suppressed.
        let mut cost = record("out_of_county_digital_cost_sek", "U1", "2026-11", 425, None);
        cost.cases = Some(1);
        assert_eq!(cases(&cost), (1, true));
        cost.cases = Some(31);
        assert_eq!(cases(&cost), (31, false));
        // A net change of -3 from 25 listings and 28 unlistings rests on 53 of them.
        let mut net = record("listing_net_change", "U1", "2026-11", -3, None);
        net.cases = Some(53);
        assert_eq!(cases(&net), (53, false));
        // Growth from 12 to 15 chats rests on 27.
        assert_eq!(cases(&record("chat_growth", "U1", "2026-11", 15, Some(12))), (27, false));
    }
}
