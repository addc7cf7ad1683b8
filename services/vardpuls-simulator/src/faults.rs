//! Faults injected on request, so a demo or a test sees what production sends: events late past
//! the allowed lateness, duplicates (the same event id again), local disorder, and malformed
//! messages. Each is a share of the day's events; all default to zero.

use crate::SimEvent;
use crate::rng::Rng;
use chrono::Duration;

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Faults {
    pub duplicate: f64,
    pub out_of_order: f64,
    pub malformed: f64,
    /// Sent this long after they happened (two days by default: past a 12 h lateness).
    pub late: f64,
}

impl Faults {
    /// Rates a demo uses: enough to see every path, few enough not to distort the KPIs.
    pub fn demo() -> Faults {
        Faults { duplicate: 0.01, out_of_order: 0.05, malformed: 0.001, late: 0.001 }
    }

    pub fn is_none(&self) -> bool {
        *self == Faults::default()
    }
}

pub const LATE_BY: Duration = Duration::days(2);

/// Applies the faults to one day's events (in send order). Late events are returned separately:
/// the caller sends them `LATE_BY` later.
pub fn apply(faults: &Faults, rng: &mut Rng, events: Vec<SimEvent>) -> (Vec<SimEvent>, Vec<SimEvent>) {
    if faults.is_none() {
        return (events, Vec::new());
    }
    let mut out = Vec::with_capacity(events.len() + events.len() / 50);
    let mut late = Vec::new();
    for mut event in events {
        if rng.chance(faults.late) {
            event.at += LATE_BY;
            late.push(event);
            continue;
        }
        if rng.chance(faults.malformed) {
            let cut = event.payload.len() / 2;
            let mut broken = event.clone();
            broken.payload.truncate(cut);
            out.push(broken);
        }
        if rng.chance(faults.duplicate) {
            out.push(event.clone());
        }
        out.push(event);
    }
    for i in 1..out.len() {
        if rng.chance(faults.out_of_order) {
            out.swap(i - 1, i);
        }
    }
    (out, late)
}
