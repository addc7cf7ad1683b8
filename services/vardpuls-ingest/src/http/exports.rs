//! `POST /v1/exports/{mapping}`: a source's own export pushed over HTTP instead of imported
//! from a file. The body is one CSV file as the mapping lays it out (`ingest.mappings_dir`
//! holds the mappings, named by file stem); every row goes the way an imported row goes
//! (docs/import.md): its events produced, or the row dead-lettered naming line and column.
//!
//! A header the mapping does not fit is 422 before anything is produced. The answer lists each
//! row with the ids of its events, so a client can tell what is stored; a row counts as stored
//! only when Kafka acknowledged all its events (503 otherwise: send the same body again, the
//! derived ids make that safe).

use super::{AppState, RETRY_AFTER_NOT_STORED_SECONDS, authorized, error, read_body, unauthorized};
use crate::import::mapping::Mapping;
use crate::import::tables::{CsvTable, Table};
use crate::import::{RefusedRow, map_row};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::future::join_all;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;
use vardpuls_core::Rejection;
use vardpuls_core::dlq::Source;

/// The mappings exports can be posted to, by name (the file stem).
pub type Mappings = Arc<HashMap<String, Arc<Mapping>>>;

#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct RowResult {
    pub line: u64,
    pub status: super::LineStatus,
    /// The ids of the row's events (none for a blank row).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub event_ids: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Rejection>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct ExportResponse {
    pub rows: u64,
    /// Events stored on the topic.
    pub accepted: u64,
    /// Rows stored on the dead-letter topic.
    pub rejected: u64,
    /// Rows Kafka did not acknowledge, entirely or in part.
    pub not_stored: u64,
    pub results: Vec<RowResult>,
}

struct Row {
    line: u64,
    event_ids: Vec<String>,
    column: Option<String>,
    reason: Option<Rejection>,
    deliveries: Vec<futures::future::BoxFuture<'static, Result<(), rdkafka::error::KafkaError>>>,
}

pub(super) async fn post_export(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if !authorized(&headers, &state.tokens) {
        return unauthorized();
    }
    let Some(mapping) = state.mappings.get(&name).cloned() else {
        let mut known: Vec<&String> = state.mappings.keys().collect();
        known.sort();
        return error(StatusCode::NOT_FOUND, format!("no mapping `{name}`; ingest.mappings_dir has {known:?}"));
    };
    let (body, _held) = match read_body(&state, &headers, body).await {
        Ok(read) => read,
        Err(refused) => return refused,
    };
    let mut table = match CsvTable::open(&body[..], &mapping.csv) {
        Ok(table) => table,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("{e:#}")),
    };
    let bound = match mapping.bind(table.header(), table.decimal_mark()) {
        Ok(bound) => bound,
        Err(e) => return error(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()),
    };

    let topic = mapping.topic;
    let mut rows = Vec::new();
    let mut cells = csv::StringRecord::new();
    loop {
        let read = match table.next_row(&mut cells) {
            Ok(Some(read)) => read,
            Ok(None) => break,
            Err(e) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!("{e:#}; nothing after line {} was read", rows.len() + 1),
                );
            }
        };
        if rows.len() >= state.max_lines {
            return error(StatusCode::PAYLOAD_TOO_LARGE, format!("more than {} rows per request", state.max_lines));
        }
        let RefusedRow { line, raw, reason, column } = match map_row(&bound, read, &cells, mapping.csv.separator) {
            (line, Ok(events)) => {
                let routed: Vec<_> = events.iter().map(|e| state.ingestor.produce(e)).collect();
                let event_ids = events.iter().map(|e| e.event_id().to_string()).collect();
                let deliveries = routed.into_iter().map(|r| r.delivery).collect();
                rows.push(Row { line, event_ids, column: None, reason: None, deliveries });
                continue;
            }
            (_, Err(refused)) => refused,
        };
        let source = Source::HttpExport { mapping: name.clone(), line, column: column.clone() };
        let routed = state.ingestor.reject(topic, &raw, source, reason.clone());
        rows.push(Row { line, event_ids: Vec::new(), column, reason: Some(reason), deliveries: vec![routed.delivery] });
    }
    answer(rows).await
}

/// Awaits every delivery at once (they are sent as they are polled), then answers per row.
async fn answer(mut rows: Vec<Row>) -> Response {
    let deliveries: Vec<_> = rows
        .iter_mut()
        .enumerate()
        .flat_map(|(i, row)| std::mem::take(&mut row.deliveries).into_iter().map(move |d| async move { (i, d.await) }))
        .collect();
    let mut failed = vec![false; rows.len()];
    for (i, result) in join_all(deliveries).await {
        if let Err(e) = result {
            tracing::warn!(line = rows[i].line, error = %e, "export row not stored");
            failed[i] = true;
        }
    }
    let mut response =
        ExportResponse { rows: rows.len() as u64, accepted: 0, rejected: 0, not_stored: 0, results: Vec::new() };
    for (row, failed) in rows.into_iter().zip(failed) {
        let stored = !failed;
        let status = match (stored, &row.reason) {
            (false, _) => {
                response.not_stored += 1;
                super::LineStatus::NotStored
            }
            (true, Some(_)) => {
                response.rejected += 1;
                super::LineStatus::Rejected
            }
            (true, None) => {
                response.accepted += row.event_ids.len() as u64;
                super::LineStatus::Accepted
            }
        };
        response.results.push(RowResult {
            line: row.line,
            status,
            event_ids: row.event_ids,
            column: row.column,
            reason: row.reason,
        });
    }
    if response.not_stored > 0 {
        let mut answer = (StatusCode::SERVICE_UNAVAILABLE, axum::Json(response)).into_response();
        answer.headers_mut().insert(header::RETRY_AFTER, RETRY_AFTER_NOT_STORED_SECONDS.into());
        return answer;
    }
    (StatusCode::OK, axum::Json(response)).into_response()
}
