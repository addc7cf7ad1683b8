//! One process, several services (`vardpuls run --target all`): a service that fails is
//! restarted in place, and the others keep working meanwhile (docs/operations.md,
//! "VardpulsServiceRestarting").

use crate::support::{TestKafka, free_port, http, repo_root, run_all, tempdir, wait_for};
use std::time::Duration;
use vardpuls_core::Topic;

const TOKEN: &str = "e2e-supervision-token";

fn restarts(address: &str, service: &str) -> Option<u64> {
    let (status, body) = http("GET", address, "/metrics", &[], b"");
    assert_eq!(status, 200);
    let prefix = format!("vardpuls_service_restarts_total{{service=\"{service}\"}} ");
    String::from_utf8(body).unwrap().lines().find_map(|l| l.strip_prefix(&prefix).map(|n| n.parse().unwrap()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_state_write_restarts_the_aggregator_and_stops_nothing_else() {
    let kafka = TestKafka::start().await;
    let dir = tempdir();
    let address = format!("127.0.0.1:{}", free_port());
    let config = dir.join("vardpuls.toml");
    std::fs::write(&config, format!("[ingest]\nlisten = \"{address}\"\ntokens = [\"{TOKEN}\"]\n")).unwrap();
    // Files where the phone topic's journal directories go: every state write of a phone
    // checkpoint fails, as it would with no descriptors or disk left.
    let phone_state = dir.join("state").join(Topic::Phone.name());
    std::fs::create_dir_all(&phone_state).unwrap();
    let blocks: Vec<_> = (0..kafka.config.partitions).map(|p| phone_state.join(format!("{p}.open"))).collect();
    for block in &blocks {
        std::fs::write(block, b"not a directory").unwrap();
    }
    let log = std::fs::File::create(dir.join("vardpuls.log")).unwrap();
    let mut vardpuls = run_all(&kafka, &dir, &config, "warn", log);
    wait_for("vardpuls to answer", Duration::from_secs(60), || std::net::TcpStream::connect(&address).ok().map(|_| ()));

    let example = |name: &str| {
        let path = repo_root().join(format!("schemas/examples/{}/valid/{name}.json", Topic::Phone.name()));
        let event: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        serde_json::to_vec(&event).unwrap()
    };
    let auth = format!("Bearer {TOKEN}");
    let send = |body: &[u8]| {
        let (status, answer) = http("POST", &address, "/v1/events/phone", &[("Authorization", &auth)], body);
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
        assert!(String::from_utf8_lossy(&answer).contains("\"accepted\":1"));
    };
    send(&example("call_received"));
    let failed = wait_for("the aggregator to fail and be restarted", Duration::from_secs(120), || {
        restarts(&address, "aggregator").filter(|n| *n >= 1)
    });
    assert!(failed >= 1);
    // Meanwhile the process runs, ingest takes events, and nothing else was restarted.
    assert!(vardpuls.0.try_wait().unwrap().is_none(), "vardpuls stopped");
    send(&example("call_answered"));
    for service in ["rollup", "exporter"] {
        assert_eq!(restarts(&address, service), Some(0), "{service}");
    }
    let checkpointed = || {
        std::fs::read_dir(&phone_state).unwrap().flatten().any(|e| e.file_name().to_string_lossy().ends_with(".json"))
    };
    assert!(!checkpointed(), "a phone checkpoint head was written past the failed write");

    // The volume is fixed: the next restart checkpoints both events.
    for block in &blocks {
        std::fs::remove_file(block).unwrap();
    }
    wait_for("the restarted aggregator to checkpoint", Duration::from_secs(120), || checkpointed().then_some(()));
    assert!(vardpuls.0.try_wait().unwrap().is_none(), "vardpuls stopped");
}
