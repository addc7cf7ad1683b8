//! The aggregator's own metrics.

use prometheus::{Histogram, HistogramOpts, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry};

#[derive(Clone)]
pub struct AggregatorMetrics {
    /// `vardpuls_aggregator_messages_total{topic, outcome}`; outcome is counted, duplicate,
    /// replayed, late or invalid.
    pub messages: IntCounterVec,
    /// `vardpuls_aggregator_records_published_total{topic}`.
    pub published: IntCounterVec,
    pub batch_seconds: Histogram,
    pub checkpoint_seconds: Histogram,
    pub checkpoint_bytes: IntGauge,
    /// Unix time of the last completed checkpoint.
    pub last_checkpoint_timestamp: IntGauge,
    /// Shards whose newest values not final yet wait for a live computation (catching up).
    pub shards_waiting: IntGauge,
    /// `vardpuls_consumer_lag_messages{group, topic, partition}`, from librdkafka statistics.
    pub consumer_lag: IntGaugeVec,
}

impl AggregatorMetrics {
    pub fn register(registry: &Registry) -> prometheus::Result<AggregatorMetrics> {
        let m = AggregatorMetrics {
            messages: IntCounterVec::new(
                Opts::new(
                    "vardpuls_aggregator_messages_total",
                    "Input messages consumed by the aggregator, by outcome.",
                ),
                &["topic", "outcome"],
            )?,
            published: IntCounterVec::new(
                Opts::new("vardpuls_aggregator_records_published_total", "Records the aggregator published, by topic."),
                &["topic"],
            )?,
            batch_seconds: Histogram::with_opts(
                HistogramOpts::new(
                    "vardpuls_aggregator_batch_seconds",
                    "Time to compute and publish one batch and plan its checkpoint (written meanwhile on another thread).",
                )
                .buckets(vec![0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]),
            )?,
            checkpoint_seconds: Histogram::with_opts(
                HistogramOpts::new(
                    "vardpuls_aggregator_checkpoint_seconds",
                    "Time to plan and write the checkpoints of one batch.",
                )
                .buckets(vec![0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5]),
            )?,
            checkpoint_bytes: IntGauge::new(
                "vardpuls_aggregator_checkpoint_bytes",
                "Size of the last checkpoint written.",
            )?,
            last_checkpoint_timestamp: IntGauge::new(
                "vardpuls_aggregator_last_checkpoint_timestamp_seconds",
                "Unix time of the last completed checkpoint.",
            )?,
            shards_waiting: IntGauge::new(
                "vardpuls_aggregator_shards_waiting",
                "Shards whose newest events' values (not final yet) wait to be published: batches are full, so \
                 only what becomes final is computed until the aggregator catches up or catching_up_publish_interval_ms passes.",
            )?,
            consumer_lag: IntGaugeVec::new(
                Opts::new(
                    "vardpuls_consumer_lag_messages",
                    "Messages between the consumer's position and the partition's end, per partition.",
                ),
                &["group", "topic", "partition"],
            )?,
        };
        registry.register(Box::new(m.consumer_lag.clone()))?;
        registry.register(Box::new(m.messages.clone()))?;
        registry.register(Box::new(m.published.clone()))?;
        registry.register(Box::new(m.batch_seconds.clone()))?;
        registry.register(Box::new(m.checkpoint_seconds.clone()))?;
        registry.register(Box::new(m.checkpoint_bytes.clone()))?;
        registry.register(Box::new(m.last_checkpoint_timestamp.clone()))?;
        registry.register(Box::new(m.shards_waiting.clone()))?;
        Ok(m)
    }
}
