//! The roll-up stage's Kafka loop: read `vardpuls.kpi.v1` from the beginning (rebuilding the
//! view), then follow it, publishing kommun and region records as unit records change.

use crate::view::{RollupView, Unregistered};
use anyhow::Context;
use futures::future::join_all;
use prometheus::{IntCounter, IntGaugeVec, Opts, Registry};
use rdkafka::TopicPartitionList;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use vardpuls_core::Topic;
use vardpuls_core::outputs::KpiRecord;
use vardpuls_core::units::UnitRegistry;
use vardpuls_kafka::{EventProducer, KafkaConfig};

/// How long changes are gathered before roll-ups are published.
const PUBLISH_EVERY: Duration = Duration::from_millis(200);

/// The roll-up stage's own metrics.
#[derive(Clone)]
pub struct RollupMetrics {
    /// `vardpuls_rollup_records_read_total`: KPI records read from `vardpuls.kpi.v1`.
    pub read: IntCounter,
    /// `vardpuls_rollup_records_published_total`: kommun and region records published.
    pub published: IntCounter,
    /// `vardpuls_rollup_unregistered_units{fallback}`: units missing from the unit register,
    /// rolled up by their organisation number's region or to the unknown bucket.
    pub unregistered: IntGaugeVec,
}

impl RollupMetrics {
    pub fn register(registry: &Registry) -> prometheus::Result<RollupMetrics> {
        let m = RollupMetrics {
            read: IntCounter::new("vardpuls_rollup_records_read_total", "KPI records the roll-up read.")?,
            published: IntCounter::new(
                "vardpuls_rollup_records_published_total",
                "Kommun and region KPI records the roll-up published.",
            )?,
            unregistered: IntGaugeVec::new(
                Opts::new(
                    "vardpuls_rollup_unregistered_units",
                    "Units missing from the unit register, by how they were rolled up.",
                ),
                &["fallback"],
            )?,
        };
        registry.register(Box::new(m.read.clone()))?;
        registry.register(Box::new(m.published.clone()))?;
        registry.register(Box::new(m.unregistered.clone()))?;
        Ok(m)
    }
}

/// Runs until `stop` is set. Blocking: run it on its own thread.
pub fn run(
    kafka: &KafkaConfig,
    config: &crate::RollupConfig,
    registry: UnitRegistry,
    metrics: Option<RollupMetrics>,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let producer = EventProducer::new(kafka)?;
    let consumer: BaseConsumer = kafka
        .consumer_config()
        .set("group.id", &config.group_id)
        .set("enable.auto.commit", "false")
        .create()
        .context("creating roll-up consumer")?;
    let metadata = consumer.fetch_metadata(Some(Topic::Kpi.name()), Duration::from_secs(30))?;
    let mut assignment = TopicPartitionList::new();
    for p in metadata.topics().iter().flat_map(|t| t.partitions()) {
        assignment.add_partition_offset(Topic::Kpi.name(), p.id(), kafka.start_of_partition())?;
    }
    consumer.assign(&assignment)?;

    let mut view = RollupView::new(registry);
    let mut changed_since = None::<Instant>;
    while !stop.load(Ordering::Relaxed) {
        match consumer.poll(Duration::from_millis(50)) {
            None => {}
            Some(Err(e)) => tracing::warn!(error = %e, "roll-up consumer error"),
            Some(Ok(message)) => match serde_json::from_slice::<KpiRecord>(message.payload().unwrap_or_default()) {
                Ok(record) => {
                    if let Some(m) = &metrics {
                        m.read.inc();
                    }
                    view.apply(&record);
                    changed_since.get_or_insert_with(Instant::now);
                }
                Err(e) => tracing::warn!(error = %e, offset = message.offset(), "unreadable KPI record"),
            },
        }
        if changed_since.is_some_and(|t| t.elapsed() >= PUBLISH_EVERY) {
            if let Some(m) = &metrics {
                let counts = view.unregistered();
                for how in [Unregistered::ByOrganisation, Unregistered::Unknown] {
                    m.unregistered
                        .with_label_values(&[how.as_str()])
                        .set(counts.get(&how).copied().unwrap_or(0) as i64);
                }
            }
            publish(&runtime, &producer, view.flush(), metrics.as_ref())?;
            changed_since = None;
        }
    }
    publish(&runtime, &producer, view.flush(), metrics.as_ref())
}

fn publish(
    runtime: &tokio::runtime::Runtime,
    producer: &EventProducer,
    records: Vec<KpiRecord>,
    metrics: Option<&RollupMetrics>,
) -> anyhow::Result<()> {
    if let Some(m) = metrics {
        m.published.inc_by(records.len() as u64);
    }
    let sends: Vec<_> = records
        .iter()
        .map(|r| producer.send(Topic::Kpi, Some(&r.key()), serde_json::to_vec(r).expect("KPI records serialize")))
        .collect();
    for result in runtime.block_on(join_all(sends)) {
        result.context("publishing roll-ups")?;
    }
    Ok(())
}
