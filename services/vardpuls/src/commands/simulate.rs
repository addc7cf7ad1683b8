//! `vardpuls simulate`: generate a realistic, seeded event stream to Kafka or NDJSON files,
//! as fast as possible (backfill, benchmarks) or in real time (`--live`, demos).

use crate::configuration::Config;
use chrono::NaiveDate;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;
use vardpuls_core::calendar::LocalDay;
use vardpuls_simulator::faults::Faults;
use vardpuls_simulator::registry::{SimUnit, dalarna, national};
use vardpuls_simulator::sink::{Sent, Sink};
use vardpuls_simulator::stream::Simulation;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Registry {
    /// Region Dalarna's vårdcentraler, list sizes from the region's report.
    Dalarna,
    /// A synthetic country: `--units` units (default 1 200) in 21 regions.
    National,
}

#[derive(clap::Args)]
pub struct Args {
    #[arg(long, value_enum, default_value = "dalarna")]
    registry: Registry,
    /// Units of the national registry.
    #[arg(long, default_value_t = 1200)]
    units: usize,
    /// First local day (YYYY-MM-DD); default: `--days` days before today.
    #[arg(long)]
    from: Option<NaiveDate>,
    #[arg(long, default_value_t = 30)]
    days: u32,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Inject late, duplicate, out-of-order and malformed events, corrections and cancellations at demo rates.
    #[arg(long)]
    faults: bool,
    /// Write NDJSON files (one per topic) to this directory instead of producing to Kafka.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Send the last `--days` days at once, then every event when its time comes.
    #[arg(long)]
    live: bool,
    /// Stop after this many events (the last day is cut short), for a backlog of an exact size.
    #[arg(long)]
    max_events: Option<usize>,
}

pub fn registry(kind: Registry, units: usize) -> Vec<SimUnit> {
    match kind {
        Registry::Dalarna => dalarna(),
        Registry::National => national(units),
    }
}

pub async fn run(config: Config, args: Args) -> anyhow::Result<ExitCode> {
    let units = registry(args.registry, args.units);
    vardpuls_simulator::registry::validate(&units).map_err(anyhow::Error::msg)?;
    let faults = if args.faults { Faults::demo() } else { Faults::default() };
    let sim = Simulation::new(units, args.seed, faults);
    let mut sink = match &args.out {
        Some(dir) => Sink::files(dir)?,
        None => {
            super::require_kafka(&config.kafka)?;
            Sink::Kafka(vardpuls_kafka::EventProducer::new(&config.kafka)?)
        }
    };
    if args.live {
        vardpuls_simulator::live::run(&sim, &mut sink, args.days, Arc::new(AtomicBool::new(false))).await?;
        return Ok(ExitCode::SUCCESS);
    }
    let today = LocalDay::of(chrono::Utc::now());
    let from = args
        .from
        .map(LocalDay::from_date)
        .unwrap_or_else(|| LocalDay::from_date(today.date() - chrono::Duration::days(args.days as i64)));
    let started = Instant::now();
    let mut sent = Sent::default();
    let mut budget = args.max_events.unwrap_or(usize::MAX);
    for (_, mut events) in sim.days(from, args.days) {
        events.truncate(budget);
        budget -= events.len();
        sink.send(&events).await?;
        sent.add(&events);
        if budget == 0 {
            break;
        }
    }
    sink.finish()?;
    let seconds = started.elapsed().as_secs_f64();
    let mut topics: Vec<_> = sent.by_topic.iter().map(|(t, n)| format!("{} {n}", t.short_name())).collect();
    topics.sort();
    eprintln!(
        "{} events in {:.1} s ({:.0}/s) from {from}, {} days: {}",
        sent.total(),
        seconds,
        sent.total() as f64 / seconds,
        args.days,
        topics.join(", ")
    );
    Ok(ExitCode::SUCCESS)
}
