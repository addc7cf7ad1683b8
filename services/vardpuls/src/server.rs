//! The HTTP server every vardpuls service shares, and the endpoints it serves beside theirs:
//! `/metrics` (Prometheus text format) and `/healthz`.
//!
//! The door is bounded, so that no client, careless or hostile, can take the process down by
//! holding connections (each costs a file descriptor, which the aggregator's state files need
//! too): at most `max_connections` are open, beyond which new ones wait in the kernel's backlog
//! and cost this process nothing; request headers must arrive within `header_timeout`; a
//! connection with no traffic for `idle_timeout` is closed (after the request in flight, if
//! any). The body's own deadline is the ingest handler's (`vardpuls_ingest::http`).

use anyhow::Context;
use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use prometheus::proto::MetricFamily;
use prometheus::{Encoder, Registry, TextEncoder};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context as TaskContext, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
pub use vardpuls_ingest::http::ConnectionLimits;

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
    limits: ConnectionLimits,
) -> anyhow::Result<()> {
    let app = app
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/metrics", get(move || metrics(registry.clone(), extra.clone())));
    let open = Arc::new(Semaphore::new(limits.max_connections));
    loop {
        // A place first, then the connection: past the cap, clients wait in the backlog.
        let place = open.clone().acquire_owned().await.context("connection limit")?;
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of descriptors (EMFILE) or a connection reset before it was taken: the
                // server goes on; a short pause keeps a full table from spinning this loop.
                tracing::warn!(error = %e, "accepting an HTTP connection");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let service = TowerToHyperService::new(app.clone());
        tokio::spawn(async move {
            serve_connection(stream, service, limits).await;
            drop(place);
        });
    }
}

async fn serve_connection(stream: TcpStream, service: TowerToHyperService<Router>, limits: ConnectionLimits) {
    let stream = Watched::new(stream);
    let last_traffic = stream.last_traffic.clone();
    let started = stream.started;
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout);
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    let mut check = tokio::time::interval(limits.idle_timeout / 4);
    let mut closing = false;
    loop {
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "HTTP connection ended");
                }
                return;
            }
            _ = check.tick(), if !closing => {
                let idle = started.elapsed().saturating_sub(Duration::from_millis(last_traffic.load(Ordering::Relaxed)));
                if idle >= limits.idle_timeout {
                    // Graceful: a request in flight still gets its answer, then the connection
                    // closes; an idle one closes at once.
                    connection.as_mut().graceful_shutdown();
                    closing = true;
                }
            }
        }
    }
}

/// A TCP stream that notes when bytes last moved, in milliseconds since it was accepted.
struct Watched {
    stream: TcpStream,
    started: Instant,
    last_traffic: Arc<AtomicU64>,
}

impl Watched {
    fn new(stream: TcpStream) -> Watched {
        Watched { stream, started: Instant::now(), last_traffic: Arc::new(AtomicU64::new(0)) }
    }

    fn moved(&self, bytes: usize) {
        if bytes > 0 {
            self.last_traffic.store(self.started.elapsed().as_millis() as u64, Ordering::Relaxed);
        }
    }
}

impl AsyncRead for Watched {
    fn poll_read(self: Pin<&mut Self>, cx: &mut TaskContext<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let poll = Pin::new(&mut this.stream).poll_read(cx, buf);
        this.moved(buf.filled().len() - before);
        poll
    }
}

impl AsyncWrite for Watched {
    fn poll_write(self: Pin<&mut Self>, cx: &mut TaskContext<'_>, data: &[u8]) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.stream).poll_write(cx, data);
        if let Poll::Ready(Ok(n)) = &poll {
            this.moved(*n);
        }
        poll
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
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
