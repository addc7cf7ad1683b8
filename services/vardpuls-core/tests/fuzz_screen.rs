//! Property test of the decoder and the personal-identity-number screen over random and mutated
//! contract documents: no input makes `decode` or a dead letter panic, and no output (the event
//! as produced, the reason, the dead letter's raw bytes) holds an injected number unmasked.
//!
//! Documents are the valid schema examples with one string field set to a number in one of its
//! shapes, within text, its characters JSON-escaped at random, and random bytes inserted,
//! replaced or removed elsewhere in the document (not next to the number, so that what is left is
//! still a number by the screen's own token rule). The leak check is independent of the screen: it
//! decodes escapes itself, drops `-` and `+`, and looks for the number's ten digits.

use proptest::prelude::*;
use serde_json::Value;
use std::path::PathBuf;
use vardpuls_core::Topic;
use vardpuls_core::dlq::{DeadLetter, Source};
use vardpuls_core::events::decode;

const SHAPES: [&str; 8] = [
    "19811218-9876",
    "19811218+9876",
    "198112189876",
    "811218-9876",
    "811218+9876",
    "19811278-9876",
    "198112789876",
    "811278-9876",
];

fn examples() -> Vec<(Topic, Value)> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../schemas/examples");
    let mut out = Vec::new();
    for topic in Topic::INPUTS {
        let dir = root.join(topic.name()).join("valid");
        let mut paths: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
        paths.sort();
        // Not the example whose event id is spelt like a number: an edit next to it can turn it
        // into a run the screen rightly leaves alone, which the checker would still see.
        for bytes in paths.into_iter().map(|p| std::fs::read(p).unwrap()).filter(|b| !leaks(b)) {
            out.push((topic, serde_json::from_slice(&bytes).unwrap()));
        }
    }
    out
}

fn string_fields(value: &Value, prefix: &str, out: &mut Vec<String>) {
    if let Value::Object(map) = value {
        for (k, v) in map {
            let path = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
            match v {
                Value::String(_) => out.push(path),
                Value::Object(_) => string_fields(v, &path, out),
                _ => {}
            }
        }
    }
}

/// `\uXXXX` escapes of ASCII decoded, the rest left as it is: the checker's own reading.
fn unescape(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("\\u") {
        out.push_str(&rest[..i]);
        let code = rest.get(i + 2..i + 6).and_then(|h| u32::from_str_radix(h, 16).ok()).filter(|c| *c < 0x80);
        match code {
            Some(c) => {
                out.push(char::from_u32(c).unwrap());
                rest = &rest[i + 6..];
            }
            None => {
                out.push_str("\\u");
                rest = &rest[i + 2..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn leaks(bytes: &[u8]) -> bool {
    let text: String = unescape(&String::from_utf8_lossy(bytes)).chars().filter(|c| *c != '-' && *c != '+').collect();
    text.contains("8112189876") || text.contains("8112789876")
}

/// A document: example `pick`, field `field`, set to `shape` inside `around`, the characters
/// whose bit is set in `escape` written as escapes; then byte edits away from the number.
fn document(
    examples: &[(Topic, Value)],
    (pick, field, shape, around, escape): (usize, usize, usize, usize, u64),
    edits: &[(usize, u8, u8)],
) -> (Topic, Vec<u8>) {
    let (topic, base) = &examples[pick % examples.len()];
    let mut fields = Vec::new();
    string_fields(base, "", &mut fields);
    let path = &fields[field % fields.len()];
    let number = SHAPES[shape % SHAPES.len()];
    let value = [number.to_string(), format!("ref {number} called"), format!("x:{number}")][around % 3].clone();
    let escaped: String = value
        .chars()
        .enumerate()
        .map(|(i, c)| if escape >> (i % 64) & 1 == 1 { format!("\\u{:04x}", c as u32) } else { c.to_string() })
        .collect();
    const MARK: &str = "__value__";
    let mut doc = base.clone();
    let mut at = &mut doc;
    let parts: Vec<&str> = path.split('.').collect();
    for p in &parts[..parts.len() - 1] {
        at = &mut at[*p];
    }
    at[parts[parts.len() - 1]] = Value::String(MARK.into());
    let text = serde_json::to_string(&doc).unwrap();
    let start = text.find(MARK).unwrap();
    let (head, tail) = (text[..start].as_bytes().to_vec(), text[start + MARK.len()..].as_bytes().to_vec());
    // Edits stay off the quote on either side of the value: the number keeps its boundaries.
    let (mut head, mut tail) = (head, tail);
    for &(position, kind, byte) in edits {
        let part = if position % 2 == 0 { &mut head } else { &mut tail };
        let len = part.len();
        let (lo, hi) = if position % 2 == 0 { (0, len.saturating_sub(1)) } else { (1.min(len), len) };
        if hi <= lo {
            continue;
        }
        let i = lo + (position / 2) % (hi - lo);
        match kind % 3 {
            0 => part.insert(i, byte),
            1 => part[i] = byte,
            _ => {
                part.remove(i);
            }
        }
    }
    let mut bytes = head;
    bytes.extend_from_slice(escaped.as_bytes());
    bytes.extend_from_slice(&tail);
    (*topic, bytes)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3_000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn no_document_panics_or_leaks_a_number(
        choice in (any::<usize>(), any::<usize>(), any::<usize>(), any::<usize>(), any::<u64>()),
        edits in proptest::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 0..4),
    ) {
        let examples = examples();
        let (topic, bytes) = document(&examples, choice, &edits);
        match decode(topic, &bytes) {
            Ok(event) => prop_assert!(!leaks(&event.to_json()), "accepted and kept: {}", String::from_utf8_lossy(&bytes)),
            Err(reason) => {
                let letter = DeadLetter::new(topic, Source::Http { line: 1 }, reason.clone(), &bytes);
                prop_assert!(!leaks(reason.detail.as_bytes()) && !leaks(reason.field.as_bytes()), "reason: {reason}");
                prop_assert!(!leaks(&letter.raw().unwrap()), "raw: {}", String::from_utf8_lossy(&letter.raw().unwrap()));
                prop_assert!(!leaks(&letter.to_json()));
            }
        }
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        for topic in Topic::INPUTS {
            if let Err(reason) = decode(topic, &bytes) {
                let letter = DeadLetter::new(topic, Source::Http { line: 1 }, reason, &bytes);
                prop_assert!(!letter.to_json().is_empty());
            }
        }
    }
}
