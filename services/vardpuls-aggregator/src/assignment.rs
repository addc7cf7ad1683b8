//! Which input partitions an aggregator instance consumes.
//!
//! - **Consumer group** (the default): instances join one group and Kafka splits the partitions;
//!   instances come and go (autoscaling), and a crashed instance's partitions move to the others
//!   after its session times out.
//! - **Fixed slots** (`instances = N`): instance `i` of `N` owns every partition `p` with
//!   `p % N == i` of each input topic and assigns them itself, as a StatefulSet's pods do with
//!   their ordinals. No group to join and no session to wait out: a restarted instance loads its
//!   checkpoints and resumes at once. A dead instance's partitions wait for it to come back
//!   (Kubernetes restarts it); the offsets are still committed under the group id for lag
//!   tooling.
//!
//! Either way the checkpoint is the source of truth, so both modes can share a state directory
//! and an instance may switch modes across restarts. In fixed slots, each owned partition is
//! held with an exclusive file lock in the state directory, so two instances never write one
//! partition's checkpoint, even while `N` changes in a rolling update.

use anyhow::{Context, bail};
use std::fs::{File, TryLockError};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use vardpuls_core::Topic;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Assignment {
    ConsumerGroup,
    FixedSlot { instance: u32, instances: u32 },
}

impl Assignment {
    /// This instance's assignment: `from_config` with the configuration and `HOSTNAME`.
    pub fn of(config: &crate::AggregatorConfig) -> anyhow::Result<Assignment> {
        let hostname = std::env::var("HOSTNAME").ok();
        Assignment::from_config(config.instances, config.instance, hostname.as_deref())
    }

    /// From `instances` and `instance` of the configuration. Without `instance`, the trailing
    /// number of the host name is the slot (`vardpuls-aggregator-2` is 2, a StatefulSet's pod).
    pub fn from_config(instances: u32, instance: Option<u32>, hostname: Option<&str>) -> anyhow::Result<Assignment> {
        if instances == 0 {
            return Ok(Assignment::ConsumerGroup);
        }
        let instance = match instance {
            Some(i) => i,
            None => hostname.and_then(|h| h.rsplit('-').next()).and_then(|n| n.parse().ok()).with_context(|| {
                format!(
                    "aggregator.instances is {instances} but aggregator.instance is not set and the host name \
                         {hostname:?} does not end in -<number>"
                )
            })?,
        };
        if instance >= instances {
            bail!("aggregator.instance {instance} is not below aggregator.instances {instances}");
        }
        Ok(Assignment::FixedSlot { instance, instances })
    }

    /// Whether this instance consumes `partition` (fixed slots only; a group decides itself).
    pub fn owns(&self, partition: i32) -> bool {
        match *self {
            Assignment::ConsumerGroup => false,
            Assignment::FixedSlot { instance, instances } => partition.rem_euclid(instances as i32) == instance as i32,
        }
    }
}

impl std::fmt::Display for Assignment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Assignment::ConsumerGroup => write!(f, "consumer group"),
            Assignment::FixedSlot { instance, instances } => write!(f, "fixed slot {instance} of {instances}"),
        }
    }
}

/// Exclusive locks on partitions (`<state_dir>/.locks/<topic>-<partition>`), held while the
/// value lives. The kernel releases them when the process ends, `kill -9` included.
pub struct PartitionLocks {
    _files: Vec<File>,
}

impl PartitionLocks {
    /// Locks every partition, waiting while another process holds one (the previous owner
    /// finishing its last batch in a rolling update). Returns `None` if `stop` is set first.
    pub fn acquire(state_dir: &Path, partitions: &[(Topic, i32)], stop: &AtomicBool) -> anyhow::Result<Option<Self>> {
        let dir = state_dir.join(".locks");
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let mut files = Vec::with_capacity(partitions.len());
        for (topic, partition) in partitions {
            let path = dir.join(format!("{}-{partition}", topic.name()));
            let file = File::create(&path).with_context(|| format!("opening {}", path.display()))?;
            let mut warned_at: Option<Instant> = None;
            loop {
                match file.try_lock() {
                    Ok(()) => break,
                    Err(TryLockError::WouldBlock) => {
                        if warned_at.is_none_or(|t| t.elapsed() > Duration::from_secs(30)) {
                            tracing::warn!(%topic, partition, "partition locked by another instance; waiting");
                            warned_at = Some(Instant::now());
                        }
                        if stop.load(Ordering::Relaxed) {
                            return Ok(None);
                        }
                        std::thread::sleep(Duration::from_millis(100));
                    }
                    Err(TryLockError::Error(e)) => {
                        return Err(e).with_context(|| format!("locking {}", path.display()));
                    }
                }
            }
            files.push(file);
        }
        Ok(Some(PartitionLocks { _files: files }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_come_from_the_configuration_or_the_host_name() {
        assert_eq!(Assignment::from_config(0, Some(3), None).unwrap(), Assignment::ConsumerGroup);
        assert_eq!(
            Assignment::from_config(3, None, Some("vardpuls-aggregator-2")).unwrap(),
            Assignment::FixedSlot { instance: 2, instances: 3 }
        );
        assert_eq!(
            Assignment::from_config(3, Some(0), Some("vardpuls-aggregator-2")).unwrap(),
            Assignment::FixedSlot { instance: 0, instances: 3 }
        );
        let err = Assignment::from_config(3, None, Some("aggregator")).unwrap_err().to_string();
        assert!(err.contains("does not end in -<number>"), "{err}");
        let err = Assignment::from_config(2, Some(2), None).unwrap_err().to_string();
        assert!(err.contains("not below"), "{err}");
    }

    #[test]
    fn fixed_slots_cover_every_partition_once() {
        let slots: Vec<Assignment> = (0..4).map(|i| Assignment::FixedSlot { instance: i, instances: 4 }).collect();
        for partition in 0..13 {
            assert_eq!(slots.iter().filter(|s| s.owns(partition)).count(), 1, "partition {partition}");
        }
        assert!(!Assignment::ConsumerGroup.owns(0));
    }

    #[test]
    fn a_held_partition_waits_until_released() {
        let nanos = std::time::SystemTime::UNIX_EPOCH.elapsed().unwrap().as_nanos();
        let dir = std::env::temp_dir().join(format!("vardpuls-locks-{}-{nanos}", std::process::id()));
        let stop = AtomicBool::new(false);
        let phone = [(Topic::Phone, 0)];
        let held = PartitionLocks::acquire(&dir, &phone, &stop).unwrap().unwrap();
        // Another partition is free.
        assert!(PartitionLocks::acquire(&dir, &[(Topic::Phone, 1)], &stop).unwrap().is_some());
        // The held one is not: a second acquirer waits, and gives up when told to stop.
        let stopping = AtomicBool::new(true);
        assert!(PartitionLocks::acquire(&dir, &phone, &stopping).unwrap().is_none());
        // Once released, it can be taken.
        drop(held);
        assert!(PartitionLocks::acquire(&dir, &phone, &stop).unwrap().is_some());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
