//! `[exporter]` in `vardpuls.toml`.

use serde::Deserialize;
use std::path::PathBuf;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExporterConfig {
    /// The targets file (`VARDPULS_EXPORTER_TARGETS_FILE`).
    pub targets_file: PathBuf,
    /// Values resting on fewer cases are suppressed in public outputs
    /// (`VARDPULS_EXPORTER_MIN_CASES`).
    pub min_cases: u64,
    /// Days of daily values kept for the API and expected volumes.
    pub history_days: i64,
    /// The Kafka consumer group id the exporter reads as. Every replica reads the whole topic
    /// and commits no offsets, so the id only names it in the broker's tools.
    pub group_id: String,
}

impl Default for ExporterConfig {
    fn default() -> Self {
        ExporterConfig {
            targets_file: PathBuf::from("deploy/targets.toml"),
            min_cases: 20,
            history_days: 35,
            group_id: "vardpuls-exporter".to_string(),
        }
    }
}
