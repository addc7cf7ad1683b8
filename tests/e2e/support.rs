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
        let broker = LocalBroker::start().expect("local broker (is tansu installed? make tools)");
        let mut config = KafkaConfig::with_bootstrap(broker.bootstrap_servers());
        config.partitions = 3;
        vardpuls_kafka::admin::ensure_topics(&config).await.expect("topics");
        TestKafka { config, _broker: broker }
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
                .map(|(f, r)| (if f == "_message" { ".".to_string() } else { f.to_string() }, r.to_string()));
            ExampleLine { name, bytes, expected }
        })
        .collect()
}

/// A fresh directory under the system temp dir.
pub fn tempdir() -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "vardpuls-e2e-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
