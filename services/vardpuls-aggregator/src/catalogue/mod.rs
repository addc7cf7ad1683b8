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
//! Adding a KPI is a line in `vardpuls_core::for_each_kpi!`, its definition in the catalogue
//! and, for a computed one, a `.sql` file named by its id (found by [`sql_of`]); the sources and
//! the driver do not change.

pub use vardpuls_core::catalogue::*;

/// Sums daily partials into months for every daily KPI that is not a stock.
pub const MONTHLY_SUM_SQL: &str = include_str!("monthly_sum.sql");
/// Takes the month's last daily value for stock KPIs.
pub const MONTHLY_LAST_SQL: &str = include_str!("monthly_last.sql");
/// Folds a month's closed days into its month to date (see [`crate::shard::Shard`]).
pub const MONTH_TO_DATE_SQL: &str = include_str!("month_to_date.sql");

/// A KPI's SQL file, by the catalogue's kind of KPI: computed ones have one, derived ones none.
macro_rules! sql_file {
    (computed $id:literal) => {
        Some(include_str!(concat!($id, ".sql")))
    };
    (derived $id:literal) => {
        None
    };
}

macro_rules! sql_of {
    ($($variant:ident = $id:literal $stage:ident),* $(,)?) => {
        /// The SQL of a KPI the aggregator computes (None for a derived one).
        pub fn sql_of(id: KpiId) -> Option<&'static str> {
            match id {
                $(KpiId::$variant => sql_file!($stage $id),)*
            }
        }
    };
}

vardpuls_core::for_each_kpi!(sql_of);

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
