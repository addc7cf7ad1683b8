//! The HTTP door under careless and hostile clients (docs/operations.md, "Limits"): the token is
//! checked before a body is read, a slow body gets 408, idle and silent connections are closed,
//! a flood of connections costs the process no more than `max_connections` descriptors, and
//! bodies in flight beyond `max_in_flight_bytes` get 503 with `Retry-After`.

use crate::support::{KillOnDrop, TestKafka, free_port, tempdir, vardpuls_binary, wait_for};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const TOKEN: &str = "e2e-door-token";
const MAX_CONNECTIONS: usize = 8;
const MAX_IN_FLIGHT: usize = 100_000;

fn start_ingest(kafka: &TestKafka, dir: &std::path::Path, address: &str) -> KillOnDrop {
    let config = dir.join("vardpuls.toml");
    std::fs::write(
        &config,
        format!(
            "[ingest]\nlisten = \"{address}\"\ntokens = [\"{TOKEN}\"]\nmax_body_bytes = 1000000\n\
             max_connections = {MAX_CONNECTIONS}\nheader_timeout_seconds = 2\nidle_timeout_seconds = 2\n\
             body_timeout_seconds = 2\nmax_in_flight_bytes = {MAX_IN_FLIGHT}\n"
        ),
    )
    .unwrap();
    let child = Command::new(vardpuls_binary())
        .args(["--config", config.to_str().unwrap(), "run", "--target", "ingest"])
        .envs(kafka.client_env())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("starting vardpuls (build it first: make test does)");
    wait_for("ingest to answer", Duration::from_secs(60), || TcpStream::connect(address).ok().map(|_| ()));
    KillOnDrop(child)
}

/// Sends `head` (and nothing more) and reads until the server closes: the answer, and how long
/// it took. Panics if the server neither answers nor closes within `limit`.
fn send_head(address: &str, head: &str, limit: Duration) -> (String, Duration) {
    let mut stream = TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(limit)).unwrap();
    let started = Instant::now();
    stream.write_all(head.as_bytes()).unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap_or_else(|e| panic!("no answer within {limit:?}: {e}"));
    (String::from_utf8_lossy(&answer).to_string(), started.elapsed())
}

fn open_descriptors(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).unwrap().count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_is_checked_before_the_body_and_slow_bodies_are_cut() {
    let kafka = TestKafka::start().await;
    let dir = tempdir();
    let address = format!("127.0.0.1:{}", free_port());
    let _vardpuls = start_ingest(&kafka, &dir, &address);

    // 100 MB announced, not a byte sent, no token: 401 at once, not 413 and not a wait.
    let head = format!("POST /v1/events/phone HTTP/1.1\r\nHost: {address}\r\nContent-Length: 100000000\r\n\r\n");
    let (answer, _) = send_head(&address, &head, Duration::from_secs(10));
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");

    // A valid token in a lower-case scheme, a body over the limit announced: 413 before it is read.
    let head = format!(
        "POST /v1/events/phone HTTP/1.1\r\nHost: {address}\r\nAuthorization: bearer {TOKEN}\r\n\
         Content-Length: 2000000\r\nConnection: close\r\n\r\n"
    );
    let (answer, _) = send_head(&address, &head, Duration::from_secs(10));
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");

    // Ten bytes of a hundred, then silence: 408 when the body's time is up (2 s here).
    let head = format!(
        "POST /v1/events/phone HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Length: 100\r\nConnection: close\r\n\r\n{{\"schema_\""
    );
    let (answer, took) = send_head(&address, &head, Duration::from_secs(20));
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(took >= Duration::from_secs(2), "answered before the body's time was up: {took:?}");
}

/// A POST of one valid phone event padded with newlines to `size` bytes, as raw HTTP.
fn padded_post(address: &str, size: usize) -> (String, Vec<u8>) {
    let path = crate::support::repo_root().join("schemas/examples/vardpuls.phone.v1/valid/call_received.json");
    let event: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let mut body = serde_json::to_vec(&event).unwrap();
    body.resize(size, b'\n');
    let head = format!(
        "POST /v1/events/phone HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Length: {size}\r\nConnection: close\r\n\r\n"
    );
    (head, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_in_flight_beyond_the_budget_get_503_with_retry_after() {
    let kafka = TestKafka::start().await;
    let dir = tempdir();
    let address = format!("127.0.0.1:{}", free_port());
    let _vardpuls = start_ingest(&kafka, &dir, &address);

    // A sends its headers (90 % of the budget announced) and the first bytes of its body.
    let (head_a, body_a) = padded_post(&address, MAX_IN_FLIGHT * 9 / 10);
    let mut a = TcpStream::connect(&address).unwrap();
    a.write_all(head_a.as_bytes()).unwrap();
    a.write_all(&body_a[..100]).unwrap();
    // B's 20 % does not fit while A is in flight: 503 at once, told when to come back.
    let (head_b, body_b) = padded_post(&address, MAX_IN_FLIGHT / 5);
    let send_b = || {
        let mut b = TcpStream::connect(&address).unwrap();
        b.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        b.write_all(head_b.as_bytes()).unwrap();
        // The server may answer before it reads the body: the rest may find the door closed.
        let _ = b.write_all(&body_b);
        let mut answer = Vec::new();
        b.read_to_end(&mut answer).unwrap();
        String::from_utf8_lossy(&answer).to_string()
    };
    wait_for("A's body to be in flight", Duration::from_secs(10), || {
        let (_, metrics) = crate::support::http("GET", &address, "/metrics", &[], b"");
        let metrics = String::from_utf8(metrics).unwrap();
        let held =
            metrics.lines().find_map(|l| l.strip_prefix("vardpuls_ingest_in_flight_bytes ")?.parse::<usize>().ok());
        (held == Some(MAX_IN_FLIGHT * 9 / 10)).then_some(())
    });
    let refused = send_b();
    assert!(refused.starts_with("HTTP/1.1 503"), "{refused}");
    assert!(refused.to_ascii_lowercase().contains("retry-after: 1\r\n"), "{refused}");
    assert!(refused.contains("busy"), "{refused}");
    // A finishes and is stored; then B, sent again, is too.
    a.write_all(&body_a[100..]).unwrap();
    a.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut answer = Vec::new();
    a.read_to_end(&mut answer).unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200") && answer.contains("\"accepted\":1"), "{answer}");
    let again = send_b();
    assert!(again.starts_with("HTTP/1.1 200") && again.contains("\"accepted\":1"), "{again}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_are_closed_and_a_flood_costs_no_descriptors() {
    let kafka = TestKafka::start().await;
    let dir = tempdir();
    let address = format!("127.0.0.1:{}", free_port());
    let vardpuls = start_ingest(&kafka, &dir, &address);
    let pid = vardpuls.0.id();

    // A keep-alive connection that asked once and then went quiet is closed by the server.
    let head = format!("GET /healthz HTTP/1.1\r\nHost: {address}\r\n\r\n");
    let (answer, _) = send_head(&address, &head, Duration::from_secs(20));
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");

    // 64 connections that never send a byte: the process holds at most MAX_CONNECTIONS of them.
    let baseline = open_descriptors(pid);
    let flood: Vec<TcpStream> = (0..64).map(|_| TcpStream::connect(&address).unwrap()).collect();
    let mut most = 0;
    // Sampled while the server works through the flood in rounds of MAX_CONNECTIONS.
    let healthz = std::thread::spawn({
        let address = address.clone();
        move || {
            send_head(&address, &format!("GET /healthz HTTP/1.0\r\nHost: {address}\r\n\r\n"), Duration::from_secs(90))
        }
    });
    while !healthz.is_finished() {
        most = most.max(open_descriptors(pid));
        std::thread::sleep(Duration::from_millis(50));
    }
    let (answer, _) = healthz.join().unwrap();
    assert!(answer.starts_with("HTTP/1.0 200") || answer.starts_with("HTTP/1.1 200"), "{answer}");
    // A little room for the Kafka client's own sockets.
    assert!(most <= baseline + MAX_CONNECTIONS + 4, "{most} descriptors open, {baseline} before the flood");
    // Every silent connection was closed by the server (a read sees the end, not a timeout).
    for mut stream in flood {
        stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        let mut buffer = Vec::new();
        stream.read_to_end(&mut buffer).expect("the server closes a silent connection");
    }
}

/// A message far over the event limit, over HTTP and straight onto an input topic: each gets
/// its `oversized` dead letter (cut to fit the broker), and the service keeps running.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_inputs_get_a_dead_letter_that_fits_and_stop_nothing() {
    use vardpuls_core::Topic;
    use vardpuls_core::dlq::Source;
    let kafka = TestKafka::start().await;
    let dir = tempdir();
    let address = format!("127.0.0.1:{}", free_port());
    let config = dir.join("vardpuls.toml");
    std::fs::write(&config, format!("[ingest]\nlisten = \"{address}\"\ntokens = [\"{TOKEN}\"]\n")).unwrap();
    let log = std::fs::File::create(dir.join("vardpuls.log")).unwrap();
    let mut vardpuls = crate::support::run_all(&kafka, &dir, &config, "warn", log);
    wait_for("vardpuls to answer", Duration::from_secs(60), || TcpStream::connect(&address).ok().map(|_| ()));

    let line = format!("{{\"call_id\":\"{}\"}}", "7".repeat(750_000));
    let auth = format!("Bearer {TOKEN}");
    let (status, answer) =
        crate::support::http("POST", &address, "/v1/events/phone", &[("Authorization", &auth)], line.as_bytes());
    let answer = String::from_utf8_lossy(&answer);
    assert_eq!(status, 200, "{answer}");
    assert!(answer.contains("\"rejected\":1") && answer.contains("oversized"), "{answer}");

    let producer = crate::support::direct_producer(&kafka);
    let big = format!("{{\"pad\":\"{}\"}}", "x".repeat(900_000)).into_bytes();
    producer.send(Topic::Phone, Some("SE2321000180-E00101"), big.clone()).await.unwrap();

    let letters = wait_for("both dead letters", Duration::from_secs(120), || {
        let letters = kafka.dead_letters();
        (letters.len() >= 2).then_some(letters)
    });
    for letter in &letters {
        assert_eq!(letter.reason.rule.as_str(), "oversized");
        assert!(letter.raw_truncated && letter.raw().unwrap().len() <= vardpuls_core::dlq::MAX_RAW_BYTES);
        assert_eq!(letter.raw_sha256.len(), 64);
    }
    let from_kafka = letters.iter().find(|l| matches!(l.source, Source::Kafka { .. })).expect("the aggregator's");
    assert_eq!(from_kafka.raw_size_bytes, big.len() as u64);
    assert!(letters.iter().any(|l| l.source == Source::Http { line: 1 }));
    assert!(vardpuls.0.try_wait().unwrap().is_none(), "vardpuls stopped");
}
