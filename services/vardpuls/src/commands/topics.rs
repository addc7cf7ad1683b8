//! `vardpuls topics`: create missing topics.

use crate::configuration::Config;
use std::process::ExitCode;

pub async fn run(config: Config) -> anyhow::Result<ExitCode> {
    super::require_kafka(&config.kafka)?;
    vardpuls_kafka::admin::ensure_topics(&config.kafka).await?;
    println!("topics present on {}", config.kafka.bootstrap_servers);
    Ok(ExitCode::SUCCESS)
}
