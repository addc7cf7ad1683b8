//! The simulator through a real broker: the same seed sends the same events to Kafka as to
//! NDJSON files, keyed by unit, and every one passes its topic's contract.

use crate::support::{TestKafka, tempdir, vardpuls_binary};
use std::collections::BTreeSet;
use std::process::Command;
use vardpuls_core::Topic;

fn vardpuls() -> Command {
    Command::new(vardpuls_binary())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulate_sends_to_kafka_what_it_writes_to_files() {
    let kafka = TestKafka::start().await;
    let args = ["simulate", "--registry", "dalarna", "--from", "2026-03-27", "--days", "3", "--seed", "5"];
    let status = vardpuls().args(args).envs(kafka.client_env()).status().unwrap();
    assert!(status.success());
    let dir = tempdir();
    let status = vardpuls().args(args).args(["--out", dir.to_str().unwrap()]).status().unwrap();
    assert!(status.success());

    let mut total = 0;
    for topic in Topic::INPUTS {
        let file = std::fs::read_to_string(dir.join(format!("{}.ndjson", topic.short_name()))).unwrap();
        let from_file: BTreeSet<&str> = file.lines().collect();
        let records = kafka.read(topic);
        let from_kafka: BTreeSet<String> =
            records.iter().map(|r| String::from_utf8(r.payload.clone()).unwrap()).collect();
        assert_eq!(from_kafka.len(), from_file.len(), "{topic:?}");
        assert!(from_file.iter().all(|l| from_kafka.contains(*l)), "{topic:?}: same events");
        for r in &records {
            vardpuls_core::events::decode(topic, &r.payload).unwrap();
            let unit = serde_json::from_slice::<serde_json::Value>(&r.payload).unwrap()["unit_id"]
                .as_str()
                .unwrap()
                .to_string();
            assert_eq!(r.key.as_deref(), Some(unit.as_bytes()), "keyed by unit");
        }
        total += records.len();
    }
    // Three Dalarna days (Friday to Sunday, incl. the 23-hour DST day): a few thousand events.
    assert!((1_500..10_000).contains(&total), "{total}");
}
