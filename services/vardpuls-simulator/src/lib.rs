//! The simulator: realistic, deterministic event streams for a new user without data of their
//! own, for demos (`make run`), and for benchmarks.
//!
//! [`registry`] says which units exist and how large they are; [`day`] generates one unit's
//! calendar day (phone, visits, chats, listings) from a seeded [`rng`]; [`faults`] injects late,
//! duplicate, out-of-order and malformed events on request; [`stream`] walks the days in time
//! order; [`sink`] writes to Kafka or NDJSON files; [`live`] paces a stream in real time.

pub mod day;
pub mod faults;
pub mod live;
pub mod registry;
pub mod rng;
pub mod sink;
pub mod stream;

use chrono::{DateTime, Utc};
use vardpuls_core::Topic;

/// One generated event, ready for its topic.
#[derive(Debug, Clone, PartialEq)]
pub struct SimEvent {
    pub at: DateTime<Utc>,
    pub topic: Topic,
    /// The unit's HSA-id: the Kafka key of every input topic.
    pub key: String,
    pub payload: Vec<u8>,
}
