//! HTTP ingest for source systems that push: `POST /v1/events/{topic}` with an NDJSON body.
//!
//! Authenticated with a bearer token. Each line is validated like an imported record and the
//! answer lists every line's result. A line is `accepted` only after Kafka acknowledged it; if
//! Kafka fails, the answer is 503 and the client re-sends the same body (event ids make that
//! safe).

use crate::pipeline::{Ingestor, Outcome};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use futures::future::join_all;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
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
}

impl Default for HttpIngestConfig {
    fn default() -> Self {
        HttpIngestConfig {
            listen: "127.0.0.1:8080".to_string(),
            tokens: Vec::new(),
            max_body_bytes: 16 * 1024 * 1024,
            max_lines: 50_000,
        }
    }
}

#[derive(Clone)]
struct AppState {
    ingestor: Ingestor,
    tokens: Arc<Vec<String>>,
    max_lines: usize,
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

/// The ingest routes; mount them in the service's router.
pub fn router(ingestor: Ingestor, config: &HttpIngestConfig) -> Router {
    if config.tokens.is_empty() {
        tracing::warn!(
            "HTTP ingest has no tokens configured: every request will be refused (set VARDPULS_INGEST_TOKENS)"
        );
    }
    let state = AppState { ingestor, tokens: Arc::new(config.tokens.clone()), max_lines: config.max_lines };
    Router::new()
        .route("/v1/events/{topic}", post(ingest))
        .layer(DefaultBodyLimit::max(config.max_body_bytes))
        .with_state(state)
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, axum::Json(serde_json::json!({ "error": message.into() }))).into_response()
}

async fn ingest(State(state): State<AppState>, Path(topic): Path<String>, headers: HeaderMap, body: Bytes) -> Response {
    if !authorized(&headers, &state.tokens) {
        let mut response = error(StatusCode::UNAUTHORIZED, "missing or invalid bearer token");
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer realm=\"vardpuls\""));
        return response;
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
    let status = if response.not_stored > 0 { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::OK };
    (status, axum::Json(response)).into_response()
}

fn authorized(headers: &HeaderMap, tokens: &[String]) -> bool {
    let Some(presented) =
        headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "))
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
        assert!(!authorized(&h, &[]));
    }
}
