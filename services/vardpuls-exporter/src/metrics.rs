//! The exporter's own metrics.

use prometheus::{IntCounterVec, IntGauge, Opts, Registry};

#[derive(Clone)]
pub struct ExporterMetrics {
    /// `vardpuls_exporter_records_total{outcome}`: applied, too_old or unreadable.
    pub records: IntCounterVec,
    pub view_records: IntGauge,
    pub ready: IntGauge,
}

impl ExporterMetrics {
    pub fn register(registry: &Registry) -> prometheus::Result<ExporterMetrics> {
        let m = ExporterMetrics {
            records: IntCounterVec::new(
                Opts::new("vardpuls_exporter_records_total", "KPI records read from vardpuls.kpi.v1, by outcome."),
                &["outcome"],
            )?,
            view_records: IntGauge::new("vardpuls_exporter_view_records", "KPI records held in the exporter's view.")?,
            ready: IntGauge::new("vardpuls_exporter_ready", "1 once the view was rebuilt from the whole KPI topic.")?,
        };
        registry.register(Box::new(m.records.clone()))?;
        registry.register(Box::new(m.view_records.clone()))?;
        registry.register(Box::new(m.ready.clone()))?;
        Ok(m)
    }
}
