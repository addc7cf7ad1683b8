//! What operations centres, analysts and on-call staff see, against the real tools: the whole
//! pipeline runs on a real broker; `promtool check metrics` lints the exporter's output; a real
//! Prometheus scrapes it and every Grafana panel query returns data; the wallboard renders in
//! headless Chromium, worst unit first.

use crate::live_day;
use crate::scenario::Message;
use crate::support::{
    KillOnDrop, TempDir, TestKafka, free_port, get, http, produce, repo_root, tempdir, tool, url_encode,
    vardpuls_binary, wait_for,
};
use serde_json::Value;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;
use vardpuls_core::Topic;

const TOKEN: &str = "e2e-observability-token";
/// Values for the dashboards' template variables.
const REGION: &str = "20";
const UNIT: &str = "SE2321000180-E00101";

fn start_vardpuls(kafka: &TestKafka, address: &str, state: &Path) -> KillOnDrop {
    let root = repo_root();
    let child = Command::new(vardpuls_binary())
        .args(["run", "--target", "all"])
        .envs(kafka.client_env())
        .env("VARDPULS_AGGREGATOR_STATE_DIR", state)
        .env("VARDPULS_AGGREGATOR_UNITS_FILE", root.join("deploy/units.csv"))
        .env("VARDPULS_EXPORTER_TARGETS_FILE", root.join("deploy/targets.toml"))
        .env("VARDPULS_INGEST_LISTEN", address)
        .env("VARDPULS_INGEST_TOKENS", TOKEN)
        .env("RUST_LOG", std::env::var("VARDPULS_TEST_LOG").unwrap_or("warn".into()))
        .stdout(Stdio::null())
        .spawn()
        .expect("starting vardpuls (build it first: make test does)");
    KillOnDrop(child)
}

/// A JSON answer; None while the server is not up or answers with an error status.
fn json(address: &str, path: &str) -> Option<Value> {
    std::net::TcpStream::connect(address).ok()?;
    let (status, body) = get(address, path);
    (status == 200).then(|| serde_json::from_str(&body).expect("JSON answer"))
}

/// Prometheus scraping `vardpuls`: its directory (config, data, log; bound first, so it is
/// dropped after the process), the process, and its address.
fn start_prometheus(vardpuls: &str) -> (TempDir, KillOnDrop, String) {
    let dir = tempdir();
    let rules = repo_root().join("deploy/prometheus");
    let config = format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - {}/*.rules.yml\nscrape_configs:\n  - job_name: vardpuls\n    static_configs:\n      - targets: ['{vardpuls}']\n",
        rules.display()
    );
    std::fs::write(dir.join("prometheus.yml"), config).unwrap();
    let address = format!("127.0.0.1:{}", free_port());
    let child = Command::new(tool("prometheus", "prometheus"))
        .arg(format!("--config.file={}", dir.join("prometheus.yml").display()))
        .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
        .arg(format!("--web.listen-address={address}"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("prometheus.log")).unwrap())
        .spawn()
        .expect("starting prometheus");
    (dir, KillOnDrop(child), address)
}

/// Runs an instant query; the result vector, or None on an error answer.
fn query(prometheus: &str, expr: &str) -> Option<Vec<Value>> {
    let body = json(prometheus, &format!("/api/v1/query?query={}", url_encode(expr)))?;
    body["data"]["result"].as_array().cloned()
}

/// Every query of every panel of a dashboard, with the template variables filled in.
fn panel_queries(dashboard: &Path) -> Vec<(String, String)> {
    let d: Value = serde_json::from_str(&std::fs::read_to_string(dashboard).unwrap()).unwrap();
    assert_eq!(d["timezone"], "Europe/Stockholm", "{}", dashboard.display());
    let mut out = Vec::new();
    for panel in d["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"]
                .as_str()
                .unwrap()
                .replace("$region", REGION)
                .replace("$unit", UNIT)
                .replace("$__rate_interval", "30s");
            out.push((panel["title"].as_str().unwrap().to_string(), expr));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scrapes_the_exporter_and_every_dashboard_query_returns_data() {
    let kafka = TestKafka::start().await;
    let mut messages = live_day::messages(chrono::Utc::now());
    // One unreadable message, for the dead-letter panels.
    messages.push(Message { topic: Topic::Phone, key: UNIT.into(), payload: b"{\"schema_version\":1".to_vec() });
    produce(&kafka, &messages).await;

    let address = format!("127.0.0.1:{}", free_port());
    let state = tempdir();
    let _vardpuls = start_vardpuls(&kafka, &address, &state);
    wait_for("vardpuls to answer", Duration::from_secs(60), || std::net::TcpStream::connect(&address).ok());
    // One refused line through HTTP ingest (it carries no in_phone_hours).
    let line = format!(
        r#"{{"schema_version":1,"event_id":"4a0e7c52-1d1b-4b7e-9d55-0000000000ff","event_type":"call_received","occurred_at":"{}","unit_id":"{UNIT}","call_id":"x","line":"primary_care"}}"#,
        chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ")
    );
    let auth = format!("Bearer {TOKEN}");
    let (status, _) = http("POST", &address, "/v1/events/phone", &[("Authorization", &auth)], line.as_bytes());
    assert_eq!(status, 200);

    // The exporter is ready and has today's values for the three units and the region.
    let board = wait_for("the wallboard to show three units", Duration::from_secs(120), || {
        (get(&address, "/readyz").0 == 200).then_some(())?;
        let board = json(&address, "/api/v1/wallboard")?;
        (board["ready"] == true && board["units"].as_array()?.len() == 3).then_some(board)
    });
    let region = wait_for("the region roll-up", Duration::from_secs(60), || {
        let kpis = json(&address, "/api/v1/kpis?kpi=same_day_contact&scope=region&scope_id=20")?;
        let items = kpis["items"].as_array()?;
        // Today and this month, in total and per operator (region-run Mora and Särna, private
        // Koppardalen, as deploy/units.csv says).
        (items.len() == 6).then(|| items.clone())
    });
    let totals: Vec<&Value> = region.iter().filter(|r| r["dimensions"] == serde_json::json!({})).collect();
    assert!(totals.len() == 2 && totals.iter().all(|r| r["target"] == 0.95), "{region:?}");
    let private_today = region
        .iter()
        .find(|r| r["dimensions"]["operator"] == "private" && r["grain"] == "day")
        .expect("the private units' total today");
    // Koppardalen answers every call.
    assert_eq!(private_today["value"], 1.0, "{private_today:?}");

    // Worst first: Mora answers 6 in 10 directly, Särna 8 in 10, Koppardalen all.
    let order: Vec<&str> = board["units"].as_array().unwrap().iter().map(|u| u["scope_id"].as_str().unwrap()).collect();
    assert_eq!(order, ["SE2321000180-E00101", "SE2321000180-E00103", "SE2321000180-E00102"]);
    let mora = &board["units"][0];
    assert_eq!(mora["calls"], 60);
    assert_eq!(mora["live"]["met"], 36);
    assert_eq!(mora["live"]["pending"], 12, "callbacks booked, not made yet");
    assert_eq!(mora["live"]["missed"], 12, "abandoned calls");
    // Särna has 12 calls: below the small-cell minimum, suppressed in the public API.
    assert_eq!(board["units"][1]["few_cases"], true);
    let sarna = json(&address, "/api/v1/kpis?kpi=same_day_contact&scope_id=SE2321000180-E00103").unwrap();
    let sarna_today = sarna["items"].as_array().unwrap().iter().find(|i| i["grain"] == "day").unwrap().clone();
    assert_eq!((sarna_today["suppressed"].clone(), sarna_today["value"].clone()), (Value::Bool(true), Value::Null));

    // promtool lints the exposition.
    let (status, metrics) = get(&address, "/metrics");
    assert_eq!(status, 200);
    let mut lint = Command::new(tool("promtool", "prometheus"))
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    lint.stdin.take().unwrap().write_all(metrics.as_bytes()).unwrap();
    let lint = lint.wait_with_output().unwrap();
    assert!(
        lint.status.success() && lint.stdout.is_empty() && lint.stderr.is_empty(),
        "promtool check metrics:\n{}{}",
        String::from_utf8_lossy(&lint.stdout),
        String::from_utf8_lossy(&lint.stderr)
    );
    // No sample carries a timestamp: after the labels comes the value alone.
    for line in metrics.lines().filter(|l| !l.starts_with('#')) {
        let after_labels = line.rsplit_once('}').map_or(line, |(_, rest)| rest);
        let tokens = after_labels.split_whitespace().count();
        assert_eq!(tokens, if line.contains('}') { 1 } else { 2 }, "timestamp in: {line}");
    }

    // A real Prometheus scrapes it; every dashboard panel query and variable returns data.
    let (_prometheus_dir, _prometheus, prometheus) = start_prometheus(&address);
    wait_for("Prometheus to scrape vardpuls", Duration::from_secs(60), || {
        query(&prometheus, "vardpuls_kpi_value").filter(|r| !r.is_empty())
    });
    let mut dashboards: Vec<_> =
        std::fs::read_dir(repo_root().join("deploy/grafana/dashboards")).unwrap().map(|e| e.unwrap().path()).collect();
    dashboards.sort();
    assert_eq!(dashboards.len(), 4);
    let mut checked = 0;
    for dashboard in &dashboards {
        for (title, expr) in panel_queries(dashboard) {
            wait_for(
                &format!("data for panel '{title}' of {}: {expr}", dashboard.display()),
                Duration::from_secs(60),
                || query(&prometheus, &expr).filter(|r| !r.is_empty()),
            );
            checked += 1;
        }
    }
    assert!(checked >= 30, "{checked} panel queries");
    for (label, selector) in [("region", "vardpuls_unit_info"), ("scope_id", "vardpuls_unit_info{region=~\"20\"}")] {
        let values =
            json(&prometheus, &format!("/api/v1/label/{label}/values?match[]={}", url_encode(selector))).unwrap();
        assert!(!values["data"].as_array().unwrap().is_empty(), "template variable {label}");
    }

    // The wallboard renders in headless Chromium, worst unit first, coloured by status.
    let dom = chromium(&["--dump-dom"], &format!("http://{address}/wallboard"));
    let rows: Vec<&str> = dom.match_indices("data-unit=\"").map(|(i, m)| &dom[i + m.len()..i + m.len() + 19]).collect();
    assert_eq!(rows, order, "wallboard order:\n{dom}");
    assert!(dom.contains("data-status=\"missed\"") || dom.contains("data-status=\"at_risk\""), "{dom}");
    assert!(dom.contains("färre än 20"), "Särna is flagged as a small cell");
    let shots = tempdir();
    let shot = shots.join("wallboard.png");
    chromium(
        &[&format!("--screenshot={}", shot.display()), "--window-size=1600,520"],
        &format!("http://{address}/wallboard"),
    );
    assert!(std::fs::metadata(&shot).map(|m| m.len() > 10_000).unwrap_or(false), "screenshot written");
    if let Ok(path) = std::env::var("VARDPULS_WALLBOARD_SCREENSHOT") {
        std::fs::copy(&shot, path).unwrap();
    }
}

/// Runs headless Chromium on `url` until the page's timers have had 3 s of virtual time.
fn chromium(args: &[&str], url: &str) -> String {
    let profile = tempdir();
    let output = Command::new(tool("chromium", "chromium"))
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--virtual-time-budget=3000"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .output()
        .expect("running chromium");
    assert!(output.status.success(), "chromium: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).to_string()
}
