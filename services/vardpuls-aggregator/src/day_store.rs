//! The day store: the events of a closed day, on disk, so that a late event can reopen the day
//! and the day be computed again from all its events (see `Shard::reopen`).
//!
//! One file per shard and day, `<partition>.days/<day>.arrow`: an Arrow IPC file of the day's
//! events, one column per contract field (nested objects as structs), buffers compressed with
//! zstd. Written whole when the day closes (again, when a restatement closes it again), read
//! only when late data touches the day.
//!
//! Why Arrow IPC rather than Parquet: it is already in the build (DataFusion's `arrow`), a file
//! is written once and read rarely and whole, and the columns come back as Arrow arrays without
//! decoding pages. Parquet would compress a little better with its encodings, at the price of
//! another large dependency. Columnar with zstd, a day of phone events takes about a tenth of
//! its contract JSON (measured in docs/performance.md).
//!
//! The columns are the contract's own fields, inferred from the day's events, and an event is
//! read back by writing its row as contract JSON and decoding it as if consumed: what comes back
//! is exactly the event that was stored, validated as every input is.

use anyhow::Context;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::ipc::CompressionType;
use datafusion::arrow::ipc::reader::FileReader;
use datafusion::arrow::ipc::writer::{FileWriter, IpcWriteOptions};
use datafusion::arrow::json::reader::infer_json_schema;
use datafusion::arrow::json::{LineDelimitedWriter, ReaderBuilder};
use std::fs::{self, File};
use std::io::{BufReader, BufWriter, Cursor, Write};
use std::path::Path;
use std::sync::Arc;
use vardpuls_core::Topic;
use vardpuls_core::events::{InputEvent, decode};

/// Rows per record batch in a file: a day's events in a few batches.
const BATCH_ROWS: usize = 65_536;

/// Writes `events` to `path` (temporary file, synced, renamed). Returns the bytes written.
pub fn write(path: &Path, events: &[InputEvent]) -> anyhow::Result<u64> {
    let mut lines = Vec::with_capacity(events.len() * 256);
    for event in events {
        event.write_json(&mut lines);
        lines.push(b'\n');
    }
    let tmp = path.with_extension("arrow.tmp");
    {
        let file = File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        let schema: SchemaRef = if events.is_empty() {
            Arc::new(datafusion::arrow::datatypes::Schema::empty())
        } else {
            Arc::new(infer_json_schema(Cursor::new(&lines), None)?.0)
        };
        let options = IpcWriteOptions::default().try_with_compression(Some(CompressionType::ZSTD))?;
        let mut writer = FileWriter::try_new_with_options(&mut out, &schema, options)?;
        if !events.is_empty() {
            let reader = ReaderBuilder::new(schema.clone()).with_batch_size(BATCH_ROWS).build(Cursor::new(&lines))?;
            for batch in reader {
                writer.write(&batch?)?;
            }
        }
        writer.finish()?;
        drop(writer);
        out.flush()?;
        out.get_ref().sync_all()?;
    }
    fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))?;
    Ok(fs::metadata(path)?.len())
}

/// The events stored in `path`, in the order written.
pub fn read(path: &Path, topic: Topic) -> anyhow::Result<Vec<InputEvent>> {
    let file =
        File::open(path).with_context(|| format!("the checkpoint lists {}, but it is missing", path.display()))?;
    let reader = FileReader::try_new(BufReader::with_capacity(1 << 20, file), None)
        .with_context(|| format!("reading {}", path.display()))?;
    let mut events = Vec::new();
    for batch in reader {
        let batch = batch.with_context(|| format!("reading {}", path.display()))?;
        let mut lines = Vec::with_capacity(batch.num_rows() * 256);
        let mut writer = LineDelimitedWriter::new(&mut lines);
        writer.write(&batch)?;
        writer.finish()?;
        drop(writer);
        for line in lines.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            let event = decode(topic, line)
                .map_err(|e| anyhow::anyhow!("{}: a stored event no longer decodes: {e:?}", path.display()))?;
            events.push(event);
        }
    }
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn examples(topic: Topic) -> Vec<InputEvent> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schemas/examples").join(topic.name()).join("valid");
        let mut paths: Vec<_> = fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
        paths.sort();
        paths.iter().map(|p| decode(topic, &fs::read(p).unwrap()).unwrap()).collect()
    }

    #[test]
    fn every_valid_example_comes_back_as_the_same_event() {
        let dir = std::env::temp_dir().join(format!("vardpuls-day-store-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        for topic in Topic::INPUTS {
            let events = examples(topic);
            assert!(!events.is_empty(), "{topic} has valid examples");
            let path = dir.join(format!("{}.arrow", topic.short_name()));
            write(&path, &events).unwrap();
            assert_eq!(read(&path, topic).unwrap(), events, "{topic}");
        }
        let empty = dir.join("empty.arrow");
        write(&empty, &[]).unwrap();
        assert!(read(&empty, Topic::Chats).unwrap().is_empty());
        fs::remove_dir_all(&dir).unwrap();
    }
}
