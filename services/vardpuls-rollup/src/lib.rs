//! The roll-up stage (`vardpuls run --target rollup`): reads the unit values the aggregator
//! publishes to `vardpuls.kpi.v1` and publishes kommun and region values, and each listing
//! unit's share of its listed patients seen elsewhere, to the same topic.
//!
//! A unit's values come from one input partition, but a kommun's units are spread over all of
//! them, so roll-ups cannot happen inside the aggregator's shards. [`view`] keeps each unit's
//! latest contribution per group; [`service`] is the Kafka loop around it. It needs no state of
//! its own: it rebuilds its view from the compacted topic on start.

pub mod service;
pub mod view;

pub use view::{RollupView, UNKNOWN_REGION, Unregistered};

/// `[rollup]` in `vardpuls.toml`.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RollupConfig {
    /// The Kafka consumer group id the roll-up reads as. It assigns partitions itself and
    /// commits no offsets, so the id only names it in the broker's tools; two deployments on
    /// one cluster tell their roll-ups apart by it.
    pub group_id: String,
}

impl Default for RollupConfig {
    fn default() -> Self {
        RollupConfig { group_id: "vardpuls-rollup".to_string() }
    }
}
