//! `vardpuls import`: files into input topics, with a progress bar and a summary.

use crate::configuration::Config;
use prometheus::Registry;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use vardpuls_core::Topic;
use vardpuls_ingest::Ingestor;
use vardpuls_ingest::import::{Layout, Mapping, Summary, import_file};
use vardpuls_ingest::metrics::IngestMetrics;

#[derive(clap::Args)]
pub struct Args {
    /// Input topic of contract events: phone, visits, listings or chats.
    #[arg(long, required_unless_present = "mapping", conflicts_with = "mapping")]
    topic: Option<Topic>,
    /// A mapping file (TOML) for a source's own export, CSV or Parquet; it names the topic
    /// (docs/import.md).
    #[arg(long)]
    mapping: Option<PathBuf>,
    /// File format of contract events; by default from the extension (`.csv` is CSV, anything
    /// else NDJSON).
    #[arg(long, value_parser = ["ndjson", "csv"], conflicts_with = "mapping")]
    format: Option<String>,
    /// Validate and summarise only, showing the first events; produce nothing.
    #[arg(long)]
    dry_run: bool,
    /// Exit with status 2 when any record was rejected.
    #[arg(long)]
    fail_on_reject: bool,
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

pub async fn run(config: Config, args: Args) -> anyhow::Result<ExitCode> {
    let mapping = match &args.mapping {
        Some(path) => Some(Arc::new(Mapping::load(path)?)),
        None => None,
    };
    let layout_of = |file: &PathBuf| match (&mapping, args.topic) {
        (Some(m), _) => Layout::Mapped(Arc::clone(m)),
        (None, Some(topic)) => match args.format.as_deref() {
            Some("csv") => Layout::ContractCsv(topic),
            Some(_) => Layout::Ndjson(topic),
            None => Layout::detect(topic, file),
        },
        (None, None) => unreachable!("clap requires --topic or --mapping"),
    };
    // Every file's header is checked against the mapping before anything is produced.
    for file in &args.files {
        layout_of(file).check(file)?;
    }
    let ingestor = if args.dry_run {
        Ingestor::dry_run()
    } else {
        super::require_kafka(&config.kafka)?;
        let producer = vardpuls_kafka::EventProducer::new(&config.kafka)?;
        Ingestor::new(producer, Some(IngestMetrics::register(&Registry::new())?))
    };
    let progress = std::io::stderr().is_terminal();
    let mut total: Option<Summary> = None;
    for file in &args.files {
        let summary = import_file(&ingestor, &layout_of(file), file, progress).await?;
        if args.files.len() > 1 {
            println!("== {}\n{summary}\n", file.display());
        }
        match &mut total {
            Some(t) => t.merge(&summary),
            None => total = Some(summary),
        }
    }
    let total = total.expect("at least one file");
    if args.dry_run {
        println!("(dry run: nothing produced)");
        if !total.preview.is_empty() {
            println!("first events:");
            for event in &total.preview {
                println!("  {event}");
            }
        }
    }
    println!("{total}");
    Ok(if total.delivery_failed > 0 {
        ExitCode::FAILURE
    } else if args.fail_on_reject && total.rejected > 0 {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}
