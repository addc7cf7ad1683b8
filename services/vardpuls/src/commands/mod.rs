//! One module per subcommand.

pub mod aggregate_files;
pub mod import;
pub mod measure_latency;
pub mod measure_restatement;
pub mod probe;
pub mod rules;
pub mod run;
pub mod simulate;
pub mod tail;
pub mod topics;

use vardpuls_kafka::KafkaConfig;

/// Commands other than `run` need a broker that outlives them.
pub(crate) fn require_kafka(config: &KafkaConfig) -> anyhow::Result<()> {
    anyhow::ensure!(
        !config.bootstrap_servers.is_empty(),
        "no Kafka configured: set VARDPULS_KAFKA_BOOTSTRAP_SERVERS (for `make run`'s local broker: 127.0.0.1:9092) or [kafka] bootstrap_servers"
    );
    Ok(())
}

/// The first two UUID groups of a measurement's event ids, from the clock: ids differ between
/// runs against one broker.
pub(crate) fn run_id() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("{:08x}-{:04x}", (nanos >> 16) as u32, (nanos & 0xffff) as u16)
}
