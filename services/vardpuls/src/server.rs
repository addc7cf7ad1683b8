//! The HTTP endpoints every vardpuls service serves beside its own: `/metrics` (Prometheus
//! text format) and `/healthz`.

use anyhow::Context;
use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use prometheus::proto::MetricFamily;
use prometheus::{Encoder, Registry, TextEncoder};
use std::sync::Arc;
use tokio::net::TcpListener;

pub async fn bind(address: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(address).await.with_context(|| format!("listening on {address}"))
}

/// Metric families computed at scrape time (the exporter's KPI series), beside the registry's.
pub type ExtraFamilies = Arc<dyn Fn() -> Vec<MetricFamily> + Send + Sync>;

/// Serves `app` plus the shared endpoints until the task is cancelled.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    registry: Registry,
    extra: Vec<ExtraFamilies>,
) -> anyhow::Result<()> {
    let app = app
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/metrics", get(move || metrics(registry.clone(), extra.clone())));
    axum::serve(listener, app).await.context("HTTP server")
}

async fn metrics(registry: Registry, extra: Vec<ExtraFamilies>) -> impl IntoResponse {
    let mut body = Vec::new();
    let encoder = TextEncoder::new();
    let mut families = registry.gather();
    for source in &extra {
        families.extend(source());
    }
    if let Err(e) = encoder.encode(&families, &mut body) {
        tracing::error!(error = %e, "encoding metrics");
    }
    ([(header::CONTENT_TYPE, encoder.format_type().to_string())], body)
}
