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
}

impl Default for ExporterConfig {
    fn default() -> Self {
        ExporterConfig { targets_file: PathBuf::from("deploy/targets.toml"), min_cases: 20, history_days: 35 }
    }
}
