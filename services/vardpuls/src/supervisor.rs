//! Keeps the services of one process running. `vardpuls run --target all` hosts ingest, the
//! aggregator, the roll-up and the exporter together: one of them failing (a state write that
//! fails when descriptors or disk run out, a broker error) must not take the others down, so a
//! failed service is started again, after a pause that doubles with each failure in a row.
//! A service alone (`--target aggregator`) is not restarted in place: the process ends with the
//! error, for its own supervisor (Kubernetes, systemd) to restart and count.
//!
//! Restarting is safe because every service is: the aggregator restores its checkpoint and
//! re-reads what it had not checkpointed (exact restarts, docs/aggregator.md), the roll-up and
//! the exporter rebuild their state from `vardpuls.kpi.v1`.

use prometheus::{IntCounterVec, IntGaugeVec, Opts, Registry};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// The pause before the first restart; it doubles up to [`LONGEST_PAUSE`] while restarts fail.
const FIRST_PAUSE: Duration = Duration::from_secs(1);
const LONGEST_PAUSE: Duration = Duration::from_secs(60);
/// A service that ran this long before it failed starts over from [`FIRST_PAUSE`].
const RAN_WELL: Duration = Duration::from_secs(300);
/// How often a pause looks at the stop flag.
const STOP_POLL: Duration = Duration::from_millis(100);

/// Starts a service: its task, which ends with the service.
pub type Start = Box<dyn FnMut() -> anyhow::Result<JoinHandle<anyhow::Result<()>>> + Send>;

#[derive(Clone)]
pub struct ServiceMetrics {
    restarts: IntCounterVec,
    up: IntGaugeVec,
}

impl ServiceMetrics {
    pub fn register(registry: &Registry) -> anyhow::Result<ServiceMetrics> {
        let restarts = IntCounterVec::new(
            Opts::new("vardpuls_service_restarts_total", "Services of this process restarted after they failed"),
            &["service"],
        )?;
        let up = IntGaugeVec::new(
            Opts::new("vardpuls_service_up", "1 while the service runs, 0 while it waits to be restarted"),
            &["service"],
        )?;
        registry.register(Box::new(restarts.clone()))?;
        registry.register(Box::new(up.clone()))?;
        Ok(ServiceMetrics { restarts, up })
    }
}

/// Runs the service `name` until `stop` is set. With `restart`, a service that fails (returns
/// an error or panics) is started again after a pause; without, its error ends this call. A
/// service that ends without error and unasked (the simulator after its days) stays ended.
pub fn supervise(
    name: &'static str,
    mut start: Start,
    restart: bool,
    stop: Arc<AtomicBool>,
    metrics: ServiceMetrics,
) -> JoinHandle<anyhow::Result<()>> {
    // Made here, so each service's series is exported (at 0) before its first failure.
    let (up, restarts) = (metrics.up.with_label_values(&[name]), metrics.restarts.with_label_values(&[name]));
    tokio::spawn(async move {
        let mut pause = FIRST_PAUSE;
        loop {
            let started = Instant::now();
            up.set(1);
            let result = match start() {
                Ok(task) => task.await.unwrap_or_else(|panic| Err(anyhow::anyhow!("panicked: {panic}"))),
                Err(error) => Err(error),
            };
            up.set(0);
            let error = match result {
                Ok(()) => return Ok(()),
                Err(error) if stop.load(Ordering::Relaxed) || !restart => return Err(error),
                Err(error) => error,
            };
            if started.elapsed() >= RAN_WELL {
                pause = FIRST_PAUSE;
            }
            tracing::error!(service = name, error = %format!("{error:#}"), restart_in_s = pause.as_secs(), "service failed; restarting it");
            restarts.inc();
            let until = Instant::now() + pause;
            while Instant::now() < until {
                if stop.load(Ordering::Relaxed) {
                    return Ok(());
                }
                tokio::time::sleep(STOP_POLL).await;
            }
            pause = (pause * 2).min(LONGEST_PAUSE);
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// A service that fails its first `failures` starts, then runs until stopped.
    fn flaky(failures: usize, starts: Arc<Mutex<usize>>, stop: Arc<AtomicBool>) -> Start {
        Box::new(move || {
            let n = {
                let mut starts = starts.lock().unwrap();
                *starts += 1;
                *starts
            };
            let stop = stop.clone();
            Ok(tokio::spawn(async move {
                if n <= failures {
                    anyhow::bail!("state write failed (start {n})");
                }
                while !stop.load(Ordering::Relaxed) {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                Ok(())
            }))
        })
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_service_is_restarted_after_growing_pauses_until_it_runs() {
        let registry = Registry::new();
        let metrics = ServiceMetrics::register(&registry).unwrap();
        let (starts, stop) = (Arc::new(Mutex::new(0)), Arc::new(AtomicBool::new(false)));
        let began = tokio::time::Instant::now();
        let task = supervise("aggregator", flaky(3, starts.clone(), stop.clone()), true, stop.clone(), metrics.clone());
        // The fourth start runs: after pauses of 1, 2 and 4 s (virtual time).
        while *starts.lock().unwrap() < 4 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let waited = began.elapsed();
        assert!(waited >= Duration::from_secs(7) && waited < Duration::from_secs(8), "{waited:?}");
        assert_eq!(metrics.restarts.with_label_values(&["aggregator"]).get(), 3);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(metrics.up.with_label_values(&["aggregator"]).get(), 1);
        stop.store(true, Ordering::Relaxed);
        task.await.unwrap().unwrap();
        assert_eq!(metrics.up.with_label_values(&["aggregator"]).get(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn without_restart_the_first_error_ends_it() {
        let metrics = ServiceMetrics::register(&Registry::new()).unwrap();
        let (starts, stop) = (Arc::new(Mutex::new(0)), Arc::new(AtomicBool::new(false)));
        let task = supervise("aggregator", flaky(1, starts.clone(), stop.clone()), false, stop, metrics.clone());
        let error = task.await.unwrap().unwrap_err();
        assert!(error.to_string().contains("state write failed"), "{error}");
        assert_eq!((*starts.lock().unwrap(), metrics.restarts.with_label_values(&["aggregator"]).get()), (1, 0));
    }
}
