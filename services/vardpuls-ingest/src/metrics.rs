//! Counters for what came in and what was refused, by topic and rule.

use prometheus::{IntCounterVec, Opts, Registry};

#[derive(Clone)]
pub struct IngestMetrics {
    /// `vardpuls_ingest_records_total{topic, outcome}`: outcome is `accepted` or `rejected`.
    pub records: IntCounterVec,
    /// `vardpuls_ingest_rejected_total{topic, rule}`.
    pub rejected: IntCounterVec,
}

impl IngestMetrics {
    pub fn register(registry: &Registry) -> prometheus::Result<IngestMetrics> {
        let records = IntCounterVec::new(
            Opts::new("vardpuls_ingest_records_total", "Records received by ingest (file import or HTTP), by outcome."),
            &["topic", "outcome"],
        )?;
        let rejected = IntCounterVec::new(
            Opts::new(
                "vardpuls_ingest_rejected_total",
                "Records refused by validation and sent to the dead-letter topic, by rule.",
            ),
            &["topic", "rule"],
        )?;
        registry.register(Box::new(records.clone()))?;
        registry.register(Box::new(rejected.clone()))?;
        Ok(IngestMetrics { records, rejected })
    }
}
