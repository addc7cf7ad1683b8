//! Prometheus alert rules generated from the KPI catalogue and the targets file.
//!
//! `vardpuls rules` writes `deploy/prometheus/vardpuls-kpi.rules.yml` and
//! `deploy/prometheus/vardpuls-pipeline.rules.yml`; a test fails when the checked-in files differ
//! from what this module generates. Every KPI that has a target gets alerts by its alert
//! policy in the catalogue ([`Alerting`]) and how it is measured: intraday shares (ratio KPIs
//! with a minimum target) get day lost, at risk (Wilson score) and monthly burn-rate alerts,
//! intraday levels (waits) an off-target ticket; KPIs followed per month a month-off-target
//! ticket and nothing that pages. Alerts carry a
//! `region` label (units joined with `vardpuls_unit_info`) so Alertmanager routes per region.

use crate::targets::{Direction, Targets};
use std::fmt::Write;
use vardpuls_core::catalogue::{Alerting, Measure};

/// Where every alert's runbook lives; anchors are the alert names in lower case.
pub const RUNBOOK_BASE: &str = "https://github.com/vardpuls/vardpuls/blob/main/docs/operations.md";

/// Thresholds of the generated rules. Documented in docs/operations.md, "Alerts and runbooks".
#[derive(Debug, Clone)]
pub struct RuleSettings {
    /// Decided cases needed before "at risk" may fire: the Wilson bound is loose below this.
    pub at_risk_min_cases: u32,
    /// z of the Wilson score interval (1.96: 95 % two-sided).
    pub wilson_z: f64,
    /// Units need this many cases month to date to get burn-rate alerts (regions always do).
    pub burn_min_monthly_cases: u32,
    /// Minutes without a phone event before a unit's feed counts as silent (during phone hours;
    /// outside them Alertmanager mutes it).
    pub feed_silent_minutes: u32,
    /// Cases a month to date needs before a KPI followed per month may alert.
    pub month_min_cases: u32,
}

impl Default for RuleSettings {
    fn default() -> Self {
        RuleSettings {
            at_risk_min_cases: 20,
            wilson_z: 1.96,
            burn_min_monthly_cases: 1000,
            feed_silent_minutes: 60,
            month_min_cases: 100,
        }
    }
}

/// How an alert names its unit or region in summaries.
const WHO: &str = "{{ if $labels.name }}{{ $labels.name }}{{ else }}region {{ $labels.scope_id }}{{ end }}";

/// One generated file: its name under deploy/prometheus/ and its text.
pub struct RuleFile {
    pub name: &'static str,
    pub text: String,
}

pub fn generate(targets: &Targets, settings: &RuleSettings) -> Vec<RuleFile> {
    vec![
        RuleFile { name: "vardpuls-kpi.rules.yml", text: kpi_rules(targets, settings) },
        RuleFile { name: "vardpuls-pipeline.rules.yml", text: pipeline_rules() },
    ]
}

/// The same groups as a prometheus-operator `PrometheusRule` (deploy/k8s/prometheus-rule.yaml).
pub fn prometheus_rule(files: &[RuleFile]) -> String {
    let mut out = header();
    out.push_str("apiVersion: monitoring.coreos.com/v1\nkind: PrometheusRule\nmetadata:\n  name: vardpuls\n  namespace: vardpuls\n  labels:\n    app.kubernetes.io/part-of: vardpuls\nspec:\n  groups:\n");
    for file in files {
        let (_, groups) = file.text.split_once("groups:\n").expect("rule files start with groups");
        for line in groups.lines() {
            let _ = writeln!(out, "  {line}");
        }
    }
    out
}

struct Rule {
    alert: String,
    expr: String,
    for_: &'static str,
    keep_firing_for: Option<&'static str>,
    severity: &'static str,
    summary: String,
    description: String,
    /// Extra labels, e.g. `phone_hours: "true"` for Alertmanager's time intervals.
    labels: Vec<(&'static str, String)>,
}

/// Adds the `region` (and unit `name`) label: units through `vardpuls_unit_info`, regions from
/// their own id. Kommun values are for analysis and do not alert.
fn per_region(condition: &str) -> String {
    format!(
        "(\n  {c}\n) * on(scope_id) group_left(region, name) vardpuls_unit_info\nor\nlabel_replace(\n  {r}\n, \"region\", \"$1\", \"scope_id\", \"(.*)\")",
        c = with_scope(condition, "unit"),
        r = with_scope(condition, "region"),
    )
}

/// Restricts every `vardpuls_kpi…{` selector in `condition` to one scope.
fn with_scope(condition: &str, scope: &str) -> String {
    condition.replace("{kpi=", &format!("{{scope=\"{scope}\",kpi="))
}

fn kpi_rules(targets: &Targets, s: &RuleSettings) -> String {
    let mut recording: Vec<(String, String)> = vec![
        ("vardpuls_kpi:decided:count".into(), "vardpuls_kpi_numerator + vardpuls_kpi_missed".into()),
        ("vardpuls_kpi:decided:ratio".into(), "vardpuls_kpi_numerator / (vardpuls_kpi:decided:count > 0)".into()),
        ("vardpuls_kpi:wilson_upper:ratio".into(), wilson_upper(s.wilson_z)),
    ];
    for window in ["5m", "30m", "1h", "6h"] {
        recording.push((
            format!("vardpuls_kpi:error_ratio:rate{window}"),
            format!(
                "increase(vardpuls_kpi_missed{{grain=\"day\"}}[{window}])\n/\n(increase(vardpuls_kpi_numerator{{grain=\"day\"}}[{window}]) + increase(vardpuls_kpi_missed{{grain=\"day\"}}[{window}]) > 0)"
            ),
        ));
    }

    let mut alerts = Vec::new();
    for kpi in targets.kpis() {
        let def = kpi.definition();
        let direction = targets.rules().iter().find(|r| r.kpi == kpi).map(|r| r.direction);
        let Some(direction) = direction else { continue };
        match (def.alerting, def.measure, direction) {
            (Alerting::Intraday, Measure::Ratio, Direction::AtLeast) => share_alerts(kpi.as_str(), s, &mut alerts),
            (Alerting::Intraday, _, direction) => alerts.push(level_alert(kpi.as_str(), direction, s)),
            (Alerting::Monthly, _, direction) => alerts.push(month_alert(kpi.as_str(), direction, s)),
        }
    }
    alerts.push(Rule {
        alert: "VardpulsFeedSilent".into(),
        // Feeds are per unit, so only the unit join applies.
        expr: format!(
            "(time() - vardpuls_feed_last_event_timestamp_seconds{{feed=\"phone\"}} > {})\n* on(scope_id) group_left(region, name) vardpuls_unit_info",
            s.feed_silent_minutes * 60
        ),
        for_: "10m",
        keep_firing_for: None,
        severity: "page",
        summary: "No phone events from {{ $labels.name }} for over an hour".into(),
        description: format!(
            "{{{{ $labels.name }}}} ({{{{ $labels.scope_id }}}}) has sent no telephony events for {} minutes during phone hours. The telephony export or the unit's line may be down; same-day contact for today is unreliable.",
            s.feed_silent_minutes
        ),
        labels: vec![("phone_hours", "true".into())],
    });

    let mut out = header();
    out.push_str("groups:\n  - name: vardpuls-kpi-recording\n    interval: 30s\n    rules:\n");
    for (record, expr) in recording {
        let _ = writeln!(out, "      - record: {record}\n        expr: |-\n{}", indent(&expr, 10));
    }
    out.push_str("  - name: vardpuls-kpi-alerts\n    interval: 30s\n    rules:\n");
    for rule in &alerts {
        write_alert(&mut out, rule);
    }
    out
}

fn share_alerts(kpi: &str, s: &RuleSettings, alerts: &mut Vec<Rule>) {
    let sel = format!("{{kpi=\"{kpi}\"");
    alerts.push(Rule {
        alert: "VardpulsKpiDayLost".into(),
        expr: per_region(&format!(
            "vardpuls_kpi_missed{sel},grain=\"day\"}}\n  > (1 - vardpuls_kpi_target{sel},grain=\"day\"}})\n  * (vardpuls_kpi_expected_denominator{sel},grain=\"day\"}} > vardpuls_kpi_denominator{sel},grain=\"day\"}} or vardpuls_kpi_denominator{sel},grain=\"day\"}})"
        )),
        for_: "0m",
        keep_firing_for: None,
        severity: "ticket",
        summary: format!("{WHO}: today's {kpi} target can no longer be met"),
        description: format!(
            "{{{{ $value }}}} cases of {kpi} were already missed today, more than the target allows for the day's expected volume (mean of the same weekday over four weeks, or today's count if higher). Follow up after the day; see the unit's drill-down dashboard."
        ),
        labels: vec![("kpi", kpi.into())],
    });
    alerts.push(Rule {
        alert: "VardpulsKpiAtRisk".into(),
        expr: per_region(&format!(
            "vardpuls_kpi:wilson_upper:ratio{sel}}} < vardpuls_kpi_target{sel}}}\n  and vardpuls_kpi:decided:count{sel}}} >= {}\n  and vardpuls_kpi_final{sel}}} == 0",
            s.at_risk_min_cases
        )),
        for_: "15m",
        keep_firing_for: Some("30m"),
        severity: "page",
        summary: format!("{WHO}: {kpi} is at risk ({{{{ $labels.grain }}}})"),
        description: format!(
            "Even the upper bound of the {z} Wilson interval of {kpi} for this {{{{ $labels.grain }}}} ({{{{ $value | humanizePercentage }}}}) is below target, with at least {min} decided cases. Act now (staff the phones, call back) or the period will be missed.",
            z = s.wilson_z,
            min = s.at_risk_min_cases
        ),
        labels: vec![("kpi", kpi.into())],
    });
    let large = format!(
        "(vardpuls_kpi_denominator{sel},grain=\"month\"}} >= {} or vardpuls_kpi_denominator{{scope=\"region\",kpi=\"{kpi}\",grain=\"month\"}})",
        s.burn_min_monthly_cases
    );
    for (alert, long, short, factor, severity, for_) in [
        ("VardpulsKpiBurnRateFast", "1h", "5m", 14.4, "page", "2m"),
        ("VardpulsKpiBurnRateSlow", "6h", "30m", 6.0, "ticket", "15m"),
    ] {
        alerts.push(Rule {
            alert: alert.into(),
            expr: per_region(&format!(
                "vardpuls_kpi:error_ratio:rate{long}{sel}}} / (1 - vardpuls_kpi_target{sel},grain=\"day\"}}) > {factor}\n  and vardpuls_kpi:error_ratio:rate{short}{sel}}} / (1 - vardpuls_kpi_target{sel},grain=\"day\"}}) > {factor}\n  and on(kpi, scope, scope_id) {large}"
            )),
            for_,
            keep_firing_for: None,
            severity,
            summary: format!("{WHO}: {kpi} burns the month's error budget {factor}x too fast"),
            description: format!(
                "Over the last {long} and {short}, the share of {kpi} cases missed was more than {factor} times what the monthly target allows (error budget = 1 - target). At this pace the month's target is lost within days."
            ),
            labels: vec![("kpi", kpi.into())],
        });
    }
}

/// The comparison that puts a value on the wrong side of a target, and the word for it.
fn wrong_side(direction: Direction) -> (&'static str, &'static str) {
    match direction {
        Direction::AtLeast => ("<", "below"),
        Direction::AtMost => (">", "above"),
    }
}

/// The series `sel` (an open selector) selects on the wrong side of their target (`op`), with
/// at least `min` cases.
fn off_target(sel: &str, op: &str, min: u32) -> String {
    per_region(&format!(
        "vardpuls_kpi_value{sel}}} {op} vardpuls_kpi_target{sel}}}\n  and (vardpuls_kpi_denominator{sel}}} >= {min} or vardpuls_kpi_numerator{sel}}} >= {min})"
    ))
}

fn level_alert(kpi: &str, direction: Direction, s: &RuleSettings) -> Rule {
    let (op, word) = wrong_side(direction);
    Rule {
        alert: "VardpulsKpiOffTarget".into(),
        expr: off_target(&format!("{{kpi=\"{kpi}\""), op, s.at_risk_min_cases),
        for_: "30m",
        keep_firing_for: Some("30m"),
        severity: "ticket",
        summary: format!("{WHO}: {kpi} is {word} target ({{{{ $labels.grain }}}})"),
        description: format!(
            "{kpi} for this {{{{ $labels.grain }}}} is {{{{ $value }}}}, {word} its target, with at least {} cases.",
            s.at_risk_min_cases
        ),
        labels: vec![("kpi", kpi.into())],
    }
}

/// A KPI followed per month: a ticket when the month to date is on the wrong side of its
/// target, with enough cases to mean something, for an hour (a month moves slowly; a morning's
/// first visits should not raise it).
fn month_alert(kpi: &str, direction: Direction, s: &RuleSettings) -> Rule {
    let (op, word) = wrong_side(direction);
    Rule {
        alert: "VardpulsKpiMonthOffTarget".into(),
        expr: off_target(&format!("{{kpi=\"{kpi}\",grain=\"month\""), op, s.month_min_cases),
        for_: "1h",
        keep_firing_for: Some("1h"),
        severity: "ticket",
        summary: format!("{WHO}: {kpi} this month is {word} target"),
        description: format!(
            "{kpi} for the month to date is {{{{ $value }}}}, {word} its target, with at least {} cases. A target followed per month: raise it at the next follow-up meeting.",
            s.month_min_cases
        ),
        labels: vec![("kpi", kpi.into())],
    }
}

/// The upper bound of the Wilson score interval for the decided share p of n cases:
/// (p + z²/2n + z·sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n).
fn wilson_upper(z: f64) -> String {
    let (z2_half, z2_quarter, z2, z) = (num(z * z / 2.0), num(z * z / 4.0), num(z * z), num(z));
    let p = "vardpuls_kpi:decided:ratio";
    let n = "vardpuls_kpi:decided:count";
    format!(
        "(\n  {p} + {z2_half} / {n}\n  + {z} * sqrt({p} * (1 - {p}) / {n} + {z2_quarter} / ({n} ^ 2))\n)\n/ (1 + {z2} / {n})"
    )
}

/// A constant for PromQL: at most six decimals, no float noise.
fn num(x: f64) -> String {
    let s = format!("{x:.6}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn pipeline_rules() -> String {
    let rules = [
        Rule {
            alert: "VardpulsServiceDown".into(),
            expr: "up{job=~\"vardpuls.*\"} == 0".into(),
            for_: "2m",
            keep_firing_for: None,
            severity: "page",
            summary: "vardpuls {{ $labels.job }} on {{ $labels.instance }} is down".into(),
            description: "Prometheus cannot scrape {{ $labels.instance }}. KPIs stop updating while the service is down; nothing is lost (Kafka keeps the events).".into(),
            labels: vec![],
        },
        Rule {
            alert: "VardpulsConsumerLagHigh".into(),
            expr: "sum by (group, topic) (vardpuls_consumer_lag_messages) > 10000".into(),
            for_: "10m",
            keep_firing_for: None,
            severity: "page",
            summary: "{{ $labels.group }} is {{ $value }} messages behind on {{ $labels.topic }}".into(),
            description: "The consumer group is not keeping up: live KPIs are late. Check the service's CPU and batch latency, or add instances (up to the partition count).".into(),
            labels: vec![],
        },
        Rule {
            alert: "VardpulsDeadLettersRising".into(),
            expr: "sum by (topic, rule) (rate(vardpuls_ingest_rejected_total[15m])) > 0.1\nor\nsum by (topic, outcome) (rate(vardpuls_aggregator_messages_total{outcome=~\"invalid|late\"}[15m])) > 0.1".into(),
            for_: "15m",
            keep_firing_for: None,
            severity: "ticket",
            summary: "Events refused or late on {{ $labels.topic }} ({{ $labels.rule }}{{ $labels.outcome }})".into(),
            description: "More than one event per 10 s goes to vardpuls.dlq.v1 or vardpuls.late.v1. A source system is sending bad or late data; read the reasons with `vardpuls tail vardpuls.dlq.v1`.".into(),
            labels: vec![],
        },
        Rule {
            alert: "VardpulsCheckpointStale".into(),
            expr: "time() - vardpuls_aggregator_last_checkpoint_timestamp_seconds > 300\nand on() sum(vardpuls_consumer_lag_messages{group=\"vardpuls-aggregator\"}) > 0".into(),
            for_: "5m",
            keep_firing_for: None,
            severity: "page",
            summary: "The aggregator on {{ $labels.instance }} has not checkpointed for 5 minutes while input waits".into(),
            description: "Checkpoints carry the KPI state and the consumed offsets. Without them a restart re-reads more input, and offsets are not committed. Check the state volume (full, read-only) and the aggregator's log.".into(),
            labels: vec![],
        },
        Rule {
            alert: "VardpulsServiceRestarting".into(),
            expr: "sum by (instance, service) (increase(vardpuls_service_restarts_total[15m])) > 2".into(),
            for_: "5m",
            keep_firing_for: None,
            severity: "page",
            summary: "The {{ $labels.service }} service on {{ $labels.instance }} keeps failing and being restarted".into(),
            description: "In `vardpuls run --target all` a failed service is restarted in place, with pauses up to a minute; the other services keep running. While it fails, what it produces stops updating. Its log says why (often the state volume: full, read-only, out of descriptors).".into(),
            labels: vec![],
        },
    ];
    let mut out = header();
    out.push_str("groups:\n  - name: vardpuls-pipeline\n    rules:\n");
    for rule in &rules {
        write_alert(&mut out, rule);
    }
    out
}

fn header() -> String {
    "# Generated by `vardpuls rules` from the KPI catalogue and deploy/targets.toml. Do not edit:\n# change the generator (services/vardpuls-exporter/src/rules.rs) or the targets, then run\n# `make rules`. Runbooks: docs/operations.md.\n".to_string()
}

fn write_alert(out: &mut String, rule: &Rule) {
    let _ = writeln!(out, "      - alert: {}\n        expr: |-\n{}", rule.alert, indent(&rule.expr, 10));
    let _ = writeln!(out, "        for: {}", rule.for_);
    if let Some(keep) = rule.keep_firing_for {
        let _ = writeln!(out, "        keep_firing_for: {keep}");
    }
    let _ = writeln!(out, "        labels:\n          severity: {}", rule.severity);
    for (k, v) in &rule.labels {
        let _ = writeln!(out, "          {k}: \"{v}\"");
    }
    let _ = writeln!(out, "        annotations:");
    let _ = writeln!(out, "          summary: {}", quote(&rule.summary));
    let _ = writeln!(out, "          description: {}", quote(&rule.description));
    let _ = writeln!(out, "          runbook_url: {RUNBOOK_BASE}#{}", rule.alert.to_lowercase());
}

fn indent(text: &str, spaces: usize) -> String {
    let pad = " ".repeat(spaces);
    text.lines().map(|l| format!("{pad}{l}")).collect::<Vec<_>>().join("\n")
}

/// A YAML double-quoted string (JSON string syntax is valid YAML).
fn quote(s: &str) -> String {
    serde_json::to_string(s).expect("strings serialize")
}
