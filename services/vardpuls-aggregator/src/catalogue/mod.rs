//! How the aggregator computes the KPI catalogue (`vardpuls_core::catalogue`, re-exported
//! here): every KPI but a derived one is a SQL definition in this folder, run by DataFusion.
//!
//! Daily KPIs read the open (not yet final) events of one input topic as a table (`phone`,
//! `visits`, `listings`, `chats`; columns in [`crate::tables`]) and return daily partial
//! aggregates, one row per unit, local day and breakdown:
//! `unit_id, day, dimensions, numerator, denominator, pending, last_event_at` (the latest
//! `occurred_at` behind the value: its `updated_at`, the same in every run).
//! Monthly KPIs read those partials as the table `daily`, with the months to compute as
//! `{months}` (a list for `IN`) and `{month_rows}` (`VALUES` rows of month and year); the persons KPIs read
//! the table `persons_via_1177` ([`crate::persons`]). A daily KPI that carries a level from
//! day to day (a stock) reads the last final value per unit and breakdown from the table
//! `closed_latest` (`kpi, unit_id, dimensions, numerator`).
//!
//! Adding a KPI is adding its entry to the catalogue and a `.sql` file with its id, listed in
//! [`sql_of`]; the consumer loop does not change.

pub use vardpuls_core::catalogue::*;

/// Sums daily partials into months for every daily KPI that is not a stock.
pub const MONTHLY_SUM_SQL: &str = include_str!("monthly_sum.sql");
/// Takes the month's last daily value for stock KPIs.
pub const MONTHLY_LAST_SQL: &str = include_str!("monthly_last.sql");
/// Folds a month's closed days into its month to date (see [`crate::shard::Shard`]).
pub const MONTH_TO_DATE_SQL: &str = include_str!("month_to_date.sql");

/// The SQL of a KPI the aggregator computes (None for a derived one).
pub fn sql_of(id: KpiId) -> Option<&'static str> {
    macro_rules! sql {
        ($($variant:ident = $file:literal),* $(,)?) => {
            match id {
                $(KpiId::$variant => Some(include_str!(concat!($file, ".sql"))),)*
                _ => None,
            }
        };
    }
    sql!(
        SameDayContact = "same_day_contact",
        Phone1177MeanWaitSeconds = "phone_1177_mean_wait_seconds",
        Phone1177AnsweredShare = "phone_1177_answered_share",
        AssessmentWithin3Days = "assessment_within_3_days",
        Visits = "visits",
        DigitalVisitShare = "digital_visit_share",
        VisitsOtherUnitShare = "visits_other_unit_share",
        VisitsByListingUnit = "visits_by_listing_unit",
        VisitsListingUnitUnknown = "visits_listing_unit_unknown",
        OutOfCountyDigitalCostSek = "out_of_county_digital_cost_sek",
        ChatsStarted = "chats_started",
        ListingsVia1177 = "listings_via_1177",
        ListingNetChange = "listing_net_change",
        ListedPatients = "listed_patients",
        ChatGrowth = "chat_growth",
        PersonsListedVia1177 = "persons_listed_via_1177",
        PersonsListedVia1177Ytd = "persons_listed_via_1177_ytd",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_computed_kpi_has_sql_and_derived_ones_none() {
        for k in CATALOGUE {
            let sql = sql_of(k.id);
            assert_eq!(sql.is_some_and(|s| s.contains("SELECT")), k.stage != Stage::Derived, "{}", k.id);
        }
    }
}
