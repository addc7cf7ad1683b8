//! `[aggregator]` in `vardpuls.toml`.

use serde::Deserialize;
use std::path::PathBuf;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AggregatorConfig {
    /// How long after its local midnight a day still takes events, in hours. Later events go
    /// to `vardpuls.late.v1` with the reason.
    pub allowed_lateness_hours: i64,
    /// Where shard checkpoints live. Instances of one consumer group must share it.
    pub state_dir: PathBuf,
    /// Closed days kept for months and last-year comparisons.
    pub retention_days: i64,
    /// Count calls abandoned without a callback as no contact (true, the default) or leave
    /// them out of the same-day denominator.
    pub count_abandoned_calls: bool,
    /// Messages applied before results are computed, published and checkpointed.
    pub max_batch_messages: usize,
    /// Longest wait before a non-empty batch is processed, in milliseconds.
    pub max_batch_wait_ms: u64,
    pub consumer_group: String,
    /// How long the group waits for a silent member before moving its partitions, in
    /// milliseconds: the recovery time after a crash. Kafka's default (45 s) is long for a
    /// wallboard.
    pub session_timeout_ms: u64,
    /// The unit registry (`hsa_id,name,kommun_code`) the roll-ups use.
    pub units_file: PathBuf,
}

impl Default for AggregatorConfig {
    fn default() -> Self {
        AggregatorConfig {
            allowed_lateness_hours: 12,
            state_dir: PathBuf::from(".vardpuls/aggregator"),
            retention_days: 400,
            count_abandoned_calls: true,
            max_batch_messages: 50_000,
            max_batch_wait_ms: 200,
            consumer_group: "vardpuls-aggregator".to_string(),
            session_timeout_ms: 6_000,
            units_file: PathBuf::from("deploy/units.csv"),
        }
    }
}

impl AggregatorConfig {
    pub fn lateness(&self) -> chrono::Duration {
        chrono::Duration::hours(self.allowed_lateness_hours)
    }
}
