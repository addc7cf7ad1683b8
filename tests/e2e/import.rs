//! `import` through a real broker: valid records on their topic, each invalid one on the DLQ
//! with its reason, and a summary that matches both.

use crate::support::{TestKafka, example_lines, tempdir};
use std::collections::BTreeMap;
use vardpuls_core::Topic;
use vardpuls_core::dlq::Source;
use vardpuls_core::events::decode;
use vardpuls_ingest::Ingestor;
use vardpuls_ingest::import::{Layout, import_file};
use vardpuls_kafka::EventProducer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ndjson_import_splits_valid_events_and_dead_letters() {
    let kafka = TestKafka::start().await;
    let ingestor = Ingestor::new(EventProducer::new(&kafka.config).unwrap(), None);

    for topic in Topic::INPUTS {
        // Valid and invalid examples interleaved, so partitions and lines mix.
        let valid = example_lines(topic, "valid");
        let invalid = example_lines(topic, "invalid");
        let mut file = Vec::new();
        let mut expected_dead: BTreeMap<u64, (String, String, Vec<u8>)> = BTreeMap::new();
        let mut line = 0u64;
        for i in 0..valid.len().max(invalid.len()) {
            if let Some(v) = valid.get(i) {
                line += 1;
                file.extend_from_slice(&v.bytes);
                file.push(b'\n');
            }
            if let Some(bad) = invalid.get(i) {
                line += 1;
                let (field, rule) = bad.expected.clone().unwrap();
                expected_dead.insert(line, (field, rule, bad.bytes.clone()));
                file.extend_from_slice(&bad.bytes);
                file.push(b'\n');
            }
        }
        let dir = tempdir();
        let path = dir.join(format!("{}.ndjson", topic.short_name()));
        std::fs::write(&path, &file).unwrap();

        let summary = import_file(&ingestor, &Layout::Ndjson(topic), &path, false).await.unwrap();
        assert_eq!(summary.read, line, "{topic}");
        assert_eq!(summary.produced, valid.len() as u64, "{topic}");
        assert_eq!(summary.rejected, invalid.len() as u64, "{topic}");
        assert_eq!(summary.delivery_failed, 0);
        let by_rule_total: u64 = summary.rejected_by_rule.values().sum();
        assert_eq!(by_rule_total, summary.rejected);

        // Exactly the valid events are on the topic, keyed by unit.
        let mut on_topic: Vec<Vec<u8>> = kafka
            .read(topic)
            .into_iter()
            .map(|r| {
                let event = decode(topic, &r.payload).expect("only valid events on input topics");
                assert_eq!(r.key.as_deref(), Some(event.unit_id().as_str().as_bytes()));
                event.to_json()
            })
            .collect();
        let mut expected: Vec<Vec<u8>> = valid.iter().map(|v| decode(topic, &v.bytes).unwrap().to_json()).collect();
        on_topic.sort();
        expected.sort();
        assert_eq!(on_topic, expected, "{topic}: events on the topic");

        // Each invalid line is on the DLQ with its file position, reason and exact bytes.
        let file_name = path.display().to_string();
        let dead: BTreeMap<u64, _> = kafka
            .dead_letters()
            .into_iter()
            .filter(|d| d.intended_topic == topic.name())
            .map(|d| match &d.source {
                Source::File { path, line, column: None } if *path == file_name => (*line, d),
                other => panic!("unexpected source {other:?}"),
            })
            .collect();
        assert_eq!(dead.keys().collect::<Vec<_>>(), expected_dead.keys().collect::<Vec<_>>(), "{topic}: DLQ lines");
        for (line, (field, rule, bytes)) in &expected_dead {
            let letter = &dead[line];
            assert_eq!(
                (letter.reason.field.as_str(), letter.reason.rule.as_str()),
                (field.as_str(), rule.as_str()),
                "{topic} line {line}"
            );
            if rule == "personal_identity_number" {
                assert!(letter.redacted, "{topic} line {line}: must be redacted");
                assert_eq!(letter.raw().unwrap(), vardpuls_core::domain::personnummer::redact(bytes).0);
            } else if bytes.len() > vardpuls_core::dlq::MAX_RAW_BYTES {
                // Cut so that the letter fits the broker; the size says what was there.
                assert!(letter.raw_truncated, "{topic} line {line}");
                assert_eq!(letter.raw().unwrap(), bytes[..vardpuls_core::dlq::MAX_RAW_BYTES], "{topic} line {line}");
                assert_eq!(letter.raw_size_bytes, bytes.len() as u64);
            } else {
                assert!(!letter.raw_truncated, "{topic} line {line}");
                assert_eq!(&letter.raw().unwrap(), bytes, "{topic} line {line}: raw bytes");
            }
            assert!(summary.rejected_by_rule.get(&letter.reason.rule).copied().unwrap_or(0) > 0);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_import_maps_columns_and_refuses_bad_rows() {
    let kafka = TestKafka::start().await;
    let ingestor = Ingestor::new(EventProducer::new(&kafka.config).unwrap(), None);
    let csv = "\
event_id,event_type,occurred_at,unit_id,visit_id,patient_ref,profession,contact_form,listed_unit_id,assessment_first_contact_at,assessment_patient_chosen_wait,out_of_county_provider,out_of_county_home_region,out_of_county_contracting_region,out_of_county_price_sek,out_of_county_patient_fee_sek
6f1c1b7e-0000-4000-8000-000000000001,visit_completed,2026-03-08T10:30:00+01:00,SE2321000180-E00101,v1,p-1,doctor,physical,,2026-03-05T09:12:00+01:00,false,,,,,
6f1c1b7e-0000-4000-8000-000000000002,visit_completed,2026-03-08T11:30:00+01:00,SE2321000180-E00101,v2,19811218-9876,nurse,phone,,,,,,,,
6f1c1b7e-0000-4000-8000-000000000003,visit_completed,2026-11-02T21:15:00+01:00,SE2321000057-K0001,kry-1,p-2,doctor,video,,,,Min Doktor,20,06,500.00,100
6f1c1b7e-0000-4000-8000-000000000004,visit_completed,2026-11-02T21:15:00+01:00,SE2321000057-K0001,kry-2,p-3,doctor,video,,,,Kry,20,06,500.5.0,100
6f1c1b7e-0000-4000-8000-000000000005,visit_completed,2026-03-08T10:30:00+01:00
6f1c1b7e-0000-4000-8000-000000000006,visit_completed,2026-03-29T02:30:00+01:00,SE2321000180-E00101,v6,p-4,psychologist,chat,SE2321000180-E00102,,,,,,,
";
    let dir = tempdir();
    let path = dir.join("visits.csv");
    std::fs::write(&path, csv).unwrap();
    let summary = import_file(&ingestor, &Layout::ContractCsv(Topic::Visits), &path, false).await.unwrap();
    assert_eq!((summary.read, summary.produced, summary.rejected), (6, 3, 3));

    let mut ids: Vec<String> = kafka
        .read(Topic::Visits)
        .iter()
        .map(|r| decode(Topic::Visits, &r.payload).unwrap().event_id().to_string())
        .collect();
    ids.sort();
    assert_eq!(
        ids,
        [
            "6f1c1b7e-0000-4000-8000-000000000001",
            "6f1c1b7e-0000-4000-8000-000000000003",
            "6f1c1b7e-0000-4000-8000-000000000006"
        ]
    );

    let mut reasons: Vec<(u64, String, String)> = kafka
        .dead_letters()
        .into_iter()
        .map(|d| {
            let Source::File { line, .. } = d.source else { panic!("file source") };
            (line, d.reason.field, d.reason.rule.as_str().to_string())
        })
        .collect();
    reasons.sort();
    assert_eq!(
        reasons,
        [
            (3, "patient_ref".into(), "personal_identity_number".into()),
            (5, "out_of_county.price_sek".into(), "decimal_format".into()),
            (6, ".".into(), "csv_format".into()),
        ]
    );
    // The personal identity number is stored nowhere: not in the reason, not in the raw bytes.
    for d in kafka.dead_letters() {
        assert!(!d.reason.detail.contains("9876"));
        assert!(!String::from_utf8_lossy(&d.raw().unwrap()).contains("9876"));
    }
    for topic in vardpuls_core::Topic::ALL {
        for r in kafka.read(topic) {
            assert!(!String::from_utf8_lossy(&r.payload).contains("19811218-9876"), "{topic}");
        }
    }
}
