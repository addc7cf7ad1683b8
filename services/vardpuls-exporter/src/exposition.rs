//! KPI values as Prometheus series, built from the view at scrape time.
//!
//! Only the current local day and month are exposed: Prometheus keeps the history, and the
//! series stay few (see docs/metrics.md for the count at 1 200 units). Ratios are 0..1;
//! numerator and denominator are their own series so roll-ups sum, then divide. Unit names,
//! kommuner and regions live in `vardpuls_unit_info`, joined in queries, not repeated on every
//! series. No sample carries a timestamp.

use crate::presentation::Presenter;
use crate::view::KpiView;
use chrono::{DateTime, Utc};
use prometheus::proto::{Gauge, LabelPair, Metric, MetricFamily, MetricType};
use std::collections::BTreeMap;
use vardpuls_core::calendar::LocalDay;
use vardpuls_core::catalogue::Measure;
use vardpuls_core::outputs::{Grain, KpiRecord, scope_str};

/// Every KPI series name with its help text, in exposition order.
pub const KPI_SERIES: &[(&str, &str)] = &[
    ("vardpuls_kpi_value", "KPI value for the current local day or month: a ratio 0..1, a count, seconds or SEK."),
    ("vardpuls_kpi_numerator", "KPI numerator (cases meeting the criterion, or the count or sum)."),
    ("vardpuls_kpi_denominator", "KPI denominator (cases counted)."),
    ("vardpuls_kpi_target", "Target in effect for the KPI value (deploy/targets.toml)."),
    ("vardpuls_kpi_target_at_most", "1 when the target is a maximum (lower is better), 0 when it is a minimum."),
    ("vardpuls_kpi_missed", "Cases already decided as not meeting the criterion (ratio KPIs)."),
    ("vardpuls_kpi_pending", "Cases not decided yet, e.g. callbacks booked for later today."),
    ("vardpuls_kpi_best_value", "Best possible end-of-day value: every pending case met."),
    ("vardpuls_kpi_worst_value", "Worst possible end-of-day value: no pending case met."),
    ("vardpuls_kpi_expected_denominator", "Mean final denominator of the same weekday over the last four weeks."),
    ("vardpuls_kpi_final", "1 when the period is closed (past the allowed lateness)."),
    ("vardpuls_kpi_suppressed", "1 when the value rests on fewer cases than the small-cell minimum."),
];

pub fn families(view: &KpiView, presenter: &Presenter, now: DateTime<Utc>) -> Vec<MetricFamily> {
    let today = LocalDay::of(now);
    let mut out = Families::default();
    for period in [today.to_string(), today.month().to_string()] {
        for record in view.period(&period) {
            add_kpi(&mut out, view, presenter, record);
        }
    }
    // Units in the registry, plus units seen in the data whose region follows from their
    // HSA-id: alerts join on this metric for their region label and must not lose a unit.
    let mut units: std::collections::BTreeSet<&str> = presenter.units.iter().map(|(id, _)| id).collect();
    units.extend(view.last_event().keys().map(|(unit, _)| unit.as_str()));
    for unit in units.into_iter().filter_map(|id| presenter.units.get(id)) {
        out.add(
            "vardpuls_unit_info",
            vec![
                ("scope_id", unit.hsa_id.as_str().to_string()),
                ("name", unit.name.clone()),
                ("kommun", unit.kommun.map(|k| k.as_str().to_string()).unwrap_or_default()),
                ("region", unit.region.as_str().to_string()),
            ],
            1.0,
        );
    }
    for ((unit, feed), at) in view.last_event() {
        out.add(
            "vardpuls_feed_last_event_timestamp_seconds",
            vec![("scope_id", unit.clone()), ("feed", feed.to_string())],
            at.timestamp() as f64,
        );
    }
    out.into_families()
}

fn add_kpi(out: &mut Families, view: &KpiView, presenter: &Presenter, record: &KpiRecord) {
    let presented = presenter.present(record);
    let labels = kpi_labels(record);
    let mut add = |name: &'static str, value: f64| out.add(name, labels.clone(), value);
    if let Some(value) = record.value {
        add("vardpuls_kpi_value", value);
    }
    add("vardpuls_kpi_numerator", f64::try_from(record.numerator).unwrap_or(f64::NAN));
    if let Some(den) = record.denominator {
        add("vardpuls_kpi_denominator", f64::try_from(den).unwrap_or(f64::NAN));
        if record.kpi.definition().measure == Measure::Ratio {
            let missed = match &record.live {
                Some(live) => live.missed as f64,
                None => f64::try_from(den - record.numerator).unwrap_or(f64::NAN),
            };
            add("vardpuls_kpi_missed", missed);
        }
    }
    if let Some(target) = presented.target {
        add("vardpuls_kpi_target", target.value);
        add("vardpuls_kpi_target_at_most", f64::from(target.direction == crate::targets::Direction::AtMost));
    }
    if let Some(live) = &record.live {
        add("vardpuls_kpi_pending", live.pending as f64);
        if let Some(best) = live.best_value {
            add("vardpuls_kpi_best_value", best);
        }
        if let Some(worst) = live.worst_value {
            add("vardpuls_kpi_worst_value", worst);
        }
    }
    if record.grain == Grain::Day
        && let Some(expected) = view.expected_denominator(record)
    {
        add("vardpuls_kpi_expected_denominator", expected);
    }
    add("vardpuls_kpi_final", f64::from(record.is_final));
    add("vardpuls_kpi_suppressed", f64::from(presented.suppressed));
}

fn kpi_labels(record: &KpiRecord) -> Vec<(&'static str, String)> {
    let mut labels = vec![
        ("kpi", record.kpi.to_string()),
        ("scope", scope_str(record.scope).to_string()),
        ("scope_id", record.scope_id.clone()),
        ("grain", if record.grain == Grain::Day { "day" } else { "month" }.to_string()),
    ];
    for (name, value) in &record.dimensions {
        if let Some(label) = dimension_label(name) {
            labels.push((label, value.clone()));
        }
    }
    labels
}

/// Breakdown dimensions become labels under fixed names, so no record can invent a label.
fn dimension_label(dimension: &str) -> Option<&'static str> {
    Some(match dimension {
        "profession" => "profession",
        "contact_form" => "contact_form",
        "profession_group" => "profession_group",
        "contact_group" => "contact_group",
        "channel" => "channel",
        "provider" => "provider",
        "home_region" => "home_region",
        "kommun_code" => "kommun_code",
        "operator" => "operator",
        _ => return None,
    })
}

#[derive(Default)]
struct Families {
    series: BTreeMap<&'static str, Vec<Metric>>,
}

impl Families {
    fn add(&mut self, name: &'static str, labels: Vec<(&'static str, String)>, value: f64) {
        let mut metric = Metric::default();
        let mut pairs: Vec<LabelPair> = labels
            .into_iter()
            .map(|(k, v)| {
                let mut pair = LabelPair::default();
                pair.set_name(k.to_string());
                pair.set_value(v);
                pair
            })
            .collect();
        pairs.sort_by(|a, b| a.name().cmp(b.name()));
        metric.set_label(pairs);
        let mut gauge = Gauge::default();
        gauge.set_value(value);
        metric.set_gauge(gauge);
        self.series.entry(name).or_default().push(metric);
    }

    fn into_families(self) -> Vec<MetricFamily> {
        self.series
            .into_iter()
            .map(|(name, metrics)| {
                let mut family = MetricFamily::default();
                family.set_name(name.to_string());
                family.set_help(help(name).to_string());
                family.set_field_type(MetricType::GAUGE);
                family.set_metric(metrics);
                family
            })
            .collect()
    }
}

fn help(name: &str) -> &'static str {
    match name {
        "vardpuls_unit_info" => "A vårdcentral's name, kommun and region; always 1. Join on scope_id.",
        "vardpuls_feed_last_event_timestamp_seconds" => {
            "Unix time of the latest event behind any of a unit's values from one input feed."
        }
        _ => KPI_SERIES.iter().find(|(n, _)| *n == name).map(|(_, h)| *h).unwrap_or("vardpuls KPI series."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::targets::Targets;
    use crate::view::Retention;
    use crate::view::tests::record;
    use prometheus::{Encoder, TextEncoder};
    use vardpuls_core::units::UnitRegistry;

    #[test]
    fn current_day_and_month_only_with_targets_and_unit_info() {
        let now: DateTime<Utc> = "2026-11-23T10:00:00Z".parse().unwrap();
        let today = LocalDay::of(now);
        let mut view = KpiView::new(Retention::default());
        let unit = "SE2321000180-E00101";
        view.apply(record("same_day_contact", unit, "2026-11-23", 18, Some(20)), today);
        view.apply(record("same_day_contact", unit, "2026-11-22", 5, Some(10)), today);
        view.apply(record("same_day_contact", unit, "2026-11", 90, Some(100)), today);
        let targets = Targets::parse(
            "[[target]]\nkpi = \"same_day_contact\"\ntarget = 0.95\ndirection = \"at_least\"\nfrom = \"2019-01-01\"\n",
        )
        .unwrap();
        let units = UnitRegistry::parse(&format!("hsa_id,name,kommun_code\n{unit},Vårdcentral Mora,2062\n")).unwrap();
        let presenter = Presenter { targets, units, min_cases: 20 };
        let mut text = Vec::new();
        TextEncoder::new().encode(&families(&view, &presenter, now), &mut text).unwrap();
        let text = String::from_utf8(text).unwrap();
        let day = format!("grain=\"day\",kpi=\"same_day_contact\",scope=\"unit\",scope_id=\"{unit}\"");
        assert!(text.contains(&format!("vardpuls_kpi_value{{{day}}} 0.9\n")), "{text}");
        assert!(text.contains(&format!("vardpuls_kpi_missed{{{day}}} 2\n")), "{text}");
        assert!(text.contains(&format!("vardpuls_kpi_target{{{day}}} 0.95\n")), "{text}");
        assert!(text.contains(&format!("vardpuls_kpi_suppressed{{{day}}} 0\n")), "{text}");
        assert!(text.contains("vardpuls_kpi_denominator{grain=\"month\""), "{text}");
        assert_eq!(text.matches("vardpuls_kpi_value{").count(), 2, "yesterday is not exposed: {text}");
        assert!(text.contains(&format!(
            "vardpuls_unit_info{{kommun=\"2062\",name=\"Vårdcentral Mora\",region=\"20\",scope_id=\"{unit}\"}} 1"
        )));
    }
}
