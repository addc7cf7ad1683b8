//! The production Kafka path: a broker that accepts only TLS connections, reached by `vardpuls`
//! through `security.protocol=ssl` and a CA file, as a region's SSL or SASL_SSL cluster is.
//! The certificates are made for the test by Debian's openssl.

use crate::support::{TestKafka, example_lines, tempdir, tool, vardpuls_binary};
use rdkafka::consumer::{BaseConsumer, Consumer};
use std::path::Path;
use std::process::Command;
use std::time::Duration;
use vardpuls_core::Topic;
use vardpuls_kafka::{BrokerTls, LocalBroker};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vardpuls_imports_through_a_tls_only_broker_that_refuses_plaintext() {
    let dir = tempdir();
    let tls = certificates(&dir);
    let kafka = TestKafka::on(LocalBroker::start_tls(tls).expect("a local broker with a TLS listener")).await;

    let valid = example_lines(Topic::Phone, "valid");
    let path = dir.join("phone.ndjson");
    let lines: Vec<u8> = valid.iter().flat_map(|l| l.bytes.iter().copied().chain([b'\n'])).collect();
    std::fs::write(&path, lines).unwrap();
    let output = Command::new(vardpuls_binary())
        .args(["import", "--topic", "phone"])
        .arg(&path)
        .envs(kafka.client_env())
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(kafka.read(Topic::Phone).len(), valid.len(), "every event arrived over TLS");

    // The same broker without TLS: no answer, so the test above did go through TLS.
    let plaintext: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &kafka.config.bootstrap_servers)
        .set("log_level", "0")
        .create()
        .unwrap();
    assert!(plaintext.fetch_metadata(None, Duration::from_secs(3)).is_err(), "a plaintext client was answered");
}

/// A CA and a broker certificate for 127.0.0.1 signed by it.
fn certificates(dir: &Path) -> BrokerTls {
    let openssl = tool("openssl", "openssl");
    let run = |args: &[&str]| {
        let output = Command::new(&openssl).args(args).current_dir(dir).output().unwrap();
        assert!(output.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=vardpuls test CA",
    ]);
    std::fs::write(dir.join("san.cnf"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n").unwrap();
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "broker.key",
        "-out",
        "broker.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    run(&[
        "x509",
        "-req",
        "-in",
        "broker.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "broker.pem",
        "-days",
        "2",
        "-extfile",
        "san.cnf",
    ]);
    BrokerTls { cert: dir.join("broker.pem"), key: dir.join("broker.key"), ca: dir.join("ca.pem") }
}
