//! `vardpuls measure-latency`: end-to-end latency of a running pipeline, from producing a call
//! to seeing it counted on the exporter's `/metrics`.
//!
//! Produces `call_received` events (now, in phone hours) at a steady rate, spread over many
//! units, while polling `/metrics`; a call's latency is the time from its produce call to the
//! first scrape whose `vardpuls_kpi_denominator` for its unit and today counts it. Prints p50,
//! p90, p99 and the maximum. The polling interval bounds the resolution.

use crate::configuration::Config;
use anyhow::Context;
use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use vardpuls_core::Topic;

#[derive(clap::Args)]
pub struct Args {
    /// The exporter, host:port.
    #[arg(long, default_value = "127.0.0.1:8080")]
    exporter: String,
    /// Events per second.
    #[arg(long, default_value_t = 2000)]
    rate: u32,
    #[arg(long, default_value_t = 60)]
    seconds: u32,
    /// Units the calls are spread over (HSA-ids SE2321000180-L0001, ...).
    #[arg(long, default_value_t = 200)]
    units: u32,
    #[arg(long, default_value_t = 20)]
    poll_ms: u64,
}

/// Per unit: when each call was produced, and how many of them /metrics has counted.
#[derive(Default)]
struct Unit {
    sent: Vec<Instant>,
    seen: usize,
}

/// Produce times per unit and the latencies seen so far, shared by the producer and the poller.
type Sent = Arc<Mutex<HashMap<String, Unit>>>;
type Latencies = Arc<Mutex<Vec<f64>>>;

pub async fn run(config: Config, args: Args) -> anyhow::Result<ExitCode> {
    super::require_kafka(&config.kafka)?;
    let producer = vardpuls_kafka::EventProducer::new(&config.kafka)?;
    let state: Sent = Arc::new(Mutex::new(HashMap::new()));
    let latencies: Latencies = Arc::new(Mutex::new(Vec::new()));
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let poller =
        tokio::spawn(poll_metrics(state.clone(), latencies.clone(), done.clone(), args.exporter.clone(), args.poll_ms));
    let total = args.rate as u64 * args.seconds as u64;
    produce_paced(&producer, &args, total, &state).await?;
    // Wait for the stragglers (at most 30 s), then report.
    let deadline = Instant::now() + Duration::from_secs(30);
    while latencies.lock().expect("lock").len() < total as usize && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    poller.await?;
    let mut l = latencies.lock().expect("lock").clone();
    l.sort_by(f64::total_cmp);
    anyhow::ensure!(!l.is_empty(), "no event reached /metrics at {}", args.exporter);
    let q = |p: f64| l[((l.len() as f64 * p) as usize).min(l.len() - 1)];
    println!(
        "{} of {total} events seen on /metrics at {} events/s: p50 {:.3} s, p90 {:.3} s, p99 {:.3} s, max {:.3} s",
        l.len(),
        args.rate,
        q(0.50),
        q(0.90),
        q(0.99),
        l[l.len() - 1]
    );
    Ok(if l.len() == total as usize { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// Scrapes `/metrics` every `poll_ms` until `done`, recording each call's latency when its
/// unit's denominator first counts it.
async fn poll_metrics(
    state: Sent,
    latencies: Latencies,
    done: Arc<std::sync::atomic::AtomicBool>,
    exporter: String,
    poll_ms: u64,
) {
    while !done.load(std::sync::atomic::Ordering::Relaxed) {
        if let Ok(body) = scrape(&exporter).await {
            let now = Instant::now();
            let counts = denominators(&body);
            let mut state = state.lock().expect("lock");
            for (unit, counted) in counts {
                if let Some(u) = state.get_mut(&unit) {
                    let counted = counted.min(u.sent.len());
                    for sent in &u.sent[u.seen.min(counted)..counted] {
                        latencies.lock().expect("lock").push((now - *sent).as_secs_f64());
                    }
                    u.seen = u.seen.max(counted);
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(poll_ms)).await;
    }
}

/// Produces `total` calls at `args.rate` a second, spread over the units, noting when each
/// was produced.
async fn produce_paced(
    producer: &vardpuls_kafka::EventProducer,
    args: &Args,
    total: u64,
    state: &Sent,
) -> anyhow::Result<()> {
    let units: Vec<String> = (1..=args.units).map(|i| format!("SE2321000180-L{i:04}")).collect();
    let started = Instant::now();
    let run_id = super::run_id();
    let mut pending = Vec::new();
    for n in 0..total {
        // Steady pacing: event n goes out at n / rate seconds.
        let due = started + Duration::from_secs_f64(n as f64 / args.rate as f64);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            tokio::time::sleep(wait).await;
        }
        let unit = &units[(n % units.len() as u64) as usize];
        let json = format!(
            r#"{{"schema_version":1,"event_id":"{run_id}-4000-8000-{n:012x}","event_type":"call_received","occurred_at":"{}","unit_id":"{unit}","call_id":"lat{n}","line":"primary_care","in_phone_hours":true}}"#,
            chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ")
        );
        state.lock().expect("lock").entry(unit.clone()).or_default().sent.push(Instant::now());
        // Spawned, so the record is queued now rather than when the batch is awaited.
        pending.push(tokio::spawn(producer.send(Topic::Phone, Some(unit), json.into_bytes())));
        if pending.len() >= 2000 {
            for r in futures::future::join_all(std::mem::take(&mut pending)).await {
                r?.context("producing")?;
            }
        }
    }
    for r in futures::future::join_all(pending).await {
        r?.context("producing")?;
    }
    Ok(())
}

async fn scrape(address: &str) -> anyhow::Result<String> {
    let mut stream = tokio::net::TcpStream::connect(address).await?;
    stream.write_all(format!("GET /metrics HTTP/1.0\r\nHost: {address}\r\n\r\n").as_bytes()).await?;
    let mut body = String::new();
    stream.read_to_string(&mut body).await?;
    Ok(body)
}

/// Today's same-day-contact denominators per unit, from the exposition text.
fn denominators(body: &str) -> HashMap<String, usize> {
    body.lines()
        .filter(|l| {
            l.starts_with("vardpuls_kpi_denominator{")
                && l.contains("grain=\"day\"")
                && l.contains("kpi=\"same_day_contact\"")
                && l.contains("scope=\"unit\"")
        })
        .filter_map(|l| {
            let id = l.split("scope_id=\"").nth(1)?.split('"').next()?.to_string();
            let value: f64 = l.rsplit(' ').next()?.parse().ok()?;
            Some((id, value as usize))
        })
        .collect()
}
