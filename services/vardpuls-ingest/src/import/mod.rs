//! `vardpuls import`: files exported by telephony systems and data warehouses into Kafka.
//!
//! Every record is validated; valid ones go to their topic, invalid ones to the dead-letter
//! topic with their reason and file position. Re-running an import is safe: records keep their
//! `event_id`, and vardpuls counts an event id once. This is also how a region backfills
//! history.

mod csv_mapping;
mod ndjson;
mod summary;

pub use csv_mapping::{CsvMapping, mapping_for};
pub use summary::Summary;

use crate::pipeline::Ingestor;
use anyhow::Context;
use futures::stream::{FuturesUnordered, StreamExt};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::{Path, PathBuf};
use std::time::Instant;
use vardpuls_core::dlq::Source;
use vardpuls_core::{Rejection, Topic};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Ndjson,
    Csv,
}

impl Format {
    /// From the file name: `.csv` is CSV, anything else NDJSON.
    pub fn detect(path: &Path) -> Format {
        match path.extension().and_then(|e| e.to_str()) {
            Some(ext) if ext.eq_ignore_ascii_case("csv") => Format::Csv,
            _ => Format::Ndjson,
        }
    }
}

/// One record read from a file, before validation.
pub(crate) enum RawRecord {
    /// A JSON document to validate against the topic's contract.
    Json { line: u64, bytes: Vec<u8> },
    /// A record refused by the file format itself (a CSV row with the wrong number of fields).
    Refused { line: u64, raw: Vec<u8>, reason: Rejection },
}

/// Deliveries awaited at once; bounds memory while keeping the producer's batches full.
const MAX_IN_FLIGHT: usize = 20_000;

/// Imports `path` into `topic`. Returns the counts; delivery failures are counted, not hidden.
pub async fn import_file(
    ingestor: &Ingestor,
    topic: Topic,
    path: &Path,
    format: Format,
    progress: bool,
) -> anyhow::Result<Summary> {
    if !topic.is_input() {
        anyhow::bail!("{topic} is not an input topic; import into phone, visits, listings or chats");
    }
    let size = std::fs::metadata(path).with_context(|| format!("reading {}", path.display()))?.len();
    let bar = if progress { ProgressBar::new(size) } else { ProgressBar::hidden() };
    bar.set_style(
        ProgressStyle::with_template(
            "{prefix} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}, eta {eta}) {msg}",
        )
        .expect("static template"),
    );
    bar.set_prefix(path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default());

    // The file is read on a blocking thread and handed over through a bounded channel.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<RawRecord>(4096);
    let reader_path: PathBuf = path.to_path_buf();
    let reader_bar = bar.clone();
    let reader = tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        let file = std::fs::File::open(&reader_path).with_context(|| format!("opening {}", reader_path.display()))?;
        let input = reader_bar.wrap_read(file);
        match format {
            Format::Ndjson => ndjson::read(input, |r| tx.blocking_send(r).is_ok()),
            Format::Csv => csv_mapping::read(input, mapping_for(topic), |r| tx.blocking_send(r).is_ok()),
        }
    });

    let started = Instant::now();
    let file_name = path.display().to_string();
    let mut summary = Summary::new(topic);
    let mut in_flight = FuturesUnordered::new();
    while let Some(record) = rx.recv().await {
        let routed = match record {
            RawRecord::Json { line, bytes } => {
                ingestor.route(topic, &bytes, Source::File { path: file_name.clone(), line })
            }
            RawRecord::Refused { line, raw, reason } => {
                ingestor.reject(topic, &raw, Source::File { path: file_name.clone(), line }, reason)
            }
        };
        summary.record(&routed.outcome);
        in_flight.push(routed.delivery);
        if in_flight.len() >= MAX_IN_FLIGHT
            && let Some(result) = in_flight.next().await
        {
            summary.delivered(result);
        }
        if summary.read.is_multiple_of(1000) {
            bar.set_message(summary.progress_message());
        }
    }
    while let Some(result) = in_flight.next().await {
        summary.delivered(result);
    }
    reader.await.context("file reader panicked")??;
    summary.elapsed = started.elapsed();
    bar.finish_and_clear();
    Ok(summary)
}
