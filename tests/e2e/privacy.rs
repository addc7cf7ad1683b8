//! No personal identity number gets anywhere (docs/contracts.md): every string field of every
//! input contract, given every shape of a personnummer, through HTTP ingest, `vardpuls import`
//! and straight onto the input topics, with the whole pipeline running. Afterwards no topic, no
//! log line, no HTTP answer and no API or wallboard answer holds the digits.
//!
//! The leak check is independent of the screen under test: it drops `-` and `+`, decodes JSON
//! escapes and base64, and looks for the ten digits that every shape here shares.

use crate::support::{TestKafka, example_lines, free_port, get, http, run_all, tempdir, vardpuls_binary, wait_for};
use base64::Engine;
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;
use vardpuls_core::Topic;

const TOKEN: &str = "e2e-privacy-token";

#[path = "../../services/vardpuls-core/tests/common/leaks.rs"]
mod leaks;

use leaks::{NUMBERS, around_field, escaped, in_text, leaks, set_field, string_fields};

/// `leaks` on the bytes, on every string inside them when they are JSON, and on a dead letter's
/// raw bytes (base64 decoded, then the same again).
fn leaks_anywhere(bytes: &[u8]) -> bool {
    if leaks(bytes) {
        return true;
    }
    let Ok(value) = serde_json::from_slice::<Value>(bytes) else { return false };
    let mut strings = Vec::new();
    collect_strings(&value, &mut strings);
    strings.iter().any(|s| leaks(s.as_bytes()))
        || value["raw_base64"].as_str().is_some_and(|b64| {
            let raw = base64::engine::general_purpose::STANDARD.decode(b64).unwrap();
            leaks_anywhere(&raw)
        })
}

fn collect_strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| collect_strings(v, out)),
        Value::Object(map) => map.iter().for_each(|(k, v)| {
            out.push(k.clone());
            collect_strings(v, out)
        }),
        _ => {}
    }
}

/// The values a field gets: every number within text, and for identifiers with a fixed form
/// the numbers as they fit it (an HSA-id's unit part, a UUID's groups).
fn hostile_values(path: &str) -> Vec<String> {
    let mut values: Vec<String> = NUMBERS.iter().flat_map(|n| in_text(n)).collect();
    if path.ends_with("unit_id") {
        values.extend(["SE2321000180-198112189876", "SE2321000180-198112789876"].map(String::from));
    }
    if path == "event_id" {
        // Unique per call, so that no accepted event is a duplicate of another.
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        values.extend([format!("{n:08}-0000-4000-8000-198112189876"), format!("19811218-9876-4000-8000-{n:012}")]);
    }
    values
}

/// Every hostile line for `topic`: each valid example with each string field set to each value,
/// as plain JSON and with every character of the value escaped.
fn hostile_lines(topic: Topic) -> Vec<Vec<u8>> {
    let mut lines = Vec::new();
    for example in example_lines(topic, "valid") {
        let base: Value = serde_json::from_slice(&example.bytes).unwrap();
        for path in string_fields(&base) {
            let (head, tail) = around_field(&base, &path);
            for value in hostile_values(&path) {
                let mut line = base.clone();
                set_field(&mut line, &path, Value::String(value.clone()));
                lines.push(serde_json::to_vec(&line).unwrap());
                lines.push(format!("{head}{}{tail}", escaped(&value, u64::MAX)).into_bytes());
            }
        }
    }
    lines
}

fn write_config(dir: &Path, address: &str) -> std::path::PathBuf {
    let path = dir.join("vardpuls.toml");
    std::fs::write(&path, format!("[ingest]\nlisten = \"{address}\"\ntokens = [\"{TOKEN}\"]\n")).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_personal_identity_number_reaches_a_topic_a_log_or_an_answer() {
    let kafka = TestKafka::start().await;
    let dir = tempdir();
    let address = format!("127.0.0.1:{}", free_port());
    let config = write_config(&dir, &address);
    let service_log = dir.join("vardpuls.log");
    let log_file = std::fs::File::create(&service_log).unwrap();
    let rust_log = "info,vardpuls_ingest=debug,vardpuls_aggregator=debug,vardpuls_core=debug";
    let vardpuls = run_all(&kafka, &dir, &config, rust_log, log_file);
    wait_for("vardpuls to answer", Duration::from_secs(60), || std::net::TcpStream::connect(&address).ok().map(|_| ()));

    let (mut rejected, mut accepted, mut answers) = (0u64, 0u64, Vec::new());
    for topic in Topic::INPUTS {
        let body = hostile_lines(topic).join(&b'\n');

        // HTTP ingest.
        let path = format!("/v1/events/{}", topic.short_name());
        let auth = format!("Bearer {TOKEN}");
        let (status, answer) = http("POST", &address, &path, &[("Authorization", &auth)], &body);
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
        let parsed: Value = serde_json::from_slice(&answer).unwrap();
        rejected += parsed["rejected"].as_u64().unwrap();
        accepted += parsed["accepted"].as_u64().unwrap();
        answers.push(answer);

        // `vardpuls import`, whose output is read like a log.
        let file = dir.join(format!("{}.ndjson", topic.short_name()));
        std::fs::write(&file, &body).unwrap();
        let import = Command::new(vardpuls_binary())
            .args(["--config", config.to_str().unwrap(), "import", "--topic", topic.short_name()])
            .arg(&file)
            .envs(kafka.client_env())
            .env("RUST_LOG", "debug")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(import.status.success(), "{}", String::from_utf8_lossy(&import.stderr));
        answers.push(import.stdout);
        answers.push(import.stderr);
    }
    assert!(rejected > 500 && accepted > 0, "rejected {rejected}, accepted {accepted}");
    // What ingest wrote to the input topics, before anything is produced there directly.
    for topic in Topic::INPUTS {
        for record in kafka.read(topic) {
            assert!(!leaks_anywhere(&record.payload), "{topic}: {}", String::from_utf8_lossy(&record.payload));
            assert!(!leaks(&record.key.unwrap_or_default()), "{topic} key");
        }
    }

    // Straight onto the input topics, as a producer that skips ingest would: the aggregator
    // validates again, and its outputs must hold no number either.
    // One partition per topic (one key), closed by a sentinel the aggregator must refuse: its
    // dead letter means every line before it was handled and its outputs sent.
    const KEY: &str = "SE2321000180-E00101";
    let producer = crate::support::direct_producer(&kafka);
    for topic in Topic::INPUTS {
        for line in hostile_lines(topic) {
            producer.send(topic, Some(KEY), line).await.unwrap();
        }
        producer.send(topic, Some(KEY), br#"{"sentinel":true}"#.to_vec()).await.unwrap();
    }

    wait_for("the aggregator's dead letters of the sentinels", Duration::from_secs(180), || {
        let sentinels = kafka.dead_letters().iter().filter(|d| d.raw().unwrap() == br#"{"sentinel":true}"#).count();
        (sentinels == Topic::INPUTS.len()).then_some(())
    });
    // Every path refused the same lines. Lines that stay valid but are dated in 2099 (an edge
    // example) pass ingest and are refused by the aggregator as dated in the future, on every
    // path.
    let far_future = chrono::Utc::now() + chrono::Duration::days(365);
    let future: u64 = Topic::INPUTS
        .iter()
        .flat_map(|t| hostile_lines(*t).into_iter().map(move |l| (*t, l)))
        .filter(|(t, l)| vardpuls_core::events::decode(*t, l).is_ok_and(|e| e.occurred_at().utc() > far_future))
        .count() as u64;
    let refused_as_future =
        kafka.dead_letters().iter().filter(|d| d.reason.rule.as_str() == "occurred_in_future").count() as u64;
    assert_eq!(refused_as_future, 3 * future);
    assert_eq!(kafka.dead_letters().len() as u64, 3 * (rejected + future) + Topic::INPUTS.len() as u64);
    for path in ["/api/v1/kpis", "/api/v1/wallboard", "/metrics", "/wallboard"] {
        answers.push(get(&address, path).1.into_bytes());
    }
    drop(vardpuls);

    for topic in Topic::ALL.into_iter().filter(|t| !t.is_input()) {
        for record in kafka.read(topic) {
            assert!(!leaks_anywhere(&record.payload), "{topic}: {}", String::from_utf8_lossy(&record.payload));
            assert!(!leaks(&record.key.unwrap_or_default()), "{topic} key");
        }
    }
    for answer in &answers {
        assert!(!leaks_anywhere(answer), "{}", String::from_utf8_lossy(answer));
    }
    let log = std::fs::read_to_string(&service_log).unwrap();
    assert!(!log.is_empty(), "the service logged nothing: the log check would be empty");
    if let Some(line) = log.lines().find(|l| leaks(l.as_bytes())) {
        panic!("log line holds a number: {line}");
    }
}
