//! HTTP ingest for source systems that push: `POST /v1/events/{topic}` with an NDJSON body;
//! `POST /v1/exports/{mapping}` with a source's own CSV export ([`exports`]); and
//! Alertmanager's webhook, `POST /v1/alerts`, the alert history ([`crate::alerts`]).
//!
//! Authenticated with a bearer token, checked from the headers before any of the body is read.
//! Each line is validated like an imported record and the answer lists every line's result. A
//! line is `accepted` only after Kafka acknowledged it; if Kafka fails, the answer is 503 and
//! the client re-sends the same body (event ids make that safe). A body must arrive within
//! `body_timeout_seconds` (408 otherwise), so a client sending a byte a second holds nothing
//! for long.
//!
//! Memory is bounded by `max_in_flight_bytes`: the bodies of all requests being read, validated
//! and produced together. A request that would go over it gets 503 with `Retry-After` at once,
//! rather than the process growing with the load (each body is held about three times: as
//! read, as events, and in the producer's queue until Kafka acknowledges).

pub mod exports;

use crate::import::Mapping;
use crate::import::mapping::MappingError;
use crate::pipeline::{Ingestor, Outcome};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use futures::StreamExt;
use futures::future::join_all;
use prometheus::IntGauge;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use vardpuls_core::dlq::Source;
use vardpuls_core::{Rejection, Topic};

/// `[ingest]` in `vardpuls.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpIngestConfig {
    /// Address of the ingest HTTP server (`VARDPULS_INGEST_LISTEN`).
    pub listen: String,
    /// Bearer tokens accepted by `POST /v1/events/{topic}`. Empty refuses every request. Set
    /// them with `VARDPULS_INGEST_TOKENS=token1,token2` rather than in a file.
    pub tokens: Vec<String>,
    pub max_body_bytes: usize,
    pub max_lines: usize,
    /// The whole body must arrive within this time after the headers (408 otherwise).
    pub body_timeout_seconds: u64,
    /// Open HTTP connections at most (ingest, API, wallboard and `/metrics` together); more
    /// wait in the kernel's backlog.
    pub max_connections: usize,
    /// Request headers must arrive within this time after a connection opens.
    pub header_timeout_seconds: u64,
    /// A connection that moved no bytes for this long is closed.
    pub idle_timeout_seconds: u64,
    /// Bytes of request bodies in flight at most, over all requests; beyond, 503 with
    /// `Retry-After`.
    pub max_in_flight_bytes: usize,
    /// A directory of mapping files (`*.toml`, docs/import.md): each one's file stem names the
    /// route `POST /v1/exports/{stem}` for that source's CSV export. Unset: no export routes.
    pub mappings_dir: Option<std::path::PathBuf>,
}

/// Seconds a client is asked to wait before sending again: when busy, and when Kafka did not
/// acknowledge.
const RETRY_AFTER_BUSY_SECONDS: u64 = 1;
const RETRY_AFTER_NOT_STORED_SECONDS: u64 = 5;

/// The bounds of the HTTP server's door, from `[ingest]` (see `vardpuls::server`).
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    pub max_connections: usize,
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
}

impl HttpIngestConfig {
    pub fn connection_limits(&self) -> ConnectionLimits {
        ConnectionLimits {
            max_connections: self.max_connections.max(1),
            header_timeout: Duration::from_secs(self.header_timeout_seconds.max(1)),
            idle_timeout: Duration::from_secs(self.idle_timeout_seconds.max(1)),
        }
    }
}

impl Default for HttpIngestConfig {
    fn default() -> Self {
        HttpIngestConfig {
            listen: "127.0.0.1:8080".to_string(),
            tokens: Vec::new(),
            max_body_bytes: 16 * 1024 * 1024,
            max_lines: 50_000,
            body_timeout_seconds: 30,
            max_connections: 1_024,
            header_timeout_seconds: 10,
            idle_timeout_seconds: 30,
            max_in_flight_bytes: 64 * 1024 * 1024,
            mappings_dir: None,
        }
    }
}

#[derive(Clone)]
struct AppState {
    ingestor: Ingestor,
    tokens: Arc<Vec<String>>,
    max_lines: usize,
    max_body_bytes: usize,
    body_timeout: Duration,
    /// One permit per body byte in flight.
    in_flight: Arc<Semaphore>,
    mappings: exports::Mappings,
}

/// Per-line result in the answer.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct LineResult {
    pub line: u64,
    pub status: LineStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<Rejection>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum LineStatus {
    /// Valid and stored in Kafka.
    Accepted,
    /// Invalid; stored in the dead-letter topic with the reason.
    Rejected,
    /// Kafka did not acknowledge; send again.
    NotStored,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct IngestResponse {
    pub accepted: u64,
    pub rejected: u64,
    pub not_stored: u64,
    pub results: Vec<LineResult>,
}

/// The ingest routes; mount them in the service's router. Fails when a mapping in
/// `mappings_dir` cannot be loaded: a source's pushes would otherwise fail one by one.
pub fn router(ingestor: Ingestor, config: &HttpIngestConfig) -> Result<Router, MappingError> {
    if config.tokens.is_empty() {
        tracing::warn!(
            "HTTP ingest has no tokens configured: every request will be refused (set VARDPULS_INGEST_TOKENS)"
        );
    }
    let state = AppState {
        ingestor,
        tokens: Arc::new(config.tokens.clone()),
        max_lines: config.max_lines,
        // A body larger than the whole in-flight budget could never be taken: it is too large,
        // not a reason to be told "busy" forever.
        max_body_bytes: config.max_body_bytes.min(config.max_in_flight_bytes),
        body_timeout: Duration::from_secs(config.body_timeout_seconds.max(1)),
        in_flight: Arc::new(Semaphore::new(config.max_in_flight_bytes.clamp(1, Semaphore::MAX_PERMITS))),
        mappings: Arc::new(match &config.mappings_dir {
            Some(dir) => Mapping::load_dir(dir)?,
            None => Default::default(),
        }),
    };
    Ok(Router::new()
        .route("/v1/events/{topic}", post(ingest))
        .route("/v1/exports/{mapping}", post(exports::post_export))
        .route("/v1/alerts", post(alerts))
        .with_state(state))
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, axum::Json(serde_json::json!({ "error": message.into() }))).into_response()
}

fn unauthorized() -> Response {
    let mut response = error(StatusCode::UNAUTHORIZED, "missing or invalid bearer token");
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer realm=\"vardpuls\""));
    response
}

/// Alertmanager's webhook: every alert of the notification to `vardpuls.alerts.v1`; 200 once
/// Kafka acknowledged all, 400 for a body that is no notification, 503 (Alertmanager retries)
/// when Kafka did not acknowledge.
async fn alerts(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    if !authorized(&headers, &state.tokens) {
        return unauthorized();
    }
    let (body, _held) = match read_body(&state, &headers, body).await {
        Ok(read) => read,
        Err(refused) => return refused,
    };
    let changes = match crate::alerts::changes(&body) {
        Ok(changes) => changes,
        Err(why) => return error(StatusCode::BAD_REQUEST, why.to_string()),
    };
    let delivered = join_all(changes.iter().map(|c| state.ingestor.send_alert(c))).await;
    if let Some(Err(e)) = delivered.iter().find(|d| d.is_err()) {
        tracing::warn!(error = %e, "alert history not stored");
        let mut answer = error(StatusCode::SERVICE_UNAVAILABLE, "Kafka did not acknowledge; send again");
        answer.headers_mut().insert(header::RETRY_AFTER, RETRY_AFTER_NOT_STORED_SECONDS.into());
        return answer;
    }
    (StatusCode::OK, axum::Json(serde_json::json!({ "stored": changes.len() }))).into_response()
}

// The body is taken as a stream, not as `Bytes`: an extractor would read all of it before the
// handler could look at the token.
async fn ingest(State(state): State<AppState>, Path(topic): Path<String>, headers: HeaderMap, body: Body) -> Response {
    if !authorized(&headers, &state.tokens) {
        return unauthorized();
    }
    let topic = match topic.parse::<Topic>() {
        Ok(t) if t.is_input() => t,
        _ => {
            return error(
                StatusCode::NOT_FOUND,
                format!("`{topic}` is not an input topic; use phone, visits, listings or chats"),
            );
        }
    };
    // `_held` keeps the body's share of the in-flight budget until the answer is made.
    let (body, _held) = match read_body(&state, &headers, body).await {
        Ok(read) => read,
        Err(refused) => return refused,
    };
    let lines: Vec<(u64, &[u8])> = body
        .split(|b| *b == b'\n')
        .enumerate()
        .map(|(i, l)| (i as u64 + 1, l.strip_suffix(b"\r").unwrap_or(l)))
        .filter(|(_, l)| !l.iter().all(u8::is_ascii_whitespace))
        .collect();
    if lines.len() > state.max_lines {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("{} lines; at most {} per request", lines.len(), state.max_lines),
        );
    }

    let routed: Vec<_> = lines
        .iter()
        .map(|(line, raw)| (*line, state.ingestor.route(topic, raw, Source::Http { line: *line })))
        .collect();
    let (meta, deliveries): (Vec<_>, Vec<_>) =
        routed.into_iter().map(|(line, r)| ((line, r.outcome), r.delivery)).unzip();
    let delivered = join_all(deliveries).await;

    let mut response =
        IngestResponse { accepted: 0, rejected: 0, not_stored: 0, results: Vec::with_capacity(meta.len()) };
    for ((line, outcome), delivery) in meta.into_iter().zip(delivered) {
        let result = match (outcome, delivery) {
            (outcome, Err(e)) => {
                tracing::warn!(line, error = %e, "ingest delivery failed");
                response.not_stored += 1;
                let event_id = match outcome {
                    Outcome::Accepted { event_id } => Some(event_id.to_string()),
                    Outcome::Rejected { .. } => None,
                };
                LineResult { line, status: LineStatus::NotStored, event_id, reason: None }
            }
            (Outcome::Accepted { event_id }, Ok(())) => {
                response.accepted += 1;
                LineResult { line, status: LineStatus::Accepted, event_id: Some(event_id.to_string()), reason: None }
            }
            (Outcome::Rejected { reason }, Ok(())) => {
                response.rejected += 1;
                LineResult { line, status: LineStatus::Rejected, event_id: None, reason: Some(reason) }
            }
        };
        response.results.push(result);
    }
    if response.not_stored > 0 {
        let mut answer = (StatusCode::SERVICE_UNAVAILABLE, axum::Json(response)).into_response();
        answer.headers_mut().insert(header::RETRY_AFTER, RETRY_AFTER_NOT_STORED_SECONDS.into());
        return answer;
    }
    (StatusCode::OK, axum::Json(response)).into_response()
}

/// The body, within the size, time and in-flight limits, with its share of the in-flight
/// budget; 413, 408 or 503 otherwise. A declared length over the limit is refused before a byte
/// is read, and a declared length the budget has no room for too.
async fn read_body(state: &AppState, headers: &HeaderMap, body: Body) -> Result<(Bytes, Option<Held>), Response> {
    let too_large =
        || error(StatusCode::PAYLOAD_TOO_LARGE, format!("the body is larger than {} bytes", state.max_body_bytes));
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
    if declared.is_some_and(|n: usize| n > state.max_body_bytes) {
        return Err(too_large());
    }
    let mut held = match declared {
        Some(n) => Some(reserve(state, n).ok_or_else(busy)?),
        None => None,
    };
    let read = async {
        let mut chunks = body.into_data_stream();
        let mut bytes = Vec::with_capacity(declared.unwrap_or(0));
        while let Some(chunk) = chunks.next().await {
            // An error here is the client going away mid-body: nobody reads the answer.
            let chunk = chunk.map_err(|_| too_large())?;
            if bytes.len() + chunk.len() > state.max_body_bytes {
                return Err(too_large());
            }
            bytes.extend_from_slice(&chunk);
            // A body without a declared length reserves as it arrives.
            if declared.is_none() {
                let more = reserve(state, chunk.len()).ok_or_else(busy)?;
                match held.as_mut() {
                    Some(permit) => permit.merge(more),
                    None => held = Some(more),
                }
            }
        }
        Ok(Bytes::from(bytes))
    };
    match tokio::time::timeout(state.body_timeout, read).await {
        Ok(Ok(bytes)) => Ok((bytes, held)),
        Ok(Err(refused)) => Err(refused),
        Err(_) => Err(error(
            StatusCode::REQUEST_TIMEOUT,
            format!("the body did not arrive within {} s; send it again", state.body_timeout.as_secs()),
        )),
    }
}

/// A request's share of the in-flight budget, given back (and off the gauge) when dropped.
struct Held {
    permit: OwnedSemaphorePermit,
    gauge: Option<IntGauge>,
}

impl Held {
    fn merge(&mut self, mut other: Held) {
        // Moved, so `other` gives back nothing when dropped.
        if let Some(moved) = other.permit.split(other.permit.num_permits()) {
            self.permit.merge(moved);
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if let Some(gauge) = &self.gauge {
            gauge.sub(self.permit.num_permits() as i64);
        }
    }
}

/// `bytes` of the in-flight budget, or `None` (counted as busy) when it has no room now.
fn reserve(state: &AppState, bytes: usize) -> Option<Held> {
    let permits = u32::try_from(bytes.max(1)).unwrap_or(u32::MAX);
    let metrics = state.ingestor.metrics();
    let Ok(permit) = state.in_flight.clone().try_acquire_many_owned(permits) else {
        if let Some(m) = metrics {
            m.busy.inc();
        }
        return None;
    };
    let gauge = metrics.map(|m| m.in_flight_bytes.clone());
    if let Some(gauge) = &gauge {
        gauge.add(i64::from(permits));
    }
    Some(Held { permit, gauge })
}

/// 503: the in-flight budget is full; the client sends the same body again later.
fn busy() -> Response {
    let mut busy = error(
        StatusCode::SERVICE_UNAVAILABLE,
        "busy: too many request bodies in flight; send the same body again after Retry-After seconds",
    );
    busy.headers_mut().insert(header::RETRY_AFTER, RETRY_AFTER_BUSY_SECONDS.into());
    busy
}

fn authorized(headers: &HeaderMap, tokens: &[String]) -> bool {
    // The scheme name is case-insensitive (RFC 9110 §11.1); the token is not.
    let Some(presented) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim_start())
    else {
        return false;
    };
    // Compare against every token in constant time so timing does not reveal a prefix.
    tokens.iter().fold(false, |found, t| found | constant_time_eq(t.as_bytes(), presented.as_bytes()))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_token_must_match_exactly() {
        let tokens = vec!["s3cret-token".to_string()];
        let mut h = HeaderMap::new();
        assert!(!authorized(&h, &tokens));
        h.insert(header::AUTHORIZATION, "Bearer s3cret-toke".parse().unwrap());
        assert!(!authorized(&h, &tokens));
        h.insert(header::AUTHORIZATION, "Basic s3cret-token".parse().unwrap());
        assert!(!authorized(&h, &tokens));
        h.insert(header::AUTHORIZATION, "Bearer s3cret-token".parse().unwrap());
        assert!(authorized(&h, &tokens));
        for scheme in ["bearer", "BEARER", "bEaReR"] {
            h.insert(header::AUTHORIZATION, format!("{scheme} s3cret-token").parse().unwrap());
            assert!(authorized(&h, &tokens), "{scheme}");
        }
        h.insert(header::AUTHORIZATION, "Bearer S3CRET-TOKEN".parse().unwrap());
        assert!(!authorized(&h, &tokens), "the token itself is case-sensitive");
        assert!(!authorized(&h, &[]));
    }
}
