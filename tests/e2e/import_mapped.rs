//! The shipped example exports (examples/import/) imported through a real broker with their
//! mapping files: a call-detail CSV in Windows-1252, the same in UTF-8 with a byte-order mark
//! and as Parquet, and a journal system's visit export. Every expected event is written out by
//! hand from the example rows; event ids must agree across the three files and a re-import.

use crate::support::{TestKafka, repo_root};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use vardpuls_core::Topic;
use vardpuls_core::dlq::Source;
use vardpuls_core::events::decode;
use vardpuls_ingest::Ingestor;
use vardpuls_ingest::import::{Layout, Mapping, import_file};
use vardpuls_kafka::EventProducer;

fn example(name: &str) -> PathBuf {
    repo_root().join("examples/import").join(name)
}

fn mapped(name: &str) -> Layout {
    Layout::Mapped(Arc::new(Mapping::load(&example(name)).unwrap()))
}

/// Events on `topic`, decoded, with their ids set aside: (id, event without id).
fn events_on(kafka: &TestKafka, topic: Topic) -> Vec<(String, Value)> {
    kafka
        .read(topic)
        .iter()
        .map(|r| {
            let event = decode(topic, &r.payload).expect("only valid events on input topics");
            assert_eq!(r.key.as_deref(), Some(event.unit_id().as_str().as_bytes()), "keyed by unit");
            let mut v: Value = serde_json::from_slice(&event.to_json()).unwrap();
            let id = v.as_object_mut().unwrap().remove("event_id").unwrap().as_str().unwrap().to_string();
            (id, v)
        })
        .collect()
}

fn call(unit: &str, call_id: &str, line: &str, event_type: &str, at: &str, extra: Value) -> Value {
    let mut v = json!({"schema_version": 1, "event_type": event_type, "occurred_at": at,
                       "unit_id": format!("SE2321000180-{unit}"), "call_id": call_id, "line": line});
    v.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    v
}

/// By hand from examples/import/call-detail.utf8-bom.csv: March 2026 is CET (+01:00), the
/// 1177 answer after midnight keeps its own time, New Year's Eve is CET.
fn expected_calls() -> Vec<Value> {
    let vc = "primary_care";
    let mut calls = vec![
        call("E00101", "T-1001", vc, "call_received", "2026-03-02T08:02:11+01:00", json!({"in_phone_hours": true})),
        call("E00101", "T-1001", vc, "call_answered", "2026-03-02T08:04:40+01:00", json!({"queue_wait_seconds": 149})),
        call("E00101", "T-1002", vc, "call_received", "2026-03-02T08:05:00+01:00", json!({"in_phone_hours": true})),
        call("E00101", "T-1002", vc, "callback_booked", "2026-03-02T08:06:30+01:00", json!({})),
        call("E00101", "T-1002", vc, "callback_completed", "2026-03-02T13:40:00+01:00", json!({"reached": true})),
        call("E00101", "T-1003", vc, "call_received", "2026-03-02T09:10:00+01:00", json!({"in_phone_hours": true})),
        call("E00101", "T-1003", vc, "callback_booked", "2026-03-02T09:11:00+01:00", json!({})),
        call("E00101", "T-1003", vc, "callback_completed", "2026-03-03T08:15:00+01:00", json!({"reached": false})),
        call("E00101", "T-1004", vc, "call_received", "2026-03-02T09:30:00+01:00", json!({"in_phone_hours": true})),
        call("E00101", "T-1004", vc, "call_abandoned", "2026-03-02T09:31:35+01:00", json!({"queue_wait_seconds": 95})),
        call("E00102", "T-1005", vc, "call_received", "2026-03-02T17:45:00+01:00", json!({"in_phone_hours": false})),
        call("E00102", "T-1005", vc, "call_abandoned", "2026-03-02T17:45:20+01:00", json!({})),
        call("E00101", "T-1006", "1177", "call_received", "2026-03-02T23:55:00+01:00", json!({"in_phone_hours": true})),
        call(
            "E00101",
            "T-1006",
            "1177",
            "call_answered",
            "2026-03-03T00:06:00+01:00",
            json!({"queue_wait_seconds": 660}),
        ),
        call("E00102", "T-1010", vc, "call_received", "2026-12-31T16:59:59+01:00", json!({"in_phone_hours": true})),
        call("E00102", "T-1010", vc, "call_answered", "2026-12-31T17:00:10+01:00", json!({"queue_wait_seconds": 11})),
    ];
    calls.sort_by_key(Value::to_string);
    calls
}

/// (file, line, column, field, rule) of each dead letter, sorted.
fn dead_letters(kafka: &TestKafka) -> Vec<(String, u64, String, String, String)> {
    let mut out: Vec<_> = kafka
        .dead_letters()
        .into_iter()
        .map(|d| {
            let Source::File { path, line, column } = d.source else { panic!("file source") };
            let file = PathBuf::from(path).file_name().unwrap().to_string_lossy().into_owned();
            (file, line, column.unwrap_or_default(), d.reason.field, d.reason.rule.as_str().to_string())
        })
        .collect();
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_detail_exports_become_phone_events_with_stable_ids() {
    let kafka = TestKafka::start().await;
    let ingestor = Ingestor::new(EventProducer::new(&kafka.config).unwrap(), None);
    let layout = mapped("call-detail.toml");

    let summary = import_file(&ingestor, &layout, &example("call-detail.csv"), false).await.unwrap();
    assert_eq!((summary.read, summary.produced, summary.rejected, summary.delivery_failed), (11, 16, 3, 0));
    let first = events_on(&kafka, Topic::Phone);
    let mut got: Vec<Value> = first.iter().map(|(_, e)| e.clone()).collect();
    got.sort_by_key(Value::to_string);
    assert_eq!(got, expected_calls(), "Windows-1252 with `;`");
    let ids: BTreeMap<String, Value> = first.into_iter().collect();
    assert_eq!(ids.len(), 16, "one id per event");

    // The same export in UTF-8 with a byte-order mark, as Parquet, and the first file again:
    // the same events with the same ids, so vardpuls counts each once.
    for name in ["call-detail.utf8-bom.csv", "call-detail.parquet", "call-detail.csv"] {
        let summary = import_file(&ingestor, &layout, &example(name), false).await.unwrap();
        assert_eq!((summary.produced, summary.rejected), (16, 3), "{name}");
    }
    let all = events_on(&kafka, Topic::Phone);
    assert_eq!(all.len(), 64);
    for (id, event) in &all {
        assert_eq!(ids.get(id), Some(event), "every import gives each event the first import's id");
    }

    // The clock-change rows and the unknown line are refused, each once per file, naming the
    // line (Parquet: the row), the column and the rule.
    let refused = |file: &str, first_line: u64| {
        vec![
            (
                file.to_string(),
                first_line,
                "Ankomst".to_string(),
                "occurred_at".to_string(),
                "nonexistent_local_time".to_string(),
            ),
            (file.to_string(), first_line + 1, "Ankomst".into(), "occurred_at".into(), "ambiguous_local_time".into()),
            (file.to_string(), first_line + 2, "Linje".into(), "line".into(), "unmapped_value".into()),
        ]
    };
    let mut expected =
        [refused("call-detail.csv", 8), refused("call-detail.csv", 8), refused("call-detail.parquet", 7)].concat();
    expected.extend(refused("call-detail.utf8-bom.csv", 8));
    expected.sort();
    assert_eq!(dead_letters(&kafka), expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn journal_visit_exports_map_swedish_values_and_versions() {
    let kafka = TestKafka::start().await;
    let ingestor = Ingestor::new(EventProducer::new(&kafka.config).unwrap(), None);
    let layout = mapped("journal-visits.toml");
    let summary = import_file(&ingestor, &layout, &example("journal-visits.csv"), false).await.unwrap();
    assert_eq!((summary.read, summary.produced, summary.rejected), (8, 7, 1));

    let events = events_on(&kafka, Topic::Visits);
    let by = |visit: &str, recorded: &str| -> &Value {
        &events.iter().find(|(_, e)| e["visit_id"] == visit && e["recorded_at"] == recorded).unwrap().1
    };
    assert_eq!(
        *by("B-501", "2026-03-02T09:02:00+01:00"),
        json!({"schema_version": 1, "event_type": "visit_completed", "occurred_at": "2026-03-02T08:30:00+01:00",
               "unit_id": "SE2321000180-E00101", "visit_id": "B-501", "recorded_at": "2026-03-02T09:02:00+01:00",
               "patient_ref": "P-88412", "profession": "doctor", "contact_form": "physical",
               "listed_unit_id": "SE2321000180-E00101",
               "assessment": {"first_contact_at": "2026-02-27T10:15:00+01:00", "patient_chosen_wait": false}})
    );
    // The correction of B-501 (recorded the next morning, now a video visit) is a version of
    // its own with its own id; the contract's version rules make it the one that counts.
    let correction = by("B-501", "2026-03-03T07:45:00+01:00");
    assert_eq!(correction["contact_form"], "video");
    let ids: BTreeSet<&String> = events.iter().map(|(id, _)| id).collect();
    assert_eq!(ids.len(), 7);
    assert_eq!(by("B-502", "2026-03-02T10:20:00+01:00")["profession"], "nurse");
    assert_eq!(by("B-503", "2026-03-02T11:40:00+01:00")["contact_form"], "video");
    assert_eq!(by("B-504", "2026-03-01T16:12:00+01:00")["event_type"], "visit_cancelled");
    assert_eq!(
        by("B-505", "2026-03-04T19:55:00+01:00")["out_of_county"],
        json!({"provider": "Kry", "home_region": "20", "contracting_region": "01", "price_sek": "1250.50", "patient_fee_sek": "100.00"})
    );
    let leap_day = by("B-506", "2024-02-29T09:30:00+01:00");
    assert_eq!(
        (leap_day["occurred_at"].as_str(), leap_day["profession"].as_str()),
        (Some("2024-02-29T09:00:00+01:00"), Some("nurse"))
    );

    assert_eq!(
        dead_letters(&kafka),
        [(
            "journal-visits.csv".to_string(),
            9,
            "Yrkeskategori".to_string(),
            "profession".to_string(),
            "unmapped_value".to_string()
        )]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mapping_that_does_not_fit_the_file_fails_before_anything_is_produced() {
    let kafka = TestKafka::start().await;
    let ingestor = Ingestor::new(EventProducer::new(&kafka.config).unwrap(), None);
    let text = std::fs::read_to_string(example("call-detail.toml")).unwrap().replace("\"Nådd\"", "\"Nådd (Ja/Nej)\"");
    let layout = Layout::Mapped(Arc::new(Mapping::parse("wrong.toml", &text).unwrap()));
    for name in ["call-detail.csv", "call-detail.parquet"] {
        let path = example(name);
        let err = layout.check(&path).unwrap_err();
        assert!(
            format!("{err:#}").contains("column `Nådd (Ja/Nej)` (reached of callback_completed) not in the header"),
            "{err:#}"
        );
        let err = import_file(&ingestor, &layout, &path, false).await.unwrap_err();
        assert!(format!("{err:#}").contains("Nådd (Ja/Nej)"), "{err:#}");
    }
    assert!(kafka.read(Topic::Phone).is_empty());
    assert!(kafka.dead_letters().is_empty());
}
