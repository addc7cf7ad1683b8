//! Joining the group only after a crashed predecessor's session has expired.
//!
//! A member killed with SIGKILL never leaves the consumer group; the group keeps it until its
//! session times out. Apache Kafka holds a rebalance that long anyway, but tansu 0.6 forms the
//! new generation with the dead member still in it (even as leader, so the live member is
//! assigned nothing) and never notices. An instance therefore marks its state directory while it
//! runs; finding the mark at start means the previous run did not stop cleanly, and it waits one
//! session timeout before joining. On Kafka that costs nothing a crash did not already cost.

use anyhow::Context;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

pub struct CrashMarker {
    path: PathBuf,
}

impl CrashMarker {
    /// Marks `state_dir` for this instance (by host name, so instances sharing a volume do not
    /// see each other's marks); waits out `session_timeout` first when a mark was left behind.
    pub fn acquire(state_dir: &Path, session_timeout: Duration, stop: &AtomicBool) -> anyhow::Result<CrashMarker> {
        let instance = std::env::var("HOSTNAME").unwrap_or_else(|_| "local".to_string());
        let path = state_dir.join(format!(".running-{instance}"));
        if path.exists() {
            let wait = session_timeout + Duration::from_secs(1);
            tracing::warn!(?wait, "the previous run did not stop cleanly: waiting for its group session to expire");
            let until = Instant::now() + wait;
            while Instant::now() < until && !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        std::fs::create_dir_all(state_dir).with_context(|| format!("creating {}", state_dir.display()))?;
        std::fs::write(&path, std::process::id().to_string()).with_context(|| format!("writing {}", path.display()))?;
        Ok(CrashMarker { path })
    }

    /// A clean stop: the next start joins at once.
    pub fn release(self) {
        if let Err(e) = std::fs::remove_file(&self.path) {
            tracing::warn!(error = %e, path = %self.path.display(), "removing the running mark");
        }
    }
}
