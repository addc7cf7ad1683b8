//! What contract CSV and mapped exports share about cells and rows: a yes/no cell, a dotted
//! field set in an event, and a row written back as CSV for its dead letter.

use serde_json::{Map, Value};

/// `true`/`false`/`1`/`0`, any case.
pub(crate) fn parse_bool(cell: &str) -> Option<bool> {
    match cell.to_ascii_lowercase().as_str() {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => None,
    }
}

/// Sets `assessment.first_contact_at` in `event`, making the nested object as needed.
pub(crate) fn insert(event: &mut Map<String, Value>, field: &str, value: Value) {
    match field.split_once('.') {
        None => {
            event.insert(field.to_string(), value);
        }
        Some((parent, rest)) => {
            if let Value::Object(child) = event.entry(parent.to_string()).or_insert_with(|| Value::Object(Map::new())) {
                insert(child, rest, value);
            }
        }
    }
}

/// A refused row as it goes to the DLQ: its cells as CSV with the file's separator.
pub(crate) fn as_csv<T: AsRef<[u8]>>(cells: impl IntoIterator<Item = T>, separator: u8) -> Vec<u8> {
    let mut writer = csv::WriterBuilder::new().delimiter(separator).flexible(true).from_writer(Vec::new());
    let _ = writer.write_record(cells);
    writer.into_inner().unwrap_or_default()
}
