//! The alerting configuration against the real tools: the checked-in rule files are what the
//! generator makes from the catalogue and targets; `promtool check rules` and `promtool test
//! rules` (firing and not-firing cases for every alert) pass; every generated alert has a
//! runbook section; `amtool check-config` passes and routes each kind of alert where it belongs.

use crate::support::{repo_root, tool};
use std::process::Command;
use vardpuls_exporter::rules::{RuleSettings, generate, prometheus_rule};
use vardpuls_exporter::targets::Targets;

fn run(program: &str, package: &str, args: &[&str]) -> String {
    let output = Command::new(tool(program, package)).args(args).current_dir(repo_root()).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "{program} {}:\n{text}", args.join(" "));
    text
}

fn generated() -> Vec<vardpuls_exporter::rules::RuleFile> {
    let targets = Targets::load(&repo_root().join("deploy/targets.toml")).unwrap();
    generate(&targets, &RuleSettings::default())
}

#[test]
fn checked_in_rules_are_what_the_generator_makes() {
    for file in generated() {
        let path = repo_root().join("deploy/prometheus").join(file.name);
        let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(on_disk == file.text, "{} differs from the generator: run `make rules` and commit", path.display());
    }
    let path = repo_root().join("deploy/k8s/prometheus-rule.yaml");
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == prometheus_rule(&generated()),
        "{} differs from the generator: run `make rules`",
        path.display()
    );
}

#[test]
fn promtool_checks_and_unit_tests_every_alert() {
    let check = run(
        "promtool",
        "prometheus",
        &[
            "check",
            "rules",
            "deploy/prometheus/vardpuls-kpi.rules.yml",
            "deploy/prometheus/vardpuls-pipeline.rules.yml",
        ],
    );
    assert!(!check.contains("FAILED"), "{check}");
    let tests = run(
        "promtool",
        "prometheus",
        &[
            "test",
            "rules",
            "deploy/prometheus/tests/vardpuls-kpi.test.yml",
            "deploy/prometheus/tests/vardpuls-pipeline.test.yml",
        ],
    );
    assert_eq!(tests.matches("SUCCESS").count(), 2, "{tests}");

    // Every alert the generator makes is exercised firing, and has a runbook section.
    let test_files: String = ["vardpuls-kpi.test.yml", "vardpuls-pipeline.test.yml"]
        .iter()
        .map(|f| std::fs::read_to_string(repo_root().join("deploy/prometheus/tests").join(f)).unwrap())
        .collect();
    let operations = std::fs::read_to_string(repo_root().join("docs/operations.md")).unwrap().to_lowercase();
    let mut alerts: Vec<String> = generated()
        .iter()
        .flat_map(|f| {
            f.text.lines().filter_map(|l| l.trim().strip_prefix("- alert: ").map(str::to_string)).collect::<Vec<_>>()
        })
        .collect();
    alerts.dedup();
    assert!(alerts.len() >= 10, "{alerts:?}");
    for alert in alerts {
        assert!(
            test_files.contains(&format!("alertname: {alert}\n              severity"))
                || test_files.contains(&format!("{{alertname: {alert},")),
            "no firing case for {alert}"
        );
        assert!(
            test_files.contains(&format!("alertname: {alert}\n        exp_alerts: []")),
            "no not-firing case for {alert}"
        );
        assert!(
            operations.contains(&format!("### {}", alert.to_lowercase())),
            "no runbook section for {alert} in docs/operations.md"
        );
    }
}

#[test]
fn alertmanager_config_is_valid_and_routes_per_region() {
    let config = "--config.file=deploy/alertmanager/alertmanager.yml";
    run("amtool", "prometheus-alertmanager", &["check-config", "deploy/alertmanager/alertmanager.yml"]);
    for (labels, receiver) in [
        (&["alertname=VardpulsKpiAtRisk", "severity=page", "region=20"][..], "dalarna-page"),
        (&["alertname=VardpulsKpiDayLost", "severity=ticket", "region=20"][..], "dalarna-ticket"),
        (&["alertname=VardpulsKpiAtRisk", "severity=page", "region=13"][..], "halland-page"),
        (&["alertname=VardpulsKpiOffTarget", "severity=ticket", "region=19"][..], "vastmanland-ticket"),
        (&["alertname=VardpulsKpiMonthOffTarget", "severity=ticket", "region=20"][..], "dalarna-ticket"),
        (&["alertname=VardpulsKpiBurnRateFast", "severity=page", "region=14"][..], "vgr-page"),
        (&["alertname=VardpulsFeedSilent", "severity=page", "region=13", "phone_hours=true"][..], "halland-page"),
        (&["alertname=VardpulsServiceDown", "severity=page"][..], "platform-page"),
        (&["alertname=VardpulsDeadLettersRising", "severity=ticket"][..], "platform-ticket"),
    ] {
        // Every alert also goes to vardpuls' own history first.
        let receiver = format!("vardpuls-history,{receiver}");
        let mut args = vec!["config", "routes", "test", config, &format!("--verify.receivers={receiver}")]
            .into_iter()
            .map(String::from)
            .collect::<Vec<_>>();
        args.extend(labels.iter().map(|s| s.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let routed = run("amtool", "prometheus-alertmanager", &args);
        assert_eq!(routed.lines().find(|l| !l.starts_with("Warning")).unwrap_or("").trim(), receiver, "{labels:?}");
    }
    // Phone-hours alerts are muted outside telefontid, in Swedish time.
    let text = std::fs::read_to_string(repo_root().join("deploy/alertmanager/alertmanager.yml")).unwrap();
    assert!(text.contains("active_time_intervals: [phone-hours]") && text.contains("location: Europe/Stockholm"));
}
