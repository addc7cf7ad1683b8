//! The Rust types and the JSON Schemas under `schemas/` describe the same contracts: every valid
//! example decodes (and survives a round trip), and every invalid example is refused with the
//! field and rule its file name states (`<field>__<rule>.json`; `_message` is the whole message).

use std::fs;
use std::path::{Path, PathBuf};
use vardpuls_core::Topic;
use vardpuls_core::dlq::DeadLetter;
use vardpuls_core::events::decode;
use vardpuls_core::outputs::{AlertChange, KpiRecord, LateEvent};

fn examples(topic: Topic, kind: &str) -> Vec<PathBuf> {
    let dir =
        Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string()))
            .join("../../schemas/examples")
            .join(topic.name())
            .join(kind);
    let mut files: Vec<_> =
        fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())).map(|e| e.unwrap().path()).collect();
    files.sort();
    assert!(!files.is_empty(), "no {kind} examples for {topic}");
    files
}

/// `out_of_county.price_sek__decimal_format.json` -> ("out_of_county.price_sek", "decimal_format");
/// a third part (`occurred_at__timestamp_format__lower_case_t`) only names the case.
fn expectation(path: &Path) -> (String, String) {
    let stem = path.file_stem().unwrap().to_str().unwrap();
    let (field, rule) = stem.split_once("__").unwrap_or_else(|| panic!("{stem}: name must be <field>__<rule>"));
    let rule = rule.split_once("__").map_or(rule, |(rule, _case)| rule);
    let field = if field == "_message" { "." } else { field };
    (field.to_string(), rule.to_string())
}

#[test]
fn every_valid_input_example_decodes_and_round_trips() {
    for topic in Topic::INPUTS {
        for path in examples(topic, "valid") {
            let bytes = fs::read(&path).unwrap();
            let event = decode(topic, &bytes).unwrap_or_else(|r| panic!("{}: {r}", path.display()));
            assert_eq!(event.topic(), topic);
            let again = decode(topic, &event.to_json()).unwrap();
            assert_eq!(again, event, "{} does not round-trip", path.display());
        }
    }
}

#[test]
fn every_invalid_input_example_is_refused_with_its_stated_reason() {
    for topic in Topic::INPUTS {
        for path in examples(topic, "invalid") {
            let (field, rule) = expectation(&path);
            let bytes = fs::read(&path).unwrap();
            let rejection = decode(topic, &bytes).expect_err(&path.display().to_string());
            assert_eq!(
                (rejection.field.as_str(), rejection.rule.as_str()),
                (field.as_str(), rule.as_str()),
                "{}: got {rejection}",
                path.display()
            );
            assert!(!rejection.detail.is_empty());
        }
    }
}

fn check_output<T: serde::de::DeserializeOwned + serde::Serialize>(topic: Topic) {
    for path in examples(topic, "valid") {
        let bytes = fs::read(&path).unwrap();
        let value: T = serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let _: T = serde_json::from_slice(&serde_json::to_vec(&value).unwrap()).unwrap();
    }
    for path in examples(topic, "invalid") {
        let (field, _) = expectation(&path);
        let bytes = fs::read(&path).unwrap();
        let err = serde_json::from_slice::<T>(&bytes).err().unwrap_or_else(|| panic!("{} decoded", path.display()));
        assert!(
            err.to_string().contains(field.rsplit('.').next().unwrap()) || err.to_string().contains("variant"),
            "{}: {err}",
            path.display()
        );
    }
}

#[test]
fn output_examples_match_the_output_types() {
    check_output::<KpiRecord>(Topic::Kpi);
    check_output::<AlertChange>(Topic::Alerts);
    check_output::<DeadLetter>(Topic::DeadLetter);
    check_output::<LateEvent>(Topic::Late);
}
