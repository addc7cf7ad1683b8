//! Shard checkpoints: a shard's whole state, including the next offset to read, in one file,
//! replaced atomically. After a crash a shard is exactly as it was after some batch, with the
//! offset that batch ended at, so replaying from there counts nothing twice and loses nothing.
//!
//! Files live at `<state_dir>/<topic>/<partition>.json`. Instances of one consumer group share
//! the directory: a partition that moves to another instance takes its state with it.

use crate::shard::Shard;
use anyhow::Context;
use std::fs::{self, File};
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use vardpuls_core::Topic;

pub fn path(state_dir: &Path, topic: Topic, partition: i32) -> PathBuf {
    state_dir.join(topic.name()).join(format!("{partition}.json"))
}

/// Writes `shard` to a temporary file, flushes it to disk, and renames it over the previous
/// checkpoint. Returns the size in bytes.
pub fn save(state_dir: &Path, shard: &Shard) -> anyhow::Result<u64> {
    let target = path(state_dir, shard.topic, shard.partition);
    let dir = target.parent().expect("checkpoint has a directory");
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let tmp = target.with_extension("json.tmp");
    {
        let file = File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        let mut writer = BufWriter::with_capacity(1 << 20, file);
        serde_json::to_writer(&mut writer, shard)?;
        writer.flush()?;
        writer.get_ref().sync_all()?;
    }
    fs::rename(&tmp, &target).with_context(|| format!("replacing {}", target.display()))?;
    // The rename itself must survive a power cut too.
    File::open(dir)?.sync_all()?;
    Ok(fs::metadata(&target)?.len())
}

/// The shard's last checkpoint, if any.
pub fn load(state_dir: &Path, topic: Topic, partition: i32) -> anyhow::Result<Option<Shard>> {
    let path = path(state_dir, topic, partition);
    let file = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("opening {}", path.display())),
    };
    let shard: Shard = serde_json::from_reader(BufReader::with_capacity(1 << 20, file))
        .with_context(|| format!("reading checkpoint {}", path.display()))?;
    anyhow::ensure!(
        shard.topic == topic && shard.partition == partition,
        "{} holds {} partition {}",
        path.display(),
        shard.topic,
        shard.partition
    );
    Ok(Some(shard))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_then_load_round_trips_and_leaves_no_temporary_file() {
        let dir = std::env::temp_dir().join(format!("vardpuls-ckpt-{}", std::process::id()));
        let mut shard = Shard::new(Topic::Phone, 3);
        shard.next_offset = 42;
        save(&dir, &shard).unwrap();
        let back = load(&dir, Topic::Phone, 3).unwrap().unwrap();
        assert_eq!(back.next_offset, 42);
        assert!(load(&dir, Topic::Phone, 4).unwrap().is_none());
        let names: Vec<_> =
            fs::read_dir(dir.join(Topic::Phone.name())).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, vec![std::ffi::OsString::from("3.json")]);
        fs::remove_dir_all(dir).unwrap();
    }
}
