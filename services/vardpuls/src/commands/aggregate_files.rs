//! `vardpuls aggregate-files DIR`: the KPI engine on NDJSON files (`phone.ndjson`, ...),
//! without Kafka. For checking a backfill before producing it, for analysts, and for the
//! aggregation-only benchmark. Prints the throughput; `--out` writes the final KPI records.
//! With `--state-dir` it checkpoints like the aggregator service (and so keeps only the
//! resident months in memory): the benchmark of state size over a long history.

use crate::configuration::Config;
use anyhow::Context;
use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;
use vardpuls_aggregator::{Engine, Routed, checkpoint};
use vardpuls_core::Topic;
use vardpuls_core::outputs::KpiRecord;

#[derive(clap::Args)]
pub struct Args {
    /// Directory with phone.ndjson, visits.ndjson, listings.ndjson and chats.ndjson (any subset).
    dir: PathBuf,
    /// Write the latest record per KPI key here, as NDJSON.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Messages per topic between two computations. Larger batches recompute open days less
    /// often; files have no latency to keep low.
    #[arg(long, default_value_t = 1_000_000)]
    batch: usize,
    /// Checkpoint every shard after each computation into this (new) directory, restoring
    /// archived days before it, as the aggregator service does.
    #[arg(long)]
    state_dir: Option<PathBuf>,
}

pub async fn run(config: Config, args: Args) -> anyhow::Result<ExitCode> {
    let mut engine = Engine::new(config.aggregator.clone());
    let mut readers = Vec::new();
    for topic in Topic::INPUTS {
        let path = args.dir.join(format!("{}.ndjson", topic.short_name()));
        if path.exists() {
            let file = std::fs::File::open(&path).with_context(|| format!("opening {}", path.display()))?;
            readers.push((topic, std::io::BufReader::with_capacity(1 << 20, file).lines(), 0i64));
        }
    }
    anyhow::ensure!(!readers.is_empty(), "no <topic>.ndjson files in {}", args.dir.display());
    if let Some(dir) = &args.state_dir {
        let empty = std::fs::read_dir(dir).map(|mut d| d.next().is_none()).unwrap_or(true);
        anyhow::ensure!(empty, "--state-dir {} must be a new or empty directory", dir.display());
    }
    let started = Instant::now();
    let mut computing = std::time::Duration::ZERO;
    let (mut events, mut outcomes) = (0u64, BTreeMap::<&str, u64>::new());
    // Only kept for `--out`: a long history has millions of records.
    let mut latest: BTreeMap<String, KpiRecord> = BTreeMap::new();
    let mut records_out = 0u64;
    loop {
        let mut read_any = false;
        for (topic, lines, offset) in readers.iter_mut() {
            for line in lines.by_ref().take(args.batch) {
                let line = line?;
                if line.trim().is_empty() {
                    continue;
                }
                read_any = true;
                let outcome = Routed::OUTCOMES[engine.offer(*topic, 0, *offset, line.as_bytes()).outcome()];
                *outcomes.entry(outcome).or_default() += 1;
                *offset += 1;
                events += 1;
            }
        }
        let compute_started = Instant::now();
        if let Some(dir) = &args.state_dir {
            for (topic, partition) in shard_ids(&engine) {
                checkpoint::restore(dir, engine.shard_mut(topic, partition).expect("listed shard"))?;
            }
        }
        let records = engine.compute().await?;
        records_out += records.len() as u64;
        if args.out.is_some() {
            for record in records {
                latest.insert(record.key(), record);
            }
        }
        if let Some(dir) = &args.state_dir {
            for (topic, partition) in shard_ids(&engine) {
                checkpoint::save(dir, engine.shard_mut(topic, partition).expect("listed shard"))?;
            }
        }
        computing += compute_started.elapsed();
        if !read_any {
            break;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    if let Some(path) = &args.out {
        let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
        for record in latest.values() {
            serde_json::to_writer(&mut out, record)?;
            out.write_all(b"\n")?;
        }
        out.flush()?;
    }
    let outcomes: Vec<String> = outcomes.iter().map(|(k, v)| format!("{k} {v}")).collect();
    println!(
        "{events} events in {seconds:.2} s: {:.0} events/s; {records_out} KPI records published ({}); decoding and keying {:.2} s, SQL, state and checkpoints {:.2} s",
        events as f64 / seconds,
        outcomes.join(", "),
        seconds - computing.as_secs_f64(),
        computing.as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

fn shard_ids(engine: &Engine) -> Vec<(Topic, i32)> {
    engine.shards().map(|s| (s.topic, s.partition)).collect()
}
