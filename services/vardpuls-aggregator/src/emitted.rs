//! The records a shard published for periods that are not final yet, one per KPI value (KPI,
//! unit, period and breakdown): to publish only what changed, and to stand in for open days a
//! batch did not recompute. It remembers what changed since the last checkpoint, so a
//! checkpoint appends just those to its log rather than writing every record again.
//!
//! Every batch looks up each partial it computed, and most are national-scale thousands, so
//! lookups hash the partial's identity fields in place: no record key is built to look one up.
//! Record keys (the log's keys) are built only for what the log gets.

use crate::partial::Partial;
use crate::records::record_key;
use foldhash::fast::FixedState;
use hashbrown::HashTable;
use std::collections::HashMap;
use std::hash::BuildHasher;

#[derive(Debug, Clone, Default)]
pub struct Emitted {
    current: HashTable<Entry>,
    /// Values removed since the last checkpoint (their periods became final).
    removed: Vec<Partial>,
    /// Entries changed since the last checkpoint carry this number; taking the changes moves it
    /// on, which unmarks them all at once.
    generation: u64,
    /// Where the checkpoint log stands (see `checkpoint`).
    pub log: LogPosition,
}

#[derive(Debug, Clone)]
struct Entry {
    partial: Partial,
    /// The `generation` it last changed in; `UNCHANGED` when it is in the log as it is.
    changed_in: u64,
}

const UNCHANGED: u64 = u64::MAX;

/// The checkpoint log of published records: its generation (a compaction starts a new file)
/// and how many entries and bytes of it the head vouches for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LogPosition {
    pub generation: u64,
    pub entries: usize,
    pub bytes: u64,
}

/// The identity of a KPI value: two partials with the same identity are one value, updated.
fn same_value(a: &Partial, b: &Partial) -> bool {
    a.kpi == b.kpi && a.unit_id == b.unit_id && a.period == b.period && a.dimensions == b.dimensions
}

fn identity_hash(p: &Partial) -> u64 {
    FixedState::default().hash_one((&p.kpi, &p.unit_id, &p.period, &p.dimensions))
}

fn hash_entry(e: &Entry) -> u64 {
    identity_hash(&e.partial)
}

impl Emitted {
    /// Records restored from a checkpoint's log entries (`(record key, value or removal)`, in
    /// order). With `relog`, all are counted as changed, to be logged again.
    pub fn from_log(entries: impl IntoIterator<Item = (String, Option<Partial>)>, relog: bool) -> Emitted {
        let mut latest: HashMap<String, Partial> = HashMap::new();
        for (key, partial) in entries {
            match partial {
                Some(p) => latest.insert(key, p),
                None => latest.remove(&key),
            };
        }
        let mut emitted = Emitted::default();
        let changed_in = if relog { emitted.generation } else { UNCHANGED };
        for partial in latest.into_values() {
            emitted.current.insert_unique(identity_hash(&partial), Entry { partial, changed_in }, hash_entry);
        }
        emitted
    }

    /// The published value with `p`'s identity.
    pub fn get(&self, p: &Partial) -> Option<&Partial> {
        self.current.find(identity_hash(p), |e| same_value(&e.partial, p)).map(|e| &e.partial)
    }

    /// Remembers `p` as published, unless this very value already was. Returns the stored
    /// value when it is new or changed: the caller publishes it.
    pub fn publish(&mut self, p: Partial) -> Option<&Partial> {
        let generation = self.generation;
        let entry = match self.current.entry(identity_hash(&p), |e| same_value(&e.partial, &p), hash_entry) {
            hashbrown::hash_table::Entry::Occupied(e) if e.get().partial == p => return None,
            hashbrown::hash_table::Entry::Occupied(mut e) => {
                *e.get_mut() = Entry { partial: p, changed_in: generation };
                e.into_mut()
            }
            hashbrown::hash_table::Entry::Vacant(slot) => {
                slot.insert(Entry { partial: p, changed_in: generation }).into_mut()
            }
        };
        Some(&entry.partial)
    }

    /// Forgets the value with `p`'s identity: its period is final.
    pub fn remove(&mut self, p: &Partial) {
        if let Ok(entry) = self.current.find_entry(identity_hash(p), |e| same_value(&e.partial, p)) {
            self.removed.push(entry.remove().0.partial);
        }
    }

    pub fn values(&self) -> impl Iterator<Item = &Partial> {
        self.current.iter().map(|e| &e.partial)
    }

    pub fn len(&self) -> usize {
        self.current.len()
    }

    pub fn is_empty(&self) -> bool {
        self.current.is_empty()
    }

    /// Every record with its key, for a compacted log.
    pub fn entries(&self) -> Vec<(String, Option<&Partial>)> {
        self.values().map(|p| (record_key(p), Some(p))).collect()
    }

    /// What changed since the last checkpoint, as log entries: removals first, then values
    /// new or changed (a value removed and published again then ends up present).
    pub fn changes(&self) -> Vec<(String, Option<&Partial>)> {
        let removed = self.removed.iter().map(|p| (record_key(p), None));
        let changed = self.current.iter().filter(|e| e.changed_in == self.generation).map(|e| &e.partial);
        removed.chain(changed.map(|p| (record_key(p), Some(p)))).collect()
    }

    /// The changes are in the log: start counting anew.
    pub fn logged(&mut self) {
        self.removed.clear();
        self.generation += 1;
    }
}

impl PartialEq for Emitted {
    fn eq(&self, other: &Self) -> bool {
        self.log == other.log && self.len() == other.len() && self.values().all(|p| other.get(p) == Some(p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn partial(kpi: &str, numerator: i64) -> Partial {
        Partial {
            kpi: kpi.into(),
            unit_id: "SE2321000180-E00101".into(),
            period: crate::partial::Period::Day("2026-03-29".parse().unwrap()),
            dimensions: String::new(),
            numerator: numerator.into(),
            denominator: Some(4.into()),
            pending: None,
            last_event_at: None,
        }
    }

    fn logged_keys(emitted: &Emitted) -> Vec<(String, bool)> {
        let mut keys: Vec<_> = emitted.changes().into_iter().map(|(k, p)| (k, p.is_some())).collect();
        keys.sort();
        keys
    }

    #[test]
    fn only_new_or_changed_values_are_published_and_logged_once() {
        let mut emitted = Emitted::default();
        assert!(emitted.publish(partial("same_day_contact", 3)).is_some());
        assert!(emitted.publish(partial("visits", 3)).is_some());
        assert!(emitted.publish(partial("visits", 3)).is_none(), "the same value again is not news");
        emitted.remove(&partial("missing", 0));
        assert_eq!(
            logged_keys(&emitted),
            [
                ("same_day_contact/unit/SE2321000180-E00101/2026-03-29".to_string(), true),
                ("visits/unit/SE2321000180-E00101/2026-03-29".to_string(), true)
            ]
        );
        emitted.logged();
        assert!(emitted.changes().is_empty());

        assert_eq!(emitted.publish(partial("visits", 5)).map(|p| p.numerator), Some(5.into()));
        emitted.remove(&partial("same_day_contact", 0));
        assert_eq!(
            logged_keys(&emitted),
            [
                ("same_day_contact/unit/SE2321000180-E00101/2026-03-29".to_string(), false),
                ("visits/unit/SE2321000180-E00101/2026-03-29".to_string(), true)
            ]
        );
        assert_eq!(emitted.len(), 1);
        assert_eq!(emitted.get(&partial("visits", 0)).map(|p| p.numerator), Some(5.into()));
    }

    #[test]
    fn a_log_read_back_gives_the_last_value_of_each_key() {
        let entries = emitted_entries();
        let back = Emitted::from_log(entries, false);
        assert_eq!(back.values().map(|p| (p.kpi.as_str(), p.numerator)).collect::<Vec<_>>(), [("visits", 7.into())]);
        assert!(back.changes().is_empty(), "read from the log: nothing to log again");
        assert_eq!(Emitted::from_log(emitted_entries(), true).changes().len(), 1);
    }

    fn emitted_entries() -> Vec<(String, Option<Partial>)> {
        let key = |p: &Partial| record_key(p);
        let (a, b) = (partial("same_day_contact", 1), partial("visits", 2));
        vec![(key(&a), Some(a.clone())), (key(&b), Some(b.clone())), (key(&a), None), (key(&b), Some(partial("visits", 7)))]
    }
}
