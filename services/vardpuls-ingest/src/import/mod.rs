//! `vardpuls import`: files exported by telephony systems, journal systems and data warehouses
//! into Kafka.
//!
//! A file is read one of three ways ([`Layout`]): contract events as NDJSON, contract fields as
//! CSV columns, or a source's own export (CSV in any encoding and separator, or Parquet)
//! through a mapping file. Every record is validated; valid events go to their topic, invalid
//! records to the dead-letter topic with their reason and file position. Re-running an import
//! is safe: events keep their `event_id` (derived from the row for sources without ids), and
//! vardpuls counts an event id once. This is also how a region backfills history.

mod cells;
mod contract_csv;
pub mod mapping;
mod ndjson;
mod summary;
pub mod tables;

pub use contract_csv::{CsvMapping, mapping_for};
pub use mapping::Mapping;
pub use summary::Summary;

use crate::pipeline::{Ingestor, Routed};
use anyhow::Context;
use futures::stream::{FuturesUnordered, StreamExt};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;
use tables::{CsvTable, ParquetTable, RowRead, Table};
use vardpuls_core::dlq::Source;
use vardpuls_core::events::InputEvent;
use vardpuls_core::{Rejection, Topic};

/// How a file is read.
#[derive(Debug, Clone)]
pub enum Layout {
    /// Contract events, one JSON document per line.
    Ndjson(Topic),
    /// Contract fields as CSV columns (docs/import.md).
    ContractCsv(Topic),
    /// A source's own export through a mapping file: Parquet by the `.parquet` extension,
    /// otherwise CSV as the mapping lays it out.
    Mapped(Arc<Mapping>),
}

impl Layout {
    /// Without a mapping, from the file name: `.csv` is contract CSV, anything else NDJSON.
    pub fn detect(topic: Topic, path: &Path) -> Layout {
        if has_extension(path, "csv") { Layout::ContractCsv(topic) } else { Layout::Ndjson(topic) }
    }

    pub fn topic(&self) -> Topic {
        match self {
            Layout::Ndjson(t) | Layout::ContractCsv(t) => *t,
            Layout::Mapped(m) => m.topic,
        }
    }

    /// Checks that a mapping fits the file's header, before anything is produced.
    pub fn check(&self, path: &Path) -> anyhow::Result<()> {
        if let Layout::Mapped(mapping) = self {
            let table = open_table(mapping, path, &ProgressBar::hidden())?;
            mapping.bind(table.header(), table.decimal_mark()).with_context(|| format!("{}", path.display()))?;
        }
        Ok(())
    }
}

fn has_extension(path: &Path, ext: &str) -> bool {
    path.extension().and_then(|e| e.to_str()).is_some_and(|e| e.eq_ignore_ascii_case(ext))
}

/// Opens an export as a table; CSV reading advances `bar` by bytes (Parquet reads by row
/// group, so its bar shows the record count only).
fn open_table(mapping: &Mapping, path: &Path, bar: &ProgressBar) -> anyhow::Result<Box<dyn Table>> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    Ok(if has_extension(path, "parquet") {
        Box::new(ParquetTable::open(file).with_context(|| format!("{}", path.display()))?)
    } else {
        Box::new(CsvTable::open(bar.wrap_read(file), &mapping.csv).with_context(|| format!("{}", path.display()))?)
    })
}

/// One record read from a file.
pub(crate) enum RawRecord {
    /// A JSON document to validate against the topic's contract.
    Json { line: u64, bytes: Vec<u8> },
    /// A mapped row: the events it implies, already valid (none for a blank row).
    Events { events: Vec<InputEvent> },
    /// A record refused before it became an event, with the export's column when known.
    Refused { line: u64, raw: Vec<u8>, reason: Rejection, column: Option<String> },
}

/// Deliveries awaited at once; bounds memory while keeping the producer's batches full.
const MAX_IN_FLIGHT: usize = 20_000;

/// Records handed from the reading thread to the producing task at once.
const HAND_OVER_RECORDS: usize = 256;

/// Mapped events kept for `--dry-run` to print.
const PREVIEW_EVENTS: usize = 5;

/// Imports `path` as `layout` says. Returns the counts; delivery failures are counted, not hidden.
pub async fn import_file(ingestor: &Ingestor, layout: &Layout, path: &Path, progress: bool) -> anyhow::Result<Summary> {
    let topic = layout.topic();
    if !topic.is_input() {
        anyhow::bail!("{topic} is not an input topic; import into phone, visits, listings or chats");
    }
    let size = std::fs::metadata(path).with_context(|| format!("reading {}", path.display()))?.len();
    let bar = progress_bar(path, if progress { Some(size) } else { None });

    // The file is read, mapped and validated on a blocking thread and handed over through a
    // bounded channel, in batches: a hand-over per record cost a quarter of a mapped import's
    // time in thread wake-ups (docs/performance.md). This task only produces.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<RawRecord>>(16);
    let reader_path: PathBuf = path.to_path_buf();
    let reader_bar = bar.clone();
    let reader_layout = layout.clone();
    let reader = tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        let mut batch = Vec::with_capacity(HAND_OVER_RECORDS);
        let mut open = true;
        let send = |r| {
            batch.push(r);
            if batch.len() >= HAND_OVER_RECORDS {
                open = tx.blocking_send(std::mem::replace(&mut batch, Vec::with_capacity(HAND_OVER_RECORDS))).is_ok();
            }
            open
        };
        let file = || std::fs::File::open(&reader_path).with_context(|| format!("opening {}", reader_path.display()));
        let read = match &reader_layout {
            Layout::Ndjson(_) => ndjson::read(reader_bar.wrap_read(file()?), send),
            Layout::ContractCsv(topic) => contract_csv::read(reader_bar.wrap_read(file()?), mapping_for(*topic), send),
            Layout::Mapped(mapping) => {
                let mut table = open_table(mapping, &reader_path, &reader_bar)?;
                read_mapped(table.as_mut(), mapping, send)
            }
        };
        if !batch.is_empty() {
            let _ = tx.blocking_send(batch);
        }
        read
    });

    let started = Instant::now();
    let file_name = path.display().to_string();
    let source = |line, column| Source::File { path: file_name.clone(), line, column };
    let mut summary = Summary::new(topic);
    let mut in_flight = FuturesUnordered::new();
    while let Some(batch) = rx.recv().await {
        for record in batch {
            route_one(ingestor, topic, record, &source, &mut summary, &mut in_flight).await;
        }
        bar.set_message(summary.progress_message());
    }
    while let Some(result) = in_flight.next().await {
        summary.delivered(result);
    }
    reader.await.context("file reader panicked")??;
    summary.elapsed = started.elapsed();
    bar.finish_and_clear();
    Ok(summary)
}

type Deliveries = FuturesUnordered<futures::future::BoxFuture<'static, Result<(), rdkafka::error::KafkaError>>>;

/// Produces one record's events or its dead letter, counting it; waits for deliveries when
/// `MAX_IN_FLIGHT` are outstanding.
async fn route_one(
    ingestor: &Ingestor,
    topic: Topic,
    record: RawRecord,
    source: &impl Fn(u64, Option<String>) -> Source,
    summary: &mut Summary,
    in_flight: &mut Deliveries,
) {
    let routed: Vec<Routed> = match record {
        RawRecord::Json { line, bytes } => vec![ingestor.route(topic, &bytes, source(line, None))],
        RawRecord::Events { events, .. } => {
            for event in events.iter().take(PREVIEW_EVENTS.saturating_sub(summary.preview.len())) {
                summary.preview.push(String::from_utf8_lossy(&event.to_json()).into_owned());
            }
            events.iter().map(|e| ingestor.produce(e)).collect()
        }
        RawRecord::Refused { line, raw, reason, column } => {
            vec![ingestor.reject(topic, &raw, source(line, column), reason)]
        }
    };
    summary.row_read();
    for r in routed {
        summary.count(&r.outcome);
        in_flight.push(r.delivery);
    }
    while in_flight.len() >= MAX_IN_FLIGHT
        && let Some(result) = in_flight.next().await
    {
        summary.delivered(result);
    }
}

/// Reads a table through a mapping: binds it to the header (failing before any row is sent),
/// then sends each row's events, or the row refused.
fn read_mapped(
    table: &mut dyn Table,
    mapping: &Arc<Mapping>,
    mut emit: impl FnMut(RawRecord) -> bool,
) -> anyhow::Result<()> {
    let bound = mapping.bind(table.header(), table.decimal_mark())?;
    let mut row = csv::StringRecord::new();
    while let Some(read) = table.next_row(&mut row)? {
        let record = match map_row(&bound, read, &row, mapping.csv.separator).1 {
            Ok(events) => RawRecord::Events { events },
            Err(RefusedRow { line, raw, reason, column }) => RawRecord::Refused { line, raw, reason, column },
        };
        if !emit(record) {
            break;
        }
    }
    Ok(())
}

/// A mapped row that did not become events, as it goes to the DLQ.
pub(crate) struct RefusedRow {
    pub line: u64,
    /// The row as CSV in UTF-8 (or its bytes, when they are not text).
    pub raw: Vec<u8>,
    pub reason: Rejection,
    pub column: Option<String>,
}

/// One row read from a table through its bound mapping: its line, and its events or why it is
/// refused. File import and pushed exports both take rows this way.
pub(crate) fn map_row(
    bound: &mapping::BoundMapping,
    read: RowRead,
    cells: &csv::StringRecord,
    separator: u8,
) -> (u64, Result<Vec<InputEvent>, RefusedRow>) {
    match read {
        RowRead::Row { line } => (
            line,
            bound.events(cells).map_err(|refusal| RefusedRow {
                line,
                raw: cells::as_csv(cells, separator),
                reason: refusal.reason,
                column: refusal.column,
            }),
        ),
        RowRead::NotText { line, raw } => (
            line,
            Err(RefusedRow {
                line,
                raw,
                reason: Rejection::whole(vardpuls_core::rejection::Rule::NotUtf8, "the row is not UTF-8"),
                column: None,
            }),
        ),
    }
}

fn progress_bar(path: &Path, size: Option<u64>) -> ProgressBar {
    let bar = match size {
        Some(size) => ProgressBar::new(size),
        None => ProgressBar::hidden(),
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{prefix} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}, eta {eta}) {msg}",
        )
        .expect("static template"),
    );
    bar.set_prefix(path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default());
    bar
}
