//! `[aggregator]` in `vardpuls.toml`.

use serde::Deserialize;
use std::path::PathBuf;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AggregatorConfig {
    /// How long after its local midnight a day's values become final, in hours, by the
    /// partition's event-time progress. Later events for the day restate it (see
    /// `retention_days`).
    pub allowed_lateness_hours: i64,
    /// How many events of a partition must be at or after an instant for the partition's
    /// progress to reach it: the progress is the `progress_quorum_events`-th newest event time
    /// (at most 64), so fewer mistyped dates than this close no day. Raised across a restart, the
    /// progress waits for that many new events.
    pub progress_quorum_events: usize,
    /// How far an event may be ahead of the time it was produced to Kafka (its record timestamp;
    /// for `aggregate-files`, the start of the run), in minutes. Further ahead it is refused to
    /// the DLQ with rule `occurred_in_future`.
    pub max_future_minutes: i64,
    /// Where shard checkpoints live. Instances of one consumer group must share it.
    pub state_dir: PathBuf,
    /// The restatement horizon: closed days are kept this many days before the progress, with
    /// their events on disk, for months and last-year comparisons and so that late events
    /// restate them. Events for older days go to `vardpuls.late.v1`. Memory holds each current
    /// month folded to date and last year's months where a KPI compares with them (see
    /// `Shard::resident_months`).
    pub retention_days: i64,
    /// Count calls abandoned without a callback as no contact (true, the default) or leave
    /// them out of the same-day denominator.
    pub count_abandoned_calls: bool,
    /// Count other regions' residents' digital out-of-county contacts (visits with
    /// `out_of_county`) in the provider unit's production KPIs: visits, digital share,
    /// assessments, visits to another unit. False (the default) keeps them to the out-of-county
    /// cost KPI, which their home region follows.
    pub count_out_of_county_visits: bool,
    /// Messages applied before results are computed, published and checkpointed.
    pub max_batch_messages: usize,
    /// Longest wait before a non-empty batch is processed, in milliseconds. Past it, a batch
    /// still takes messages already fetched (a backlog), up to `max_batch_messages`.
    pub max_batch_wait_ms: u64,
    /// The consumer group: it splits the partitions among instances (`instances = 0`), or with
    /// fixed slots only receives the committed offsets, for lag tooling.
    pub consumer_group: String,
    /// 0 (the default): instances share the partitions as a consumer group. N > 0: N instances
    /// with fixed slots, each assigning itself its partitions (`crate::assignment`).
    pub instances: u32,
    /// This instance's slot (0..N) with `instances = N`; without it, the host name's trailing
    /// number (a StatefulSet pod's ordinal).
    pub instance: Option<u32>,
    /// How long the group waits for a silent member before moving its partitions, in
    /// milliseconds: the recovery time after a crash. Kafka's default (45 s) is long for a
    /// wallboard.
    pub session_timeout_ms: u64,
    /// The unit registry (`hsa_id,name,kommun_code`) the roll-ups use.
    pub units_file: PathBuf,
    /// How many messages before its checkpointed offset a partition is re-read from after a
    /// restart or rebalance (they are recognised by offset and skipped). Kafka serves a fetch
    /// that starts inside a producer batch from that batch; tansu 0.6 (the local and test broker)
    /// serves only batches that start at or after the offset, which would skip the rest of the
    /// batch or stall on the last one. A rewind longer than a producer batch
    /// (librdkafka's `batch.num.messages`, 10 000) avoids both. 0 turns it off.
    pub resume_rewind_messages: i64,
    /// Partitions DataFusion splits a query's work into: 0 (the default) takes the machine's
    /// cores. Batches are small, so more than the cores only adds scheduling.
    pub sql_partitions: usize,
    /// How often librdkafka reports the consumer's lag per partition
    /// (`vardpuls_consumer_lag_messages`), in milliseconds.
    pub lag_statistics_interval_ms: u64,
}

impl Default for AggregatorConfig {
    fn default() -> Self {
        AggregatorConfig {
            allowed_lateness_hours: 12,
            progress_quorum_events: 10,
            max_future_minutes: 120,
            state_dir: PathBuf::from(".vardpuls/aggregator"),
            retention_days: 400,
            count_abandoned_calls: true,
            count_out_of_county_visits: false,
            max_batch_messages: 50_000,
            max_batch_wait_ms: 100,
            consumer_group: "vardpuls-aggregator".to_string(),
            instances: 0,
            instance: None,
            session_timeout_ms: 6_000,
            units_file: PathBuf::from("deploy/units.csv"),
            resume_rewind_messages: 10_000,
            sql_partitions: 0,
            lag_statistics_interval_ms: 5_000,
        }
    }
}

impl AggregatorConfig {
    /// `sql_partitions`, with 0 read as the machine's cores.
    pub fn sql_partitions(&self) -> usize {
        match self.sql_partitions {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        }
    }

    pub fn lateness(&self) -> chrono::Duration {
        chrono::Duration::hours(self.allowed_lateness_hours)
    }

    pub fn max_future(&self) -> chrono::Duration {
        chrono::Duration::minutes(self.max_future_minutes)
    }
}
