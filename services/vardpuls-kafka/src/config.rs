//! Kafka connection settings, from the config file's `[kafka]` section and the environment.

use rdkafka::ClientConfig;
use serde::Deserialize;
use std::collections::BTreeMap;

/// `[kafka]` in `vardpuls.toml`. Any librdkafka property can be set under `[kafka.options]`
/// (`"security.protocol" = "SASL_SSL"`, `"sasl.mechanisms" = "SCRAM-SHA-512"`, ...), or as an
/// environment variable `VARDPULS_KAFKA_OPT_<PROPERTY>` with dots written as underscores
/// (`VARDPULS_KAFKA_OPT_SASL_PASSWORD` sets `sasl.password`), which keeps secrets out of files.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KafkaConfig {
    /// `host:port,host:port`. Empty means "start a local broker" for `vardpuls run`.
    pub bootstrap_servers: String,
    /// Partitions for topics vardpuls creates. Bounds how many instances of a service share work.
    pub partitions: i32,
    pub replication_factor: i32,
    /// Create missing topics at start-up. Off where topics are managed by the platform team.
    pub create_topics: bool,
    /// Extra librdkafka properties, applied to every client.
    pub options: BTreeMap<String, String>,
    /// Workarounds for a broker that differs from Apache Kafka where vardpuls relies on it.
    /// `kafka` (the default) turns them all off; see [`BrokerCompatibility`].
    pub compatibility: BrokerCompatibility,
}

/// Which broker behaviour vardpuls works around (docs/aggregator.md, "Brokers").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum BrokerCompatibility {
    /// Apache Kafka, and brokers that behave like it where it matters here (nisshi 0.8, the
    /// local and test broker): no workarounds.
    #[default]
    #[serde(rename = "kafka")]
    Kafka,
    /// tansu 0.6, which serves a fetch only from whole producer batches, keeps a SIGKILLed member
    /// in its group, and answers ListOffsets(earliest) with the batch written first in time. The
    /// aggregator then re-reads [`TANSU_RESUME_REWIND_MESSAGES`] before its checkpoint, waits a
    /// session timeout after an unclean stop before joining its group, and every reader starts
    /// at offset 0 rather than asking for the earliest offset.
    #[serde(rename = "tansu-0.6")]
    Tansu06,
}

/// How far before its checkpoint a partition is re-read on a broker that serves only whole
/// producer batches: more than a producer batch (librdkafka's `batch.num.messages`, 10 000).
pub const TANSU_RESUME_REWIND_MESSAGES: i64 = 10_000;

impl BrokerCompatibility {
    /// The setting's value (`kafka.compatibility`, `VARDPULS_KAFKA__COMPATIBILITY`).
    pub fn name(self) -> &'static str {
        match self {
            BrokerCompatibility::Kafka => "kafka",
            BrokerCompatibility::Tansu06 => "tansu-0.6",
        }
    }

    /// How many messages before its checkpointed offset a partition is re-read from after a
    /// restart or rebalance; messages already applied are recognised by offset and skipped.
    pub fn resume_rewind_messages(self) -> i64 {
        match self {
            BrokerCompatibility::Kafka => 0,
            BrokerCompatibility::Tansu06 => TANSU_RESUME_REWIND_MESSAGES,
        }
    }

    /// Whether a member killed without leaving stays in its consumer group until someone waits
    /// out its session, rather than expiring after it.
    pub fn keeps_dead_group_members(self) -> bool {
        self == BrokerCompatibility::Tansu06
    }

    /// Where a consumer starts reading a partition from its beginning. On tansu 0.6, offset 0
    /// with `auto.offset.reset=earliest` (a consumer default here) for topics whose retention
    /// removed it, since its ListOffsets(earliest) may skip batches.
    pub fn start_of_partition(self) -> rdkafka::Offset {
        match self {
            BrokerCompatibility::Kafka => rdkafka::Offset::Beginning,
            BrokerCompatibility::Tansu06 => rdkafka::Offset::Offset(0),
        }
    }
}

/// A Kafka setting vardpuls cannot work with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidKafkaSetting {
    #[error("kafka.{name} is {value}; it must be at least 1")]
    BelowOne { name: &'static str, value: i32 },
}

impl Default for KafkaConfig {
    fn default() -> Self {
        KafkaConfig {
            bootstrap_servers: String::new(),
            partitions: 6,
            replication_factor: 1,
            create_topics: true,
            options: BTreeMap::new(),
            compatibility: BrokerCompatibility::Kafka,
        }
    }
}

pub const OPTION_ENV_PREFIX: &str = "VARDPULS_KAFKA_OPT_";

impl KafkaConfig {
    /// Refuses settings no topic or client can be made with.
    pub fn validate(&self) -> Result<(), InvalidKafkaSetting> {
        for (name, value) in [("partitions", self.partitions), ("replication_factor", self.replication_factor)] {
            if value < 1 {
                return Err(InvalidKafkaSetting::BelowOne { name, value });
            }
        }
        Ok(())
    }

    /// Where a consumer starts reading a partition from its beginning.
    pub fn start_of_partition(&self) -> rdkafka::Offset {
        self.compatibility.start_of_partition()
    }

    pub fn with_bootstrap(bootstrap_servers: impl Into<String>) -> KafkaConfig {
        KafkaConfig { bootstrap_servers: bootstrap_servers.into(), ..KafkaConfig::default() }
    }

    /// Applies `VARDPULS_KAFKA_BOOTSTRAP_SERVERS`, `VARDPULS_KAFKA_PARTITIONS` and
    /// `VARDPULS_KAFKA_OPT_*` from the given environment over the file's values.
    pub fn apply_env(&mut self, env: impl IntoIterator<Item = (String, String)>) -> anyhow::Result<()> {
        for (key, value) in env {
            if key == "VARDPULS_KAFKA_BOOTSTRAP_SERVERS" {
                self.bootstrap_servers = value;
            } else if key == "VARDPULS_KAFKA_PARTITIONS" {
                self.partitions =
                    value.parse().map_err(|e| anyhow::anyhow!("VARDPULS_KAFKA_PARTITIONS={value}: {e}"))?;
            } else if let Some(name) = key.strip_prefix(OPTION_ENV_PREFIX) {
                self.options.insert(name.to_ascii_lowercase().replace('_', "."), value);
            }
        }
        Ok(())
    }

    /// The base librdkafka configuration every vardpuls client starts from.
    pub fn client_config(&self) -> ClientConfig {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", &self.bootstrap_servers);
        for (k, v) in &self.options {
            c.set(k, v);
        }
        c
    }

    /// Client settings for consumers: `client_config` plus consumer defaults that `options` may
    /// override. An offset out of range (offset 0 after retention, see
    /// [`BrokerCompatibility::start_of_partition`]) resets to the earliest message. A caught-up consumer's fetch waits at most 50 ms for data (librdkafka's 500 ms
    /// default is a full second end to end over two hops, and some brokers hold a fetch the
    /// whole time).
    pub fn consumer_config(&self) -> ClientConfig {
        let mut c = self.client_config();
        for (key, value) in [("fetch.wait.max.ms", "50"), ("auto.offset.reset", "earliest")] {
            if !self.options.contains_key(key) {
                c.set(key, value);
            }
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_overrides_and_maps_option_names() {
        let mut c = KafkaConfig::default();
        c.apply_env([
            ("VARDPULS_KAFKA_BOOTSTRAP_SERVERS".to_string(), "kafka-1:9093".to_string()),
            ("VARDPULS_KAFKA_OPT_SASL_MECHANISMS".to_string(), "SCRAM-SHA-512".to_string()),
            ("VARDPULS_KAFKA_OPT_SSL_CA_LOCATION".to_string(), "/etc/ca.pem".to_string()),
            ("UNRELATED".to_string(), "x".to_string()),
        ])
        .unwrap();
        assert_eq!(c.bootstrap_servers, "kafka-1:9093");
        assert_eq!(c.options["sasl.mechanisms"], "SCRAM-SHA-512");
        assert_eq!(c.options["ssl.ca.location"], "/etc/ca.pem");
        let cc = c.client_config();
        assert_eq!(cc.get("bootstrap.servers"), Some("kafka-1:9093"));
    }

    #[test]
    fn bad_partition_count_is_an_error_naming_the_variable() {
        let err = KafkaConfig::default()
            .apply_env([("VARDPULS_KAFKA_PARTITIONS".to_string(), "many".to_string())])
            .unwrap_err();
        assert!(err.to_string().contains("VARDPULS_KAFKA_PARTITIONS"));
    }
}
