//! Reading a whole topic from the beginning, outside any consumer group: for `vardpuls tail`,
//! for rebuilding views from compacted topics, and for tests that read back what was produced.

use crate::config::KafkaConfig;
use anyhow::Context;
use rdkafka::TopicPartitionList;
use rdkafka::client::ClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};
use vardpuls_core::Topic;

/// Reaching the end of a partition is how this reader knows it is done, not an error worth a
/// log line; everything else is logged as usual.
pub struct EndOfPartitionIsNormal;

impl ClientContext for EndOfPartitionIsNormal {
    fn error(&self, error: KafkaError, reason: &str) {
        let end_of_partition = matches!(
            error,
            KafkaError::PartitionEOF(_) | KafkaError::Global(rdkafka::types::RDKafkaErrorCode::PartitionEOF)
        );
        if !end_of_partition {
            tracing::error!(%error, reason, "Kafka client error");
        }
    }
}

impl ConsumerContext for EndOfPartitionIsNormal {}

/// One record as read from Kafka.
#[derive(Debug, Clone)]
pub struct Record {
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub payload: Vec<u8>,
}

/// Reads every partition of `topic` from the beginning until each reports end-of-partition,
/// so it ends on its own. The end is taken from fetch responses (`enable.partition.eof`), which
/// every broker answers alike (docs/aggregator.md, "Brokers").
pub fn read_to_end(config: &KafkaConfig, topic: Topic, timeout: Duration) -> anyhow::Result<Vec<Record>> {
    let consumer: BaseConsumer<EndOfPartitionIsNormal> = config
        .consumer_config()
        .set("group.id", "vardpuls-reader")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        .create_with_context(EndOfPartitionIsNormal)
        .context("creating Kafka reader")?;
    let metadata = consumer.fetch_metadata(Some(topic.name()), timeout).context("fetching topic metadata")?;
    let mut assignment = TopicPartitionList::new();
    let mut open = BTreeSet::new();
    for partition in metadata.topics().iter().flat_map(|t| t.partitions()) {
        assignment.add_partition_offset(topic.name(), partition.id(), config.start_of_partition())?;
        open.insert(partition.id());
    }
    anyhow::ensure!(!open.is_empty(), "topic {topic} has no partitions (does it exist?)");
    consumer.assign(&assignment)?;

    let mut records = Vec::new();
    let deadline = Instant::now() + timeout;
    while !open.is_empty() {
        anyhow::ensure!(Instant::now() < deadline, "reading {topic} did not reach the end within {timeout:?}");
        match consumer.poll(Duration::from_millis(200)) {
            None => {}
            Some(Err(KafkaError::PartitionEOF(partition))) => {
                open.remove(&partition);
            }
            Some(Err(e)) => return Err(e).context(format!("reading {topic}")),
            Some(Ok(message)) => records.push(Record {
                partition: message.partition(),
                offset: message.offset(),
                key: message.key().map(<[u8]>::to_vec),
                payload: message.payload().unwrap_or_default().to_vec(),
            }),
        }
    }
    Ok(records)
}
