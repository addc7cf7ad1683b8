//! The KPI catalogue: which KPIs there are and what each is (stage, measure, roll-up, alert
//! policy). Vocabulary every service shares; how a KPI is computed, its SQL, is the
//! aggregator's (`vardpuls-aggregator/src/catalogue/<id>.sql`).
//!
//! Adding a KPI is a line in `for_each_kpi!`, an entry in [`CATALOGUE`] and, for the
//! aggregator, a `.sql` file.

use crate::Topic;
use crate::outputs::Scope;
use std::fmt;
use std::str::FromStr;

/// Declares [`KpiId`]: one variant per KPI, with the id it has in records, metrics and SQL.
macro_rules! kpi_ids {
    ($($variant:ident = $id:literal $stage:ident),* $(,)?) => {
        /// A KPI of the catalogue. Records, targets and queries name KPIs by [`KpiId::as_str`];
        /// text becomes a `KpiId` where it enters (a record read, a targets file, a query), so
        /// an unknown id is refused there and every later step has its definition.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum KpiId {
            $($variant),*
        }

        impl KpiId {
            /// Every KPI, in catalogue order.
            pub const ALL: &[KpiId] = &[$(KpiId::$variant),*];

            /// The id as records, metrics and SQL spell it.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(KpiId::$variant => $id),*
                }
            }
        }

        impl FromStr for KpiId {
            type Err = UnknownKpi;

            fn from_str(id: &str) -> Result<KpiId, UnknownKpi> {
                match id {
                    $($id => Ok(KpiId::$variant),)*
                    other => Err(UnknownKpi(other.to_string())),
                }
            }
        }
    };
}

/// Calls `$callback!` with every KPI: its [`KpiId`] variant, its id, and whether the
/// aggregator computes it from events (`computed`, with a `.sql` of that name) or the roll-up
/// derives it (`derived`). The one list of KPI ids: `KpiId` is declared from it, and the
/// aggregator finds its SQL files by it.
#[macro_export]
macro_rules! for_each_kpi {
    ($callback:ident) => {
        $callback! {
            SameDayContact = "same_day_contact" computed,
            Phone1177MeanWaitSeconds = "phone_1177_mean_wait_seconds" computed,
            Phone1177AnsweredShare = "phone_1177_answered_share" computed,
            AssessmentWithin3Days = "assessment_within_3_days" computed,
            Visits = "visits" computed,
            DigitalVisitShare = "digital_visit_share" computed,
            VisitsOtherUnitShare = "visits_other_unit_share" computed,
            VisitsByListingUnit = "visits_by_listing_unit" computed,
            ListedPatientsSeenElsewhereShare = "listed_patients_seen_elsewhere_share" derived,
            VisitsListingUnitUnknown = "visits_listing_unit_unknown" computed,
            OutOfCountyDigitalCostSek = "out_of_county_digital_cost_sek" computed,
            ChatsStarted = "chats_started" computed,
            ListingsVia1177 = "listings_via_1177" computed,
            ListingNetChange = "listing_net_change" computed,
            ListedPatients = "listed_patients" computed,
            ChatGrowth = "chat_growth" computed,
            PersonsListedVia1177 = "persons_listed_via_1177" computed,
            PersonsListedVia1177Ytd = "persons_listed_via_1177_ytd" computed,
        }
    };
}

for_each_kpi!(kpi_ids);

/// A KPI id that is not in the catalogue.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown KPI `{0}`")]
pub struct UnknownKpi(pub String);

impl KpiId {
    /// The KPI's definition.
    pub fn definition(self) -> &'static KpiDefinition {
        &CATALOGUE[self as usize]
    }
}

impl fmt::Display for KpiId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for KpiId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for KpiId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<KpiId, D::Error> {
        let id = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        id.parse().map_err(serde::de::Error::custom)
    }
}

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
    ToListingUnit { derived: KpiId },
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
    pub id: KpiId,
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
    ($id:ident, $measure:expr, $alerting:expr) => {
        KpiDefinition {
            id: KpiId::$id,
            stage: Stage::Derived,
            measure: $measure,
            rollup: Rollup::UnitLocation,
            alerting: $alerting,
            live_outcome: false,
        }
    };
}

macro_rules! kpi {
    ($id:ident, $stage:expr, $measure:expr, $alerting:expr) => {
        kpi!($id, $stage, $measure, $alerting, Rollup::UnitLocation)
    };
    ($id:ident, $stage:expr, $measure:expr, $alerting:expr, $rollup:expr) => {
        KpiDefinition {
            id: KpiId::$id,
            stage: $stage,
            measure: $measure,
            rollup: $rollup,
            alerting: $alerting,
            live_outcome: false,
        }
    };
}

const BY_HOME_REGION: Rollup = Rollup::Dimension { dimension: "home_region", scope: Scope::Region };
const TO_LISTING_UNIT: Rollup = Rollup::ToListingUnit { derived: KpiId::ListedPatientsSeenElsewhereShare };

/// KPIs that are plumbing between stages, not figures for people: the exporter leaves them
/// out (their breakdown names a unit per row).
pub const INTERNAL: &[KpiId] = &[KpiId::VisitsByListingUnit];

pub fn is_internal(id: KpiId) -> bool {
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
    kpi!(SameDayContact, daily(Topic::Phone), Ratio, Intraday).with_live_outcome(),
    kpi!(Phone1177MeanWaitSeconds, daily(Topic::Phone), Mean, Intraday),
    kpi!(Phone1177AnsweredShare, daily(Topic::Phone), Ratio, Intraday),
    kpi!(AssessmentWithin3Days, daily(Topic::Visits), Ratio, Monthly),
    kpi!(Visits, daily(Topic::Visits), Count, Monthly),
    kpi!(DigitalVisitShare, daily(Topic::Visits), Ratio, Monthly),
    kpi!(VisitsOtherUnitShare, daily(Topic::Visits), Ratio, Monthly),
    kpi!(VisitsByListingUnit, daily(Topic::Visits), Count, Monthly, TO_LISTING_UNIT),
    derived!(ListedPatientsSeenElsewhereShare, Ratio, Monthly),
    kpi!(VisitsListingUnitUnknown, daily(Topic::Visits), Count, Monthly),
    kpi!(OutOfCountyDigitalCostSek, daily(Topic::Visits), Money, Monthly, BY_HOME_REGION),
    kpi!(ChatsStarted, daily(Topic::Chats), Count, Monthly),
    kpi!(ListingsVia1177, daily(Topic::Listings), Count, Monthly),
    kpi!(ListingNetChange, daily(Topic::Listings), Count, Monthly),
    kpi!(ListedPatients, daily(Topic::Listings), Stock, Monthly),
    kpi!(ChatGrowth, monthly(Topic::Chats, LAST_YEAR), Growth, Monthly),
    kpi!(PersonsListedVia1177, monthly(Topic::Listings, THIS_MONTH), Count, Monthly),
    kpi!(PersonsListedVia1177Ytd, monthly(Topic::Listings, YEAR_TO_DATE), Count, Monthly),
];

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
pub fn is_stock(id: KpiId) -> bool {
    id.definition().measure == Measure::Stock
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
    fn every_id_has_its_definition_and_derived_kpis_come_from_their_source() {
        assert_eq!(KpiId::ALL.len(), CATALOGUE.len());
        for (i, id) in KpiId::ALL.iter().enumerate() {
            assert_eq!(CATALOGUE[i].id, *id, "the catalogue is in the order of KpiId");
            assert_eq!(id.definition().id, *id);
            assert_eq!(id.as_str().parse::<KpiId>(), Ok(*id));
        }
        for k in CATALOGUE {
            if let Rollup::ToListingUnit { derived } = k.rollup {
                assert_eq!(derived.definition().stage, Stage::Derived, "{}", k.id);
            }
        }
    }

    #[test]
    fn an_unknown_id_is_refused_where_it_is_read() {
        assert_eq!("same_day_contacts".parse::<KpiId>(), Err(UnknownKpi("same_day_contacts".to_string())));
        let e = serde_json::from_str::<KpiId>("\"visit\"").unwrap_err();
        assert!(e.to_string().contains("unknown KPI `visit`"), "{e}");
        assert_eq!(serde_json::to_string(&KpiId::ChatGrowth).unwrap(), "\"chat_growth\"");
    }
}
