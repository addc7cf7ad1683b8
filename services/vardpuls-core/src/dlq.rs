//! `vardpuls.dlq.v1`: every refused input, with its raw bytes, where it came from and why.
//!
//! A dead letter keeps the exact bytes (base64) so that an operator can fix the producer, or the
//! record, and send it again; nothing valid is lost and nothing invalid is silently dropped.
//! Two exceptions. Anything shaped like a personal identity number is masked before it is
//! stored (`redacted: true`), so the DLQ never becomes a register of who called. And at most
//! [`MAX_RAW_BYTES`] are kept (`raw_truncated: true`, with a hash of the whole): a dead letter
//! must always fit the broker, or the input it stands for could neither be stored nor skipped.

use crate::rejection::Rejection;
use crate::topics::Topic;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Where a refused input came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Source {
    /// A message consumed from a Kafka topic.
    Kafka { topic: String, partition: i32, offset: i64 },
    /// A line of an imported file (1-based; for CSV the header is line 1; for Parquet the row,
    /// counting from 1). `column` names the export's column at fault, when a mapping knows it.
    File {
        path: String,
        line: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        column: Option<String>,
    },
    /// A line of an HTTP ingest request body (1-based).
    Http { line: u64 },
    /// A row of an export posted to `POST /v1/exports/{mapping}` (its line, header = 1), with
    /// the export's column at fault when known.
    HttpExport {
        mapping: String,
        line: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        column: Option<String>,
    },
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
    /// The size of the refused input, before any cut.
    pub raw_size_bytes: u64,
    /// True when `raw_base64` holds only the first [`MAX_RAW_BYTES`] of the input.
    #[serde(default)]
    pub raw_truncated: bool,
    /// SHA-256 (hex) of the whole input after masking: matches a cut copy with its original.
    #[serde(default)]
    pub raw_sha256: String,
    /// True when personal-identity-number-shaped tokens in the raw bytes were masked with `X`.
    pub redacted: bool,
}

/// The most of a refused input a dead letter keeps: the largest valid event, so every input
/// that could have been valid is kept whole, and the letter (base64 plus metadata, under 100 KB)
/// fits any broker's default message size of 1 MB.
pub const MAX_RAW_BYTES: usize = crate::events::MAX_EVENT_BYTES;

/// The most of a reason's sentence a dead letter keeps.
const MAX_DETAIL_CHARS: usize = 2_000;

impl DeadLetter {
    pub fn new(intended_topic: Topic, source: Source, mut reason: Rejection, raw: &[u8]) -> DeadLetter {
        use crate::domain::personnummer::{redact, redact_text};
        let (masked, redacted_whole) = redact(raw);
        let raw_sha256 = format!("{:x}", Sha256::digest(&masked));
        let raw_truncated = raw.len() > MAX_RAW_BYTES;
        // The kept part is masked on its own too: a cut can end a longer digit run so that
        // what is left is shaped like a number.
        let (kept, redacted_cut) = if raw_truncated { redact(&raw[..MAX_RAW_BYTES]) } else { (masked, false) };
        if reason.detail.chars().count() > MAX_DETAIL_CHARS {
            reason.detail = redact_text(&reason.detail.chars().take(MAX_DETAIL_CHARS).collect::<String>()) + " …";
        }
        DeadLetter {
            schema_version: 1,
            rejected_at: Utc::now(),
            intended_topic: intended_topic.name().to_string(),
            source,
            reason,
            raw_base64: BASE64.encode(&kept),
            raw_size_bytes: raw.len() as u64,
            raw_truncated,
            raw_sha256,
            redacted: redacted_whole || redacted_cut,
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
    fn a_large_input_is_cut_so_its_letter_always_fits() {
        let mut raw = br#"{"call_id":""#.to_vec();
        raw.resize(900_000, b'7');
        let dl = DeadLetter::new(
            Topic::Phone,
            Source::Http { line: 1 },
            Rejection::whole(Rule::Oversized, "x".repeat(100_000)),
            &raw,
        );
        assert!(dl.raw_truncated);
        assert_eq!(dl.raw_size_bytes, 900_000);
        assert_eq!(dl.raw().unwrap(), &raw[..MAX_RAW_BYTES]);
        assert_eq!(dl.raw_sha256, format!("{:x}", Sha256::digest(&raw)));
        assert!(dl.to_json().len() < 100_000, "{}", dl.to_json().len());
    }

    #[test]
    fn a_cut_never_leaves_a_number_behind() {
        // Thirteen digits are no number; cut after twelve, they are one.
        let mut raw = vec![b' '; MAX_RAW_BYTES - 12];
        raw.extend_from_slice(b"1981121898765 and more");
        let dl = DeadLetter::new(Topic::Phone, Source::Http { line: 1 }, Rejection::whole(Rule::Oversized, "x"), &raw);
        assert!(dl.raw_truncated && dl.redacted);
        assert!(!String::from_utf8(dl.raw().unwrap()).unwrap().contains("9876"));
    }

    #[test]
    fn masks_numbers_spelt_with_json_escapes_and_in_the_reason() {
        let raw = br#"{"call_id":"\u0031\u0039\u0038\u0031\u0031\u0032\u0031\u0038\u002d\u0039\u0038\u0037\u0036"}"#;
        let reason = Rejection::new("line", Rule::UnknownValue, "unknown variant `19811218-9876`");
        let dl = DeadLetter::new(Topic::Phone, Source::Http { line: 1 }, reason, raw);
        assert!(dl.redacted);
        let json = String::from_utf8(dl.to_json()).unwrap();
        let stored = String::from_utf8(dl.raw().unwrap()).unwrap();
        for text in [&json, &stored] {
            assert!(!text.contains("9876") && !text.contains("\\u0039\\u0038\\u0037"), "{text}");
        }
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
