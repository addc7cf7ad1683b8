//! The aggregator: consumes the input topics (as a consumer group or in fixed slots), computes
//! the KPI catalogue with DataFusion per Europe/Stockholm day and month, and publishes upserts
//! to `vardpuls.kpi.v1`. State is checkpointed per input partition together with its offset;
//! closed days keep their events on disk, so late events restate them.

pub use vardpuls_core::FILE_BUFFER_BYTES;

pub mod assignment;
pub mod catalogue;
pub mod checkpoint;
pub mod config;
pub mod consumer;
pub mod crash_marker;
pub mod day_store;
pub mod driver;
pub mod emitted;
pub mod engine;
pub mod metrics;
pub mod partial;
pub mod persons;
pub mod records;
pub mod shard;
pub mod stocks;
pub mod store;
pub mod tables;
pub mod versions;
pub mod writes;

pub use config::AggregatorConfig;
pub use driver::Driver;
pub use engine::{Engine, Outcome, OutcomeCounts, Pace, Routed};
