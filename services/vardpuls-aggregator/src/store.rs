//! Where shards' state lives between batches, and the one way a batch is computed against it.
//!
//! Before a computation, the shards a batch touched must be made ready: restating events' days
//! reopened, final months read back, archived days restored ([`checkpoint::prepare`]). After
//! it, and after its records are published, they are checkpointed. The [`crate::Driver`], which
//! every source of events feeds, goes through [`StateStore::compute`] and [`StateStore::plan`],
//! so no source can forget the first step. Without a state directory (`aggregate-files` without
//! `--state-dir`), closed days' events stay in memory and nothing is written.

use crate::checkpoint;
use crate::engine::{Engine, Pace};
use crate::records::Changed;
use crate::shard::Shard;
use crate::writes::Writes;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use vardpuls_core::Topic;

pub struct StateStore {
    dir: Option<PathBuf>,
}

impl StateStore {
    pub fn new(dir: Option<PathBuf>) -> StateStore {
        StateStore { dir }
    }

    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// A shard's last checkpoint, if there is one.
    pub fn load(&self, topic: Topic, partition: i32) -> anyhow::Result<Option<Shard>> {
        match &self.dir {
            Some(dir) => checkpoint::load(dir, topic, partition),
            None => Ok(None),
        }
    }

    /// Makes the `touched` shards ready, then computes: the records that changed.
    pub async fn compute(
        &self,
        engine: &mut Engine,
        touched: &BTreeSet<(Topic, i32)>,
        pace: Pace,
    ) -> anyhow::Result<Changed> {
        for (topic, partition) in touched {
            if let Some(shard) = engine.shard_mut(*topic, *partition) {
                checkpoint::prepare(self.dir.as_deref(), shard)?;
            }
        }
        engine.compute(pace).await
    }

    /// The checkpoints of the `touched` shards (after their records were published), to write
    /// with [`crate::writes::write_all`]; nothing without a directory. The shards are updated
    /// as if they were written: write them before the next [`StateStore::compute`] or
    /// [`StateStore::load`].
    pub fn plan(&self, engine: &mut Engine, touched: &BTreeSet<(Topic, i32)>) -> anyhow::Result<Vec<Writes>> {
        match &self.dir {
            Some(dir) => engine.shards_mut(touched).into_iter().map(|shard| checkpoint::plan(dir, shard)).collect(),
            None => Ok(Vec::new()),
        }
    }
}
