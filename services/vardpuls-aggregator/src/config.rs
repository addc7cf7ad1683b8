//! `[aggregator]` in `vardpuls.toml`.

use crate::shard::MAX_QUORUM;
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
    /// While catching up (batches full), values not final yet are published at least this
    /// often, in milliseconds; in between, only shards where something becomes final compute.
    /// 0 publishes them after every batch, as when live.
    pub catching_up_publish_interval_ms: u64,
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
            catching_up_publish_interval_ms: 5_000,
            consumer_group: "vardpuls-aggregator".to_string(),
            instances: 0,
            instance: None,
            session_timeout_ms: 6_000,
            units_file: PathBuf::from("deploy/units.csv"),
            sql_partitions: 0,
            lag_statistics_interval_ms: 5_000,
        }
    }
}

/// A setting, or a combination of settings, the aggregator cannot run with: refused at start,
/// before any event is read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidSetting {
    #[error("aggregator.progress_quorum_events is {0}; it must be from 1 to {max}", max = MAX_QUORUM)]
    ProgressQuorum(usize),
    #[error("aggregator.{name} is {value}; it cannot be negative")]
    Negative { name: &'static str, value: i64 },
    #[error(
        "aggregator.retention_days ({days} days) ends before a day becomes final \
         (aggregator.allowed_lateness_hours = {lateness_hours}): days would be forgotten before they close"
    )]
    HorizonShorterThanLateness { days: i64, lateness_hours: i64 },
    #[error("aggregator.max_batch_messages is 0: no batch would ever be processed")]
    EmptyBatches,
    #[error("aggregator.instance is {instance} but aggregator.instances is 0 (a consumer group has no slots)")]
    SlotWithoutSlots { instance: u32 },
    #[error("aggregator.instance {instance} is not below aggregator.instances {instances}")]
    SlotOutOfRange { instance: u32, instances: u32 },
}

impl AggregatorConfig {
    /// Refuses settings that cannot work together, with the setting named.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        if !(1..=MAX_QUORUM).contains(&self.progress_quorum_events) {
            return Err(InvalidSetting::ProgressQuorum(self.progress_quorum_events));
        }
        for (name, value) in [
            ("allowed_lateness_hours", self.allowed_lateness_hours),
            ("max_future_minutes", self.max_future_minutes),
            ("retention_days", self.retention_days),
        ] {
            if value < 0 {
                return Err(InvalidSetting::Negative { name, value });
            }
        }
        if self.retention_days * 24 < self.allowed_lateness_hours {
            return Err(InvalidSetting::HorizonShorterThanLateness {
                days: self.retention_days,
                lateness_hours: self.allowed_lateness_hours,
            });
        }
        if self.max_batch_messages == 0 {
            return Err(InvalidSetting::EmptyBatches);
        }
        match (self.instances, self.instance) {
            (0, Some(instance)) => Err(InvalidSetting::SlotWithoutSlots { instance }),
            (instances, Some(instance)) if instance >= instances => {
                Err(InvalidSetting::SlotOutOfRange { instance, instances })
            }
            _ => Ok(()),
        }
    }

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_valid() {
        assert_eq!(AggregatorConfig::default().validate(), Ok(()));
    }

    #[test]
    fn combinations_that_cannot_work_are_refused_by_name() {
        let refused = |change: fn(&mut AggregatorConfig)| {
            let mut c = AggregatorConfig::default();
            change(&mut c);
            c.validate().unwrap_err()
        };
        assert_eq!(refused(|c| c.progress_quorum_events = 0), InvalidSetting::ProgressQuorum(0));
        assert_eq!(refused(|c| c.progress_quorum_events = 65), InvalidSetting::ProgressQuorum(65));
        assert_eq!(
            refused(|c| c.max_future_minutes = -5),
            InvalidSetting::Negative { name: "max_future_minutes", value: -5 }
        );
        assert_eq!(
            refused(|c| (c.retention_days, c.allowed_lateness_hours) = (1, 36)),
            InvalidSetting::HorizonShorterThanLateness { days: 1, lateness_hours: 36 }
        );
        assert_eq!(refused(|c| c.max_batch_messages = 0), InvalidSetting::EmptyBatches);
        assert_eq!(refused(|c| c.instance = Some(1)), InvalidSetting::SlotWithoutSlots { instance: 1 });
        let out_of_range = refused(|c| (c.instances, c.instance) = (2, Some(2)));
        assert_eq!(out_of_range, InvalidSetting::SlotOutOfRange { instance: 2, instances: 2 });
        assert!(out_of_range.to_string().contains("aggregator.instance 2"), "{out_of_range}");
    }
}
