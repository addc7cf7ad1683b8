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
//! The columns are the contract's own fields, typed from its JSON Schema (`schemas/`); events are
//! serialized into them directly, without JSON text. An event is read back by writing its row as
//! contract JSON and decoding it as if consumed: what comes back is exactly the event that was
//! stored, validated as every input is.

use anyhow::Context;
use datafusion::arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef};
use datafusion::arrow::ipc::CompressionType;
use datafusion::arrow::ipc::reader::FileReader;
use datafusion::arrow::ipc::writer::{FileWriter, IpcWriteOptions};
use datafusion::arrow::json::{LineDelimitedWriter, ReaderBuilder};
use datafusion::arrow::record_batch::RecordBatch;
use serde_json::Value;
use std::fs::{self, File};
use std::io::{BufReader, BufWriter, Write};
use std::path::Path;
use std::sync::{Arc, OnceLock};
use vardpuls_core::Topic;
use vardpuls_core::events::{InputEvent, decode};

/// Rows per record batch in a file: a day's events in a few batches.
const BATCH_ROWS: usize = 65_536;

/// Writes `events` (all of one topic) to `path` (temporary file, synced, renamed). Returns the
/// bytes written.
pub fn write(path: &Path, topic: Topic, events: &[InputEvent]) -> anyhow::Result<u64> {
    let schema = schema_of(topic);
    let tmp = path.with_extension("arrow.tmp");
    {
        let file = File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        let mut out = BufWriter::with_capacity(crate::FILE_BUFFER_BYTES, file);
        let options = IpcWriteOptions::default().try_with_compression(Some(CompressionType::ZSTD))?;
        let mut writer = FileWriter::try_new_with_options(&mut out, &schema, options)?;
        for part in events.chunks(BATCH_ROWS) {
            writer.write(&batch(&schema, part)?)?;
        }
        writer.finish()?;
        drop(writer);
        out.flush()?;
        out.get_ref().sync_all()?;
    }
    fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))?;
    Ok(fs::metadata(path)?.len())
}

/// The events as one record batch: each event's contract fields serialized straight into the
/// columns (no JSON text in between).
fn batch(schema: &SchemaRef, events: &[InputEvent]) -> anyhow::Result<RecordBatch> {
    let mut decoder = ReaderBuilder::new(schema.clone()).with_batch_size(events.len().max(1)).build_decoder()?;
    match events.first() {
        None => {}
        Some(InputEvent::Phone(_)) => decoder.serialize(&rows(events, |e| match e {
            InputEvent::Phone(p) => Some(p),
            _ => None,
        })?)?,
        Some(InputEvent::Visit(_)) => decoder.serialize(&rows(events, |e| match e {
            InputEvent::Visit(v) => Some(&**v),
            _ => None,
        })?)?,
        Some(InputEvent::Listing(_)) => decoder.serialize(&rows(events, |e| match e {
            InputEvent::Listing(l) => Some(l),
            _ => None,
        })?)?,
        Some(InputEvent::Chat(_)) => decoder.serialize(&rows(events, |e| match e {
            InputEvent::Chat(c) => Some(c),
            _ => None,
        })?)?,
    }
    Ok(decoder.flush()?.unwrap_or_else(|| RecordBatch::new_empty(schema.clone())))
}

/// The events of one topic as that topic's contract type (`pick`); one of another topic is a bug.
fn rows<'a, T>(events: &'a [InputEvent], pick: impl Fn(&'a InputEvent) -> Option<&'a T>) -> anyhow::Result<Vec<&'a T>> {
    events
        .iter()
        .map(|e| {
            pick(e).ok_or_else(|| anyhow::anyhow!("a {:?} event among a day's events of another topic", e.topic()))
        })
        .collect()
}

/// The Arrow schema of a topic's events: its JSON Schema contract (`schemas/`), field by field
/// (strings and enumerations as text, integers, booleans, objects as structs; all nullable, as
/// optional fields are).
fn schema_of(topic: Topic) -> SchemaRef {
    static SCHEMAS: OnceLock<Vec<(Topic, SchemaRef)>> = OnceLock::new();
    let all = SCHEMAS.get_or_init(|| {
        Topic::INPUTS
            .iter()
            .map(|t| {
                let contract: Value = serde_json::from_str(contract_of(*t)).expect("contracts are JSON");
                let defs = contract["$defs"].clone();
                (*t, Arc::new(Schema::new(fields(&contract, &defs))))
            })
            .collect()
    });
    all.iter().find(|(t, _)| *t == topic).map(|(_, s)| s.clone()).expect("an input topic")
}

fn contract_of(topic: Topic) -> &'static str {
    match topic {
        Topic::Phone => include_str!("../../../schemas/vardpuls.phone.v1.schema.json"),
        Topic::Visits => include_str!("../../../schemas/vardpuls.visits.v1.schema.json"),
        Topic::Listings => include_str!("../../../schemas/vardpuls.listings.v1.schema.json"),
        Topic::Chats => include_str!("../../../schemas/vardpuls.chats.v1.schema.json"),
        other => panic!("{other} has no event contract"),
    }
}

fn fields(object: &Value, defs: &Value) -> Vec<Field> {
    let Some(properties) = object["properties"].as_object() else { return Vec::new() };
    properties.iter().map(|(name, node)| Field::new(name, arrow_type(node, defs), true)).collect()
}

fn arrow_type(node: &Value, defs: &Value) -> DataType {
    if let Some(name) = node["$ref"].as_str().and_then(|r| r.strip_prefix("#/$defs/")) {
        return arrow_type(&defs[name], defs);
    }
    if node.get("const").is_some_and(Value::is_i64) {
        return DataType::Int64;
    }
    let types: Vec<&str> = match &node["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    match types.into_iter().find(|t| *t != "null") {
        Some("integer") => DataType::Int64,
        Some("boolean") => DataType::Boolean,
        Some("number") => DataType::Float64,
        Some("object") => DataType::Struct(Fields::from(fields(node, defs))),
        // Strings, enumerations of strings, and anything else the contract spells as text.
        _ => DataType::Utf8,
    }
}

/// The events stored in `path`, in the order written.
pub fn read(path: &Path, topic: Topic) -> anyhow::Result<Vec<InputEvent>> {
    let file =
        File::open(path).with_context(|| format!("the checkpoint lists {}, but it is missing", path.display()))?;
    let reader = FileReader::try_new(BufReader::with_capacity(crate::FILE_BUFFER_BYTES, file), None)
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
            write(&path, topic, &events).unwrap();
            assert_eq!(read(&path, topic).unwrap(), events, "{topic}");
        }
        let empty = dir.join("empty.arrow");
        write(&empty, Topic::Chats, &[]).unwrap();
        assert!(read(&empty, Topic::Chats).unwrap().is_empty());
        fs::remove_dir_all(&dir).unwrap();
    }
}
