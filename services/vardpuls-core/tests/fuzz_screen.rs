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

mod common {
    pub mod leaks;
}

use common::leaks::{NUMBERS, around_field, escaped, in_text, leaks, string_fields};

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

/// A document: example `pick`, field `field`, set to number `number` inside text `around`, the
/// characters whose bit is set in `escape` written as escapes; then byte edits away from it.
fn document(
    examples: &[(Topic, Value)],
    (pick, field, number, around, escape): (usize, usize, usize, usize, u64),
    edits: &[(usize, u8, u8)],
) -> (Topic, Vec<u8>) {
    let (topic, base) = &examples[pick % examples.len()];
    let fields = string_fields(base);
    let path = &fields[field % fields.len()];
    let value = in_text(NUMBERS[number % NUMBERS.len()])[around % 3].clone();
    let (head, tail) = around_field(base, path);
    // Edits stay off the quote on either side of the value: the number keeps its boundaries.
    let (mut head, mut tail) = (head.into_bytes(), tail.into_bytes());
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
    bytes.extend_from_slice(escaped(&value, escape).as_bytes());
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
