//! A Kafka-protocol broker on this machine, for `make run` and the tests.
//!
//! vardpuls talks to any Kafka; when none is configured it starts nisshi (a Kafka-compatible
//! broker written in Rust) with in-memory storage on a free loopback port, and stops it when
//! the [`LocalBroker`] is dropped. The broker is also killed if this process dies, so a crashed
//! test run leaves nothing behind. Where nisshi is not installed (it needs a newer Rust than
//! some machines have), its predecessor tansu 0.6 is started instead, and
//! [`LocalBroker::compatibility`] says which workarounds clients of it need.
//!
//! Linux delivers that kill when the *thread* that started the broker ends, so start it from a
//! thread that outlives it (the main thread or the test's thread), never from a pooled
//! blocking thread such as tokio's `spawn_blocking`.
//!
//! The broker logs at its own level, `VARDPULS_BROKER_LOG` (default `warn`), not at the
//! `RUST_LOG` meant for vardpuls: at `info` it writes gigabytes in minutes. Its log file is
//! bounded too: past [`LOG_LIMIT_BYTES`] it moves to `<log>.1` (replacing the one before) and
//! starts again, so at most twice that is ever on disk.

use crate::BrokerCompatibility;
use anyhow::Context;
use rdkafka::consumer::{BaseConsumer, Consumer};
use std::ffi::OsStr;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How the broker is installed; printed when it is missing.
pub const INSTALL_HINT: &str = "make tools (cargo +nightly install nisshi --version 0.8.1 --locked \
                                --no-default-features --features dynostore)";

pub struct LocalBroker {
    child: Child,
    bootstrap_servers: String,
    log_path: PathBuf,
    kind: BrokerKind,
    tls: Option<BrokerTls>,
}

/// A listener that accepts only TLS connections (nisshi's `--cert`/`--key`), and the CA its
/// clients trust it by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerTls {
    /// The broker's certificate chain (PEM).
    pub cert: PathBuf,
    /// Its private key (PEM).
    pub key: PathBuf,
    /// The CA that signed it, for clients (`ssl.ca.location`).
    pub ca: PathBuf,
}

/// Which broker program runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerKind {
    /// The program: `VARDPULS_BROKER_BIN`, else `nisshi` where installed, else `tansu`.
    pub binary: String,
    /// Its name as it reports it (`nisshi`, `tansu`).
    pub name: String,
    pub compatibility: BrokerCompatibility,
}

impl BrokerKind {
    /// The broker to start: `VARDPULS_BROKER_BIN` if set, else the first of nisshi and tansu
    /// that answers `--version`. The answer decides the compatibility: tansu 0.6 needs its
    /// workarounds, nisshi none.
    pub fn installed() -> anyhow::Result<BrokerKind> {
        let candidates = match std::env::var("VARDPULS_BROKER_BIN") {
            Ok(binary) => vec![binary],
            Err(_) => vec!["nisshi".to_string(), "tansu".to_string()],
        };
        for binary in candidates {
            let Ok(output) = Command::new(&binary).arg("--version").output() else { continue };
            let version = String::from_utf8_lossy(&output.stdout).trim().to_string();
            let name = version.split_whitespace().next().unwrap_or("broker").to_string();
            let compatibility = match version.starts_with("tansu 0.6") {
                true => BrokerCompatibility::Tansu06,
                false => BrokerCompatibility::Kafka,
            };
            return Ok(BrokerKind { binary, name, compatibility });
        }
        anyhow::bail!("no local Kafka-protocol broker (nisshi or tansu) is installed; install it with: {INSTALL_HINT}")
    }
}

impl LocalBroker {
    /// Starts a broker on a free loopback port and waits until it answers metadata requests.
    pub fn start() -> anyhow::Result<LocalBroker> {
        Self::start_on(free_port()?)
    }

    /// Starts a broker on `127.0.0.1:port`.
    pub fn start_on(port: u16) -> anyhow::Result<LocalBroker> {
        Self::start_with(port, None)
    }

    /// Starts a broker on a free loopback port that accepts only TLS connections, as a
    /// production cluster's SASL_SSL or SSL listener does.
    pub fn start_tls(tls: BrokerTls) -> anyhow::Result<LocalBroker> {
        Self::start_with(free_port()?, Some(tls))
    }

    fn start_with(port: u16, tls: Option<BrokerTls>) -> anyhow::Result<LocalBroker> {
        let kind = BrokerKind::installed()?;
        let address = format!("127.0.0.1:{port}");
        let url = format!("tcp://{address}");
        let log_path = std::env::temp_dir().join(format!("vardpuls-broker-{port}.log"));
        let log = std::fs::File::create(&log_path).with_context(|| format!("creating {}", log_path.display()))?;
        let mut command = Command::new(&kind.binary);
        let storage = format!("memory://{}/", kind.name);
        command
            .args(["broker", "--listener-url", &url, "--advertised-listener-url", &url])
            .args(["--storage-engine", &storage, "--cluster-id", "vardpuls-local"])
            .args(
                tls.iter()
                    .flat_map(|t| [OsStr::new("--cert"), t.cert.as_os_str(), OsStr::new("--key"), t.key.as_os_str()]),
            )
            .env("RUST_LOG", std::env::var("VARDPULS_BROKER_LOG").unwrap_or_else(|_| "warn".to_string()))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        die_with_parent(&mut command);
        let mut child = command
            .spawn()
            .with_context(|| format!("starting the local broker `{}`; install it with: {INSTALL_HINT}", kind.binary))?;
        let log =
            Arc::new(Mutex::new(BoundedLog { path: log_path.clone(), file: log, written: 0, limit: LOG_LIMIT_BYTES }));
        if let Some(out) = child.stdout.take() {
            copy_into(out, log.clone());
        }
        if let Some(err) = child.stderr.take() {
            copy_into(err, log);
        }
        let mut broker = LocalBroker { child, bootstrap_servers: address, log_path, kind, tls };
        broker.wait_until_ready(Duration::from_secs(60))?;
        Ok(broker)
    }

    pub fn bootstrap_servers(&self) -> &str {
        &self.bootstrap_servers
    }

    /// The broker's name as it reports it (`nisshi`, `tansu`).
    pub fn name(&self) -> &str {
        &self.kind.name
    }

    /// The workarounds clients of this broker need.
    pub fn compatibility(&self) -> BrokerCompatibility {
        self.kind.compatibility
    }

    /// A client configuration for this broker: its address, compatibility and, for a TLS
    /// listener, the protocol and the CA to trust.
    pub fn kafka_config(&self) -> crate::KafkaConfig {
        let mut config = crate::KafkaConfig {
            compatibility: self.compatibility(),
            ..crate::KafkaConfig::with_bootstrap(self.bootstrap_servers())
        };
        if let Some(tls) = &self.tls {
            config.options.insert("security.protocol".into(), "ssl".into());
            config.options.insert("ssl.ca.location".into(), tls.ca.to_string_lossy().into_owned());
        }
        config
    }

    fn wait_until_ready(&mut self, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        let consumer: BaseConsumer = self.kafka_config().client_config().set("log_level", "0").create()?;
        loop {
            if let Some(status) = self.child.try_wait()? {
                anyhow::bail!("local broker exited with {status}; see {}", self.log_path.display());
            }
            if consumer.fetch_metadata(None, Duration::from_millis(500)).is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                anyhow::bail!("local broker did not answer within {timeout:?}; see {}", self.log_path.display());
            }
        }
    }
}

impl Drop for LocalBroker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

/// The most one broker log file grows to before it is moved aside.
pub const LOG_LIMIT_BYTES: u64 = 32 * 1024 * 1024;

struct BoundedLog {
    path: PathBuf,
    file: std::fs::File,
    written: u64,
    limit: u64,
}

impl BoundedLog {
    fn write(&mut self, bytes: &[u8]) {
        if self.written + bytes.len() as u64 > self.limit {
            let aside = self.path.with_extension("log.1");
            let reopened = std::fs::rename(&self.path, &aside).and_then(|_| std::fs::File::create(&self.path));
            match reopened {
                Ok(file) => (self.file, self.written) = (file, 0),
                Err(_) => return, // the log is a help, not a duty: drop lines rather than fail
            }
        }
        if self.file.write_all(bytes).is_ok() {
            self.written += bytes.len() as u64;
        }
    }
}

/// Copies a pipe of the broker's into the log on a thread of its own until the broker closes it.
fn copy_into(mut pipe: impl Read + Send + 'static, log: Arc<Mutex<BoundedLog>>) {
    std::thread::spawn(move || {
        let mut buffer = vec![0; 64 * 1024];
        while let Ok(n) = pipe.read(&mut buffer) {
            if n == 0 {
                break;
            }
            log.lock().expect("lock").write(&buffer[..n]);
        }
    });
}

#[cfg(target_os = "linux")]
fn die_with_parent(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: prctl is async-signal-safe and touches only the child's own state.
    unsafe {
        command.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn die_with_parent(_command: &mut Command) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_broker_log_never_holds_more_than_twice_its_limit() {
        let dir = std::env::temp_dir().join(format!("vardpuls-log-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("broker.log");
        let file = std::fs::File::create(&path).unwrap();
        let mut log = BoundedLog { path: path.clone(), file, written: 0, limit: 1_000 };
        for i in 0..500 {
            log.write(format!("line {i:04}\n").as_bytes());
        }
        let size = |p: &std::path::Path| std::fs::metadata(p).unwrap().len();
        let aside = path.with_extension("log.1");
        assert!(size(&path) <= 1_000 && size(&aside) <= 1_000, "{} {}", size(&path), size(&aside));
        let newest = std::fs::read_to_string(&path).unwrap();
        assert!(newest.ends_with("line 0499\n"), "the newest lines are kept");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
