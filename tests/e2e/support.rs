//! Shared test setup: a real broker with the vardpuls topics, and the schema examples as input.

use std::path::{Path, PathBuf};
use std::time::Duration;
use vardpuls_core::Topic;
use vardpuls_core::dlq::DeadLetter;
use vardpuls_kafka::reader::{Record, read_to_end};
use vardpuls_kafka::{KafkaConfig, LocalBroker};

pub struct TestKafka {
    pub config: KafkaConfig,
    _broker: LocalBroker,
}

impl TestKafka {
    /// Starts a broker and creates the topics. Call from the test's own thread (see
    /// `LocalBroker`).
    pub async fn start() -> TestKafka {
        let broker = LocalBroker::start().expect("local broker (is nisshi installed? make tools)");
        TestKafka::on(broker).await
    }

    /// Creates the topics on a started broker.
    pub async fn on(broker: LocalBroker) -> TestKafka {
        let mut config = broker.kafka_config();
        config.partitions = 3;
        vardpuls_kafka::admin::ensure_topics(&config).await.expect("topics");
        TestKafka { config, _broker: broker }
    }

    /// The environment that points a `vardpuls` process at this broker: its address, its
    /// workarounds and its client options (TLS), as a deployment sets them.
    pub fn client_env(&self) -> Vec<(String, String)> {
        let mut env = vec![
            ("VARDPULS_KAFKA_BOOTSTRAP_SERVERS".to_string(), self.config.bootstrap_servers.clone()),
            ("VARDPULS_KAFKA__COMPATIBILITY".to_string(), self.config.compatibility.name().to_string()),
        ];
        for (option, value) in &self.config.options {
            let name = option.to_ascii_uppercase().replace('.', "_");
            env.push((format!("{}{name}", vardpuls_kafka::config::OPTION_ENV_PREFIX), value.clone()));
        }
        env
    }

    pub fn read(&self, topic: Topic) -> Vec<Record> {
        read_to_end(&self.config, topic, Duration::from_secs(30)).expect("read topic")
    }

    pub fn dead_letters(&self) -> Vec<DeadLetter> {
        self.read(Topic::DeadLetter)
            .iter()
            .map(|r| serde_json::from_slice(&r.payload).expect("dead letters follow their schema"))
            .collect()
    }
}

/// The checkout the tests run in. Read at run time: a compiled-in path can point at another
/// checkout when several share one `CARGO_TARGET_DIR`.
pub fn repo_root() -> PathBuf {
    Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string()))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// An example from `schemas/examples/<topic>/<kind>/`, as one line: JSON compacted, raw files
/// (`.bin`) as they are.
pub struct ExampleLine {
    #[allow(dead_code)] // named in failure messages when debugging
    pub name: String,
    pub bytes: Vec<u8>,
    /// For invalid examples, the (field, rule) stated by the file name.
    pub expected: Option<(String, String)>,
}

pub fn example_lines(topic: Topic, kind: &str) -> Vec<ExampleLine> {
    let dir = repo_root().join("schemas/examples").join(topic.name()).join(kind);
    let mut paths: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let raw = std::fs::read(&path).unwrap();
            let bytes = if path.extension().unwrap() == "json" {
                serde_json::to_vec(&serde_json::from_slice::<serde_json::Value>(&raw).unwrap()).unwrap()
            } else {
                raw
            };
            let name = path.file_stem().unwrap().to_str().unwrap().to_string();
            let expected = name
                .split_once("__")
                .map(|(f, r)| (f, r.split_once("__").map_or(r, |(rule, _case)| rule)))
                .map(|(f, r)| (if f == "_message" { ".".to_string() } else { f.to_string() }, r.to_string()));
            ExampleLine { name, bytes, expected }
        })
        .collect()
}

/// A fresh directory under the system temp dir, removed when the value drops (kept, and named
/// on stderr, when the test fails, for a look at what it left).
pub fn tempdir() -> TempDir {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    // A new directory every time: process ids are reused, and a directory left by an earlier
    // run (a checkpoint that looks caught up) would make a test pass or fail for no reason.
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    loop {
        let dir = std::env::temp_dir().join(format!(
            "vardpuls-e2e-{}-{nanos}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        match std::fs::create_dir(&dir) {
            Ok(()) => return TempDir(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => panic!("creating {}: {e}", dir.display()),
        }
    }
}

pub struct TempDir(PathBuf);

impl std::ops::Deref for TempDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<std::ffi::OsStr> for TempDir {
    fn as_ref(&self) -> &std::ffi::OsStr {
        self.0.as_os_str()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("kept {} for inspection", self.0.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// A blocking HTTP/1.0 request (the tests need no HTTP client crate): status and body.
pub fn http(method: &str, address: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, Vec<u8>) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address).unwrap_or_else(|e| panic!("connecting to {address}: {e}"));
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut request = format!("{method} {path} HTTP/1.0\r\nHost: {address}\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").expect("HTTP response has headers");
    let head = String::from_utf8_lossy(&response[..split]).to_string();
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).expect("HTTP status");
    (status, response[split + 4..].to_vec())
}

pub fn get(address: &str, path: &str) -> (u16, String) {
    let (status, body) = http("GET", address, path, &[], b"");
    (status, String::from_utf8_lossy(&body).to_string())
}

/// Percent-encodes a query parameter value.
pub fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Polls `check` until it returns Some, or panics with `what` after `timeout`.
pub fn wait_for<T>(what: &str, timeout: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(std::time::Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The path of an installed tool, or a panic naming the package that provides it.
pub fn tool(name: &str, package: &str) -> PathBuf {
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{name} not found: install Debian's {package} (make tools does)"))
}

/// The `vardpuls` binary the end-to-end tests run (`make test` builds it and sets VARDPULS_BIN).
pub fn vardpuls_binary() -> PathBuf {
    if let Ok(path) = std::env::var("VARDPULS_BIN") {
        return PathBuf::from(path);
    }
    let target = std::env::var("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|_| repo_root().join("target"));
    let path = target.join("debug/vardpuls");
    assert!(
        path.exists(),
        "{} not found: build it first (cargo build -p vardpuls) or set VARDPULS_BIN",
        path.display()
    );
    path
}

/// A producer for tests that write to topics themselves, as a source system skipping ingest
/// would. Not idempotent: nisshi 0.8.1 now and then answers an idempotent producer with
/// `OutOfOrderSequenceNumber`, which librdkafka treats as fatal (docs/aggregator.md, "The
/// broker"). One request in flight per connection keeps each partition in send order without
/// it. Without idempotence a request librdkafka retries after a timeout could be written twice;
/// these tests count what arrives exactly, so such a duplicate would fail them, not pass unseen.
pub fn direct_producer(kafka: &TestKafka) -> vardpuls_kafka::EventProducer {
    let mut config = kafka.config.clone();
    config.options.insert("enable.idempotence".into(), "false".into());
    config.options.insert("max.in.flight.requests.per.connection".into(), "1".into());
    vardpuls_kafka::EventProducer::new(&config).unwrap()
}

/// Produces `messages` in order and waits for every acknowledgement.
pub async fn produce(kafka: &TestKafka, messages: &[crate::scenario::Message]) {
    let producer = direct_producer(kafka);
    let sends: Vec<_> = messages.iter().map(|m| producer.send(m.topic, Some(&m.key), m.payload.clone())).collect();
    for result in futures_join(sends).await {
        result.unwrap();
    }
}

async fn futures_join<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut out = Vec::with_capacity(futures.len());
    for f in futures {
        out.push(f.await);
    }
    out
}

/// A child process killed (and reaped) when the test lets go of it, also on panic.
pub struct KillOnDrop(pub std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `vardpuls --config <config> run --target all` on `kafka`, with its state under `dir` and the
/// shipped unit register and targets; its output (stdout and stderr) goes to `log`.
pub fn run_all(kafka: &TestKafka, dir: &Path, config: &Path, rust_log: &str, log: std::fs::File) -> KillOnDrop {
    let root = repo_root();
    let child = std::process::Command::new(vardpuls_binary())
        .args(["--config", config.to_str().unwrap(), "run", "--target", "all"])
        .envs(kafka.client_env())
        .env("VARDPULS_AGGREGATOR_STATE_DIR", dir.join("state"))
        .env("VARDPULS_AGGREGATOR_UNITS_FILE", root.join("deploy/units.csv"))
        .env("VARDPULS_EXPORTER_TARGETS_FILE", root.join("deploy/targets.toml"))
        .env("RUST_LOG", rust_log)
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("starting vardpuls (build it first: make test does)");
    KillOnDrop(child)
}
