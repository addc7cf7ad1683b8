//! The HTTP endpoints every vardpuls service serves beside its own: `/metrics` (Prometheus
//! text format) and `/healthz`.

use anyhow::Context;
use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use prometheus::{Encoder, Registry, TextEncoder};
use tokio::net::TcpListener;

pub async fn bind(address: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(address).await.with_context(|| format!("listening on {address}"))
}

/// Serves `app` plus the shared endpoints until the task is cancelled.
pub async fn serve(listener: TcpListener, app: Router, registry: Registry) -> anyhow::Result<()> {
    let app = app.route("/healthz", get(|| async { "ok\n" })).route("/metrics", get(move || metrics(registry.clone())));
    axum::serve(listener, app).await.context("HTTP server")
}

async fn metrics(registry: Registry) -> impl IntoResponse {
    let mut body = Vec::new();
    let encoder = TextEncoder::new();
    if let Err(e) = encoder.encode(&registry.gather(), &mut body) {
        tracing::error!(error = %e, "encoding metrics");
    }
    ([(header::CONTENT_TYPE, encoder.format_type().to_string())], body)
}
