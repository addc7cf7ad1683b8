//! `vardpuls tail --topic dlq`: print a topic's records (one JSON document per line).

use crate::configuration::Config;
use std::process::ExitCode;
use std::time::Duration;
use vardpuls_core::Topic;

#[derive(clap::Args)]
pub struct Args {
    /// Topic, short (`dlq`, `phone`) or full (`vardpuls.dlq.v1`) name.
    #[arg(long)]
    topic: Topic,
}

pub fn run(config: Config, args: Args) -> anyhow::Result<ExitCode> {
    super::require_kafka(&config.kafka)?;
    for record in vardpuls_kafka::reader::read_to_end(&config.kafka, args.topic, Duration::from_secs(60))? {
        println!("{}", String::from_utf8_lossy(&record.payload));
    }
    Ok(ExitCode::SUCCESS)
}
