//! The KPI catalogue: which KPIs there are and what each is (stage, measure, roll-up, alert
//! policy). Vocabulary every service shares; how a KPI is computed, its SQL, is the
//! aggregator's (`vardpuls-aggregator/src/catalogue/<id>.sql`).
//!
//! Adding a KPI is adding an entry below and, for the aggregator, a `.sql` file.

use crate::Topic;
use crate::outputs::Scope;

/// How a KPI's value is read from its numerator and denominator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    /// numerator / denominator, from 0 to 1.
    Ratio,
    /// numerator; no denominator.
    Count,
    /// numerator / denominator, in the KPI's unit (seconds).
    Mean,
    /// numerator in SEK, exact.
    Money,
    /// numerator / denominator - 1.
    Growth,
    /// A level, not a flow: the month's value is its last day's, not the sum of its days.
    Stock,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Computed per local day from one input topic's events; summed per month.
    Daily { source: Topic },
    /// Computed per month from the daily partials of one input topic's KPIs; with `last_year`,
    /// also from the same month a year earlier (those days then stay in memory, see
    /// the aggregator's `Shard::resident_months`); with `year_to_date`, from January through the
    /// month, so a restated month restates the later months of its year too.
    Monthly { source: Topic, last_year: bool, year_to_date: bool },
    /// Made by the roll-up stage from another KPI's unit values ([`Rollup::ToListingUnit`]).
    Derived,
}

/// How unit values sum up to kommun and region (`vardpuls-rollup`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rollup {
    /// To the unit's kommun and region.
    UnitLocation,
    /// To the scope named by a breakdown dimension (the patient's kommun or home region).
    Dimension { dimension: &'static str, scope: Scope },
    /// Visits by listing unit, turned around: to the unit named by `listed_unit` as the KPI
    /// `derived`, a share of its listed patients' visits made at other units.
    ToListingUnit { derived: &'static str },
}

/// What a KPI's target is for, and so how its alerts reach people (the exporter's generated
/// rules; docs/kpis.md, "Alert policy").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alerting {
    /// An operational target the rest of the day can still be steered toward (staff the
    /// phones, make the callbacks): paging alerts while the day or month is open.
    Intraday,
    /// A target followed per month: a strategic share (digital visits, 5 % a year), or one whose
    /// day was decided before it was counted (an assessment counts on its day, days after the
    /// wait was set). A ticket, never a page, when the month to date is off target.
    Monthly,
}

#[derive(Debug, Clone, Copy)]
pub struct KpiDefinition {
    pub id: &'static str,
    pub stage: Stage,
    pub measure: Measure,
    pub rollup: Rollup,
    pub alerting: Alerting,
    /// Counted while some of its cases are still open (callbacks booked, not yet made): an
    /// open period has a live outcome, the best and worst value it can still end at.
    pub live_outcome: bool,
}

impl KpiDefinition {
    const fn with_live_outcome(self) -> KpiDefinition {
        KpiDefinition { live_outcome: true, ..self }
    }
}

/// A KPI the roll-up stage makes.
macro_rules! derived {
    ($id:literal, $measure:expr, $alerting:expr) => {
        KpiDefinition {
            id: $id,
            stage: Stage::Derived,
            measure: $measure,
            rollup: Rollup::UnitLocation,
            alerting: $alerting,
            live_outcome: false,
        }
    };
}

macro_rules! kpi {
    ($id:literal, $stage:expr, $measure:expr, $alerting:expr) => {
        kpi!($id, $stage, $measure, $alerting, Rollup::UnitLocation)
    };
    ($id:literal, $stage:expr, $measure:expr, $alerting:expr, $rollup:expr) => {
        KpiDefinition {
            id: $id,
            stage: $stage,
            measure: $measure,
            rollup: $rollup,
            alerting: $alerting,
            live_outcome: false,
        }
    };
}

const BY_HOME_REGION: Rollup = Rollup::Dimension { dimension: "home_region", scope: Scope::Region };
const TO_LISTING_UNIT: Rollup = Rollup::ToListingUnit { derived: "listed_patients_seen_elsewhere_share" };

/// KPIs that are plumbing between stages, not figures for people: the exporter leaves them
/// out (their breakdown names a unit per row).
pub const INTERNAL: &[&str] = &["visits_by_listing_unit"];

pub fn is_internal(id: &str) -> bool {
    INTERNAL.contains(&id)
}

use Alerting::*;
use Measure::*;
const fn daily(source: Topic) -> Stage {
    Stage::Daily { source }
}

/// What a monthly KPI reads besides its month: (last year's same month, January onwards).
const THIS_MONTH: (bool, bool) = (false, false);
const LAST_YEAR: (bool, bool) = (true, false);
const YEAR_TO_DATE: (bool, bool) = (false, true);

const fn monthly(source: Topic, (last_year, year_to_date): (bool, bool)) -> Stage {
    Stage::Monthly { source, last_year, year_to_date }
}

pub const CATALOGUE: &[KpiDefinition] = &[
    kpi!("same_day_contact", daily(Topic::Phone), Ratio, Intraday).with_live_outcome(),
    kpi!("phone_1177_mean_wait_seconds", daily(Topic::Phone), Mean, Intraday),
    kpi!("phone_1177_answered_share", daily(Topic::Phone), Ratio, Intraday),
    kpi!("assessment_within_3_days", daily(Topic::Visits), Ratio, Monthly),
    kpi!("visits", daily(Topic::Visits), Count, Monthly),
    kpi!("digital_visit_share", daily(Topic::Visits), Ratio, Monthly),
    kpi!("visits_other_unit_share", daily(Topic::Visits), Ratio, Monthly),
    kpi!("visits_by_listing_unit", daily(Topic::Visits), Count, Monthly, TO_LISTING_UNIT),
    derived!("listed_patients_seen_elsewhere_share", Ratio, Monthly),
    kpi!("visits_listing_unit_unknown", daily(Topic::Visits), Count, Monthly),
    kpi!("out_of_county_digital_cost_sek", daily(Topic::Visits), Money, Monthly, BY_HOME_REGION),
    kpi!("chats_started", daily(Topic::Chats), Count, Monthly),
    kpi!("listings_via_1177", daily(Topic::Listings), Count, Monthly),
    kpi!("listing_net_change", daily(Topic::Listings), Count, Monthly),
    kpi!("listed_patients", daily(Topic::Listings), Stock, Monthly),
    kpi!("chat_growth", monthly(Topic::Chats, LAST_YEAR), Growth, Monthly),
    kpi!("persons_listed_via_1177", monthly(Topic::Listings, THIS_MONTH), Count, Monthly),
    kpi!("persons_listed_via_1177_ytd", monthly(Topic::Listings, YEAR_TO_DATE), Count, Monthly),
];

pub fn find(id: &str) -> Option<&'static KpiDefinition> {
    CATALOGUE.iter().find(|k| k.id == id)
}

/// Whether a monthly KPI compares `topic`'s partials with the same month last year.
pub fn compares_with_last_year(topic: Topic) -> bool {
    CATALOGUE.iter().any(|k| matches!(k.stage, Stage::Monthly { source, last_year: true, .. } if source == topic))
}

/// Whether a monthly KPI of `topic`'s counts from January through its month: a restated month
/// then restates the later months of its year.
pub fn accumulates_over_the_year(topic: Topic) -> bool {
    CATALOGUE.iter().any(|k| matches!(k.stage, Stage::Monthly { source, year_to_date: true, .. } if source == topic))
}

/// Whether a KPI is a stock (a level carried from day to day).
pub fn is_stock(id: &str) -> bool {
    find(id).is_some_and(|k| k.measure == Measure::Stock)
}

/// Whether a topic has a stock KPI: its days depend on the days before.
pub fn has_stock_kpi(topic: Topic) -> bool {
    daily_kpis_of(topic).any(|k| k.measure == Measure::Stock)
}

pub fn daily_kpis_of(topic: Topic) -> impl Iterator<Item = &'static KpiDefinition> {
    CATALOGUE.iter().filter(move |k| k.stage == Stage::Daily { source: topic })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_derived_kpis_come_from_their_source() {
        let mut ids: Vec<_> = CATALOGUE.iter().map(|k| k.id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), CATALOGUE.len());
        for k in CATALOGUE {
            if let Rollup::ToListingUnit { derived } = k.rollup {
                assert_eq!(find(derived).map(|d| d.stage), Some(Stage::Derived), "{}", k.id);
            }
        }
    }
}
