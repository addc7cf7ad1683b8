//! `vardpuls import`: files into input topics, with a progress bar and a summary.

use crate::configuration::Config;
use prometheus::Registry;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use vardpuls_core::Topic;
use vardpuls_ingest::Ingestor;
use vardpuls_ingest::import::{Format, Summary, import_file};
use vardpuls_ingest::metrics::IngestMetrics;

#[derive(clap::Args)]
pub struct Args {
    /// Input topic: phone, visits, listings or chats.
    #[arg(long)]
    topic: Topic,
    /// File format; by default from the extension (`.csv` is CSV, anything else NDJSON).
    #[arg(long, value_parser = ["ndjson", "csv"])]
    format: Option<String>,
    /// Validate and summarise only; produce nothing.
    #[arg(long)]
    dry_run: bool,
    /// Exit with status 2 when any record was rejected.
    #[arg(long)]
    fail_on_reject: bool,
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

pub async fn run(config: Config, args: Args) -> anyhow::Result<ExitCode> {
    let ingestor = if args.dry_run {
        Ingestor::dry_run()
    } else {
        super::require_kafka(&config.kafka)?;
        let producer = vardpuls_kafka::EventProducer::new(&config.kafka)?;
        Ingestor::new(producer, Some(IngestMetrics::register(&Registry::new())?))
    };
    let progress = std::io::stderr().is_terminal();
    let mut total = Summary::new(args.topic);
    for file in &args.files {
        let format = match args.format.as_deref() {
            Some("csv") => Format::Csv,
            Some(_) => Format::Ndjson,
            None => Format::detect(file),
        };
        let summary = import_file(&ingestor, args.topic, file, format, progress).await?;
        if args.files.len() > 1 {
            println!("== {}\n{summary}\n", file.display());
        }
        total.merge(&summary);
    }
    println!("{}{total}", if args.dry_run { "(dry run: nothing produced)\n" } else { "" });
    Ok(if total.delivery_failed > 0 {
        ExitCode::FAILURE
    } else if args.fail_on_reject && total.rejected > 0 {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}
