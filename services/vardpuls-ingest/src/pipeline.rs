//! Validate, then produce or dead-letter: the one path every ingested record takes.

use crate::metrics::IngestMetrics;
use futures::FutureExt;
use futures::future::BoxFuture;
use rdkafka::error::KafkaError;
use vardpuls_core::dlq::{DeadLetter, Source};
use vardpuls_core::domain::EventId;
use vardpuls_core::events::{InputEvent, decode};
use vardpuls_core::outputs::AlertChange;
use vardpuls_core::{Rejection, Topic};
use vardpuls_kafka::EventProducer;

/// What happened to one record.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Valid; produced to its topic.
    Accepted { event_id: EventId },
    /// Invalid; produced to the dead-letter topic with this reason.
    Rejected { reason: Rejection },
}

/// Validates records and hands them to Kafka.
#[derive(Clone)]
pub struct Ingestor {
    producer: Option<EventProducer>,
    metrics: Option<IngestMetrics>,
}

/// A record's outcome and the pending delivery of whatever it produced (the event or the dead
/// letter). The caller awaits deliveries with the concurrency that suits it.
pub struct Routed {
    pub outcome: Outcome,
    pub delivery: BoxFuture<'static, Result<(), KafkaError>>,
}

impl Ingestor {
    pub fn new(producer: EventProducer, metrics: Option<IngestMetrics>) -> Ingestor {
        Ingestor { producer: Some(producer), metrics }
    }

    /// Validates without producing anything: `vardpuls import --dry-run`.
    pub fn dry_run() -> Ingestor {
        Ingestor { producer: None, metrics: None }
    }

    pub fn metrics(&self) -> Option<&IngestMetrics> {
        self.metrics.as_ref()
    }

    /// Validates `raw` against `topic`'s contract and produces it, or its dead letter.
    pub fn route(&self, topic: Topic, raw: &[u8], source: Source) -> Routed {
        match decode(topic, raw) {
            Ok(event) => self.produce(&event),
            Err(reason) => self.reject(topic, raw, source, reason),
        }
    }

    /// Produces an event that is already valid (a mapped row's event).
    pub fn produce(&self, event: &InputEvent) -> Routed {
        let send = self.producer.as_ref().map(|p| p.send_event(event).boxed());
        self.finish(event.topic(), Outcome::Accepted { event_id: event.event_id() }, send)
    }

    /// Produces an alert's change to `vardpuls.alerts.v1` (resolves on acknowledgement).
    pub fn send_alert(&self, change: &AlertChange) -> BoxFuture<'static, Result<(), KafkaError>> {
        let payload = serde_json::to_vec(change).expect("alert changes serialize");
        match &self.producer {
            Some(p) => p.send(Topic::Alerts, Some(&change.key()), payload).boxed(),
            None => futures::future::ready(Ok(())).boxed(),
        }
    }

    /// Dead-letters a record refused before it could be decoded (a broken CSV row).
    pub fn reject(&self, topic: Topic, raw: &[u8], source: Source, reason: Rejection) -> Routed {
        let letter = DeadLetter::new(topic, source, reason.clone(), raw);
        let send = self.producer.as_ref().map(|p| p.send_dead_letter(&letter).boxed());
        self.finish(topic, Outcome::Rejected { reason }, send)
    }

    fn finish(
        &self,
        topic: Topic,
        outcome: Outcome,
        send: Option<BoxFuture<'static, Result<(), KafkaError>>>,
    ) -> Routed {
        self.count(topic, &outcome);
        Routed { outcome, delivery: send.unwrap_or_else(|| futures::future::ready(Ok(())).boxed()) }
    }

    fn count(&self, topic: Topic, outcome: &Outcome) {
        let Some(m) = &self.metrics else { return };
        match outcome {
            Outcome::Accepted { .. } => m.records.with_label_values(&[topic.short_name(), "accepted"]).inc(),
            Outcome::Rejected { reason } => {
                m.records.with_label_values(&[topic.short_name(), "rejected"]).inc();
                m.rejected.with_label_values(&[topic.short_name(), reason.rule.as_str()]).inc();
            }
        }
    }
}
