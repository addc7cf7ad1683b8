//! `vardpuls measure-restatement`: how long a late event for a closed day takes, in a running
//! pipeline, from being produced to its day's record being republished on `vardpuls.kpi.v1`.
//!
//! First gives each of `--units` units `--seed` calls on the day `--days-ago` days before today
//! (so the day has events in the day store), and waits until the KPI topic shows them all. Then
//! produces `--events` more calls for that day, one at a time, each to the next unit, and times
//! each from its produce call to the first record of its unit and day on `vardpuls.kpi.v1`
//! whose same-day-contact denominator counts it. The day must be final in the running
//! aggregator (its partitions' progress past the day plus the lateness), or the calls are simply
//! counted: run it against a pipeline with live traffic, as `make bench` does.

use crate::configuration::Config;
use anyhow::Context;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use std::collections::HashMap;
use std::process::ExitCode;
use std::time::{Duration, Instant};
use vardpuls_core::Topic;
use vardpuls_core::calendar::LocalDay;

#[derive(clap::Args)]
pub struct Args {
    /// How many days before today the restated day is.
    #[arg(long, default_value_t = 30)]
    days_ago: i64,
    /// Late calls to time, one at a time.
    #[arg(long, default_value_t = 100)]
    events: u32,
    /// Units the day's calls are spread over (HSA-ids SE2321000180-R0001, ...).
    #[arg(long, default_value_t = 20)]
    units: u32,
    /// Calls each unit has on the day before the timed ones.
    #[arg(long, default_value_t = 50)]
    seed: u32,
    /// Longest wait for one record, in seconds.
    #[arg(long, default_value_t = 60)]
    timeout: u64,
}

pub async fn run(config: Config, args: Args) -> anyhow::Result<ExitCode> {
    super::require_kafka(&config.kafka)?;
    let producer = vardpuls_kafka::EventProducer::new(&config.kafka)?;
    let day = LocalDay::of(chrono::Utc::now() - chrono::Duration::days(args.days_ago));
    let units: Vec<String> = (1..=args.units).map(|i| format!("SE2321000180-R{i:04}")).collect();
    let run_id = super::run_id();
    let consumer: BaseConsumer = config
        .kafka
        .consumer_config()
        .set("group.id", format!("vardpuls-measure-restatement-{run_id}"))
        .set("auto.offset.reset", "latest")
        .set("enable.auto.commit", "false")
        .create()
        .context("creating the KPI topic consumer")?;
    consumer.subscribe(&[Topic::Kpi.name()])?;
    let deadline = Instant::now() + Duration::from_secs(args.timeout);
    while consumer.assignment()?.count() == 0 {
        anyhow::ensure!(Instant::now() < deadline, "no partition of {} assigned", Topic::Kpi);
        consumer.poll(Duration::from_millis(100));
    }
    let mut denominators: HashMap<String, u64> = HashMap::new();
    let mut n = 0u64;
    let mut call = |unit: &str| {
        n += 1;
        let at = day.start() + chrono::Duration::hours(8) + chrono::Duration::seconds(n as i64);
        format!(
            r#"{{"schema_version":1,"event_id":"{run_id}-4000-8000-{n:012x}","event_type":"call_received","occurred_at":"{}","unit_id":"{unit}","call_id":"rs{run_id}-{n}","line":"primary_care","in_phone_hours":true}}"#,
            at.format("%Y-%m-%dT%H:%M:%SZ")
        )
    };
    for unit in &units {
        for _ in 0..args.seed {
            producer.send(Topic::Phone, Some(unit), call(unit).into_bytes()).await?;
        }
    }
    let key = |unit: &str| format!("same_day_contact/unit/{unit}/{day}");
    for unit in &units {
        wait_for(&consumer, &mut denominators, &key(unit), args.seed as u64, deadline)?;
    }
    let mut latencies = Vec::new();
    for i in 0..args.events as usize {
        let unit = &units[i % units.len()];
        let expected = denominators[&key(unit)] + 1;
        let json = call(unit);
        let sent = Instant::now();
        producer.send(Topic::Phone, Some(unit), json.into_bytes()).await?;
        wait_for(&consumer, &mut denominators, &key(unit), expected, sent + Duration::from_secs(args.timeout))?;
        latencies.push(sent.elapsed().as_secs_f64());
    }
    latencies.sort_by(f64::total_cmp);
    anyhow::ensure!(!latencies.is_empty(), "no late event timed");
    let q = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    println!(
        "{} late events for {day} ({} days ago) republished: p50 {:.3} s, p90 {:.3} s, p99 {:.3} s, max {:.3} s",
        latencies.len(),
        args.days_ago,
        q(0.50),
        q(0.90),
        q(0.99),
        latencies[latencies.len() - 1]
    );
    Ok(ExitCode::SUCCESS)
}

/// Reads the KPI topic until the record `key` has a denominator of at least `at_least`.
fn wait_for(
    consumer: &BaseConsumer,
    denominators: &mut HashMap<String, u64>,
    key: &str,
    at_least: u64,
    deadline: Instant,
) -> anyhow::Result<()> {
    while denominators.get(key).copied().unwrap_or(0) < at_least {
        anyhow::ensure!(Instant::now() < deadline, "{key} did not reach {at_least} in time");
        let Some(message) = consumer.poll(Duration::from_millis(50)) else { continue };
        let message = message?;
        let (Some(k), Some(payload)) = (message.key(), message.payload()) else { continue };
        let Ok(record) = serde_json::from_slice::<vardpuls_core::outputs::KpiRecord>(payload) else { continue };
        if let Some(d) = record.denominator.and_then(|d| rust_decimal::prelude::ToPrimitive::to_u64(&d)) {
            denominators.insert(String::from_utf8_lossy(k).into_owned(), d);
        }
    }
    Ok(())
}
