//! Faults injected on request, so a demo or a test sees what production sends: events late past
//! the allowed lateness, duplicates (the same event id again), local disorder, malformed
//! messages, and corrections: a visit or chat sent again as a new version (a new event id, a
//! later `recorded_at`, another profession or channel), or a visit cancelled. Each is a share of
//! the day's events; all default to zero.

use crate::SimEvent;
use crate::rng::Rng;
use chrono::{DateTime, Duration, FixedOffset, Utc};
use serde_json::Value;
use vardpuls_core::Topic;

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Faults {
    pub duplicate: f64,
    pub out_of_order: f64,
    pub malformed: f64,
    /// Sent this long after they happened (two days by default: past a 12 h lateness).
    pub late: f64,
    /// Visits and chats followed by a corrected version.
    pub corrected: f64,
    /// Visits followed by their cancellation.
    pub cancelled: f64,
}

impl Faults {
    /// Rates a demo uses: enough to see every path, few enough not to distort the KPIs.
    pub fn demo() -> Faults {
        Faults {
            duplicate: 0.01,
            out_of_order: 0.05,
            malformed: 0.001,
            late: 0.001,
            corrected: 0.005,
            cancelled: 0.002,
        }
    }

    pub fn is_none(&self) -> bool {
        *self == Faults::default()
    }
}

pub const LATE_BY: Duration = Duration::days(2);

/// A correction or cancellation is recorded this long after the visit or chat.
pub const CORRECTED_AFTER: Duration = Duration::hours(20);

fn is_version(event: &SimEvent) -> bool {
    event.payload.windows(RECORDED_AT.len()).any(|w| w == RECORDED_AT)
}

const RECORDED_AT: &[u8] = b"\"recorded_at\"";

enum Version {
    Corrected,
    Cancelled,
}

/// A later version of a visit or chat: a new event id, `recorded_at` [`CORRECTED_AFTER`] the
/// event, and another profession or channel, or the visit's cancellation.
fn version(rng: &mut Rng, event: &SimEvent, kind: Version) -> SimEvent {
    let mut v: Value = serde_json::from_slice(&event.payload).expect("the simulator writes JSON");
    let (a, b) = (rng.next_u64(), rng.next_u64());
    v["event_id"] = Value::String(format!(
        "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        b >> 52,
        b & 0xffff_ffff_ffff
    ));
    let occurred: DateTime<FixedOffset> =
        DateTime::parse_from_rfc3339(v["occurred_at"].as_str().expect("occurred_at")).expect("RFC 3339");
    let recorded = occurred + CORRECTED_AFTER;
    v["recorded_at"] = Value::String(recorded.to_rfc3339());
    match kind {
        Version::Cancelled => v["event_type"] = Value::String("visit_cancelled".into()),
        Version::Corrected if event.topic == Topic::Visits => {
            let now = v["profession"].as_str().unwrap_or_default().to_string();
            v["profession"] = Value::String(if now == "doctor" { "nurse" } else { "doctor" }.into());
        }
        Version::Corrected => {
            let now = v["channel"].as_str().unwrap_or_default().to_string();
            v["channel"] = Value::String(if now == "regional_app" { "e_service_1177" } else { "regional_app" }.into());
        }
    }
    SimEvent { at: recorded.with_timezone(&Utc), payload: serde_json::to_vec(&v).expect("JSON"), ..event.clone() }
}

/// Applies the faults to one day's events (in send order). Late events and corrections are
/// returned separately: the caller sends them at their (later) `at`.
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
        // Corrections are sent when they are recorded, so they go with the late events. A
        // version is not corrected again.
        let versioned = matches!(event.topic, Topic::Visits | Topic::Chats) && !is_version(&event);
        if versioned && rng.chance(faults.corrected) {
            late.push(version(rng, &event, Version::Corrected));
        } else if versioned && event.topic == Topic::Visits && rng.chance(faults.cancelled) {
            late.push(version(rng, &event, Version::Cancelled));
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
