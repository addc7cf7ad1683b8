//! HTTP ingest through a real broker: unauthenticated requests are refused and store nothing;
//! an authenticated batch is answered line by line and lands on the topic and the DLQ.

use crate::support::TestKafka;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use vardpuls_core::Topic;
use vardpuls_core::dlq::Source;
use vardpuls_ingest::Ingestor;
use vardpuls_ingest::http::{HttpIngestConfig, IngestResponse, LineStatus, router};
use vardpuls_kafka::EventProducer;

const TOKEN: &str = "e2e-token-7c1f";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_unauthenticated_and_answers_each_line() {
    let kafka = TestKafka::start().await;
    let address = serve_ingest(&kafka).await;

    let body = [
        r#"{"schema_version":1,"event_id":"4a0e7c52-1d1b-4b7e-9d55-000000000001","event_type":"call_received","occurred_at":"2026-10-25T02:30:00+02:00","unit_id":"SE2321000115-V1380A","call_id":"c-1","line":"primary_care","in_phone_hours":true}"#,
        r#"{"schema_version":1,"event_id":"4a0e7c52-1d1b-4b7e-9d55-000000000002","event_type":"call_received","occurred_at":"2026-10-25T02:30:00+01:00","unit_id":"SE2321000115-V1380A","call_id":"c-2","line":"primary_care"}"#,
        "",
        r#"{"schema_version":1,"event_id":"4a0e7c52-1d1b-4b7e-9d55-000000000003","event_type":"call_answered","occurred_at":"2026-10-25T02:31:00+01:00","unit_id":"SE2321000115-V1380A","call_id":"c-1","line":"primary_care","queue_wait_seconds":42}"#,
    ]
    .join("\n");

    // No token, and a wrong token: 401, and nothing reaches Kafka.
    let (status, _) = post(address, "/v1/events/phone", None, &body).await;
    assert_eq!(status, 401);
    let (status, _) = post(address, "/v1/events/phone", Some("wrong-token"), &body).await;
    assert_eq!(status, 401);
    assert!(kafka.read(Topic::Phone).is_empty());
    assert!(kafka.read(Topic::DeadLetter).is_empty());

    // Unknown topic.
    let (status, _) = post(address, "/v1/events/kpi", Some(TOKEN), &body).await;
    assert_eq!(status, 404);

    // Authenticated: each line answered.
    let (status, answer) = post(address, "/v1/events/phone", Some(TOKEN), &body).await;
    assert_eq!(status, 200, "{answer}");
    let answer: IngestResponse = serde_json::from_str(&answer).unwrap();
    assert_eq!((answer.accepted, answer.rejected, answer.not_stored), (2, 1, 0));
    let statuses: Vec<(u64, LineStatus)> = answer.results.iter().map(|r| (r.line, r.status)).collect();
    assert_eq!(statuses, [(1, LineStatus::Accepted), (2, LineStatus::Rejected), (4, LineStatus::Accepted)]);
    let reason = answer.results[1].reason.as_ref().unwrap();
    assert_eq!((reason.field.as_str(), reason.rule.as_str()), ("in_phone_hours", "missing_field"));

    let mut stored: Vec<String> = kafka
        .read(Topic::Phone)
        .iter()
        .map(|r| serde_json::from_slice::<Value>(&r.payload).unwrap()["event_id"].as_str().unwrap().to_string())
        .collect();
    stored.sort();
    assert_eq!(stored, ["4a0e7c52-1d1b-4b7e-9d55-000000000001", "4a0e7c52-1d1b-4b7e-9d55-000000000003"]);
    let dead = kafka.dead_letters();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].source, Source::Http { line: 2 });
    assert_eq!(dead[0].reason.rule.as_str(), "missing_field");
}

/// A minimal HTTP/1.1 client: enough for these tests without another dependency.
/// HTTP ingest on a free port, producing to `kafka`, accepting [`TOKEN`].
async fn serve_ingest(kafka: &TestKafka) -> std::net::SocketAddr {
    let ingestor = Ingestor::new(EventProducer::new(&kafka.config).unwrap(), None);
    let config = HttpIngestConfig {
        tokens: vec![TOKEN.to_string()],
        mappings_dir: Some(crate::support::repo_root().join("examples/import")),
        ..HttpIngestConfig::default()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router(ingestor, &config).unwrap()).await });
    address
}

async fn post(address: std::net::SocketAddr, path: &str, token: Option<&str>, body: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(address).await.unwrap();
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/x-ndjson\r\n{auth}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let status = response[9..12].parse().unwrap();
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

/// Alertmanager's webhook: the alert history lands on `vardpuls.alerts.v1`, keyed so an
/// alert's firing and resolution stay in order; without the token nothing does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alertmanager_notifications_become_the_alert_history() {
    use vardpuls_core::outputs::{AlertChange, AlertState, Scope, Severity};
    let kafka = TestKafka::start().await;
    let address = serve_ingest(&kafka).await;

    let alert = |status: &str, ends: &str| {
        format!(
            r#"{{"status":"{status}","labels":{{"alertname":"VardpulsKpiAtRisk","severity":"page","kpi":"same_day_contact","scope":"unit","scope_id":"SE2321000180-E00101","grain":"day","region":"20","name":"Vårdcentral Mora"}},"annotations":{{"summary":"Vårdcentral Mora: same_day_contact is at risk (day)"}},"startsAt":"2026-11-23T09:15:00Z","endsAt":"{ends}","generatorURL":"http://prometheus:9090/graph","fingerprint":"8a3f2c1d9e0b4a57"}}"#
        )
    };
    let notification = |status: &str, ends: &str| {
        format!(
            r#"{{"version":"4","groupKey":"{{}}:{{region=\"20\"}}","truncatedAlerts":0,"status":"{status}","receiver":"vardpuls-history","groupLabels":{{"region":"20"}},"commonLabels":{{}},"commonAnnotations":{{}},"externalURL":"http://alertmanager:9093","alerts":[{}]}}"#,
            alert(status, ends)
        )
    };
    let firing = notification("firing", "0001-01-01T00:00:00Z");
    let (status, _) = post(address, "/v1/alerts", None, &firing).await;
    assert_eq!(status, 401);
    assert!(kafka.read(Topic::Alerts).is_empty());
    let (status, answer) = post(address, "/v1/alerts", Some(TOKEN), "{\"alerts\": 3}").await;
    assert_eq!(status, 400, "{answer}");

    let (status, answer) = post(address, "/v1/alerts", Some(TOKEN), &firing).await;
    assert_eq!((status, answer.as_str()), (200, r#"{"stored":1}"#));
    let (status, _) = post(address, "/v1/alerts", Some(TOKEN), &notification("resolved", "2026-11-23T10:05:00Z")).await;
    assert_eq!(status, 200);

    let records = kafka.read(Topic::Alerts);
    let history: Vec<(String, AlertChange)> = records
        .iter()
        .map(|r| (String::from_utf8(r.key.clone().unwrap()).unwrap(), serde_json::from_slice(&r.payload).unwrap()))
        .collect();
    assert_eq!(history.len(), 2);
    for (key, change) in &history {
        assert_eq!(key, "VardpulsKpiAtRisk/8a3f2c1d9e0b4a57");
        assert_eq!(
            (change.severity, change.scope, change.scope_id.as_deref()),
            (Severity::Page, Some(Scope::Unit), Some("SE2321000180-E00101"))
        );
        assert_eq!(change.labels["name"], "Vårdcentral Mora");
    }
    let states: Vec<(AlertState, String)> = history.iter().map(|(_, c)| (c.state, c.changed_at.to_rfc3339())).collect();
    assert_eq!(
        states,
        [
            (AlertState::Firing, "2026-11-23T09:15:00+00:00".to_string()),
            (AlertState::Resolved, "2026-11-23T10:05:00+00:00".to_string())
        ]
    );
}

/// A call-detail export pushed to `POST /v1/exports/call-detail` (the shipped mapping): the
/// rows' events on the topic with the ids the answer names, the clock-change and unknown-line
/// rows on the DLQ naming line and column, the same ids when it is posted again; a header the
/// mapping does not fit is 422 and stores nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_are_answered_row_by_row_with_their_event_ids() {
    use std::collections::BTreeSet;
    use vardpuls_ingest::http::exports::ExportResponse;
    let kafka = TestKafka::start().await;
    let address = serve_ingest(&kafka).await;
    let export =
        std::fs::read_to_string(crate::support::repo_root().join("examples/import/call-detail.utf8-bom.csv")).unwrap();

    let wrong = export.replacen("Nådd", "Nådd (Ja/Nej)", 1);
    let (status, answer) = post(address, "/v1/exports/call-detail", Some(TOKEN), &wrong).await;
    assert_eq!(status, 422, "{answer}");
    assert!(answer.contains("Nådd"), "{answer}");
    let (status, _) = post(address, "/v1/exports/call-detail", None, &export).await;
    assert_eq!(status, 401);
    let (status, _) = post(address, "/v1/exports/no-such-mapping", Some(TOKEN), &export).await;
    assert_eq!(status, 404);
    assert!(kafka.read(Topic::Phone).is_empty() && kafka.read(Topic::DeadLetter).is_empty());

    let (status, answer) = post(address, "/v1/exports/call-detail", Some(TOKEN), &export).await;
    assert_eq!(status, 200, "{answer}");
    let answer: ExportResponse = serde_json::from_str(&answer).unwrap();
    assert_eq!((answer.rows, answer.accepted, answer.rejected, answer.not_stored), (11, 16, 3, 0));
    let refused: Vec<(u64, Option<&str>, &str)> = answer
        .results
        .iter()
        .filter(|r| r.status == LineStatus::Rejected)
        .map(|r| (r.line, r.column.as_deref(), r.reason.as_ref().unwrap().rule.as_str()))
        .collect();
    assert_eq!(
        refused,
        [
            (8, Some("Ankomst"), "nonexistent_local_time"),
            (9, Some("Ankomst"), "ambiguous_local_time"),
            (10, Some("Linje"), "unmapped_value")
        ]
    );
    // Row 3 (T-1002) was received, booked a callback and was called back: three events.
    assert_eq!(answer.results.iter().find(|r| r.line == 3).unwrap().event_ids.len(), 3);
    let answered: BTreeSet<String> = answer.results.iter().flat_map(|r| r.event_ids.clone()).collect();
    let stored = |kafka: &TestKafka| -> Vec<String> {
        kafka
            .read(Topic::Phone)
            .iter()
            .map(|r| serde_json::from_slice::<Value>(&r.payload).unwrap()["event_id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(stored(&kafka).into_iter().collect::<BTreeSet<_>>(), answered);
    let dead: Vec<Source> = kafka.dead_letters().into_iter().map(|d| d.source).collect();
    assert!(
        dead.contains(&Source::HttpExport { mapping: "call-detail".into(), line: 10, column: Some("Linje".into()) }),
        "{dead:?}"
    );

    // Sent again (a retry after a lost answer): the same ids, so vardpuls counts each once.
    let (status, _) = post(address, "/v1/exports/call-detail", Some(TOKEN), &export).await;
    assert_eq!(status, 200);
    let again = stored(&kafka);
    assert_eq!(again.len(), 32);
    assert_eq!(again.into_iter().collect::<BTreeSet<_>>(), answered);
}
