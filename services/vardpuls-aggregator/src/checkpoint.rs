//! Shard checkpoints: a shard's state, including the next offset to read, replaced atomically.
//! After a crash a shard is exactly as it was after some batch, with the offset that batch ended
//! at, so replaying from there counts nothing twice and loses nothing.
//!
//! Files live under `<state_dir>/<topic>/`: `<partition>.json` holds what changes batch by batch
//! (offset, watermark, open days' events, their ids, emitted values) and lists the closed days;
//! each closed day's partials sit in `<partition>.closed/<day>.json`, written once when the day
//! closes. So a checkpoint rewrites only the open part, however much history the shard keeps.
//! A day's segment is written (and synced) before the head that lists it; a segment no head
//! lists yet is ignored, and rewritten with the same content when the replay closes the day
//! again. Instances of one consumer group share the directory: a partition that moves to
//! another instance takes its state with it.

use crate::partial::Partial;
use crate::shard::Shard;
use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File};
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use vardpuls_core::Topic;
use vardpuls_core::events::InputEvent;

pub fn path(state_dir: &Path, topic: Topic, partition: i32) -> PathBuf {
    state_dir.join(topic.name()).join(format!("{partition}.json"))
}

fn segment_dir(state_dir: &Path, topic: Topic, partition: i32) -> PathBuf {
    state_dir.join(topic.name()).join(format!("{partition}.closed"))
}

/// The head file, as written.
#[derive(Serialize)]
struct HeadRef<'a> {
    topic: Topic,
    partition: i32,
    next_offset: i64,
    watermark: Option<DateTime<Utc>>,
    open: &'a BTreeMap<NaiveDate, Vec<InputEvent>>,
    seen: &'a HashMap<u128, NaiveDate>,
    emitted: &'a HashMap<String, Partial>,
    closed_days: Vec<NaiveDate>,
}

/// The head file, as read. `closed` is the single-file format of earlier versions.
#[derive(Deserialize)]
struct Head {
    topic: Topic,
    partition: i32,
    next_offset: i64,
    watermark: Option<DateTime<Utc>>,
    open: BTreeMap<NaiveDate, Vec<InputEvent>>,
    seen: HashMap<u128, NaiveDate>,
    emitted: HashMap<String, Partial>,
    #[serde(default)]
    closed_days: Vec<NaiveDate>,
    #[serde(default)]
    closed: Option<BTreeMap<NaiveDate, Vec<Partial>>>,
}

/// Writes the segments of newly closed days, then the head (temporary file, synced, renamed),
/// then removes segments of days the shard no longer keeps. Returns the bytes written.
pub fn save(state_dir: &Path, shard: &mut Shard) -> anyhow::Result<u64> {
    let target = path(state_dir, shard.topic, shard.partition);
    let dir = target.parent().expect("checkpoint has a directory");
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let segments = segment_dir(state_dir, shard.topic, shard.partition);
    let mut bytes = 0;
    let new_days: Vec<NaiveDate> = shard.closed.keys().filter(|d| !shard.persisted.contains(d)).copied().collect();
    if !new_days.is_empty() {
        fs::create_dir_all(&segments).with_context(|| format!("creating {}", segments.display()))?;
        for day in &new_days {
            bytes += write_atomically(&segments.join(format!("{day}.json")), &shard.closed[day])?;
        }
        File::open(&segments)?.sync_all()?;
    }
    let head = HeadRef {
        topic: shard.topic,
        partition: shard.partition,
        next_offset: shard.next_offset,
        watermark: shard.watermark,
        open: &shard.open,
        seen: &shard.seen,
        emitted: &shard.emitted,
        closed_days: shard.closed.keys().copied().collect(),
    };
    bytes += write_atomically(&target, &head)?;
    // The rename itself must survive a power cut too.
    File::open(dir)?.sync_all()?;
    shard.persisted.extend(new_days);
    // Days expired from the shard: their segments go once the head no longer lists them.
    let expired: Vec<NaiveDate> = shard.persisted.iter().filter(|d| !shard.closed.contains_key(d)).copied().collect();
    for day in expired {
        let _ = fs::remove_file(segments.join(format!("{day}.json")));
        shard.persisted.remove(&day);
    }
    Ok(bytes)
}

fn write_atomically<T: Serialize + ?Sized>(target: &Path, value: &T) -> anyhow::Result<u64> {
    let tmp = target.with_extension("json.tmp");
    {
        let file = File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        let mut writer = BufWriter::with_capacity(1 << 20, file);
        serde_json::to_writer(&mut writer, value)?;
        writer.flush()?;
        writer.get_ref().sync_all()?;
    }
    fs::rename(&tmp, target).with_context(|| format!("replacing {}", target.display()))?;
    Ok(fs::metadata(target)?.len())
}

/// The shard's last checkpoint, if any.
pub fn load(state_dir: &Path, topic: Topic, partition: i32) -> anyhow::Result<Option<Shard>> {
    let path = path(state_dir, topic, partition);
    let file = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("opening {}", path.display())),
    };
    let head: Head = serde_json::from_reader(BufReader::with_capacity(1 << 20, file))
        .with_context(|| format!("reading checkpoint {}", path.display()))?;
    anyhow::ensure!(
        head.topic == topic && head.partition == partition,
        "{} holds {} partition {}",
        path.display(),
        head.topic,
        head.partition
    );
    let mut shard = Shard::new(topic, partition);
    shard.next_offset = head.next_offset;
    shard.watermark = head.watermark;
    shard.open = head.open;
    shard.seen = head.seen;
    shard.emitted = head.emitted;
    if let Some(closed) = head.closed {
        // An earlier single-file checkpoint: its closed days get segments on the next save.
        shard.closed = closed;
    }
    let segments = segment_dir(state_dir, topic, partition);
    for day in head.closed_days {
        let segment = segments.join(format!("{day}.json"));
        let file = File::open(&segment)
            .with_context(|| format!("{} lists {day}, but {} is missing", path.display(), segment.display()))?;
        let partials: Vec<Partial> = serde_json::from_reader(BufReader::with_capacity(1 << 20, file))
            .with_context(|| format!("reading checkpoint segment {}", segment.display()))?;
        shard.closed.insert(day, partials);
        shard.persisted.insert(day);
    }
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

    fn partial(kpi: &str) -> Partial {
        Partial {
            kpi: kpi.into(),
            unit_id: "SE2321000180-E00101".into(),
            period: crate::partial::Period::Day(NaiveDate::from_ymd_opt(2026, 3, 29).unwrap()),
            dimensions: String::new(),
            numerator: 3.into(),
            denominator: Some(4.into()),
            pending: None,
            last_event_at: Some(1_774_778_400_000_000),
        }
    }

    #[test]
    fn closed_days_are_written_once_and_read_back_with_the_head() {
        let dir = std::env::temp_dir().join(format!("vardpuls-ckpt-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let mut shard = Shard::new(Topic::Phone, 3);
        shard.next_offset = 42;
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
}
