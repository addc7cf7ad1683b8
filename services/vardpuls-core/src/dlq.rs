//! `vardpuls.dlq.v1`: every refused input, with its raw bytes, where it came from and why.
//!
//! A dead letter keeps the exact bytes (base64) so that an operator can fix the producer, or the
//! record, and send it again; nothing valid is lost and nothing invalid is silently dropped.
//! The one exception: anything shaped like a personal identity number is masked before it is
//! stored (`redacted: true`), so the DLQ never becomes a register of who called.

use crate::rejection::Rejection;
use crate::topics::Topic;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Where a refused input came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Source {
    /// A message consumed from a Kafka topic.
    Kafka { topic: String, partition: i32, offset: i64 },
    /// A line of an imported file (1-based; for CSV the header is line 1).
    File { path: String, line: u64 },
    /// A line of an HTTP ingest request body (1-based).
    Http { line: u64 },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeadLetter {
    pub schema_version: u32,
    pub rejected_at: DateTime<Utc>,
    /// The topic the input was meant for.
    pub intended_topic: String,
    pub source: Source,
    pub reason: Rejection,
    pub raw_base64: String,
    pub raw_size_bytes: u64,
    /// True when personal-identity-number-shaped tokens in the raw bytes were masked with `X`.
    pub redacted: bool,
}

impl DeadLetter {
    pub fn new(intended_topic: Topic, source: Source, reason: Rejection, raw: &[u8]) -> DeadLetter {
        let (raw, redacted) = crate::domain::personnummer::redact(raw);
        DeadLetter {
            schema_version: 1,
            rejected_at: Utc::now(),
            intended_topic: intended_topic.name().to_string(),
            source,
            reason,
            raw_base64: BASE64.encode(&raw),
            raw_size_bytes: raw.len() as u64,
            redacted,
        }
    }

    pub fn raw(&self) -> Result<Vec<u8>, base64::DecodeError> {
        BASE64.decode(&self.raw_base64)
    }

    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("dead letters serialize")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rejection::Rule;

    #[test]
    fn keeps_raw_bytes_exactly() {
        let raw = b"\xff\x00not json";
        let dl = DeadLetter::new(
            Topic::Phone,
            Source::Kafka { topic: "vardpuls.phone.v1".into(), partition: 3, offset: 42 },
            Rejection::whole(Rule::NotUtf8, "x"),
            raw,
        );
        let back: DeadLetter = serde_json::from_slice(&dl.to_json()).unwrap();
        assert_eq!(back.raw().unwrap(), raw);
        assert!(!back.redacted);
        assert_eq!(back, dl);
    }

    #[test]
    fn never_stores_a_personal_identity_number() {
        let raw = br#"{"patient_ref":"19811218-9876"}"#;
        let reason = Rejection::new("patient_ref", Rule::PersonalIdentityNumber, "x");
        let dl = DeadLetter::new(Topic::Visits, Source::Http { line: 1 }, reason, raw);
        assert!(dl.redacted);
        let stored = String::from_utf8(dl.raw().unwrap()).unwrap();
        assert!(!stored.contains("9876"), "{stored}");
        assert!(!String::from_utf8(dl.to_json()).unwrap().contains("9876"));
    }
}
