//! The one way events become KPI records, whatever brings them: offer a batch's events,
//! compute, publish the records (the caller's: to Kafka, or into a file), checkpoint.
//!
//! The Kafka consumer (`consumer.rs`) and `vardpuls aggregate-files` are sources that feed a
//! [`Driver`]; neither touches shards or checkpoints itself. The driver remembers which shards
//! a batch touched, makes them ready before computing ([`StateStore::compute`]) and
//! checkpoints exactly those, so no source can forget a step or checkpoint a shard it did not
//! feed.

use crate::config::AggregatorConfig;
use crate::engine::{Engine, Routed};
use crate::records::Changed;
use crate::store::StateStore;
use chrono::{DateTime, Utc};
use std::collections::BTreeSet;
use std::path::PathBuf;
use vardpuls_core::events::InputEvent;
use vardpuls_core::{Rejection, Topic};

pub struct Driver {
    engine: Engine,
    store: StateStore,
    /// Shards with messages applied since the last checkpoint.
    touched: BTreeSet<(Topic, i32)>,
}

/// What a checkpoint wrote: bytes, and the next offset of each shard it saved (what the
/// consumer commits to its group).
#[derive(Debug, Default)]
pub struct Checkpointed {
    pub bytes: u64,
    pub next_offsets: Vec<(Topic, i32, i64)>,
}

impl Driver {
    /// A driver whose state lives in `state_dir` (none: in memory only, nothing written).
    pub fn new(config: AggregatorConfig, state_dir: Option<PathBuf>) -> Driver {
        Driver { engine: Engine::new(config), store: StateStore::new(state_dir), touched: BTreeSet::new() }
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
        if self.engine.shard(topic, partition).is_none()
            && let Some(shard) = self.store.load(topic, partition)?
        {
            tracing::info!(%topic, partition, next_offset = shard.next_offset, "loaded shard checkpoint");
            self.engine.insert_shard(shard);
        }
        Ok(self.engine.shard(topic, partition).map(|s| s.next_offset))
    }

    /// Gives up a partition (after its last checkpoint): another instance takes it on.
    pub fn release(&mut self, topic: Topic, partition: i32) {
        self.engine.remove_shard(topic, partition);
        self.touched.remove(&(topic, partition));
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
        self.store.compute(&mut self.engine, &self.touched).await
    }

    /// Checkpoints the shards touched since the last checkpoint, once their records are
    /// published.
    pub fn checkpoint(&mut self) -> anyhow::Result<Checkpointed> {
        let touched = std::mem::take(&mut self.touched);
        let next_offsets =
            self.engine.shards_mut(&touched).iter().map(|s| (s.topic, s.partition, s.next_offset)).collect();
        let bytes = self.store.save(&mut self.engine, &touched)?;
        Ok(Checkpointed { bytes, next_offsets })
    }
}
