//! A checkpoint's files, apart from the shard they come from. [`crate::checkpoint::plan`] takes
//! from a shard what its checkpoint must write (serialized, or the closing days' events
//! themselves) and updates the shard as if it were written; [`Writes::write`] then writes the
//! files in order, on any thread. So the consumer writes one batch's checkpoint while it
//! consumes the next (`crate::driver`).

use crate::day_store;
use anyhow::Context;
use serde::Serialize;
use std::fs::{self, File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::PathBuf;
use vardpuls_core::Topic;
use vardpuls_core::events::InputEvent;

/// One file operation of a checkpoint.
enum Step {
    CreateDir(PathBuf),
    /// Replaced atomically: a temporary file, synced, renamed.
    Replace {
        path: PathBuf,
        bytes: Vec<u8>,
    },
    /// Written from byte `from` on, dropping whatever follows (a tail no head vouches for), and
    /// synced.
    Append {
        path: PathBuf,
        from: u64,
        bytes: Vec<u8>,
    },
    /// A closed day's events, to the day store.
    DayStore {
        path: PathBuf,
        topic: Topic,
        events: Vec<InputEvent>,
    },
    /// A directory synced, so that the files created or renamed in it survive a power cut.
    SyncDir(PathBuf),
    /// Removed once the head no longer lists it. A failed removal leaves a file nothing reads.
    Remove(PathBuf),
    /// The month files (`<month>.json`) of a directory before `oldest`, removed as [`Step::Remove`].
    RemoveMonthsBefore {
        dir: PathBuf,
        oldest: String,
    },
}

/// One shard's checkpoint: its files in the order they must be written, the head after what it
/// vouches for and removals after the head.
#[derive(Default)]
pub struct Writes {
    steps: Vec<Step>,
}

impl Writes {
    pub fn create_dir(&mut self, dir: PathBuf) {
        self.steps.push(Step::CreateDir(dir));
    }

    /// `value` as JSON, to replace `path` atomically.
    pub fn replace<T: Serialize + ?Sized>(&mut self, path: PathBuf, value: &T) -> anyhow::Result<()> {
        let bytes = serde_json::to_vec(value).with_context(|| format!("serializing {}", path.display()))?;
        self.steps.push(Step::Replace { path, bytes });
        Ok(())
    }

    /// `bytes` to write to `path` from byte `from` on.
    pub fn append(&mut self, path: PathBuf, from: u64, bytes: Vec<u8>) {
        self.steps.push(Step::Append { path, from, bytes });
    }

    pub fn day_store(&mut self, path: PathBuf, topic: Topic, events: Vec<InputEvent>) {
        self.steps.push(Step::DayStore { path, topic, events });
    }

    pub fn sync_dir(&mut self, dir: PathBuf) {
        self.steps.push(Step::SyncDir(dir));
    }

    pub fn remove(&mut self, path: PathBuf) {
        self.steps.push(Step::Remove(path));
    }

    pub fn remove_months_before(&mut self, dir: PathBuf, oldest: String) {
        self.steps.push(Step::RemoveMonthsBefore { dir, oldest });
    }

    /// Writes the files in order and returns the bytes written. Stops at the first failure:
    /// what it wrote until then no head vouches for, and the replay writes it again.
    pub fn write(self) -> anyhow::Result<u64> {
        let mut written = 0;
        for step in self.steps {
            written += match step {
                Step::CreateDir(dir) => {
                    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
                    0
                }
                Step::Replace { path, bytes } => replace(&path, &bytes)?,
                Step::Append { path, from, bytes } => append(&path, from, &bytes)?,
                Step::DayStore { path, topic, events } => day_store::write(&path, topic, &events)?,
                Step::SyncDir(dir) => {
                    File::open(&dir)
                        .and_then(|d| d.sync_all())
                        .with_context(|| format!("syncing {}", dir.display()))?;
                    0
                }
                Step::Remove(path) => {
                    let _ = fs::remove_file(path);
                    0
                }
                Step::RemoveMonthsBefore { dir, oldest } => {
                    for entry in fs::read_dir(&dir).into_iter().flatten().flatten() {
                        let name = entry.file_name().to_string_lossy().into_owned();
                        if name.strip_suffix(".json").is_some_and(|m| m < oldest.as_str()) {
                            let _ = fs::remove_file(entry.path());
                        }
                    }
                    0
                }
            };
        }
        Ok(written)
    }
}

/// Writes several shards' checkpoints, several at a time: a shard's files are its own, and
/// writing a closing day's events to the day store (serializing and compressing them) is the
/// largest part of a checkpoint, which one thread would do while the other cores wait
/// (docs/performance.md). Returns the bytes written; the first error, once every worker has
/// stopped.
pub fn write_all(shards: Vec<Writes>) -> anyhow::Result<u64> {
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).min(shards.len());
    if workers <= 1 {
        return shards.into_iter().map(Writes::write).sum();
    }
    let queue = std::sync::Mutex::new(shards);
    let next = || queue.lock().expect("no worker panics holding the queue").pop();
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut bytes = 0;
                    while let Some(writes) = next() {
                        bytes += writes.write()?;
                    }
                    anyhow::Ok(bytes)
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().expect("a checkpoint worker panicked")).sum()
    })
}

fn replace(target: &std::path::Path, bytes: &[u8]) -> anyhow::Result<u64> {
    let tmp = target.with_extension("json.tmp");
    {
        let mut file = File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        file.write_all(bytes).with_context(|| format!("writing {}", tmp.display()))?;
        file.sync_all().with_context(|| format!("syncing {}", tmp.display()))?;
    }
    fs::rename(&tmp, target).with_context(|| format!("replacing {}", target.display()))?;
    Ok(bytes.len() as u64)
}

fn append(path: &std::path::Path, from: u64, bytes: &[u8]) -> anyhow::Result<u64> {
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    file.set_len(from)?;
    file.seek(SeekFrom::Start(from))?;
    file.write_all(bytes).with_context(|| format!("writing {}", path.display()))?;
    file.sync_data().with_context(|| format!("syncing {}", path.display()))?;
    Ok(bytes.len() as u64)
}
