//! The comparisons the regions' reports make: a month's year to date, against last year's
//! (Västmanland's "Ack utf Inn År / Ack utf Fg År / Ack avv Fg år %").
//!
//! A year to date is the months of the year through the given one, summed as roll-ups sum:
//! numerators, denominators and cases added, then divided, never an average of monthly values.
//! Only KPIs whose months add up have one: a stock's month is already its level, and growth is
//! itself a comparison.

use crate::view::KpiView;
use rust_decimal::Decimal;
use vardpuls_core::calendar::LocalMonth;
use vardpuls_core::catalogue::{KpiId, Measure};
use vardpuls_core::outputs::{KpiRecord, value};

/// The year to date through `month` of the value `month_record` is one month of (same KPI,
/// scope and breakdown): a record for the months found, final when all of them are. None where
/// the KPI's months do not add up, or no month of the year has a value.
pub fn year_to_date(view: &KpiView, month_record: &KpiRecord, month: LocalMonth) -> Option<KpiRecord> {
    let measure = month_record.kpi.definition().measure;
    if matches!(measure, Measure::Stock | Measure::Growth) {
        return None;
    }
    let months = (1..=month.month).map(|m| LocalMonth { year: month.year, month: m });
    let found: Vec<&KpiRecord> = months
        .filter_map(|m| {
            let period = m.to_string();
            let key = month_record.key().replacen(&format!("/{}", month_record.period), &format!("/{period}"), 1);
            view.get(&period, &key)
        })
        .collect();
    let latest = *found.last()?;
    let numerator: Decimal = found.iter().map(|r| r.numerator).sum();
    let denominator = found.iter().filter_map(|r| r.denominator).reduce(|a, b| a + b);
    let cases = found.iter().filter_map(|r| r.cases).reduce(|a, b| a + b);
    Some(KpiRecord {
        period: month.to_string(),
        numerator,
        denominator,
        value: value(month_record.kpi, numerator, denominator),
        is_final: found.iter().all(|r| r.is_final),
        revision: found.iter().map(|r| r.revision).sum(),
        live: None,
        cases,
        updated_at: found.iter().map(|r| r.updated_at).max().unwrap_or(latest.updated_at),
        ..latest.clone()
    })
}

/// This year's value against last year's: a count's or money's change in percent of last
/// year's; a share's or a mean's difference in its own unit (percentage points as a fraction,
/// seconds). None without both.
pub fn change(kpi: KpiId, this_year: Option<f64>, last_year: Option<f64>) -> Option<f64> {
    let (now, then) = (this_year?, last_year?);
    match kpi.definition().measure {
        Measure::Count | Measure::Money => (then != 0.0).then(|| (now / then - 1.0) * 100.0),
        Measure::Ratio | Measure::Mean => Some(now - then),
        Measure::Stock | Measure::Growth => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::view::Retention;
    use crate::view::tests::record;
    use vardpuls_core::calendar::LocalDay;

    #[test]
    fn a_year_to_date_sums_the_months_of_the_year_then_divides() {
        let today = LocalDay::parse("2026-03-10").unwrap();
        let mut view = KpiView::new(Retention::default());
        // Same-day contact: January 90 of 100, February 45 of 60, March so far 20 of 40;
        // December before is another year. Visits: 1 000, 800 and (last year) 700, 900.
        for (period, n, d) in [("2025-12", 1, 1), ("2026-01", 90, 100), ("2026-02", 45, 60), ("2026-03", 20, 40)] {
            let mut r = record("same_day_contact", "U1", period, n, Some(d));
            r.is_final = period != "2026-03";
            view.apply(r, today);
        }
        for (period, n) in [("2026-01", 1000), ("2026-02", 800), ("2025-01", 700), ("2025-02", 900)] {
            view.apply(record("visits", "U1", period, n, None), today);
        }
        let march = view.get("2026-03", "same_day_contact/unit/U1/2026-03").unwrap().clone();
        let ytd = year_to_date(&view, &march, LocalMonth { year: 2026, month: 3 }).unwrap();
        // 155 of 200, not the mean of 0.90, 0.75 and 0.50.
        assert_eq!((ytd.numerator, ytd.denominator), (155.into(), Some(200.into())));
        assert_eq!((ytd.value, ytd.is_final), (Some(0.775), false));

        let february = view.get("2026-02", "visits/unit/U1/2026-02").unwrap().clone();
        let this_year = year_to_date(&view, &february, LocalMonth { year: 2026, month: 2 }).unwrap();
        let last_year = year_to_date(&view, &february, LocalMonth { year: 2025, month: 2 }).unwrap();
        assert_eq!((this_year.numerator, last_year.numerator), (1800.into(), 1600.into()));
        // +12.5 % against last year's 1 600.
        assert_eq!(change(KpiId::Visits, this_year.value, last_year.value), Some(12.5));
        // A share's change is a difference: 0.775 against 0.80 is -0.025.
        assert!((change(KpiId::SameDayContact, Some(0.775), Some(0.8)).unwrap() + 0.025).abs() < 1e-12);
        // Across a leap year: February 2028 has 29 days, its year to date still sums two
        // months, against January and February 2027.
        for (period, n) in [("2028-01", 500), ("2028-02", 580), ("2027-01", 450), ("2027-02", 400)] {
            view.apply(record("visits", "U1", period, n, None), LocalDay::parse("2028-03-05").unwrap());
        }
        let february = view.get("2028-02", "visits/unit/U1/2028-02").unwrap().clone();
        let leap = year_to_date(&view, &february, LocalMonth { year: 2028, month: 2 }).unwrap();
        let before = year_to_date(&view, &february, LocalMonth { year: 2027, month: 2 }).unwrap();
        assert_eq!((leap.numerator, before.numerator), (1080.into(), 850.into()));
        // (1 080 / 850 - 1) × 100 = 27.06 %.
        assert!((change(KpiId::Visits, leap.value, before.value).unwrap() - 27.058_823_529).abs() < 1e-6);
        // A stock has no year to date.
        let stock = record("listed_patients", "U1", "2026-02", 5000, None);
        assert!(year_to_date(&view, &stock, LocalMonth { year: 2026, month: 2 }).is_none());
    }
}
