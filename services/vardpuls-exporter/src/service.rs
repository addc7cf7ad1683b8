//! The exporter's Kafka loop: read `vardpuls.kpi.v1` from the beginning into the view (it is
//! compacted, so this is the latest value per key), report ready at the end of every partition,
//! then follow it.

use crate::metrics::ExporterMetrics;
use crate::state::ExporterState;
use anyhow::Context;
use rdkafka::TopicPartitionList;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use vardpuls_core::Topic;
use vardpuls_core::calendar::LocalDay;
use vardpuls_core::outputs::KpiRecord;
use vardpuls_kafka::KafkaConfig;
use vardpuls_kafka::reader::EndOfPartitionIsNormal;

/// Runs until `stop` is set. Blocking: run it on its own thread.
pub fn run(
    kafka: &KafkaConfig,
    group_id: &str,
    state: ExporterState,
    metrics: Option<ExporterMetrics>,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<()> {
    // No consumer group offsets: every exporter replica reads the whole topic.
    let consumer: BaseConsumer<EndOfPartitionIsNormal> = kafka
        .consumer_config()
        .set("group.id", group_id)
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        .create_with_context(EndOfPartitionIsNormal)
        .context("creating exporter consumer")?;
    let metadata = consumer.fetch_metadata(Some(Topic::Kpi.name()), Duration::from_secs(30))?;
    let mut assignment = TopicPartitionList::new();
    let mut rebuilding = BTreeSet::new();
    for p in metadata.topics().iter().flat_map(|t| t.partitions()) {
        assignment.add_partition_offset(Topic::Kpi.name(), p.id(), kafka.start_of_partition())?;
        rebuilding.insert(p.id());
    }
    consumer.assign(&assignment)?;

    let count = |outcome: &str| {
        if let Some(m) = &metrics {
            m.records.with_label_values(&[outcome]).inc();
        }
    };
    let mut today = LocalDay::of(chrono::Utc::now());
    while !stop.load(Ordering::Relaxed) {
        match consumer.poll(Duration::from_millis(100)) {
            None => {}
            Some(Err(KafkaError::PartitionEOF(partition))) => {
                let last_to_reach_its_end = rebuilding.remove(&partition) && rebuilding.is_empty();
                if last_to_reach_its_end {
                    tracing::info!(records = state.view.read().expect("lock").len(), "KPI view rebuilt; ready");
                    state.set_ready();
                    if let Some(m) = &metrics {
                        m.ready.set(1);
                    }
                }
            }
            Some(Err(e)) => tracing::warn!(error = %e, "exporter consumer error"),
            Some(Ok(message)) => match serde_json::from_slice::<KpiRecord>(message.payload().unwrap_or_default()) {
                Ok(record) => {
                    let kept = state.view.write().expect("lock").apply(record, today);
                    count(if kept { "applied" } else { "too_old" });
                }
                Err(e) => {
                    count("unreadable");
                    tracing::warn!(error = %e, offset = message.offset(), "unreadable KPI record");
                }
            },
        }
        let now = LocalDay::of(chrono::Utc::now());
        if now != today {
            today = now;
            state.view.write().expect("lock").prune(today);
        }
        if let Some(m) = &metrics {
            m.view_records.set(state.view.read().expect("lock").len() as i64);
        }
    }
    Ok(())
}
