//! The records a shard published for periods that are not final yet, by record key: to publish
//! only what changed, and to stand in for open days a batch did not recompute. It remembers
//! which keys changed since the last checkpoint, so a checkpoint appends just those to its log
//! rather than writing every record of every open period again.

use crate::partial::Partial;
use foldhash::{HashMap, HashSet};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Emitted {
    current: HashMap<String, Partial>,
    /// Keys inserted or removed since the last checkpoint (hashed, not ordered: a batch adds
    /// thousands, and the log's order among different keys does not matter).
    changed: HashSet<String>,
    /// Where the checkpoint log stands (see `checkpoint`).
    pub log: LogPosition,
}

/// The checkpoint log of published records: its generation (a compaction starts a new file)
/// and how many entries and bytes of it the head vouches for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LogPosition {
    pub generation: u64,
    pub entries: usize,
    pub bytes: u64,
}

impl Emitted {
    /// Records restored from a checkpoint, all counted as changed (to be logged again).
    pub fn from_map(current: HashMap<String, Partial>) -> Emitted {
        let changed = current.keys().cloned().collect();
        Emitted { current, changed, log: LogPosition::default() }
    }

    pub fn get(&self, key: &str) -> Option<&Partial> {
        self.current.get(key)
    }

    pub fn insert(&mut self, key: String, partial: Partial) {
        self.changed.insert(key.clone());
        self.current.insert(key, partial);
    }

    pub fn remove(&mut self, key: &str) {
        if self.current.remove(key).is_some() {
            self.changed.insert(key.to_string());
        }
    }

    pub fn values(&self) -> impl Iterator<Item = &Partial> {
        self.current.values()
    }

    pub fn len(&self) -> usize {
        self.current.len()
    }

    pub fn is_empty(&self) -> bool {
        self.current.is_empty()
    }

    /// Every record, for a compacted log.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Partial)> {
        self.current.iter()
    }

    /// The keys inserted or removed since the last checkpoint; `get` then gives each one's
    /// record, or `None` where it was removed (its period became final).
    pub fn take_changed_keys(&mut self) -> HashSet<String> {
        std::mem::take(&mut self.changed)
    }

    /// Applies one logged entry, as read back from a checkpoint.
    pub fn replay(&mut self, key: String, partial: Option<Partial>) {
        match partial {
            Some(p) => self.current.insert(key, p),
            None => self.current.remove(&key),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_are_taken_once_and_removals_show_as_gone() {
        let p = Partial {
            kpi: "same_day_contact".into(),
            unit_id: "SE2321000180-E00101".into(),
            period: crate::partial::Period::Day("2026-03-29".parse().unwrap()),
            dimensions: String::new(),
            numerator: 3.into(),
            denominator: Some(4.into()),
            pending: None,
            last_event_at: None,
        };
        let mut emitted = Emitted::default();
        emitted.insert("a".into(), p.clone());
        emitted.insert("b".into(), p.clone());
        emitted.remove("missing");
        let mut changed: Vec<_> = emitted.take_changed_keys().into_iter().collect();
        changed.sort();
        assert_eq!(
            changed.iter().map(|k| (k.as_str(), emitted.get(k).is_some())).collect::<Vec<_>>(),
            [("a", true), ("b", true)]
        );
        assert!(emitted.take_changed_keys().is_empty());
        emitted.remove("a");
        let changed = emitted.take_changed_keys();
        assert_eq!(changed.iter().map(|k| (k.as_str(), emitted.get(k).is_some())).collect::<Vec<_>>(), [("a", false)]);
        assert_eq!(emitted.len(), 1);
    }
}
