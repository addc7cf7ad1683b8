//! Mapping files: how one source's export (a call-detail CSV, a journal system's visit list, a
//! warehouse's Parquet table) becomes contract events, written once per source instead of a
//! converter per region (docs/import.md).
//!
//! A [`Mapping`] is checked against the contract when it is loaded (fields exist, value maps
//! hold values the contract accepts), bound to a file's header before anything is produced
//! (every column it names is there), and then turns each row into the events the row implies.
//! A row is all or nothing: if one of its events cannot be made, the row goes to the DLQ once,
//! naming the column, and none of its events is produced, since half a call (received but not
//! its answer) would be counted wrong.

mod contract;
mod event_ids;
mod file;
mod local_time;

pub use local_time::{Reading, TimeFormats};

use super::cells::{insert, parse_bool};
use contract::FieldKind;
use csv::StringRecord;
use encoding_rs::Encoding;
use file::{DstChoiceSource, EventTypeSource, FieldSource, MappingFile};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::Path;
use std::sync::Arc;
use vardpuls_core::Topic;
use vardpuls_core::events::{InputEvent, decode};
use vardpuls_core::rejection::{Rejection, Rule};

/// A mapping that does not fit its contract or its file. Nothing has been produced.
#[derive(Debug)]
pub struct MappingError(String);

impl fmt::Display for MappingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for MappingError {}

fn invalid(what: impl Into<String>) -> MappingError {
    MappingError(what.into())
}

/// How a CSV export is laid out.
#[derive(Debug, Clone, Copy)]
pub struct CsvLayout {
    pub separator: u8,
    pub quote: u8,
    pub decimal_mark: char,
    /// A byte-order mark overrides it: a file that starts with one is UTF-8.
    pub encoding: &'static Encoding,
}

/// A value map: cells (trimmed, any case) to contract values.
#[derive(Debug)]
struct ValueMap {
    name: String,
    entries: HashMap<String, Value>,
}

impl ValueMap {
    fn get(&self, cell: &str) -> Option<&Value> {
        self.entries.get(&cell.to_lowercase())
    }
}

/// Where a field's value comes from, once checked.
#[derive(Debug, Clone)]
enum Origin {
    /// `index` is the column's position in the file, set when the mapping is bound to one.
    Column {
        column: String,
        values: Option<Arc<ValueMap>>,
        index: usize,
    },
    Constant(Value),
}

#[derive(Debug, Clone)]
struct FieldRule {
    /// As the contract names it: `assessment.first_contact_at`.
    field: String,
    kind: FieldKind,
    origin: Origin,
}

#[derive(Debug)]
struct EventRule {
    event_type: FieldRule,
    /// The `occurred_at` column: an empty cell means the row did not get this far.
    trigger: String,
    trigger_index: usize,
    fields: Vec<FieldRule>,
}

/// How to read a local time the clock change made impossible or double.
#[derive(Debug, Clone)]
enum DstRule {
    Refuse,
    Earlier,
    Later,
    Column { column: String, values: Arc<ValueMap>, index: usize },
}

#[derive(Debug)]
pub struct Mapping {
    /// The mapping file, for messages.
    pub name: String,
    pub source: String,
    pub topic: Topic,
    pub csv: CsvLayout,
    key: Vec<String>,
    times: TimeFormats,
    nonexistent: DstRule,
    repeated: DstRule,
    events: Vec<EventRule>,
}

impl Mapping {
    pub fn load(path: &Path) -> Result<Mapping, MappingError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| invalid(format!("mapping {}: cannot be read: {e}", path.display())))?;
        Mapping::parse(&path.display().to_string(), &text)
    }

    /// Every `*.toml` in `dir`, by file stem.
    pub fn load_dir(dir: &Path) -> Result<HashMap<String, Arc<Mapping>>, MappingError> {
        let entries = std::fs::read_dir(dir)
            .map_err(|e| invalid(format!("mappings directory {}: cannot be read: {e}", dir.display())))?;
        let mut out = HashMap::new();
        for entry in entries {
            let path = entry.map_err(|e| invalid(format!("mappings directory {}: {e}", dir.display())))?.path();
            if path.extension().is_some_and(|e| e == "toml")
                && let Some(stem) = path.file_stem().and_then(|s| s.to_str())
            {
                out.insert(stem.to_string(), Arc::new(Mapping::load(&path)?));
            }
        }
        Ok(out)
    }

    pub fn parse(name: &str, text: &str) -> Result<Mapping, MappingError> {
        let file: MappingFile = toml::from_str(text).map_err(|e| invalid(format!("mapping {name}: {e}")))?;
        compile(name, file).map_err(|MappingError(m)| invalid(format!("mapping {name}: {m}")))
    }

    /// Binds the mapping to a file's header: every column it names must be there.
    pub fn bind(self: &Arc<Self>, header: &[String], decimal_mark: char) -> Result<BoundMapping, MappingError> {
        let index: HashMap<&str, usize> = header.iter().enumerate().map(|(i, h)| (h.as_str(), i)).collect();
        let mut missing = Vec::new();
        for (column, used_for) in self.columns() {
            if !index.contains_key(column.as_str()) {
                missing.push(format!("`{column}` ({used_for})"));
            }
        }
        if !missing.is_empty() {
            return Err(invalid(format!(
                "mapping {} does not fit the file: column {} not in the header; the file's columns are: {}",
                self.name,
                missing.join(", "),
                header.iter().map(|h| format!("`{h}`")).collect::<Vec<_>>().join(", ")
            )));
        }
        // Column names are looked up once here, not per cell.
        let at = |column: &str| index[column];
        let place = |rule: &mut FieldRule| {
            if let Origin::Column { column, index, .. } = &mut rule.origin {
                *index = at(column);
            }
        };
        let mut events: Vec<EventRule> = self.events.iter().map(|e| e.clone_unplaced()).collect();
        for event in &mut events {
            event.trigger_index = at(&event.trigger);
            place(&mut event.event_type);
            event.fields.iter_mut().for_each(place);
        }
        let dst = |rule: &DstRule| match rule {
            DstRule::Column { column, values, .. } => {
                DstRule::Column { column: column.clone(), values: Arc::clone(values), index: at(column) }
            }
            other => other.clone(),
        };
        Ok(BoundMapping {
            key: self.key.iter().map(|c| at(c)).collect(),
            events,
            nonexistent: dst(&self.nonexistent),
            repeated: dst(&self.repeated),
            width: header.len(),
            decimal_mark,
            mapping: Arc::clone(self),
        })
    }

    /// Every column the mapping reads, with what for.
    fn columns(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for column in &self.key {
            out.push((column.clone(), "the row's key".to_string()));
        }
        for rule in [&self.nonexistent, &self.repeated] {
            if let DstRule::Column { column, .. } = rule {
                out.push((column.clone(), "the clock-change choice".to_string()));
            }
        }
        for event in &self.events {
            for field in std::iter::once(&event.event_type).chain(&event.fields) {
                if let Origin::Column { column, .. } = &field.origin {
                    out.push((column.clone(), format!("{} of {}", field.field, event.describe())));
                }
            }
        }
        out
    }
}

impl EventRule {
    fn clone_unplaced(&self) -> EventRule {
        EventRule {
            event_type: self.event_type.clone(),
            trigger: self.trigger.clone(),
            trigger_index: usize::MAX,
            fields: self.fields.clone(),
        }
    }

    fn describe(&self) -> String {
        match &self.event_type.origin {
            Origin::Constant(Value::String(t)) => t.clone(),
            _ => "the event".to_string(),
        }
    }
}

fn compile(name: &str, file: MappingFile) -> Result<Mapping, MappingError> {
    let topic: Topic = file.topic.parse().map_err(|_| invalid(format!("topic `{}` is unknown", file.topic)))?;
    if !topic.is_input() {
        return Err(invalid(format!("topic `{topic}` is not an input topic; map to phone, visits, listings or chats")));
    }
    if file.source.trim().is_empty() {
        return Err(invalid("`source` names the exporting system and may not be empty"));
    }
    let maps: HashMap<String, Arc<ValueMap>> = file
        .values
        .iter()
        .map(|(n, entries)| value_map(n, entries).map(|m| (n.clone(), Arc::new(m))))
        .collect::<Result<_, _>>()?;
    let common = file
        .fields
        .iter()
        .map(|(field, source)| field_rule(topic, &maps, field, source))
        .collect::<Result<Vec<_>, _>>()?;
    if file.events.is_empty() {
        return Err(invalid("no [[events]]: say which events a row implies"));
    }
    let mut events = Vec::new();
    for section in &file.events {
        let event_type = event_type_rule(topic, &maps, &section.event_type)?;
        let mut fields = common.clone();
        for (field, source) in &section.fields {
            fields.retain(|f| &f.field != field);
            fields.push(field_rule(topic, &maps, field, source)?);
        }
        let trigger = match fields.iter().find(|f| f.field == "occurred_at").map(|f| &f.origin) {
            Some(Origin::Column { column, .. }) => column.clone(),
            _ => {
                return Err(invalid(
                    "every event needs `occurred_at` from a column: the event exists when its cell is filled",
                ));
            }
        };
        events.push(EventRule { event_type, trigger, trigger_index: usize::MAX, fields });
    }
    let maps_event_id = events.iter().all(|e| e.fields.iter().any(|f| f.field == "event_id"));
    if file.key.is_empty() && !maps_event_id {
        return Err(invalid("`key` is empty and `event_id` is not mapped: name the columns that identify a row"));
    }
    let zone = file.time.zone.as_deref().unwrap_or("Europe/Stockholm");
    let zone = zone.parse().map_err(|_| invalid(format!("[time] zone `{zone}` is no IANA time zone")))?;
    for format in &file.time.formats {
        if chrono::format::StrftimeItems::new(format).any(|i| matches!(i, chrono::format::Item::Error)) {
            return Err(invalid(format!("[time] format `{format}` is not a valid strftime format")));
        }
    }
    Ok(Mapping {
        name: name.to_string(),
        source: file.source.trim().to_string(),
        topic,
        csv: csv_layout(&file.csv)?,
        key: file.key,
        times: TimeFormats::new(zone, file.time.formats),
        nonexistent: dst_rule(&maps, "nonexistent", file.time.nonexistent.as_ref())?,
        repeated: dst_rule(&maps, "repeated", file.time.repeated.as_ref())?,
        events,
    })
}

fn value_map(name: &str, entries: &BTreeMap<String, toml::Value>) -> Result<ValueMap, MappingError> {
    let mut out = HashMap::new();
    for (cell, value) in entries {
        let value = match value {
            toml::Value::String(s) => Value::from(s.as_str()),
            toml::Value::Boolean(b) => Value::from(*b),
            toml::Value::Integer(i) => Value::from(*i),
            other => {
                return Err(invalid(format!(
                    "[values.{name}] `{cell}`: {other} is not a text, true/false or a whole number"
                )));
            }
        };
        out.insert(cell.trim().to_lowercase(), value);
    }
    Ok(ValueMap { name: name.to_string(), entries: out })
}

fn field_rule(
    topic: Topic,
    maps: &HashMap<String, Arc<ValueMap>>,
    field: &str,
    source: &FieldSource,
) -> Result<FieldRule, MappingError> {
    let path: Vec<&str> = field.split('.').collect();
    let contract = contract::field(topic, &path).filter(|_| field != "schema_version").ok_or_else(|| {
        invalid(format!(
            "field `{field}` is not in the {topic} contract; its fields are: {}",
            contract::field_names(topic).join(", ")
        ))
    })?;
    let origin = match source {
        FieldSource::Column(column) => Origin::Column { column: column.clone(), values: None, index: usize::MAX },
        FieldSource::Mapped { column, values } => {
            let values = values.as_ref().map(|name| lookup_map(maps, name)).transpose()?;
            Origin::Column { column: column.clone(), values, index: usize::MAX }
        }
        FieldSource::Constant { value } => Origin::Constant(
            serde_json::to_value(value).map_err(|e| invalid(format!("field `{field}`: constant {value}: {e}")))?,
        ),
    };
    let offered: Vec<&Value> = match &origin {
        Origin::Column { values: Some(map), .. } => map.entries.values().collect(),
        Origin::Constant(v) => vec![v],
        Origin::Column { values: None, .. } => vec![],
    };
    for value in offered {
        let fits = match (&contract.allowed, contract.kind) {
            (Some(allowed), _) => allowed.contains(value),
            (None, FieldKind::Bool) => value.is_boolean(),
            (None, FieldKind::Integer) => value.is_i64(),
            (None, _) => value.is_string(),
        };
        if !fits {
            let accepted = match &contract.allowed {
                Some(allowed) => allowed.iter().map(Value::to_string).collect::<Vec<_>>().join(", "),
                None => format!("{:?}", contract.kind).to_lowercase(),
            };
            return Err(invalid(format!(
                "field `{field}`: the contract does not accept {value}; it accepts {accepted}"
            )));
        }
    }
    Ok(FieldRule { field: field.to_string(), kind: contract.kind, origin })
}

fn event_type_rule(
    topic: Topic,
    maps: &HashMap<String, Arc<ValueMap>>,
    source: &EventTypeSource,
) -> Result<FieldRule, MappingError> {
    let source = match source {
        EventTypeSource::Constant(t) => FieldSource::Constant { value: toml::Value::String(t.clone()) },
        EventTypeSource::Column { column, values } => {
            FieldSource::Mapped { column: column.clone(), values: values.clone() }
        }
    };
    field_rule(topic, maps, "event_type", &source)
}

fn lookup_map(maps: &HashMap<String, Arc<ValueMap>>, name: &str) -> Result<Arc<ValueMap>, MappingError> {
    maps.get(name).cloned().ok_or_else(|| invalid(format!("value map `{name}` is not defined under [values]")))
}

fn dst_rule(
    maps: &HashMap<String, Arc<ValueMap>>,
    which: &str,
    source: Option<&DstChoiceSource>,
) -> Result<DstRule, MappingError> {
    match source {
        None => Ok(DstRule::Refuse),
        Some(DstChoiceSource::Fixed(choice)) => match choice.as_str() {
            "refuse" => Ok(DstRule::Refuse),
            "earlier" => Ok(DstRule::Earlier),
            "later" => Ok(DstRule::Later),
            other => Err(invalid(format!("[time] {which} = `{other}`: say refuse, earlier or later"))),
        },
        Some(DstChoiceSource::Column { column, values }) => {
            let values = lookup_map(maps, values)?;
            if let Some(bad) = values.entries.values().find(|v| !matches!(v.as_str(), Some("earlier" | "later"))) {
                return Err(invalid(format!(
                    "[time] {which}: value map `{}` gives {bad}; it must give earlier or later",
                    values.name
                )));
            }
            Ok(DstRule::Column { column: column.clone(), values, index: usize::MAX })
        }
    }
}

fn csv_layout(section: &file::CsvSection) -> Result<CsvLayout, MappingError> {
    let one_byte = |what: &str, given: Option<&String>, default: u8| -> Result<u8, MappingError> {
        match given.map(String::as_str) {
            None => Ok(default),
            Some("\\t" | "tab") => Ok(b'\t'),
            Some(s) if s.len() == 1 && s.is_ascii() => Ok(s.as_bytes()[0]),
            Some(s) => Err(invalid(format!("[csv] {what} `{s}` must be one ASCII character"))),
        }
    };
    let decimal_mark = match section.decimal_mark.as_deref() {
        None | Some(".") => '.',
        Some(",") => ',',
        Some(other) => return Err(invalid(format!("[csv] decimal_mark `{other}`: say \",\" or \".\""))),
    };
    let label = section.encoding.as_deref().unwrap_or("utf-8");
    let encoding = Encoding::for_label(label.as_bytes())
        .ok_or_else(|| invalid(format!("[csv] encoding `{label}` is unknown; say utf-8 or windows-1252")))?;
    Ok(CsvLayout {
        separator: one_byte("separator", section.separator.as_ref(), b',')?,
        quote: one_byte("quote", section.quote.as_ref(), b'"')?,
        decimal_mark,
        encoding,
    })
}

/// A row refused, with the column at fault when one is.
#[derive(Debug, Clone, PartialEq)]
pub struct RowRefusal {
    pub column: Option<String>,
    pub reason: Rejection,
}

/// A mapping bound to one file's header.
pub struct BoundMapping {
    mapping: Arc<Mapping>,
    /// The mapping's rules with this file's column positions.
    events: Vec<EventRule>,
    nonexistent: DstRule,
    repeated: DstRule,
    key: Vec<usize>,
    width: usize,
    decimal_mark: char,
}

impl BoundMapping {
    /// The events a row implies, valid, or why the row is refused. A blank row implies none.
    pub fn events(&self, row: &StringRecord) -> Result<Vec<InputEvent>, RowRefusal> {
        if row.len() != self.width {
            let detail = format!("row has {} fields; the header has {}", row.len(), self.width);
            return Err(RowRefusal { column: None, reason: Rejection::whole(Rule::CsvFormat, detail) });
        }
        if row.iter().all(|c| c.trim().is_empty()) {
            return Ok(Vec::new());
        }
        let mut out = Vec::with_capacity(self.events.len());
        for event in &self.events {
            if row[event.trigger_index].trim().is_empty() {
                continue;
            }
            out.push(self.event(event, row)?);
        }
        Ok(out)
    }

    fn event(&self, rule: &EventRule, row: &StringRecord) -> Result<InputEvent, RowRefusal> {
        let mut event = Map::new();
        event.insert("schema_version".into(), Value::from(vardpuls_core::events::SCHEMA_VERSION));
        for field in std::iter::once(&rule.event_type).chain(&rule.fields) {
            if let Some(value) = self.value(field, row)? {
                insert(&mut event, &field.field, value);
            }
        }
        if !event.contains_key("event_id") {
            let key: Vec<&str> = self.key.iter().map(|i| row[*i].trim()).collect();
            let text = |name: &str| event.get(name).and_then(Value::as_str);
            let id = event_ids::derive(
                &self.mapping.source,
                text("event_type").unwrap_or_default(),
                &key,
                text("recorded_at"),
            );
            event.insert("event_id".into(), Value::from(id.to_string()));
        }
        let bytes = serde_json::to_vec(&event).expect("JSON values serialize");
        decode(self.mapping.topic, &bytes).map_err(|reason| {
            let column = std::iter::once(&rule.event_type).chain(&rule.fields).find_map(|f| match &f.origin {
                Origin::Column { column, .. } if f.field == reason.field => Some(column.clone()),
                _ => None,
            });
            RowRefusal { column, reason }
        })
    }

    fn value(&self, field: &FieldRule, row: &StringRecord) -> Result<Option<Value>, RowRefusal> {
        let (column, values, index) = match &field.origin {
            Origin::Constant(v) => return Ok(Some(v.clone())),
            Origin::Column { column, values, index } => (column, values, *index),
        };
        let cell = row[index].trim();
        if cell.is_empty() {
            return Ok(None);
        }
        let refuse = |rule: Rule, detail: String| RowRefusal {
            column: Some(column.clone()),
            reason: Rejection::new(field.field.clone(), rule, format!("column `{column}`: {detail}")),
        };
        if let Some(map) = values {
            if let Some(v) = map.get(cell) {
                return Ok(Some(v.clone()));
            }
            if field.kind != FieldKind::Bool || parse_bool(cell).is_none() {
                let known: Vec<&String> = map.entries.keys().collect();
                return Err(refuse(
                    Rule::UnmappedValue,
                    format!("`{cell}` is not in value map `{}` (it maps {known:?})", map.name),
                ));
            }
        }
        Ok(Some(match field.kind {
            FieldKind::Text => Value::from(cell),
            FieldKind::Integer => cell.parse::<i64>().map(Value::from).unwrap_or_else(|_| Value::from(cell)),
            FieldKind::Bool => parse_bool(cell).map(Value::from).unwrap_or_else(|| Value::from(cell)),
            FieldKind::Decimal => Value::from(self.amount(cell)),
            FieldKind::Time => Value::from(self.time(cell, row).map_err(|(rule, detail)| refuse(rule, detail))?),
        }))
    }

    /// `1 234,50` with a decimal comma is `1234.50`.
    fn amount(&self, cell: &str) -> String {
        let digits: String = cell.chars().filter(|c| !c.is_whitespace() && *c != '\u{202f}').collect();
        if self.decimal_mark == ',' { digits.replace(',', ".") } else { digits }
    }

    fn time(&self, cell: &str, row: &StringRecord) -> Result<String, (Rule, String)> {
        let times = &self.mapping.times;
        let (earlier, later, rule, rule_name, what) = match times.read(cell) {
            Reading::Exact(t) => return Ok(times.write(t)),
            Reading::Unreadable => {
                return Err((
                    Rule::TimestampFormat,
                    format!("`{cell}` is no time in RFC 3339 or the mapping's formats {:?}", times.formats()),
                ));
            }
            Reading::Nonexistent { earlier, later } => {
                (earlier, later, &self.nonexistent, Rule::NonexistentLocalTime, "does not exist in")
            }
            Reading::Repeated { earlier, later } => {
                (earlier, later, &self.repeated, Rule::AmbiguousLocalTime, "happens twice in")
            }
        };
        let choice = match rule {
            DstRule::Refuse => None,
            DstRule::Earlier => Some("earlier"),
            DstRule::Later => Some("later"),
            DstRule::Column { values, index, .. } => values.get(row[*index].trim()).and_then(Value::as_str),
        };
        match choice {
            Some("earlier") => Ok(times.write(earlier)),
            Some("later") => Ok(times.write(later)),
            _ => Err((
                rule_name,
                format!(
                    "`{cell}` {what} {} (the clock changes that night); it is {} or {}, and the mapping's [time] does not say which",
                    times.zone,
                    times.write(earlier),
                    times.write(later)
                ),
            )),
        }
    }
}

#[cfg(test)]
mod tests;
