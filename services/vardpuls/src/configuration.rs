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
    pub rollup: vardpuls_rollup::RollupConfig,
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
        let file = match path {
            Some(p) => {
                let text = std::fs::read_to_string(p).with_context(|| format!("reading config {}", p.display()))?;
                toml::from_str(&text).with_context(|| format!("in config {}", p.display()))?
            }
            None => toml::Table::new(),
        };
        Config::from_file_and_env(file, std::env::vars().collect())
    }

    /// The file's settings, overridden by the environment: every setting by one rule,
    /// `VARDPULS_<SECTION>__<KEY>` (`VARDPULS_AGGREGATOR__RETENTION_DAYS=400`); then the short
    /// names of the settings a deployment sets most (`VARDPULS_AGGREGATOR_STATE_DIR`, ...).
    /// A variable naming no setting is an error, like an unknown key in the file.
    fn from_file_and_env(mut file: toml::Table, env: Vec<(String, String)>) -> anyhow::Result<Config> {
        for (name, value) in &env {
            let Some((section, key)) = name.strip_prefix("VARDPULS_").and_then(|rest| rest.split_once("__")) else {
                continue;
            };
            let (section, key) = (section.to_ascii_lowercase(), key.to_ascii_lowercase());
            let table = file
                .entry(section.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()))
                .as_table_mut()
                .with_context(|| format!("{name}: `{section}` is not a section"))?;
            table.insert(key, setting(value));
        }
        let mut config: Config =
            toml::Value::Table(file).try_into().context("in the configuration file and VARDPULS_*__* variables")?;
        config.apply_env(env)?;
        config.validate()?;
        Ok(config)
    }

    /// Refuses settings that cannot work together, before any service starts.
    fn validate(&self) -> anyhow::Result<()> {
        self.kafka.validate()?;
        self.aggregator.validate()?;
        Ok(())
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

/// A variable's value as a setting: a TOML value where it reads as one (`400`, `true`,
/// `["a", "b"]`, `'0042'`), else the text itself.
fn setting(value: &str) -> toml::Value {
    toml::from_str::<toml::Table>(&format!("v = {value}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(value.to_string()))
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
    fn every_setting_has_a_variable_by_one_rule() {
        let file: toml::Table = toml::from_str("[aggregator]\nretention_days = 100\n").unwrap();
        let env = [
            ("VARDPULS_AGGREGATOR__RETENTION_DAYS", "400"),
            ("VARDPULS_AGGREGATOR__COUNT_ABANDONED_CALLS", "false"),
            ("VARDPULS_AGGREGATOR__STATE_DIR", "/var/lib/vardpuls"),
            ("VARDPULS_INGEST__TOKENS", r#"["a", "b"]"#),
            ("VARDPULS_EXPORTER__HISTORY_DAYS", "40"),
            ("VARDPULS_AGGREGATOR_UNITS_FILE", "/etc/vardpuls/units.csv"),
            ("PATH", "/usr/bin"),
        ];
        let env: Vec<(String, String)> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let c = Config::from_file_and_env(file, env).unwrap();
        assert_eq!((c.aggregator.retention_days, c.aggregator.count_abandoned_calls), (400, false));
        assert_eq!(c.aggregator.state_dir, Path::new("/var/lib/vardpuls"));
        assert_eq!((c.ingest.tokens.clone(), c.exporter.history_days), (vec!["a".to_string(), "b".to_string()], 40));
        assert_eq!(c.aggregator.units_file, Path::new("/etc/vardpuls/units.csv"), "short names still apply");
        // A variable naming no setting is refused, naming it.
        let typo = vec![("VARDPULS_AGGREGATOR__RETENTION_DAY".to_string(), "4".to_string())];
        let e = format!("{:#}", Config::from_file_and_env(toml::Table::new(), typo).unwrap_err());
        assert!(e.contains("retention_day"), "{e}");
    }

    #[test]
    fn the_broker_compatibility_and_invalid_combinations_are_read_at_start() {
        let env = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let c = Config::from_file_and_env(toml::Table::new(), env(&[("VARDPULS_KAFKA__COMPATIBILITY", "tansu-0.6")]))
            .unwrap();
        assert_eq!(c.kafka.compatibility, vardpuls_kafka::BrokerCompatibility::Tansu06);
        assert_eq!(Config::default().kafka.compatibility, vardpuls_kafka::BrokerCompatibility::Kafka);
        let refused = Config::from_file_and_env(
            toml::Table::new(),
            env(&[("VARDPULS_AGGREGATOR__INSTANCES", "2"), ("VARDPULS_AGGREGATOR__INSTANCE", "3")]),
        )
        .unwrap_err();
        assert!(
            format!("{refused:#}").contains("aggregator.instance 3 is not below aggregator.instances 2"),
            "{refused:#}"
        );
        let refused =
            Config::from_file_and_env(toml::Table::new(), env(&[("VARDPULS_KAFKA__PARTITIONS", "0")])).unwrap_err();
        assert!(format!("{refused:#}").contains("kafka.partitions is 0"), "{refused:#}");
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
