//! `vardpuls aggregate-files DIR`: the KPI engine on NDJSON files (`phone.ndjson`, ...),
//! without Kafka. For checking a backfill before producing it, for analysts, and for the
//! aggregation-only benchmark. Prints the throughput; `--out` writes the final KPI records.
//! With `--state-dir` it checkpoints like the aggregator service (and so keeps only the
//! resident months in memory): the benchmark of state size over a long history.

use crate::configuration::Config;
use anyhow::Context;
use memmap2::Mmap;
use std::collections::{BTreeMap, VecDeque};
use std::io::Write;
use std::ops::Range;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;
use vardpuls_aggregator::assignment::Assignment;
use vardpuls_aggregator::{Driver, OutcomeCounts, Pace};
use vardpuls_core::events::{InputEvent, decode};
use vardpuls_core::outputs::KpiRecord;
use vardpuls_core::{Rejection, Topic};

#[derive(clap::Args)]
pub struct Args {
    /// Directory with phone.ndjson, visits.ndjson, listings.ndjson and chats.ndjson (any subset).
    dir: PathBuf,
    /// Write the latest record per KPI key here, as NDJSON.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Lines of the largest file between two computations; the other files advance as far
    /// into their length, so all topics move through the same days together. Larger batches
    /// recompute open days less often; files have no latency to keep low.
    #[arg(long, default_value_t = 1_000_000)]
    batch: usize,
    /// Checkpoint every shard after each computation into this directory, restoring archived
    /// days before it, as the aggregator service does. A directory with checkpoints of an
    /// earlier run (with the same `--partitions`) is continued: the files are the days after
    /// that run's, as a backfill in parts.
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// Shard each topic's events into this many partitions by unit, as Kafka's default
    /// partitioner places them in topics of this size (one shard a topic by default).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(i32).range(1..))]
    partitions: i32,
    /// Compute only the partitions one of this many aggregator instances in fixed slots owns
    /// (`p % instances == instance`): the state and memory of one instance.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    instances: u32,
    /// The slot of `--instances` to compute, from 0.
    #[arg(long, default_value_t = 0)]
    instance: u32,
    /// Threads that decode lines (default: one per core). With 1, lines are decoded on the
    /// engine's thread, as the aggregator service does: its memory, without the other threads'
    /// allocator arenas.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    decode_threads: Option<u32>,
}

pub async fn run(config: Config, args: Args) -> anyhow::Result<ExitCode> {
    let mut driver = Driver::new(config.aggregator.clone(), args.state_dir.clone());
    let mut files = Vec::new();
    for topic in Topic::INPUTS {
        let path = args.dir.join(format!("{}.ndjson", topic.short_name()));
        if path.exists() {
            let file = std::fs::File::open(&path).with_context(|| format!("opening {}", path.display()))?;
            // SAFETY: the mapping is only read, and the files are finished exports that nothing
            // writes to while they are aggregated (one truncated meanwhile would fault). Mapped,
            // the lines are decoded where the kernel holds them, without copying them first.
            let map = unsafe { Mmap::map(&file) }.with_context(|| format!("mapping {}", path.display()))?;
            // Only hints: each file is read once, front to back, and whatever of it is not in
            // the page cache is best read ahead now, rather than faulted in page by page.
            let _ = map.advise(memmap2::Advice::Sequential);
            let _ = map.advise(memmap2::Advice::WillNeed);
            files.push(TopicFile { topic, text: Arc::new(map), read: 0, released: 0, offsets: BTreeMap::new() });
        }
    }
    anyhow::ensure!(!files.is_empty(), "no <topic>.ndjson files in {}", args.dir.display());
    files.sort_by_key(|f| std::cmp::Reverse(f.text.len()));
    let slot = Slot {
        partitions: args.partitions,
        owner: Assignment::from_config(args.instances, Some(args.instance), None)?,
    };
    if let Some(dir) = &args.state_dir {
        continue_from_checkpoints(&mut driver, dir, &mut files, &slot)?;
    }
    let started = Instant::now();
    let mut computing = std::time::Duration::ZERO;
    // Only kept for `--out`: a long history has millions of records.
    let mut latest: BTreeMap<String, KpiRecord> = BTreeMap::new();
    let mut records_out = 0u64;
    let threads =
        args.decode_threads.map_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()), |n| n as usize);
    let mut reading = Reading::new(slot, threads);
    loop {
        let read_any = reading.round(&mut driver, &mut files, args.batch);
        let compute_started = Instant::now();
        // Files are a backlog until their end: values not final yet are published once, at the end.
        let pace = if read_any { Pace::CatchingUp } else { Pace::Live };
        let changed = driver.compute_at(pace).await?;
        records_out += changed.len() as u64;
        // Every record is made, kept for `--out` or not: the figure is what aggregating costs
        // the aggregator, which makes them all to publish them.
        let keep = args.out.is_some();
        changed.for_each(
            |record| record,
            |record| {
                if keep {
                    latest.insert(record.key(), record);
                }
            },
        );
        driver.checkpoint()?;
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
    let Reading { events, outcomes, skipped, .. } = reading;
    let mut outcomes: Vec<String> =
        outcomes.iter().map(|(outcome, count)| format!("{} {count}", outcome.as_str())).collect();
    outcomes.sort();
    if skipped > 0 {
        outcomes.push(format!("{skipped} in other slots' partitions skipped"));
    }
    println!(
        "{events} events in {seconds:.2} s: {:.0} events/s; {records_out} KPI records published ({}); decoding and keying {:.2} s, SQL, state and checkpoints {:.2} s",
        events as f64 / seconds,
        outcomes.join(", "),
        seconds - computing.as_secs_f64(),
        computing.as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

/// The partitions this run computes (`--partitions`, `--instances`, `--instance`).
struct Slot {
    partitions: i32,
    /// The service's fixed slot with the same numbers owns the same partitions.
    owner: Assignment,
}

impl Slot {
    fn partition_of(&self, unit: &str) -> i32 {
        if self.partitions == 1 { 0 } else { vardpuls_kafka::partition_of(unit.as_bytes(), self.partitions) }
    }

    fn owns(&self, partition: i32) -> bool {
        self.owner.owns(partition)
    }
}

/// Lines per chunk a decoding thread takes: large enough that starting a thread costs
/// nothing, small enough that the decoded events in flight stay a few megabytes.
const DECODE_CHUNK_LINES: usize = 32_768;

/// Loads the checkpoints of an earlier run, and numbers each partition's events on from where
/// that run stopped.
fn continue_from_checkpoints(
    driver: &mut Driver,
    dir: &std::path::Path,
    files: &mut [TopicFile],
    slot: &Slot,
) -> anyhow::Result<()> {
    for file in files.iter_mut() {
        for partition in (0..slot.partitions).filter(|p| slot.owns(*p)) {
            if let Some(next_offset) = driver.resume(file.topic, partition)? {
                file.offsets.insert(partition, next_offset);
            }
        }
        // A partition beyond `--partitions` means the units would land elsewhere now.
        let beyond = driver.resume(file.topic, slot.partitions)?;
        anyhow::ensure!(
            beyond.is_none(),
            "{} holds more than {} partitions of {}",
            dir.display(),
            slot.partitions,
            file.topic
        );
    }
    Ok(())
}

/// Reads the files a round at a time into the engine. Lines are read a chunk at a time and
/// decoded on `threads` threads while the engine applies the chunk before, in file order:
/// decoding is most of the per-event work, and applying must be sequential.
struct Reading {
    slot: Slot,
    threads: usize,
    /// Chunks to reuse (their vectors), once their events are applied.
    spare: Vec<Chunk>,
    events: u64,
    outcomes: OutcomeCounts,
    /// Lines of units in partitions other slots own.
    skipped: u64,
    /// When the run started: files have no produce time, so an event dated more than
    /// `aggregator.max_future_minutes` after this is refused.
    started_at: chrono::DateTime<chrono::Utc>,
}

impl Reading {
    fn new(slot: Slot, threads: usize) -> Reading {
        Reading {
            slot,
            threads,
            spare: Vec::new(),
            events: 0,
            outcomes: Default::default(),
            skipped: 0,
            started_at: chrono::Utc::now(),
        }
    }

    /// One round: `batch` lines of the largest file (first in `files`), and each other file
    /// as far into its length as the largest got, so all topics move through the same days
    /// together. Returns whether there was anything left to read.
    fn round(&mut self, driver: &mut Driver, files: &mut [TopicFile], batch: usize) -> bool {
        let mut read_any = false;
        let mut progress: Option<f64> = None;
        for file in files.iter_mut() {
            let (mut left, mut bytes_left) = match progress {
                None => (batch, u64::MAX),
                Some(share) => {
                    (usize::MAX, ((share * file.text.len() as f64).ceil() as u64).saturating_sub(file.read as u64))
                }
            };
            let mut in_flight = VecDeque::new();
            loop {
                while in_flight.len() < self.threads && left > 0 && bytes_left > 0 {
                    let mut chunk = self.spare.pop().unwrap_or_default();
                    let (read, end) = chunk.read(&file.text, file.read, left.min(DECODE_CHUNK_LINES), bytes_left);
                    if read == 0 {
                        left = 0;
                        break;
                    }
                    left -= read;
                    bytes_left = bytes_left.saturating_sub((end - file.read) as u64);
                    file.read = end;
                    read_any |= !chunk.lines.is_empty();
                    in_flight.push_back(Decoding::start(file.topic, chunk, &file.text, self.threads));
                }
                let Some(decoding) = in_flight.pop_front() else { break };
                let mut chunk = decoding.finish();
                self.apply_chunk(driver, file, &mut chunk);
                file.release_before(chunk.end);
                self.spare.push(chunk);
            }
            let size = file.text.len();
            progress.get_or_insert(if size == 0 { 1.0 } else { file.read as f64 / size as f64 });
        }
        read_any
    }

    /// Applies a decoded chunk's events in order, taking them out of the chunk.
    fn apply_chunk(&mut self, driver: &mut Driver, file: &mut TopicFile, chunk: &mut Chunk) {
        for (line, decoded) in chunk.lines.iter().zip(chunk.decoded.drain(..)) {
            // A line that does not decode has no unit: its partition is unknown, and the first
            // slot takes it (to count it as invalid once).
            let partition = decoded.as_ref().map_or(0, |e| self.slot.partition_of(e.unit_id().as_str()));
            if !self.slot.owns(partition) {
                self.skipped += 1;
                continue;
            }
            let offset = file.offsets.entry(partition).or_default();
            let line = &file.text[line.clone()];
            let routed = driver.offer_decoded(file.topic, partition, *offset, line, decoded, self.started_at);
            self.outcomes.add(routed.outcome());
            *offset += 1;
            self.events += 1;
        }
    }
}

/// A chunk of a file's lines: the byte ranges of its non-empty lines in the file (without line
/// ends and surrounding blanks), and, once decoded, their events in the same order.
#[derive(Default)]
struct Chunk {
    lines: Vec<Range<usize>>,
    /// The byte after its last line.
    end: usize,
    decoded: Vec<Result<InputEvent, Rejection>>,
}

impl Chunk {
    /// Takes up to `max` lines of `text` from byte `from`, and whole lines until at least
    /// `max_bytes`, in place of what the chunk held. Returns how many lines it took (none at the
    /// end) and the byte after the last.
    fn read(&mut self, text: &[u8], from: usize, max: usize, max_bytes: u64) -> (usize, usize) {
        self.lines.clear();
        let (mut read, mut at) = (0, from);
        while read < max && at < text.len() && ((at - from) as u64) < max_bytes {
            let end = memchr::memchr(b'\n', &text[at..]).map_or(text.len(), |i| at + i + 1);
            read += 1;
            let line = &text[at..end];
            let begin = at + (line.len() - line.trim_ascii_start().len());
            let trimmed_end = at + line.trim_ascii_end().len();
            if begin < trimmed_end {
                self.lines.push(begin..trimmed_end);
            }
            at = end;
        }
        self.end = at;
        (read, at)
    }

    fn decode(mut self, topic: Topic, text: &[u8]) -> Chunk {
        self.decoded.clear();
        self.decoded.extend(self.lines.iter().map(|line| decode(topic, &text[line.clone()])));
        self
    }
}

/// A chunk being decoded: on a thread of its own, or, with one decoding thread, right here on
/// the engine's thread (the aggregator service's memory, without other threads' arenas).
enum Decoding {
    Done(Chunk),
    OnThread(std::thread::JoinHandle<Chunk>),
}

impl Decoding {
    fn start(topic: Topic, chunk: Chunk, text: &Arc<Mmap>, threads: usize) -> Decoding {
        if threads == 1 {
            Decoding::Done(chunk.decode(topic, text))
        } else {
            let text = Arc::clone(text);
            Decoding::OnThread(std::thread::spawn(move || chunk.decode(topic, &text)))
        }
    }

    fn finish(self) -> Chunk {
        match self {
            Decoding::Done(chunk) => chunk,
            Decoding::OnThread(thread) => thread.join().expect("a decoding thread panicked"),
        }
    }
}

/// One input file and how far it has been read.
struct TopicFile {
    topic: Topic,
    /// The whole file, mapped: shared with the threads decoding its chunks.
    text: Arc<Mmap>,
    /// The byte after the last line handed out for decoding.
    read: usize,
    /// Where the pages still mapped in begin: those before hold applied lines only.
    released: usize,
    /// The next offset per partition, as the topic's partitions would number the events.
    offsets: BTreeMap<i32, i64>,
}

/// Mapped file pages are given back in steps of this many bytes (a multiple of any page size).
const RELEASE_STEP: usize = 2 << 20;

impl TopicFile {
    /// Gives back the mapped pages before `applied`, whose lines are all applied: mapped pages
    /// count in the process's RSS until they are, and a backfill would hold its whole input.
    fn release_before(&mut self, applied: usize) {
        let end = applied / RELEASE_STEP * RELEASE_STEP;
        if end > self.released {
            // SAFETY: the mapping is read-only and backed by the file, so a page advised away is
            // only read again from the page cache if touched: no data can change or be lost.
            let _ = unsafe {
                self.text.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, self.released, end - self.released)
            };
            self.released = end;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines<'a>(text: &'a [u8], chunk: &Chunk) -> Vec<&'a str> {
        chunk.lines.iter().map(|r| std::str::from_utf8(&text[r.clone()]).unwrap()).collect()
    }

    #[test]
    fn chunks_take_whole_lines_without_blanks_up_to_their_limits() {
        let text = b"{\"a\":1}\n  {\"b\":2} \r\n\n{\"c\":3}\n{\"d\":4}";
        let mut chunk = Chunk::default();
        // Two lines: the second is trimmed of blanks and its CRLF.
        assert_eq!(chunk.read(text, 0, 2, u64::MAX), (2, 20));
        assert_eq!(lines(text, &chunk), ["{\"a\":1}", "{\"b\":2}"]);
        // The blank line counts as a line read but holds no event; the last needs no newline.
        assert_eq!(chunk.read(text, 20, 10, u64::MAX), (3, text.len()));
        assert_eq!(lines(text, &chunk), ["{\"c\":3}", "{\"d\":4}"]);
        assert_eq!(chunk.read(text, text.len(), 10, u64::MAX), (0, text.len()));
        // A byte budget stops after the line that reaches it, never inside one.
        assert_eq!(chunk.read(text, 0, 10, 3), (1, 8));
        assert_eq!(lines(text, &chunk), ["{\"a\":1}"]);
    }
}
