//! `vardpuls.toml` plus environment overrides. Each section belongs to the crate that uses it.
//!
//! Environment variables win over the file, so secrets (SASL passwords, ingest tokens) and
//! per-deployment addresses stay out of checked-in files. See docs/configuration.md.

use anyhow::Context;
use serde::Deserialize;
use std::path::Path;
use vardpuls_aggregator::AggregatorConfig;
use vardpuls_exporter::ExporterConfig;
use vardpuls_ingest::http::HttpIngestConfig;
use vardpuls_kafka::KafkaConfig;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub kafka: KafkaConfig,
    pub ingest: HttpIngestConfig,
    pub aggregator: AggregatorConfig,
    pub exporter: ExporterConfig,
    pub local: LocalConfig,
}

/// `[local]`: the broker `vardpuls run` starts when `kafka.bootstrap_servers` is empty.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LocalConfig {
    pub broker_port: u16,
}

impl Default for LocalConfig {
    fn default() -> Self {
        LocalConfig { broker_port: 9092 }
    }
}

impl Config {
    /// Reads `path` (if any), then applies `VARDPULS_*` environment variables.
    pub fn load(path: Option<&Path>) -> anyhow::Result<Config> {
        let mut config = match path {
            Some(p) => {
                let text = std::fs::read_to_string(p).with_context(|| format!("reading config {}", p.display()))?;
                toml::from_str(&text).with_context(|| format!("in config {}", p.display()))?
            }
            None => Config::default(),
        };
        config.apply_env(std::env::vars())?;
        Ok(config)
    }

    fn apply_env(&mut self, env: impl IntoIterator<Item = (String, String)>) -> anyhow::Result<()> {
        let env: Vec<(String, String)> = env.into_iter().filter(|(k, _)| k.starts_with("VARDPULS_")).collect();
        self.kafka.apply_env(env.iter().cloned())?;
        for (key, value) in env {
            match key.as_str() {
                "VARDPULS_INGEST_LISTEN" => self.ingest.listen = value,
                "VARDPULS_INGEST_TOKENS" => {
                    self.ingest.tokens =
                        value.split(',').map(str::trim).filter(|t| !t.is_empty()).map(String::from).collect();
                }
                "VARDPULS_AGGREGATOR_STATE_DIR" => self.aggregator.state_dir = value.into(),
                "VARDPULS_AGGREGATOR_GROUP" => self.aggregator.consumer_group = value,
                "VARDPULS_AGGREGATOR_INSTANCES" => {
                    self.aggregator.instances =
                        value.parse().with_context(|| format!("VARDPULS_AGGREGATOR_INSTANCES={value}"))?;
                }
                "VARDPULS_AGGREGATOR_INSTANCE" => {
                    self.aggregator.instance =
                        Some(value.parse().with_context(|| format!("VARDPULS_AGGREGATOR_INSTANCE={value}"))?);
                }
                "VARDPULS_AGGREGATOR_MAX_BATCH_MESSAGES" => {
                    self.aggregator.max_batch_messages =
                        value.parse().with_context(|| format!("VARDPULS_AGGREGATOR_MAX_BATCH_MESSAGES={value}"))?;
                }
                "VARDPULS_AGGREGATOR_ALLOWED_LATENESS_HOURS" => {
                    self.aggregator.allowed_lateness_hours =
                        value.parse().with_context(|| format!("VARDPULS_AGGREGATOR_ALLOWED_LATENESS_HOURS={value}"))?;
                }
                "VARDPULS_AGGREGATOR_PROGRESS_QUORUM_EVENTS" => {
                    self.aggregator.progress_quorum_events =
                        value.parse().with_context(|| format!("VARDPULS_AGGREGATOR_PROGRESS_QUORUM_EVENTS={value}"))?;
                }
                "VARDPULS_EXPORTER_TARGETS_FILE" => self.exporter.targets_file = value.into(),
                "VARDPULS_EXPORTER_MIN_CASES" => {
                    self.exporter.min_cases =
                        value.parse().with_context(|| format!("VARDPULS_EXPORTER_MIN_CASES={value}"))?;
                }
                "VARDPULS_AGGREGATOR_UNITS_FILE" => self.aggregator.units_file = value.into(),
                "VARDPULS_LOCAL_BROKER_PORT" => {
                    self.local.broker_port =
                        value.parse().with_context(|| format!("VARDPULS_LOCAL_BROKER_PORT={value}"))?;
                }
                _ => {}
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_then_environment() {
        let mut c: Config = toml::from_str(
            "[kafka]\nbootstrap_servers = \"kafka:9092\"\n[kafka.options]\n\"security.protocol\" = \"SASL_SSL\"\n[ingest]\nlisten = \"0.0.0.0:8080\"\n",
        )
        .unwrap();
        c.apply_env([("VARDPULS_INGEST_TOKENS".to_string(), "a, b,,".to_string())]).unwrap();
        assert_eq!(c.kafka.bootstrap_servers, "kafka:9092");
        assert_eq!(c.kafka.options["security.protocol"], "SASL_SSL");
        assert_eq!(c.ingest.tokens, vec!["a", "b"]);
        assert_eq!(c.ingest.listen, "0.0.0.0:8080");
    }

    #[test]
    fn unknown_keys_are_errors() {
        assert!(toml::from_str::<Config>("[kafka]\nbootstrap = \"x\"\n").is_err());
    }

    #[test]
    fn the_shipped_local_config_parses() {
        let path =
            Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string()))
                .join("../../deploy/local/vardpuls.toml");
        let text = std::fs::read_to_string(path).unwrap();
        let c: Config = toml::from_str(&text).unwrap();
        assert!(!c.ingest.tokens.is_empty());
    }
}
