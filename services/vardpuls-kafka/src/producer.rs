//! Producing vardpuls records: input events keyed by unit, dead letters, and output records.

use crate::config::KafkaConfig;
use anyhow::Context;
use rdkafka::error::KafkaError;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::util::Timeout;
use std::future::Future;
use std::time::Duration;
use vardpuls_core::Topic;
use vardpuls_core::dlq::DeadLetter;
use vardpuls_core::events::InputEvent;

/// A Kafka producer with the settings vardpuls needs for "nothing lost, nothing twice":
/// idempotence on (no duplicates from retries) and acknowledgement by all in-sync replicas;
/// and Kafka's default partitioner (murmur2, see [`crate::partitioner`]) rather than
/// librdkafka's CRC32, so any Java producer places a unit in the same partition.
#[derive(Clone)]
pub struct EventProducer {
    inner: FutureProducer,
}

/// How long a send may wait for room in the local queue before it fails.
const QUEUE_TIMEOUT: Duration = Duration::from_secs(30);

impl EventProducer {
    pub fn new(config: &KafkaConfig) -> anyhow::Result<EventProducer> {
        let mut c = config.client_config();
        for (key, value) in [
            ("enable.idempotence", "true"),
            ("acks", "all"),
            ("linger.ms", "5"),
            ("message.timeout.ms", "60000"),
            ("partitioner", "murmur2_random"),
        ] {
            if !config.options.contains_key(key) {
                c.set(key, value);
            }
        }
        let inner = c.create().context("creating Kafka producer")?;
        Ok(EventProducer { inner })
    }

    /// Sends one valid input event to its topic, keyed by unit so a unit's events stay ordered.
    /// Resolves when the broker has acknowledged it.
    pub fn send_event(&self, event: &InputEvent) -> impl Future<Output = Result<(), KafkaError>> + Send + use<> {
        self.send(event.topic(), Some(event.unit_id().as_str()), event.to_json())
    }

    /// Sends a refused input to the dead-letter topic.
    pub fn send_dead_letter(&self, letter: &DeadLetter) -> impl Future<Output = Result<(), KafkaError>> + Send + use<> {
        self.send(Topic::DeadLetter, None, letter.to_json())
    }

    /// Sends any payload to a vardpuls topic. Resolves on acknowledgement.
    pub fn send(
        &self,
        topic: Topic,
        key: Option<&str>,
        payload: Vec<u8>,
    ) -> impl Future<Output = Result<(), KafkaError>> + Send + use<> {
        let producer = self.inner.clone();
        let key = key.map(str::to_owned);
        async move {
            let mut record = FutureRecord::<str, [u8]>::to(topic.name()).payload(&payload);
            if let Some(k) = key.as_deref() {
                record = record.key(k);
            }
            producer.send(record, Timeout::After(QUEUE_TIMEOUT)).await.map(|_| ()).map_err(|(err, _)| err)
        }
    }

    /// Waits until everything queued has been delivered.
    pub fn flush(&self) -> Result<(), KafkaError> {
        use rdkafka::producer::Producer;
        self.inner.flush(Timeout::After(Duration::from_secs(60)))
    }
}
