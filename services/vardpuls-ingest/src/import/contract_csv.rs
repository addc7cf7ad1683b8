//! CSV whose columns are the contract's fields: one documented column layout per topic
//! (docs/import.md). Sources with their own layout use a mapping file (`mapping`). A row becomes the topic's JSON event and is then
//! validated like any other input, so CSV and JSON refuse exactly the same things.
//!
//! Empty cells are absent fields. `schema_version` is implied by the CSV layout (version 1).
//! Nested fields are flattened with an underscore: `assessment_first_contact_at`.

use super::RawRecord;
use super::cells::{as_csv, insert, parse_bool};
use serde_json::{Map, Value};
use std::io::Read;
use vardpuls_core::Topic;
use vardpuls_core::rejection::{Rejection, Rule};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CellType {
    Text,
    Bool,
    Integer,
}

/// One CSV column and where it goes in the event.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub name: &'static str,
    /// The contract's field, nested ones dotted: `assessment.first_contact_at`.
    pub field: &'static str,
    pub cell: CellType,
}

const fn col(name: &'static str, field: &'static str, cell: CellType) -> Column {
    Column { name, field, cell }
}

use CellType::{Bool, Integer, Text};

macro_rules! envelope_columns {
    ($($rest:expr),* $(,)?) => {
        &[
            col("event_id", "event_id", Text),
            col("event_type", "event_type", Text),
            col("occurred_at", "occurred_at", Text),
            col("unit_id", "unit_id", Text),
            $($rest),*
        ]
    };
}

pub type CsvMapping = &'static [Column];

const PHONE: CsvMapping = envelope_columns![
    col("call_id", "call_id", Text),
    col("line", "line", Text),
    col("in_phone_hours", "in_phone_hours", Bool),
    col("queue_wait_seconds", "queue_wait_seconds", Integer),
    col("reached", "reached", Bool),
];

const VISITS: CsvMapping = envelope_columns![
    col("visit_id", "visit_id", Text),
    col("recorded_at", "recorded_at", Text),
    col("patient_ref", "patient_ref", Text),
    col("profession", "profession", Text),
    col("contact_form", "contact_form", Text),
    col("listed_unit_id", "listed_unit_id", Text),
    col("assessment_first_contact_at", "assessment.first_contact_at", Text),
    col("assessment_patient_chosen_wait", "assessment.patient_chosen_wait", Bool),
    col("out_of_county_provider", "out_of_county.provider", Text),
    col("out_of_county_home_region", "out_of_county.home_region", Text),
    col("out_of_county_contracting_region", "out_of_county.contracting_region", Text),
    col("out_of_county_price_sek", "out_of_county.price_sek", Text),
    col("out_of_county_patient_fee_sek", "out_of_county.patient_fee_sek", Text),
];

const LISTINGS: CsvMapping = envelope_columns![
    col("patient_ref", "patient_ref", Text),
    col("kommun_code", "kommun_code", Text),
    col("channel", "channel", Text),
    col("listed_count", "listed_count", Integer),
];

const CHATS: CsvMapping = envelope_columns![
    col("chat_id", "chat_id", Text),
    col("recorded_at", "recorded_at", Text),
    col("channel", "channel", Text),
];

/// The CSV mapping of an input topic.
pub fn mapping_for(topic: Topic) -> CsvMapping {
    match topic {
        Topic::Phone => PHONE,
        Topic::Visits => VISITS,
        Topic::Listings => LISTINGS,
        Topic::Chats => CHATS,
        other => panic!("{other} has no CSV mapping"),
    }
}

/// Reads a CSV file with a header row. An unknown column fails the whole file (a mapping
/// mistake should be fixed, not dead-lettered row by row); row-level problems are refused per row.
pub(crate) fn read(
    input: impl Read,
    mapping: CsvMapping,
    mut emit: impl FnMut(RawRecord) -> bool,
) -> anyhow::Result<()> {
    let (input, mut lines) = super::tables::lines::counted(input);
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(input);
    let header = reader.byte_headers()?.clone();
    let mut columns = Vec::with_capacity(header.len());
    for name in header.iter() {
        let name = String::from_utf8_lossy(name);
        let name = name.trim().trim_start_matches('\u{feff}');
        let column = mapping.iter().find(|c| c.name == name).ok_or_else(|| {
            let known: Vec<_> = mapping.iter().map(|c| c.name).collect();
            anyhow::anyhow!("unknown CSV column `{name}`; this topic's columns are: {}", known.join(", "))
        })?;
        columns.push(column);
    }
    let mut row = csv::ByteRecord::new();
    loop {
        match reader.read_byte_record(&mut row) {
            Ok(false) => return Ok(()),
            Ok(true) => {}
            Err(e) => anyhow::bail!("CSV cannot be read past this point: {e}"),
        }
        let line = lines.line_of(row.position().map(|p| p.byte()).unwrap_or(0));
        let record = match to_json(&columns, &row) {
            Ok(bytes) => RawRecord::Json { line, bytes },
            Err(reason) => RawRecord::Refused { line, raw: as_csv(&row, b','), reason, column: None },
        };
        if !emit(record) {
            return Ok(());
        }
    }
}

fn to_json(columns: &[&Column], row: &csv::ByteRecord) -> Result<Vec<u8>, Rejection> {
    if row.len() != columns.len() {
        return Err(Rejection::whole(
            Rule::CsvFormat,
            format!("row has {} fields; the header has {}", row.len(), columns.len()),
        ));
    }
    let mut event = Map::new();
    event.insert("schema_version".into(), Value::from(1));
    for (column, cell) in columns.iter().zip(row.iter()) {
        let text = std::str::from_utf8(cell)
            .map_err(|_| Rejection::new(column.field, Rule::NotUtf8, format!("column {} is not UTF-8", column.name)))?;
        if text.is_empty() {
            continue;
        }
        insert(&mut event, column.field, cell_value(column.cell, text));
    }
    Ok(serde_json::to_vec(&Value::Object(event)).expect("JSON values serialize"))
}

/// Typed cells that do not parse stay strings, so validation names the field and the rule.
fn cell_value(cell: CellType, text: &str) -> Value {
    match cell {
        Text => Value::from(text),
        Bool => parse_bool(text).map(Value::from).unwrap_or_else(|| Value::from(text)),
        Integer => text.parse::<i64>().map(Value::from).unwrap_or_else(|_| Value::from(text)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(topic: Topic, csv: &str) -> Vec<RawRecord> {
        let mut out = Vec::new();
        read(csv.as_bytes(), mapping_for(topic), |r| {
            out.push(r);
            true
        })
        .unwrap();
        out
    }

    #[test]
    fn builds_nested_fields_and_typed_cells() {
        let csv = "event_id,event_type,occurred_at,unit_id,visit_id,patient_ref,profession,contact_form,assessment_first_contact_at,assessment_patient_chosen_wait\n\
                   0b5c6a3e-8f1d-4c2a-9e7b-000000000011,visit_completed,2026-03-08T10:30:00+01:00,SE2321000180-E00101,v1,p1,doctor,physical,2026-03-05T09:12:00+01:00,false\n";
        let records = rows(Topic::Visits, csv);
        let RawRecord::Json { line, bytes } = &records[0] else { panic!("refused") };
        assert_eq!(*line, 2);
        let event = vardpuls_core::events::decode(Topic::Visits, bytes).unwrap();
        let vardpuls_core::events::InputEvent::Visit(v) = event else { panic!() };
        assert!(!v.assessment.unwrap().patient_chosen_wait);
    }

    #[test]
    fn short_rows_are_refused_with_csv_format() {
        let csv = "event_id,event_type,occurred_at,unit_id,chat_id,channel\na,b\n";
        let records = rows(Topic::Chats, csv);
        let RawRecord::Refused { reason, raw, .. } = &records[0] else { panic!("accepted") };
        assert_eq!(reason.rule, Rule::CsvFormat);
        assert_eq!(raw, b"a,b\n");
    }

    #[test]
    fn unknown_columns_fail_the_file() {
        let err = read("event_id,caller_number\n".as_bytes(), mapping_for(Topic::Phone), |_| true).unwrap_err();
        assert!(err.to_string().contains("caller_number"));
    }
}
