//! The mapping file as written (TOML), before it is checked against the contract. Every key is
//! documented in docs/import.md; unknown keys are errors, so a misspelt option is never ignored.

use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappingFile {
    /// The exporting system's name: part of every derived event id, so two systems' row keys
    /// never collide.
    pub source: String,
    /// The input topic the events go to: phone, visits, listings or chats.
    pub topic: String,
    /// The columns that identify a row (call id; visit id): with the event type, they derive
    /// the event id of sources without one.
    #[serde(default)]
    pub key: Vec<String>,
    #[serde(default)]
    pub csv: CsvSection,
    #[serde(default)]
    pub time: TimeSection,
    /// Named value maps: `[values.ja_nej]` with `Ja = true`, `Nej = false`.
    #[serde(default)]
    pub values: BTreeMap<String, BTreeMap<String, toml::Value>>,
    /// Fields every event of a row gets (unit, call id, line).
    #[serde(default)]
    pub fields: BTreeMap<String, FieldSource>,
    /// The events one row implies; an event is made only when its `occurred_at` cell is filled.
    pub events: Vec<EventSection>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CsvSection {
    pub separator: Option<String>,
    pub quote: Option<String>,
    pub decimal_mark: Option<String>,
    pub encoding: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeSection {
    pub zone: Option<String>,
    #[serde(default)]
    pub formats: Vec<String>,
    /// A local time in the hour skipped when summer time starts.
    pub nonexistent: Option<DstChoiceSource>,
    /// A local time in the hour that happens twice when summer time ends.
    pub repeated: Option<DstChoiceSource>,
}

/// How to read a local time the clock change makes impossible or double.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum DstChoiceSource {
    /// `refuse`, `earlier` or `later`.
    Fixed(String),
    /// A column whose value, through a value map, says `earlier` or `later` for its row.
    Column { column: String, values: String },
}

/// Where one field's value comes from.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged, deny_unknown_fields)]
pub enum FieldSource {
    /// A column, its cell converted to the field's type.
    Column(String),
    /// A column through a value map.
    Mapped { column: String, values: Option<String> },
    /// The same value on every row.
    Constant { value: toml::Value },
}

#[derive(Debug, Deserialize)]
pub struct EventSection {
    /// A bare string is the event type itself; `{ column = …, values = … }` reads it per row.
    pub event_type: EventTypeSource,
    #[serde(flatten)]
    pub fields: BTreeMap<String, FieldSource>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum EventTypeSource {
    Constant(String),
    Column { column: String, values: Option<String> },
}
