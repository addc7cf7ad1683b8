//! `vardpuls`: one binary, every service a target (like Grafana Loki's `-target`), plus the
//! operator commands. `vardpuls run` runs everything on a laptop; `vardpuls run --target ingest`
//! runs one service against a shared Kafka.

mod commands;
mod configuration;
mod server;
mod supervisor;
mod telemetry;

use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// jemalloc rather than the system's allocator: the aggregator frees a closed day's events and
/// every batch's tables among state that lives on, and glibc's arenas kept those pages resident
/// (docs/performance.md, session 17).
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options, read once at start-up; `_RJEM_MALLOC_CONF` in the environment overrides
/// them. Two arenas rather than four per core: a service's few busy threads (the engine, the
/// query partitions) need no more, and each arena keeps its own freed pages, resident beside
/// the memory in use (docs/performance.md, session 18).
#[cfg(not(target_env = "msvc"))]
mod allocator_options {
    /// A pointer to a C string, as jemalloc reads `malloc_conf`.
    #[repr(transparent)]
    pub struct Options(*const std::ffi::c_char);

    // SAFETY: it points to a string literal, never written.
    unsafe impl Sync for Options {}

    #[unsafe(export_name = "_rjem_malloc_conf")]
    pub static MALLOC_CONF: Options = Options(c"narenas:2".as_ptr());
}

#[derive(Parser)]
#[command(name = "vardpuls", version, about = "Live primary-care accessibility KPIs from Kafka")]
struct Cli {
    /// Configuration file (TOML). Environment variables VARDPULS_* override it.
    #[arg(long, global = true, env = "VARDPULS_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run services. Without a configured Kafka, starts a local broker first.
    Run(commands::run::Args),
    /// Validate files (NDJSON or CSV) and produce them to an input topic; invalid records go
    /// to the dead-letter topic. Safe to re-run.
    Import(commands::import::Args),
    /// Create the vardpuls topics that do not exist yet.
    Topics,
    /// Print the records of a topic, from the beginning to its current end.
    Tail(commands::tail::Args),
    /// Generate deploy/prometheus/*.rules.yml from the KPI catalogue and the targets file.
    Rules(commands::rules::Args),
    /// Compute the KPIs from NDJSON files without Kafka (checks, analysis, benchmarks).
    AggregateFiles(commands::aggregate_files::Args),
    /// Measure produce-to-/metrics latency of a running pipeline at a steady event rate.
    MeasureLatency(commands::measure_latency::Args),
    /// Measure produce-to-republished latency of late events for a closed day (restatement).
    MeasureRestatement(commands::measure_restatement::Args),
    /// Generate a realistic, seeded event stream (to Kafka or NDJSON files).
    Simulate(commands::simulate::Args),
    /// Exit 0 when an http:// URL answers 200 (container health checks).
    Probe(commands::probe::Args),
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    telemetry::init();
    let cli = Cli::parse();
    let result = async {
        let config = configuration::Config::load(cli.config.as_deref())?;
        match cli.command {
            Command::Run(args) => commands::run::run(config, args).await,
            Command::Import(args) => commands::import::run(config, args).await,
            Command::Topics => commands::topics::run(config).await,
            Command::Tail(args) => commands::tail::run(config, args),
            Command::Rules(args) => commands::rules::run(config, args),
            Command::Probe(args) => commands::probe::run(args).await,
            Command::Simulate(args) => commands::simulate::run(config, args).await,
            Command::MeasureLatency(args) => commands::measure_latency::run(config, args).await,
            Command::MeasureRestatement(args) => commands::measure_restatement::run(config, args).await,
            Command::AggregateFiles(args) => commands::aggregate_files::run(config, args).await,
        }
    }
    .await;
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
