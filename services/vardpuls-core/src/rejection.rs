//! Why an input was refused: the field, the rule it broke, and a sentence for a human.
//!
//! Rules are a closed set so they can be metric labels and DLQ filters without unbounded
//! cardinality. Field-level rules are raised by the domain types' `parse`; structural rules by
//! the JSON decoder.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A rule an input message can break. `as_str` is the stable code used in the DLQ, in metrics
/// and in the invalid example file names under `schemas/examples/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    NotUtf8,
    Oversized,
    MalformedJson,
    NotAnObject,
    UnsupportedVersion,
    MissingField,
    UnknownField,
    InvalidType,
    UnknownValue,
    HsaIdFormat,
    KommunCode,
    RegionCode,
    UuidFormat,
    TimestampFormat,
    TimestampRange,
    OutOfRange,
    FieldTooLong,
    IdFormat,
    PersonalIdentityNumber,
    DecimalFormat,
    NotAllowedForEventType,
    Inconsistent,
    CsvFormat,
    OccurredInFuture,
    NonexistentLocalTime,
    AmbiguousLocalTime,
    UnmappedValue,
}

impl Rule {
    pub const ALL: [Rule; 27] = [
        Rule::NotUtf8,
        Rule::Oversized,
        Rule::MalformedJson,
        Rule::NotAnObject,
        Rule::UnsupportedVersion,
        Rule::MissingField,
        Rule::UnknownField,
        Rule::InvalidType,
        Rule::UnknownValue,
        Rule::HsaIdFormat,
        Rule::KommunCode,
        Rule::RegionCode,
        Rule::UuidFormat,
        Rule::TimestampFormat,
        Rule::TimestampRange,
        Rule::OutOfRange,
        Rule::FieldTooLong,
        Rule::IdFormat,
        Rule::PersonalIdentityNumber,
        Rule::DecimalFormat,
        Rule::NotAllowedForEventType,
        Rule::Inconsistent,
        Rule::CsvFormat,
        Rule::OccurredInFuture,
        Rule::NonexistentLocalTime,
        Rule::AmbiguousLocalTime,
        Rule::UnmappedValue,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Rule::NotUtf8 => "not_utf8",
            Rule::Oversized => "oversized",
            Rule::MalformedJson => "malformed_json",
            Rule::NotAnObject => "not_an_object",
            Rule::UnsupportedVersion => "unsupported_version",
            Rule::MissingField => "missing_field",
            Rule::UnknownField => "unknown_field",
            Rule::InvalidType => "invalid_type",
            Rule::UnknownValue => "unknown_value",
            Rule::HsaIdFormat => "hsa_id_format",
            Rule::KommunCode => "kommun_code",
            Rule::RegionCode => "region_code",
            Rule::UuidFormat => "uuid_format",
            Rule::TimestampFormat => "timestamp_format",
            Rule::TimestampRange => "timestamp_range",
            Rule::OutOfRange => "out_of_range",
            Rule::FieldTooLong => "field_too_long",
            Rule::IdFormat => "id_format",
            Rule::PersonalIdentityNumber => "personal_identity_number",
            Rule::DecimalFormat => "decimal_format",
            Rule::NotAllowedForEventType => "not_allowed_for_event_type",
            Rule::Inconsistent => "inconsistent",
            Rule::CsvFormat => "csv_format",
            Rule::OccurredInFuture => "occurred_in_future",
            Rule::NonexistentLocalTime => "nonexistent_local_time",
            Rule::AmbiguousLocalTime => "ambiguous_local_time",
            Rule::UnmappedValue => "unmapped_value",
        }
    }

    pub fn from_code(code: &str) -> Option<Rule> {
        Rule::ALL.into_iter().find(|r| r.as_str() == code)
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A refused input: which field (a JSON path such as `out_of_county.price_sek`, or `.` for the
/// message as a whole), which rule, and a human sentence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejection {
    pub field: String,
    pub rule: Rule,
    pub detail: String,
}

impl Rejection {
    /// The field and the sentence are screened here, the one way a rejection is made: a
    /// sentence may quote what the producer sent (serde's "unknown variant `…`"), and no reason
    /// may repeat a personal identity number.
    pub fn new(field: impl Into<String>, rule: Rule, detail: impl Into<String>) -> Self {
        let screen = |s: String| crate::domain::personnummer::redact_text(&s);
        Rejection { field: screen(field.into()), rule, detail: screen(detail.into()) }
    }

    /// A rejection of the whole message rather than one field.
    pub fn whole(rule: Rule, detail: impl Into<String>) -> Self {
        Rejection::new(".", rule, detail)
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} [{}]: {}", self.field, self.rule, self.detail)
    }
}

impl std::error::Error for Rejection {}

/// A field-level rule violation raised inside a domain type's `parse`. The field name is not
/// known there; the decoder adds it from the JSON path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub rule: Rule,
    pub detail: String,
}

impl Invalid {
    pub fn new(rule: Rule, detail: impl Into<String>) -> Self {
        Invalid { rule, detail: detail.into() }
    }

    // serde only carries a message string through `Error::custom`, so the rule travels as a
    // bracketed prefix that `from_serde_message` takes off again.
    pub(crate) fn to_serde_message(&self) -> String {
        format!("[[{}]] {}", self.rule.as_str(), self.detail)
    }

    pub fn at(self, field: impl Into<String>) -> Rejection {
        Rejection::new(field, self.rule, self.detail)
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}", self.rule, self.detail)
    }
}

/// Turns a serde_json error, with the path where it happened, into a [`Rejection`].
pub(crate) fn from_serde_error(path: &str, err: &serde_json::Error) -> Rejection {
    use serde_json::error::Category;
    let message = strip_position(&err.to_string());
    match err.classify() {
        Category::Eof => Rejection::whole(Rule::MalformedJson, format!("truncated JSON: {message}")),
        Category::Syntax | Category::Io => Rejection::whole(Rule::MalformedJson, message),
        Category::Data => from_serde_message(path, &message),
    }
}

fn from_serde_message(path: &str, message: &str) -> Rejection {
    let field = |name: Option<&str>| match (path, name) {
        (".", Some(n)) => n.to_string(),
        (p, Some(n)) => format!("{p}.{n}"),
        (p, None) => p.to_string(),
    };
    if let Some(rest) = message.strip_prefix("[[")
        && let Some((code, detail)) = rest.split_once("]] ")
        && let Some(rule) = Rule::from_code(code)
    {
        return Rejection::new(field(None), rule, detail);
    }
    let quoted = first_backquoted(message);
    if message.starts_with("missing field") {
        Rejection::new(field(quoted), Rule::MissingField, message)
    } else if message.starts_with("unknown field") {
        Rejection::new(field(None), Rule::UnknownField, message)
    } else if message.starts_with("unknown variant") {
        Rejection::new(field(None), Rule::UnknownValue, message)
    } else {
        Rejection::new(field(None), Rule::InvalidType, message)
    }
}

fn first_backquoted(message: &str) -> Option<&str> {
    let start = message.find('`')? + 1;
    let len = message[start..].find('`')?;
    Some(&message[start..start + len])
}

fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_code_round_trips() {
        for rule in Rule::ALL {
            assert_eq!(Rule::from_code(rule.as_str()), Some(rule));
        }
    }

    #[test]
    fn missing_field_names_the_field_under_its_parent() {
        let r = from_serde_message("out_of_county", "missing field `provider`");
        assert_eq!(r.field, "out_of_county.provider");
        assert_eq!(r.rule, Rule::MissingField);
    }

    #[test]
    fn no_reason_repeats_a_personal_identity_number() {
        let r = from_serde_message("line", "unknown variant `19811218-9876`, expected `primary_care` or `1177`");
        assert_eq!(r.rule, Rule::UnknownValue);
        assert!(!r.detail.contains("9876") && !r.detail.contains("1981"), "{}", r.detail);
        let r = from_serde_message(".", "unknown field `811218-9876`, expected one of `call_id`");
        assert!(!r.detail.contains("9876"), "{}", r.detail);
    }

    #[test]
    fn domain_rule_travels_through_serde_message() {
        let msg = Invalid::new(Rule::HsaIdFormat, "bad").to_serde_message();
        let r = from_serde_message("unit_id", &msg);
        assert_eq!(r, Rejection::new("unit_id", Rule::HsaIdFormat, "bad"));
    }
}
