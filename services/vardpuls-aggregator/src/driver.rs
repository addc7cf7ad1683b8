//! The one way events become KPI records, whatever brings them: offer a batch's events,
//! compute, publish the records (the caller's: to Kafka, or into a file), checkpoint.
//!
//! The Kafka consumer (`consumer.rs`) and `vardpuls aggregate-files` are sources that feed a
//! [`Driver`]; neither touches shards or checkpoints itself. The driver remembers which shards
//! a batch touched, makes them ready before computing ([`StateStore::compute`]) and
//! checkpoints exactly those, so no source can forget a step or checkpoint a shard it did not
//! feed.
//!
//! A checkpoint may be written on another thread while the next batch is offered
//! ([`Driver::checkpoint_in_background`]): offering touches only memory, so the consumer reads
//! and decodes the next messages while the last batch's files are written. Everything that reads
//! the state directory (computing, which reopens and restores days; taking on a partition) or
//! gives a shard away first waits until that checkpoint is written, as does the next one. Its
//! offsets are reported by [`Driver::written`] only once it is on disk.

use crate::config::AggregatorConfig;
use crate::engine::{Engine, Pace, Routed};
use crate::records::Changed;
use crate::store::StateStore;
use crate::writes::Writes;
use anyhow::Context;
use chrono::{DateTime, Utc};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Instant;
use vardpuls_core::events::InputEvent;
use vardpuls_core::{Rejection, Topic};

pub struct Driver {
    engine: Engine,
    store: StateStore,
    /// Shards with messages applied since the last checkpoint.
    touched: BTreeSet<(Topic, i32)>,
    /// The last checkpoint while another thread writes it.
    writing: Option<std::thread::JoinHandle<anyhow::Result<Checkpointed>>>,
    /// Checkpoints written since [`Driver::written`] last reported them.
    written: Checkpointed,
}

/// What checkpoints wrote: bytes, the next offset of each shard they saved (what the consumer
/// commits to its group), and the time each took.
#[derive(Debug, Default)]
pub struct Checkpointed {
    pub bytes: u64,
    pub next_offsets: Vec<(Topic, i32, i64)>,
    pub seconds: Vec<f64>,
}

impl Checkpointed {
    /// `later` written after `self`: a shard's offset is the later one.
    pub fn and(mut self, later: Checkpointed) -> Checkpointed {
        self.next_offsets.retain(|(t, p, _)| !later.next_offsets.iter().any(|(lt, lp, _)| (lt, lp) == (t, p)));
        self.next_offsets.extend(later.next_offsets);
        self.seconds.extend(later.seconds);
        Checkpointed { bytes: self.bytes + later.bytes, next_offsets: self.next_offsets, seconds: self.seconds }
    }
}

impl Driver {
    /// A driver whose state lives in `state_dir` (none: in memory only, nothing written).
    pub fn new(config: AggregatorConfig, state_dir: Option<PathBuf>) -> Driver {
        Driver {
            engine: Engine::new(config),
            store: StateStore::new(state_dir),
            touched: BTreeSet::new(),
            writing: None,
            written: Checkpointed::default(),
        }
    }

    pub fn config(&self) -> &AggregatorConfig {
        self.engine.config()
    }

    /// A partition's state, for inspection.
    pub fn shard(&self, topic: Topic, partition: i32) -> Option<&crate::shard::Shard> {
        self.engine.shard(topic, partition)
    }

    /// Takes on a partition: loads its checkpoint unless its shard is here already. Its next
    /// offset, none for a partition without state.
    pub fn resume(&mut self, topic: Topic, partition: i32) -> anyhow::Result<Option<i64>> {
        self.settle()?;
        if self.engine.shard(topic, partition).is_none()
            && let Some(shard) = self.store.load(topic, partition)?
        {
            tracing::info!(%topic, partition, next_offset = shard.next_offset, "loaded shard checkpoint");
            self.engine.insert_shard(shard);
        }
        Ok(self.engine.shard(topic, partition).map(|s| s.next_offset))
    }

    /// Gives up a partition once its last checkpoint is written: another instance takes it on.
    pub fn release(&mut self, topic: Topic, partition: i32) -> anyhow::Result<()> {
        self.settle()?;
        self.engine.remove_shard(topic, partition);
        self.touched.remove(&(topic, partition));
        Ok(())
    }

    /// Applies one consumed message (see [`Engine::offer`]).
    pub fn offer(
        &mut self,
        topic: Topic,
        partition: i32,
        offset: i64,
        payload: &[u8],
        produced_at: Option<DateTime<Utc>>,
    ) -> Routed {
        let routed = self.engine.offer(topic, partition, offset, payload, produced_at);
        self.note(topic, partition, &routed);
        routed
    }

    /// Applies one message decoded by the caller (see [`Engine::offer_decoded`]).
    pub fn offer_decoded(
        &mut self,
        topic: Topic,
        partition: i32,
        offset: i64,
        payload: &[u8],
        decoded: Result<InputEvent, Rejection>,
        produced_at: DateTime<Utc>,
    ) -> Routed {
        let routed = self.engine.offer_decoded(topic, partition, offset, payload, decoded, produced_at);
        self.note(topic, partition, &routed);
        routed
    }

    /// A replayed message (already in the state) changes nothing to checkpoint.
    fn note(&mut self, topic: Topic, partition: i32, routed: &Routed) {
        if !matches!(routed, Routed::AlreadyApplied) {
            self.touched.insert((topic, partition));
        }
    }

    /// Shards touched since the last checkpoint.
    pub fn touched(&self) -> usize {
        self.touched.len()
    }

    /// Computes the batch: the records that changed, to publish before [`Driver::checkpoint`].
    pub async fn compute(&mut self) -> anyhow::Result<Changed> {
        self.compute_at(Pace::Live).await
    }

    /// Computes as [`Driver::compute`] at `pace`: catching up, values not final yet may wait
    /// ([`Driver::waiting`]). A live computation also publishes what waited, and the shards it
    /// was in are checkpointed with the batch's.
    pub async fn compute_at(&mut self, pace: Pace) -> anyhow::Result<Changed> {
        self.settle()?;
        if pace == Pace::Live {
            let waiting: Vec<(Topic, i32)> = self.waiting_shards().collect();
            self.touched.extend(waiting);
        }
        self.store.compute(&mut self.engine, &self.touched, pace).await
    }

    /// Whether events applied wait for their values to be computed: since the last computation,
    /// or passed over by one catching up.
    pub fn waiting(&self) -> bool {
        self.shards_waiting() > 0
    }

    /// How many shards have values waiting (see [`Driver::waiting`]).
    pub fn shards_waiting(&self) -> usize {
        self.waiting_shards().count()
    }

    fn waiting_shards(&self) -> impl Iterator<Item = (Topic, i32)> + '_ {
        self.engine.shards().filter(|s| !s.dirty.is_empty()).map(|s| (s.topic, s.partition))
    }

    /// Checkpoints the shards touched since the last checkpoint, once their records are
    /// published, and waits until it is written: what it (and a checkpoint still being written
    /// before it) wrote.
    pub fn checkpoint(&mut self) -> anyhow::Result<Checkpointed> {
        let done = self.plan()?.write()?;
        self.written = std::mem::take(&mut self.written).and(done);
        self.written()
    }

    /// Checkpoints as [`Driver::checkpoint`], but writes the files on another thread; see
    /// [`Driver::written`] for when they are on disk.
    pub fn checkpoint_in_background(&mut self) -> anyhow::Result<()> {
        let planned = self.plan()?;
        let writer = std::thread::Builder::new()
            .name("checkpoint".into())
            .spawn(move || planned.write())
            .context("starting the checkpoint writer")?;
        self.writing = Some(writer);
        Ok(())
    }

    /// Waits until the checkpoint being written (if any) is on disk; what the checkpoints written
    /// since the last call wrote. An error if writing one failed: the state on disk is then an
    /// earlier checkpoint's, and the shards in memory are ahead of it.
    pub fn written(&mut self) -> anyhow::Result<Checkpointed> {
        self.settle()?;
        Ok(std::mem::take(&mut self.written))
    }

    /// What the checkpoints written since the last call wrote, without waiting for one still
    /// being written.
    pub fn written_so_far(&mut self) -> anyhow::Result<Checkpointed> {
        if self.writing.as_ref().is_some_and(|w| w.is_finished()) {
            self.settle()?;
        }
        Ok(std::mem::take(&mut self.written))
    }

    /// What the touched shards' checkpoint writes, after the last one is written.
    fn plan(&mut self) -> anyhow::Result<Planned> {
        self.settle()?;
        let started = Instant::now();
        let touched = std::mem::take(&mut self.touched);
        let next_offsets =
            self.engine.shards_mut(&touched).iter().map(|s| (s.topic, s.partition, s.next_offset)).collect();
        Ok(Planned { writes: self.store.plan(&mut self.engine, &touched)?, next_offsets, started })
    }

    /// Waits for the checkpoint being written, if any.
    fn settle(&mut self) -> anyhow::Result<()> {
        if let Some(writer) = self.writing.take() {
            let done = writer.join().map_err(|_| anyhow::anyhow!("the checkpoint writer panicked"))??;
            self.written = std::mem::take(&mut self.written).and(done);
        }
        Ok(())
    }
}

/// A driver given up (an error, the end of a run) leaves no writer behind: the next driver on the
/// same directory, in this process, reads what this one wrote.
impl Drop for Driver {
    fn drop(&mut self) {
        if let Err(e) = self.settle() {
            tracing::error!(error = %e, "writing the last checkpoint failed");
        }
    }
}

/// A checkpoint planned, to write.
struct Planned {
    writes: Vec<Writes>,
    next_offsets: Vec<(Topic, i32, i64)>,
    started: Instant,
}

impl Planned {
    fn write(self) -> anyhow::Result<Checkpointed> {
        let bytes = crate::writes::write_all(self.writes)?;
        Ok(Checkpointed { bytes, next_offsets: self.next_offsets, seconds: vec![self.started.elapsed().as_secs_f64()] })
    }
}
