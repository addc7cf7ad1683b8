//! A Kafka-protocol broker on this machine, for `make run` and the tests.
//!
//! vardpuls talks to any Kafka; when none is configured it starts tansu (a Kafka-compatible
//! broker written in Rust) with in-memory storage on a free loopback port, and stops it when
//! the [`LocalBroker`] is dropped. The broker is also killed if this process dies, so a crashed
//! test run leaves nothing behind.
//!
//! Linux delivers that kill when the *thread* that started the broker ends, so start it from a
//! thread that outlives it (the main thread or the test's thread), never from a pooled
//! blocking thread such as tokio's `spawn_blocking`.

use anyhow::Context;
use rdkafka::consumer::{BaseConsumer, Consumer};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How the broker is installed; printed when it is missing.
pub const INSTALL_HINT: &str = "cargo install tansu --locked --version 0.6.0 --features dynostore (or: make tools)";

pub struct LocalBroker {
    child: Child,
    bootstrap_servers: String,
    log_path: PathBuf,
}

impl LocalBroker {
    /// Starts a broker on a free loopback port and waits until it answers metadata requests.
    pub fn start() -> anyhow::Result<LocalBroker> {
        Self::start_on(free_port()?)
    }

    /// Starts a broker on `127.0.0.1:port`.
    pub fn start_on(port: u16) -> anyhow::Result<LocalBroker> {
        let address = format!("127.0.0.1:{port}");
        let url = format!("tcp://{address}");
        let log_path = std::env::temp_dir().join(format!("vardpuls-tansu-{port}.log"));
        let log = std::fs::File::create(&log_path).with_context(|| format!("creating {}", log_path.display()))?;
        let binary = std::env::var("VARDPULS_TANSU_BIN").unwrap_or_else(|_| "tansu".to_string());
        let mut command = Command::new(&binary);
        command
            .args(["broker", "--listener-url", &url, "--advertised-listener-url", &url])
            .args(["--storage-engine", "memory://tansu/", "--cluster-id", "vardpuls-local"])
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        die_with_parent(&mut command);
        let child = command
            .spawn()
            .with_context(|| format!("starting the local broker `{binary}`; install it with: {INSTALL_HINT}"))?;
        let mut broker = LocalBroker { child, bootstrap_servers: address, log_path };
        broker.wait_until_ready(Duration::from_secs(60))?;
        Ok(broker)
    }

    pub fn bootstrap_servers(&self) -> &str {
        &self.bootstrap_servers
    }

    fn wait_until_ready(&mut self, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        let consumer: BaseConsumer = rdkafka::ClientConfig::new()
            .set("bootstrap.servers", &self.bootstrap_servers)
            .set("log_level", "0")
            .create()?;
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
