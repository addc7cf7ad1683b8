//! Live mode: send the recent past at once (so dashboards have history and expected volumes),
//! then each event when its time comes, day after day, until stopped.

use crate::SimEvent;
use crate::sink::Sink;
use crate::stream::Simulation;
use chrono::Utc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use vardpuls_core::calendar::LocalDay;

/// Runs until `stop` is set. `history_days` days before today are sent first, as fast as the
/// sink takes them.
pub async fn run(sim: &Simulation, sink: &mut Sink, history_days: u32, stop: Arc<AtomicBool>) -> anyhow::Result<()> {
    let today = LocalDay::of(Utc::now());
    let from = LocalDay::from_date(today.date() - chrono::Duration::days(history_days as i64));
    let mut pending: Vec<SimEvent> = Vec::new();
    // Days up to today (inclusive); today's future events wait in `pending`.
    let mut days = sim.days(from, u32::MAX);
    for (day, events) in days.by_ref() {
        let now = Utc::now();
        let (due, later): (Vec<_>, Vec<_>) = events.into_iter().partition(|e| e.at <= now);
        sink.send(&due).await?;
        pending = later;
        if day >= today {
            break;
        }
    }
    tracing::info!(history_days, "simulator: history sent; now live");
    while !stop.load(Ordering::Relaxed) {
        if pending.is_empty() {
            match days.next() {
                Some((_, events)) => pending = events,
                None => return Ok(()),
            }
            continue;
        }
        let now = Utc::now();
        let split = pending.partition_point(|e| e.at <= now);
        if split > 0 {
            let due: Vec<SimEvent> = pending.drain(..split).collect();
            sink.send(&due).await?;
        }
        // Wake for the next event or within a second, whichever is first (to notice `stop`).
        let wait = pending.first().map_or(Duration::from_secs(1), |e| {
            (e.at - Utc::now()).to_std().unwrap_or_default().min(Duration::from_secs(1))
        });
        tokio::time::sleep(wait).await;
    }
    Ok(())
}
