//! Shard checkpoints: a shard's state, including the next offset to read, replaced atomically.
//! After a crash a shard is exactly as it was after some batch, with the offset that batch ended
//! at, so replaying from there counts nothing twice and loses nothing.
//!
//! Files live under `<state_dir>/<topic>/`:
//! - `<partition>.json`, the head, replaced atomically every checkpoint: offset, watermark,
//!   stock levels, the list of closed days, and how much of each journal and of the log counts;
//! - `<partition>.open/<day>.ndjson`, an open day's journal: its events (each in its input
//!   contract's JSON), appended as they arrive and deleted when the day closes;
//! - `<partition>.emitted-<generation>.ndjson`, the log of published records of open periods:
//!   each change appended, rewritten as a new generation when it outgrows the live records;
//! - `<partition>.closed/<day>.json`, a closed day's partials, written when it closes (again
//!   when a restatement closes it again);
//! - `<partition>.days/<day>.arrow`, a closed day's events ([`crate::day_store`]), for as long
//!   as the day is restatable;
//! - `<partition>.months/<month>.json`, a month's final values as last published, to publish
//!   only what a restatement changes;
//! - `<partition>.persons/<month>.json`, who was listed via 1177 that month, per unit
//!   ([`crate::persons`]), written when it changed.
//!
//! So a checkpoint writes what the batch changed, not the open days or the history the shard
//! keeps. Closed days of months no open day needs are then dropped from memory
//! ([`Shard::archive`]) and read back from their segments when a month needs them again
//! ([`restore`]). Journals, log and segments are written (and synced) before the head that
//! vouches for them; what no head vouches for yet (a segment not listed, a tail past the length
//! the head gives) is ignored, and overwritten when the replay gets there again. Instances
//! share the directory: a partition that moves to another instance takes its state with it.
//!
//! A checkpoint is made in two steps: [`plan`] takes from the shard what to write (and updates
//! the shard as if it were written), [`crate::writes`] writes it, on another thread while the
//! next batch is consumed (see `crate::driver` for when the two must meet).

use crate::catalogue;
use crate::day_store;
use crate::emitted::{Emitted, LOG_FORMAT, LogEntry, LogPosition};
use crate::partial::Partial;
use crate::shard::{JournalLength, Shard, level_key};
use crate::writes::Writes;
use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use vardpuls_core::Topic;
use vardpuls_core::calendar::{LocalDay, LocalMonth};

pub fn path(state_dir: &Path, topic: Topic, partition: i32) -> PathBuf {
    state_dir.join(topic.name()).join(format!("{partition}.json"))
}

fn segment_dir(state_dir: &Path, topic: Topic, partition: i32) -> PathBuf {
    state_dir.join(topic.name()).join(format!("{partition}.closed"))
}

fn journal_dir(state_dir: &Path, topic: Topic, partition: i32) -> PathBuf {
    state_dir.join(topic.name()).join(format!("{partition}.open"))
}

fn journal_path(dir: &Path, day: NaiveDate) -> PathBuf {
    dir.join(format!("{day}.ndjson"))
}

fn day_store_dir(state_dir: &Path, topic: Topic, partition: i32) -> PathBuf {
    state_dir.join(topic.name()).join(format!("{partition}.days"))
}

fn day_store_path(dir: &Path, day: NaiveDate) -> PathBuf {
    dir.join(format!("{day}.arrow"))
}

fn month_path(state_dir: &Path, topic: Topic, partition: i32, month: LocalMonth) -> PathBuf {
    state_dir.join(topic.name()).join(format!("{partition}.months")).join(format!("{month}.json"))
}

fn persons_dir(state_dir: &Path, topic: Topic, partition: i32) -> PathBuf {
    state_dir.join(topic.name()).join(format!("{partition}.persons"))
}

fn emitted_path(state_dir: &Path, topic: Topic, partition: i32, generation: u64) -> PathBuf {
    state_dir.join(topic.name()).join(format!("{partition}.emitted-{generation}.ndjson"))
}

/// The version of the checkpoint layout this build writes and reads. A checkpoint in another
/// is refused with a clear error, never read as something it is not: change the layout, bump
/// this (docs/operations.md, "Upgrades").
pub const FORMAT: u32 = 1;

/// The head file, as written.
#[derive(Serialize)]
struct HeadRef<'a> {
    format: u32,
    topic: Topic,
    partition: i32,
    next_offset: i64,
    watermark: Option<DateTime<Utc>>,
    open_journals: &'a BTreeMap<NaiveDate, JournalLength>,
    emitted_log: LogPosition,
    levels: Vec<&'a Partial>,
    closed_days: Vec<NaiveDate>,
    event_days: &'a BTreeSet<NaiveDate>,
    newest: &'a [DateTime<Utc>],
    progress_floor: Option<DateTime<Utc>>,
    base_levels: Vec<&'a Partial>,
    waiting: &'a BTreeSet<NaiveDate>,
}

/// The head file, as read: the fields [`HeadRef`] writes, in format [`FORMAT`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Head {
    /// Checked before, from [`HeadFormat`].
    #[serde(rename = "format")]
    _format: u32,
    topic: Topic,
    partition: i32,
    next_offset: i64,
    /// For people reading the head: the progress follows from `newest` and `progress_floor`.
    #[serde(rename = "watermark")]
    _watermark: Option<DateTime<Utc>>,
    open_journals: BTreeMap<NaiveDate, JournalLength>,
    emitted_log: LogPosition,
    levels: Vec<Partial>,
    closed_days: Vec<NaiveDate>,
    event_days: BTreeSet<NaiveDate>,
    newest: Vec<DateTime<Utc>>,
    progress_floor: Option<DateTime<Utc>>,
    base_levels: Vec<Partial>,
    /// Open days with events whose values were not computed yet (applied while catching up:
    /// `Pace::CatchingUp`); none in heads written before there was a pace.
    #[serde(default)]
    waiting: BTreeSet<NaiveDate>,
}

/// Just the format of a head, read before the rest: a head in another format may have other
/// fields.
#[derive(Deserialize)]
struct HeadFormat {
    format: Option<u32>,
}

/// Checkpoints a shard and waits until it is written: [`plan`], then [`Writes::write`]. Returns
/// the bytes written.
pub fn save(state_dir: &Path, shard: &mut Shard) -> anyhow::Result<u64> {
    plan(state_dir, shard)?.write()
}

/// What a shard's checkpoint writes, in order: the segments of newly closed days, their events
/// to the day store, changed month finals and persons, the open days' new events appended to
/// their journals, the published records' log; then the head (temporary file, synced, renamed);
/// then the removal of what the head no longer lists. The shard is updated as if they were
/// written, and closed days no open day needs are archived: the files must be written before
/// the shard is computed or checkpointed again, or another process loads it.
pub fn plan(state_dir: &Path, shard: &mut Shard) -> anyhow::Result<Writes> {
    let mut writes = Writes::default();
    let target = path(state_dir, shard.topic, shard.partition);
    writes.create_dir(target.parent().expect("checkpoint has a directory").to_path_buf());
    let segments = segment_dir(state_dir, shard.topic, shard.partition);
    let new_days = plan_closed_segments(&mut writes, &segments, shard)?;
    plan_day_stores(&mut writes, state_dir, shard);
    plan_month_finals(&mut writes, state_dir, shard)?;
    plan_persons(&mut writes, state_dir, shard)?;
    plan_journals(&mut writes, state_dir, shard);
    let compacted_from = shard.emitted.log.generation;
    plan_emitted(&mut writes, state_dir, shard)?;
    // Days closed since the last head: it no longer vouches for their journals.
    let closed: Vec<NaiveDate> = shard.journaled.keys().filter(|d| !shard.open.contains_key(d)).copied().collect();
    for day in &closed {
        shard.journaled.remove(day);
    }
    let kept = shard.closed_days();
    // Stock levels of days leaving the horizon: the opening levels of a restatement from the
    // oldest kept day on. Their segments were written by earlier checkpoints.
    let expired: Vec<NaiveDate> = shard.persisted.iter().filter(|d| !kept.contains(d)).copied().collect();
    if !expired.is_empty() && catalogue::has_stock_kpi(shard.topic) {
        for day in &expired {
            let partials = read_segment(state_dir, shard.topic, shard.partition, *day)?;
            merge_levels(&mut shard.base_levels, partials.iter().filter(|p| catalogue::is_stock(p.kpi)));
        }
    }
    plan_head(&mut writes, &target, shard, &kept)?;
    shard.persisted.extend(new_days);
    let after_head = AfterHead { segments: &segments, expired: &expired, closed: &closed, compacted_from };
    plan_removals(&mut writes, state_dir, shard, after_head);
    shard.archive();
    Ok(writes)
}

/// The segments of days closed since the last checkpoint; returns those days.
fn plan_closed_segments(writes: &mut Writes, segments: &Path, shard: &Shard) -> anyhow::Result<Vec<NaiveDate>> {
    let new_days: Vec<NaiveDate> = shard.closed.keys().filter(|d| !shard.persisted.contains(d)).copied().collect();
    if !new_days.is_empty() {
        writes.create_dir(segments.to_path_buf());
        for day in &new_days {
            writes.replace(segments.join(format!("{day}.json")), &shard.closed[day])?;
        }
        writes.sync_dir(segments.to_path_buf());
    }
    Ok(new_days)
}

/// The head (temporary file, synced, renamed, the rename synced): once written, the checkpoint
/// is the new one.
fn plan_head(writes: &mut Writes, target: &Path, shard: &Shard, kept: &BTreeSet<NaiveDate>) -> anyhow::Result<()> {
    let head = HeadRef {
        format: FORMAT,
        topic: shard.topic,
        partition: shard.partition,
        next_offset: shard.next_offset,
        watermark: shard.watermark,
        open_journals: &shard.journaled,
        emitted_log: shard.emitted.log,
        levels: shard.levels.values().collect(),
        closed_days: kept.iter().copied().collect(),
        event_days: &shard.event_days,
        newest: &shard.newest,
        progress_floor: shard.progress_floor,
        base_levels: shard.base_levels.values().collect(),
        waiting: &shard.dirty,
    };
    writes.replace(target.to_path_buf(), &head)?;
    // The rename itself must survive a power cut too.
    writes.sync_dir(target.parent().expect("checkpoint has a directory").to_path_buf());
    Ok(())
}

/// What a new head stopped listing, to remove once it is in place.
struct AfterHead<'a> {
    segments: &'a Path,
    /// Days expired from the shard.
    expired: &'a [NaiveDate],
    /// Days closed since the last head, whose journals it no longer vouches for.
    closed: &'a [NaiveDate],
    /// The emitted log's generation before this checkpoint compacted it.
    compacted_from: u64,
}

/// Removes, after the new head is in place, the files it no longer lists: expired days'
/// segments and day stores, months wholly before the horizon, a compacted emitted log and
/// closed days' journals.
fn plan_removals(writes: &mut Writes, state_dir: &Path, shard: &mut Shard, after: AfterHead<'_>) {
    let stores = day_store_dir(state_dir, shard.topic, shard.partition);
    for day in after.expired {
        writes.remove(after.segments.join(format!("{day}.json")));
        writes.remove(day_store_path(&stores, *day));
        shard.persisted.remove(day);
    }
    // Months wholly before the horizon: no restatement can change their finals any more.
    if let (Some(oldest), false) = (shard.oldest_restatable(), after.expired.is_empty()) {
        let oldest = LocalDay::from_date(oldest).month();
        let months = month_path(state_dir, shard.topic, shard.partition, oldest);
        writes.remove_months_before(
            months.parent().expect("a month file has a directory").to_path_buf(),
            oldest.to_string(),
        );
    }
    if shard.emitted.log.generation != after.compacted_from {
        writes.remove(emitted_path(state_dir, shard.topic, shard.partition, after.compacted_from));
    }
    let journals = journal_dir(state_dir, shard.topic, shard.partition);
    for day in after.closed {
        writes.remove(journal_path(&journals, *day));
    }
}

/// The events of days closed since the last checkpoint, to the day store.
fn plan_day_stores(writes: &mut Writes, state_dir: &Path, shard: &mut Shard) {
    if shard.closing.is_empty() {
        return;
    }
    let dir = day_store_dir(state_dir, shard.topic, shard.partition);
    writes.create_dir(dir.clone());
    for (day, events) in std::mem::take(&mut shard.closing) {
        writes.day_store(day_store_path(&dir, day), shard.topic, events);
        shard.event_days.insert(day);
    }
    writes.sync_dir(dir);
}

/// The months whose persons changed. Written before the head, and ahead of it harmlessly: a set
/// only grows, and the replay adds the same persons again.
fn plan_persons(writes: &mut Writes, state_dir: &Path, shard: &mut Shard) -> anyhow::Result<()> {
    let dir = persons_dir(state_dir, shard.topic, shard.partition);
    for month in std::mem::take(&mut shard.persons.changed) {
        let Some(persons) = shard.persons.months.get(&month) else { continue };
        writes.create_dir(dir.clone());
        writes.replace(dir.join(format!("{month}.json")), persons)?;
    }
    Ok(())
}

/// Reads every month's persons of a shard, and removes months the shard has expired.
fn read_persons(state_dir: &Path, shard: &mut Shard) -> anyhow::Result<()> {
    let dir = persons_dir(state_dir, shard.topic, shard.partition);
    let oldest = shard.oldest_restatable().map(|d| LocalDay::from_date(d).month());
    for entry in fs::read_dir(&dir).into_iter().flatten().flatten() {
        let path = entry.path();
        let Some(month) = path.file_stem().and_then(|s| s.to_str()).and_then(parse_month) else { continue };
        if oldest.is_some_and(|oldest| month < oldest) {
            let _ = fs::remove_file(&path);
            continue;
        }
        let file = File::open(&path).with_context(|| format!("opening {}", path.display()))?;
        let persons =
            serde_json::from_reader(BufReader::new(file)).with_context(|| format!("reading {}", path.display()))?;
        shard.persons.months.insert(month, persons);
    }
    Ok(())
}

fn parse_month(s: &str) -> Option<LocalMonth> {
    let (year, month) = s.split_once('-')?;
    Some(LocalMonth { year: year.parse().ok()?, month: month.parse().ok().filter(|m| (1..=12).contains(m))? })
}

/// The final monthly values published in this batch; the shard forgets them: they are read
/// again only when a restatement changes their month.
fn plan_month_finals(writes: &mut Writes, state_dir: &Path, shard: &mut Shard) -> anyhow::Result<()> {
    for month in std::mem::take(&mut shard.month_finals_changed) {
        let path = month_path(state_dir, shard.topic, shard.partition, month);
        writes.create_dir(path.parent().expect("a month file has a directory").to_path_buf());
        writes.replace(path, &shard.month_finals[&month])?;
    }
    shard.month_finals.clear();
    Ok(())
}

/// Gets a shard ready for computing a batch, after its messages are applied:
/// - reopens the closed days that restating events fall on (for a topic with a stock KPI, with
///   every later closed day, from the levels before the first), and applies those events;
/// - reads the final monthly values that the batch may publish again;
/// - restores archived days that resident months need.
///
/// Without a state directory (`aggregate-files` without `--state-dir`) closed days' events stay
/// in memory, and are reopened from there.
pub fn prepare(state_dir: Option<&Path>, shard: &mut Shard) -> anyhow::Result<()> {
    let (topic, partition) = (shard.topic, shard.partition);
    if !shard.restating.is_empty() {
        let mut days = shard.days_to_reopen();
        let first = *days.first().expect("a restating event has a day");
        if catalogue::has_stock_kpi(topic) {
            let kept = |d: &NaiveDate| shard.event_days.contains(d) || shard.closing.contains_key(d);
            days.extend(shard.closed_days().range(first..).filter(|d| kept(d)));
            shard.levels = levels_before(state_dir, shard, first)?;
        }
        for day in days {
            let events = match shard.closing.remove(&day) {
                Some(events) => events,
                None if shard.event_days.contains(&day) => {
                    let dir = state_dir.context("closed days' events are on disk, but no state directory is given")?;
                    day_store::read(&day_store_path(&day_store_dir(dir, topic, partition), day), topic)?
                }
                None => Vec::new(),
            };
            let finals = match (shard.closed.get(&day), state_dir) {
                (Some(partials), _) => partials.clone(),
                (None, Some(dir)) if shard.archived.contains(&day) => read_segment(dir, topic, partition, day)?,
                _ => Vec::new(),
            };
            shard.reopen(day, events, finals);
        }
        shard.apply_restating();
    }
    let Some(state_dir) = state_dir else { return Ok(()) };
    let restated = shard.restated_months();
    let mut months: BTreeSet<LocalMonth> = restated.clone();
    if catalogue::compares_with_last_year(topic) {
        months.extend(restated.iter().map(|m| m.same_month_next_year()));
    }
    months.extend(shard.later_months_of_restated_years());
    months.extend(shard.months_to_finalize());
    for month in months {
        if shard.is_final(month.last_day()) && !shard.month_finals.contains_key(&month) {
            let path = month_path(state_dir, topic, partition, month);
            match File::open(&path) {
                Ok(file) => {
                    let finals: Vec<Partial> = serde_json::from_reader(BufReader::new(file))
                        .with_context(|| format!("reading {}", path.display()))?;
                    shard.month_finals.insert(month, finals.into_iter().map(Partial::as_closed).collect());
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).with_context(|| format!("opening {}", path.display())),
            }
        }
    }
    restore(state_dir, shard)
}

/// The stock levels at the end of the day before `day`: those of days that left the horizon,
/// then each closed day's before `day`, oldest first.
fn levels_before(
    state_dir: Option<&Path>,
    shard: &Shard,
    day: NaiveDate,
) -> anyhow::Result<foldhash::HashMap<crate::shard::LevelKey, Partial>> {
    let mut levels = shard.base_levels.clone();
    for d in shard.closed_days().range(..day) {
        match (shard.closed.get(d), state_dir) {
            (Some(partials), _) => merge_levels(&mut levels, partials.iter().filter(|p| catalogue::is_stock(p.kpi))),
            (None, Some(dir)) => {
                let partials = read_segment(dir, shard.topic, shard.partition, *d)?;
                merge_levels(&mut levels, partials.iter().filter(|p| catalogue::is_stock(p.kpi)));
            }
            (None, None) => {}
        }
    }
    Ok(levels)
}

/// Takes `partials` (of one day, or of days in order) as the latest levels.
fn merge_levels<'a>(
    levels: &mut foldhash::HashMap<crate::shard::LevelKey, Partial>,
    partials: impl Iterator<Item = &'a Partial>,
) {
    for p in partials {
        levels.insert(level_key(p), p.clone());
    }
}

/// Each open day's events that its journal does not hold yet, appended; the journals'
/// directory synced when one was created.
fn plan_journals(writes: &mut Writes, state_dir: &Path, shard: &mut Shard) {
    let dir = journal_dir(state_dir, shard.topic, shard.partition);
    let (mut creating, mut created) = (false, false);
    for (day, events) in &shard.open {
        // A journal holding more events than the day has is not this day's: start it again.
        let done = shard.journaled.get(day).copied().filter(|j| j.events <= events.len()).unwrap_or_default();
        if done.events == events.len() && shard.journaled.contains_key(day) {
            continue;
        }
        if !creating {
            writes.create_dir(dir.clone());
            creating = true;
        }
        created |= done.events == 0;
        // Each event in its input contract's JSON, as it was consumed.
        let mut lines = Vec::new();
        for event in &events[done.events..] {
            event.write_json(&mut lines);
            lines.push(b'\n');
        }
        let appended = lines.len() as u64;
        writes.append(journal_path(&dir, *day), done.bytes, lines);
        shard.journaled.insert(*day, JournalLength { events: events.len(), bytes: done.bytes + appended });
    }
    if created {
        writes.sync_dir(dir);
    }
}

/// The published records that changed, appended to the shard's log, or, once the log has grown
/// to several times the live records, all of them in a new generation of it (the head then
/// points there and the old one goes).
fn plan_emitted(writes: &mut Writes, state_dir: &Path, shard: &mut Shard) -> anyhow::Result<()> {
    let (topic, partition, log) = (shard.topic, shard.partition, shard.emitted.log);
    let changes = shard.emitted.changes();
    // A log in an earlier format is rewritten in the current one, changed or not.
    let compact = log.format != LOG_FORMAT || log.entries + changes.len() > 2 * shard.emitted.len() + 1024;
    if changes.is_empty() && !compact {
        return Ok(());
    }
    let position = if compact {
        let generation = log.generation + 1;
        let entries = shard.emitted.entries();
        let lines = json_lines(&entries)?;
        let bytes = lines.len() as u64;
        writes.append(emitted_path(state_dir, topic, partition, generation), 0, lines);
        LogPosition { generation, entries: entries.len(), bytes, format: LOG_FORMAT }
    } else {
        let lines = json_lines(&changes)?;
        let bytes = lines.len() as u64;
        writes.append(emitted_path(state_dir, topic, partition, log.generation), log.bytes, lines);
        LogPosition { entries: log.entries + changes.len(), bytes: log.bytes + bytes, ..log }
    };
    shard.emitted.logged();
    shard.emitted.log = position;
    Ok(())
}

/// `items` as JSON lines.
fn json_lines<T: Serialize>(items: &[T]) -> anyhow::Result<Vec<u8>> {
    let mut lines = Vec::new();
    for item in items {
        serde_json::to_writer(&mut lines, item)?;
        lines.push(b'\n');
    }
    Ok(lines)
}

/// The first `entries` lines of `path`, within its first `bytes` bytes, each parsed by `parse`.
fn read_lines<T, E: std::error::Error + Send + Sync + 'static>(
    path: &Path,
    bytes: u64,
    entries: usize,
    parse: impl Fn(&[u8]) -> Result<T, E>,
) -> anyhow::Result<Vec<T>> {
    let file =
        File::open(path).with_context(|| format!("the checkpoint lists {}, but it is missing", path.display()))?;
    let reader = BufReader::with_capacity(crate::FILE_BUFFER_BYTES, file.take(bytes));
    let mut items = Vec::with_capacity(entries);
    for line in reader.split(b'\n') {
        let line = line.with_context(|| format!("reading {}", path.display()))?;
        items.push(parse(&line).with_context(|| format!("reading {}", path.display()))?);
    }
    anyhow::ensure!(
        items.len() == entries,
        "{} holds {} entries where its checkpoint expects {entries}",
        path.display(),
        items.len()
    );
    Ok(items)
}

/// Reads archived days back into memory where a resident month needs them (see
/// [`Shard::resident_months`]).
fn restore(state_dir: &Path, shard: &mut Shard) -> anyhow::Result<()> {
    for day in shard.days_to_restore() {
        let partials = read_segment(state_dir, shard.topic, shard.partition, day)?;
        shard.restore(day, partials);
    }
    Ok(())
}

fn read_segment(state_dir: &Path, topic: Topic, partition: i32, day: NaiveDate) -> anyhow::Result<Vec<Partial>> {
    let segment = segment_dir(state_dir, topic, partition).join(format!("{day}.json"));
    let file = File::open(&segment)
        .with_context(|| format!("the checkpoint lists {day}, but {} is missing", segment.display()))?;
    let partials: Vec<Partial> = serde_json::from_reader(BufReader::with_capacity(crate::FILE_BUFFER_BYTES, file))
        .with_context(|| format!("reading checkpoint segment {}", segment.display()))?;
    // Segments written before closed days kept no pending calls.
    Ok(partials.into_iter().map(Partial::as_closed).collect())
}

/// The shard's last checkpoint, if any.
pub fn load(state_dir: &Path, topic: Topic, partition: i32) -> anyhow::Result<Option<Shard>> {
    let path = path(state_dir, topic, partition);
    let file = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("opening {}", path.display())),
    };
    let text = {
        let mut text = Vec::new();
        BufReader::with_capacity(crate::FILE_BUFFER_BYTES, file).read_to_end(&mut text)?;
        text
    };
    let format: HeadFormat =
        serde_json::from_slice(&text).with_context(|| format!("reading checkpoint {}", path.display()))?;
    anyhow::ensure!(
        format.format == Some(FORMAT),
        "{} is a checkpoint in format {}, and this version of vardpuls reads format {FORMAT}: \
         run the version that wrote it, or move the state directory away and replay from Kafka \
         (docs/operations.md, \"Upgrades\")",
        path.display(),
        format.format.map_or("(none: from before formats were numbered)".to_string(), |f| f.to_string()),
    );
    let head: Head = serde_json::from_slice(&text).with_context(|| format!("reading checkpoint {}", path.display()))?;
    anyhow::ensure!(
        head.topic == topic && head.partition == partition,
        "{} holds {} partition {}",
        path.display(),
        head.topic,
        head.partition
    );
    let mut shard = Shard::new(topic, partition);
    shard.next_offset = head.next_offset;
    shard.set_progress_floor(head.progress_floor);
    shard.set_newest(head.newest);
    shard.event_days = head.event_days;
    shard.base_levels = head.base_levels.into_iter().map(|p| (level_key(&p), p)).collect();
    let mut open = BTreeMap::new();
    let journals = journal_dir(state_dir, topic, partition);
    for (day, length) in &head.open_journals {
        let decode = |line: &[u8]| vardpuls_core::events::decode(topic, line);
        open.insert(*day, read_lines(&journal_path(&journals, *day), length.bytes, length.events, decode)?);
    }
    shard.set_open(open);
    // Their values are published by the next live computation, as without the restart.
    shard.dirty = head.waiting;
    shard.journaled = head.open_journals;
    let log = head.emitted_log;
    anyhow::ensure!(
        log.format == LOG_FORMAT,
        "{}: published-records log in format {}, not {LOG_FORMAT}",
        path.display(),
        log.format
    );
    shard.emitted = if log.entries == 0 {
        Emitted::default()
    } else {
        let parse = |line: &[u8]| serde_json::from_slice::<LogEntry<Partial>>(line);
        Emitted::from_log(read_lines(
            &emitted_path(state_dir, topic, partition, log.generation),
            log.bytes,
            log.entries,
            parse,
        )?)
    };
    shard.emitted.log = log;
    // Only the resident months' days are read; the others stay archived.
    let resident = shard.resident_months();
    for day in head.closed_days {
        shard.persisted.insert(day);
        if resident.contains(&LocalDay::from_date(day).month()) {
            shard.closed.insert(day, read_segment(state_dir, topic, partition, day)?);
        } else {
            shard.archived.insert(day);
        }
    }
    shard.levels = head.levels.into_iter().map(|p| (level_key(&p), p)).collect();
    read_persons(state_dir, &mut shard)?;
    Ok(Some(shard))
}

/// Bytes on disk of every checkpoint file of a topic (heads and segments).
pub fn size_on_disk(state_dir: &Path, topic: Topic) -> u64 {
    fn walk(dir: &Path) -> u64 {
        fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| match e.metadata() {
                Ok(m) if m.is_dir() => walk(&e.path()),
                Ok(m) => m.len(),
                Err(_) => 0,
            })
            .sum()
    }
    walk(&state_dir.join(topic.name()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::OpenOptions;
    use std::io::Write;

    fn partial(kpi: &str) -> Partial {
        partial_on(kpi, "2026-03-29")
    }

    fn partial_on(kpi: &str, day: &str) -> Partial {
        Partial {
            kpi: kpi.parse().unwrap(),
            unit_id: "SE2321000180-E00101".into(),
            period: crate::partial::Period::Day(date(day)),
            dimensions: Default::default(),
            numerator: 3.into(),
            denominator: Some(4.into()),
            pending: None,
            last_event_at: Some(1_774_778_400_000_000),
            cases: None,
            revision: 0,
        }
    }

    #[test]
    fn open_events_come_back_with_their_ids() {
        let dir = std::env::temp_dir().join(format!("vardpuls-ckpt-open-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let payload = br#"{"schema_version":1,"event_id":"5e1f0c2a-0000-4000-8000-000000000001","occurred_at":"2026-03-29T08:00:00Z","unit_id":"SE2321000180-E00101","event_type":"call_received","call_id":"c1","line":"primary_care","in_phone_hours":true}"#;
        let event = vardpuls_core::events::decode(Topic::Phone, payload).unwrap();
        let mut shard = Shard::new(Topic::Phone, 3);
        assert_eq!(shard.apply(event.clone()), crate::shard::Applied::Counted);
        save(&dir, &mut shard).unwrap();

        let mut back = load(&dir, Topic::Phone, 3).unwrap().unwrap();
        assert_eq!(back.open, shard.open);
        // The head does not store the ids: they are rebuilt, so the same event is a duplicate.
        assert_eq!(back.apply(event), crate::shard::Applied::Duplicate);
        fs::remove_dir_all(dir).unwrap();
    }

    fn call_received(n: u32, at: &str) -> vardpuls_core::events::InputEvent {
        let payload = format!(
            r#"{{"schema_version":1,"event_id":"5e1f0c2a-0000-4000-8000-{n:012}","occurred_at":"{at}","unit_id":"SE2321000180-E00101","event_type":"call_received","call_id":"c{n}","line":"primary_care","in_phone_hours":true}}"#
        );
        vardpuls_core::events::decode(Topic::Phone, payload.as_bytes()).unwrap()
    }

    /// A phone shard with one call on 2026-03-29, checkpointed in `dir`; and that day's journal.
    fn checkpointed_with_one_call(dir: &Path) -> (Shard, PathBuf) {
        let mut shard = Shard::new(Topic::Phone, 3);
        shard.apply(call_received(1, "2026-03-29T08:00:00Z"));
        save(dir, &mut shard).unwrap();
        (shard, journal_dir(dir, Topic::Phone, 3).join("2026-03-29.ndjson"))
    }

    #[test]
    fn open_days_are_appended_to_their_journal_not_rewritten() {
        let dir = temp_dir("journal");
        let (mut shard, journal) = checkpointed_with_one_call(&dir);
        let first = fs::read(&journal).unwrap();
        assert_eq!(first.iter().filter(|b| **b == b'\n').count(), 1);

        shard.apply(call_received(2, "2026-03-29T09:00:00Z"));
        let written = save(&dir, &mut shard).unwrap();
        let both = fs::read(&journal).unwrap();
        assert_eq!(&both[..first.len()], &first[..], "the first event is not written again");
        // One line, the event in its input contract's JSON.
        let second = both[first.len()..].strip_suffix(b"\n").unwrap();
        assert!(!second.contains(&b'\n'));
        let decoded = vardpuls_core::events::decode(Topic::Phone, second).unwrap();
        assert_eq!(decoded, call_received(2, "2026-03-29T09:00:00Z"));
        let head = fs::read_to_string(path(&dir, Topic::Phone, 3)).unwrap();
        assert!(!head.contains("call_received"), "the head holds no events: {head}");
        assert_eq!(written, (both.len() - first.len()) as u64 + head.len() as u64);

        let back = load(&dir, Topic::Phone, 3).unwrap().unwrap();
        assert_eq!(back.open, shard.open);
        assert_eq!(back.journaled, shard.journaled);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_journal_tail_no_head_vouches_for_is_dropped() {
        let dir = temp_dir("torn");
        let (shard, journal) = checkpointed_with_one_call(&dir);
        // A crash after appending the next batch's events, before the head was replaced: the
        // journal has a tail (here half a line), the head does not count it.
        let mut file = OpenOptions::new().append(true).open(&journal).unwrap();
        file.write_all(br#"{"schema_version":1,"event_id":"5e1f"#).unwrap();
        drop(file);

        let mut back = load(&dir, Topic::Phone, 3).unwrap().unwrap();
        assert_eq!(back.open, shard.open);
        // The replay applies the next event again; the tail is overwritten, not appended to.
        back.apply(call_received(2, "2026-03-29T09:00:00Z"));
        save(&dir, &mut back).unwrap();
        let again = load(&dir, Topic::Phone, 3).unwrap().unwrap();
        assert_eq!(again.open, back.open);
        assert_eq!(again.open[&date("2026-03-29")].len(), 2);

        // When the day closes, its journal goes.
        back.close(date("2026-03-29"), vec![partial("same_day_contact")]);
        save(&dir, &mut back).unwrap();
        assert!(!journal.exists());
        let last = load(&dir, Topic::Phone, 3).map_err(|e| format!("{e:#}")).unwrap().unwrap();
        assert!(last.open.is_empty());
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn published_records_are_logged_as_they_change_and_compacted_when_the_log_outgrows_them() {
        let dir = temp_dir("emitted");
        let mut shard = Shard::new(Topic::Phone, 3);
        shard.emitted.publish(partial("same_day_contact"));
        shard.emitted.publish(partial("visits"));
        save(&dir, &mut shard).unwrap();
        let first_log = emitted_path(&dir, Topic::Phone, 3, 0);
        let first = fs::read(&first_log).unwrap();
        // One record changes, one period becomes final: two entries appended, nothing rewritten.
        let mut changed = partial("same_day_contact");
        changed.numerator = 4.into();
        shard.emitted.publish(changed);
        shard.emitted.remove(&partial("visits"));
        save(&dir, &mut shard).unwrap();
        let both = fs::read(&first_log).unwrap();
        assert_eq!(&both[..first.len()], &first[..]);
        assert_eq!(shard.emitted.log.entries, 4);
        let back = load(&dir, Topic::Phone, 3).unwrap().unwrap();
        assert_eq!(back.emitted.values().collect::<Vec<_>>(), shard.emitted.values().collect::<Vec<_>>());
        assert_eq!(back.emitted.len(), 1);

        // Many changes to one record: the log moves to a new generation holding just the live
        // record, and the old one goes.
        for n in 0..1100 {
            let mut p = partial("same_day_contact");
            p.numerator = n.into();
            shard.emitted.publish(p);
            save(&dir, &mut shard).unwrap();
        }
        assert_eq!(shard.emitted.log.generation, 1);
        assert!(!first_log.exists());
        let back = load(&dir, Topic::Phone, 3).unwrap().unwrap();
        assert_eq!(back.emitted.get(&partial("same_day_contact")).unwrap().numerator, 1099.into());
        assert_eq!(back.emitted.log, shard.emitted.log);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_checkpoint_in_another_format_is_refused_with_a_clear_error() {
        let dir = temp_dir("format");
        save(&dir, &mut Shard::new(Topic::Phone, 3)).unwrap();
        assert!(load(&dir, Topic::Phone, 3).unwrap().is_some());
        let head_path = path(&dir, Topic::Phone, 3);
        let mut head: serde_json::Value = serde_json::from_slice(&fs::read(&head_path).unwrap()).unwrap();
        assert_eq!(head["format"], FORMAT);
        head["format"] = (FORMAT + 1).into();
        fs::write(&head_path, head.to_string()).unwrap();
        let e = format!("{:#}", load(&dir, Topic::Phone, 3).unwrap_err());
        assert!(
            e.contains(&format!("in format {}", FORMAT + 1)) && e.contains(&format!("reads format {FORMAT}")),
            "{e}"
        );
        head.as_object_mut().unwrap().remove("format");
        fs::write(&head_path, head.to_string()).unwrap();
        let e = format!("{:#}", load(&dir, Topic::Phone, 3).unwrap_err());
        assert!(e.contains("before formats were numbered"), "{e}");
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn closed_days_are_written_once_and_read_back_with_the_head() {
        let dir = std::env::temp_dir().join(format!("vardpuls-ckpt-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let mut shard = Shard::new(Topic::Phone, 3);
        shard.next_offset = 42;
        shard.set_progress_floor(Some("2026-03-30T12:00:00Z".parse().unwrap()));
        let (d1, d2) = (NaiveDate::from_ymd_opt(2026, 3, 28).unwrap(), NaiveDate::from_ymd_opt(2026, 3, 29).unwrap());
        shard.closed.insert(d1, vec![partial("visits")]);
        save(&dir, &mut shard).unwrap();
        let first =
            fs::metadata(segment_dir(&dir, Topic::Phone, 3).join("2026-03-28.json")).unwrap().modified().unwrap();
        shard.closed.insert(d2, vec![partial("same_day_contact")]);
        shard.next_offset = 50;
        save(&dir, &mut shard).unwrap();
        let again =
            fs::metadata(segment_dir(&dir, Topic::Phone, 3).join("2026-03-28.json")).unwrap().modified().unwrap();
        assert_eq!(first, again, "a closed day's segment is not rewritten");

        let back = load(&dir, Topic::Phone, 3).unwrap().unwrap();
        assert_eq!(back.next_offset, 50);
        assert_eq!(back.closed, shard.closed);
        assert!(load(&dir, Topic::Phone, 4).unwrap().is_none());

        // An expired day's segment goes with the next save; no temporary files stay behind.
        shard.closed.remove(&d1);
        save(&dir, &mut shard).unwrap();
        let mut names: Vec<_> =
            fs::read_dir(segment_dir(&dir, Topic::Phone, 3)).unwrap().map(|e| e.unwrap().file_name()).collect();
        names.sort();
        assert_eq!(names, vec![std::ffi::OsString::from("2026-03-29.json")]);
        let heads: Vec<_> =
            fs::read_dir(dir.join(Topic::Phone.name())).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert!(heads.iter().all(|n| !n.to_string_lossy().ends_with(".tmp")), "{heads:?}");
        fs::remove_dir_all(dir).unwrap();
    }

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("vardpuls-ckpt-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    /// A shard whose newest open day is `day` (noon UTC is its watermark).
    fn open_on(shard: &mut Shard, day: &str) {
        shard.open.clear();
        shard.open.insert(date(day), Vec::new());
        shard.set_progress_floor(Some(format!("{day}T12:00:00Z").parse().unwrap()));
    }

    #[test]
    fn closed_days_outside_the_resident_months_leave_memory_and_come_back_when_needed() {
        let dir = temp_dir("archive");
        // Chat growth compares with last year, so chats keep last year's month resident.
        let mut shard = Shard::new(Topic::Chats, 0);
        for day in ["2025-02-10", "2025-03-10", "2026-01-31", "2026-02-10"] {
            shard.close(date(day), vec![partial_on("chats_started", day)]);
        }
        open_on(&mut shard, "2026-02-20");
        save(&dir, &mut shard).unwrap();
        let in_memory = |s: &Shard| s.closed.keys().map(|d| d.to_string()).collect::<Vec<_>>();
        assert_eq!(in_memory(&shard), ["2025-02-10", "2026-02-10"]);
        assert_eq!(shard.closed_days().len(), 4, "archived days stay listed");

        // A restart reads only the resident months.
        let mut back = load(&dir, Topic::Chats, 0).unwrap().unwrap();
        assert_eq!(in_memory(&back), ["2025-02-10", "2026-02-10"]);
        assert_eq!(back.closed_days(), shard.closed_days());

        // March opens: March last year is read back, exactly as it was written.
        open_on(&mut back, "2026-03-01");
        assert_eq!(back.days_to_restore(), vec![date("2025-03-10")]);
        restore(&dir, &mut back).unwrap();
        assert_eq!(back.closed[&date("2025-03-10")], vec![partial_on("chats_started", "2025-03-10")]);
        save(&dir, &mut back).unwrap();
        assert_eq!(in_memory(&back), ["2025-03-10"]);

        // Phone has no last-year comparison: only this month stays.
        let mut phone = Shard::new(Topic::Phone, 0);
        phone.close(date("2025-02-10"), vec![partial_on("same_day_contact", "2025-02-10")]);
        phone.close(date("2026-02-10"), vec![partial_on("same_day_contact", "2026-02-10")]);
        open_on(&mut phone, "2026-02-20");
        save(&dir, &mut phone).unwrap();
        assert_eq!(in_memory(&phone), ["2026-02-10"]);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn stock_levels_outlive_their_archived_days() {
        let dir = temp_dir("levels");
        let mut shard = Shard::new(Topic::Listings, 1);
        let mut level = partial_on("listed_patients", "2026-01-15");
        level.numerator = 5302.into();
        shard.close(date("2026-01-15"), vec![level.clone(), partial_on("listing_net_change", "2026-01-15")]);
        let mut older = partial_on("listed_patients", "2026-01-14");
        older.numerator = 5000.into();
        shard.update_levels(&[older]);
        open_on(&mut shard, "2026-03-02");
        save(&dir, &mut shard).unwrap();
        assert!(shard.closed.is_empty(), "January is archived");
        let back = load(&dir, Topic::Listings, 1).unwrap().unwrap();
        assert!(back.closed.is_empty());
        assert_eq!(back.levels.values().collect::<Vec<_>>(), vec![&level], "the newest level, and only stocks");
        fs::remove_dir_all(dir).unwrap();
    }
}
