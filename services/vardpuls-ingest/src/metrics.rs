//! Counters for what came in and what was refused, by topic and rule.

use prometheus::{IntCounterVec, IntGauge, Opts, Registry};

#[derive(Clone)]
pub struct IngestMetrics {
    /// `vardpuls_ingest_records_total{topic, outcome}`: outcome is `accepted` or `rejected`.
    pub records: IntCounterVec,
    /// `vardpuls_ingest_rejected_total{topic, rule}`.
    pub rejected: IntCounterVec,
    /// `vardpuls_ingest_in_flight_bytes`: HTTP request bodies being read, validated, produced.
    pub in_flight_bytes: IntGauge,
    /// `vardpuls_ingest_busy_total`: HTTP requests answered 503 because the budget was full.
    pub busy: prometheus::IntCounter,
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
        let in_flight_bytes = IntGauge::new(
            "vardpuls_ingest_in_flight_bytes",
            "Bytes of HTTP request bodies being read, validated and produced (bounded by ingest.max_in_flight_bytes).",
        )?;
        let busy = prometheus::IntCounter::new(
            "vardpuls_ingest_busy_total",
            "HTTP ingest requests answered 503 with Retry-After because ingest.max_in_flight_bytes was reached.",
        )?;
        registry.register(Box::new(records.clone()))?;
        registry.register(Box::new(rejected.clone()))?;
        registry.register(Box::new(in_flight_bytes.clone()))?;
        registry.register(Box::new(busy.clone()))?;
        Ok(IngestMetrics { records, rejected, in_flight_bytes, busy })
    }
}
