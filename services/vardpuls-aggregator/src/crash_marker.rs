//! Joining the group only after a crashed predecessor's session has expired, on a broker that
//! keeps dead members (`kafka.compatibility = "tansu-0.6"`; off for Kafka and nisshi).
//!
//! A member killed with SIGKILL never leaves the consumer group. Kafka expires it after its
//! session; tansu 0.6 forms the new generation with the dead member still in it (even as
//! leader, so the live member is assigned nothing). So each process marks the state directory
//! while it runs (`.running-<host>-<pid>`). At start, a mark of this host whose process is gone
//! (or is this very pid: a restarted container) means a crash: the instance waits one session
//! timeout before joining. Marks of live processes are other instances sharing the directory.

use anyhow::Context;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub struct CrashMarker {
    path: PathBuf,
}

/// Marks held by instances in this process (tests run several): not crashes.
static HELD: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
static NEXT: AtomicU32 = AtomicU32::new(0);

impl CrashMarker {
    pub fn acquire(state_dir: &Path, session_timeout: Duration, stop: &AtomicBool) -> anyhow::Result<CrashMarker> {
        std::fs::create_dir_all(state_dir).with_context(|| format!("creating {}", state_dir.display()))?;
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "local".to_string());
        let prefix = format!(".running-{host}-");
        let own_pid = std::process::id();
        let mut crashed = Vec::new();
        for entry in std::fs::read_dir(state_dir)?.flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            let Some(pid) = name.strip_prefix(&prefix).and_then(|p| p.split('-').next()?.parse::<u32>().ok()) else {
                continue;
            };
            let held_here = HELD.lock().expect("lock").contains(&entry.path());
            if (pid == own_pid && !held_here) || (pid != own_pid && !alive(pid)) {
                crashed.push(entry.path());
            }
        }
        if !crashed.is_empty() {
            let wait = session_timeout + Duration::from_secs(1);
            tracing::warn!(
                ?wait,
                "a previous run on this host did not stop cleanly: waiting for its group session to expire"
            );
            let until = Instant::now() + wait;
            while Instant::now() < until && !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(100));
            }
            for path in crashed {
                let _ = std::fs::remove_file(path);
            }
        }
        let path = state_dir.join(format!("{prefix}{own_pid}-{}", NEXT.fetch_add(1, Ordering::Relaxed)));
        std::fs::write(&path, b"").with_context(|| format!("writing {}", path.display()))?;
        HELD.lock().expect("lock").push(path.clone());
        Ok(CrashMarker { path })
    }

    /// A clean stop: the next start joins at once.
    pub fn release(self) {
        HELD.lock().expect("lock").retain(|p| *p != self.path);
        if let Err(e) = std::fs::remove_file(&self.path) {
            tracing::warn!(error = %e, path = %self.path.display(), "removing the running mark");
        }
    }
}

/// Whether a process with this pid exists on this host.
fn alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else { return false };
    if pid <= 0 {
        return false;
    }
    // Signal 0 checks existence and permission without sending anything.
    let result = unsafe { libc::kill(pid, 0) };
    result == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_live_instance_is_not_a_crash_and_a_dead_one_is() {
        let dir = std::env::temp_dir().join(format!("vardpuls-crash-marker-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let stop = AtomicBool::new(false);
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "local".to_string());
        // Another live process (pid 1 always exists) and another instance in this process marked
        // the directory: no wait.
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!(".running-{host}-1-0")), b"").unwrap();
        let sibling = CrashMarker::acquire(&dir, Duration::from_millis(500), &stop).unwrap();
        let started = Instant::now();
        let mark = CrashMarker::acquire(&dir, Duration::from_millis(500), &stop).unwrap();
        assert!(started.elapsed() < Duration::from_millis(400));
        mark.release();
        sibling.release();
        // A mark left by a process that is gone: wait one session timeout, then clear it.
        let stale = dir.join(format!(".running-{host}-4194000-0"));
        std::fs::write(&stale, b"").unwrap();
        let started = Instant::now();
        let mark = CrashMarker::acquire(&dir, Duration::from_millis(500), &stop).unwrap();
        assert!(started.elapsed() >= Duration::from_millis(1500));
        assert!(!stale.exists());
        mark.release();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
