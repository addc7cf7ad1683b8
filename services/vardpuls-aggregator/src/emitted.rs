//! The records a shard published for periods that are not final yet, one per KPI value (KPI,
//! unit, period and breakdown): to publish only what changed, and to stand in for open days a
//! batch did not recompute. It remembers what changed since the last checkpoint, so a
//! checkpoint appends just those to its log rather than writing every record again.
//!
//! Every batch looks up each partial it computed, thousands at national scale, so lookups hash
//! the partial's identity fields in place, and the log holds the partials themselves: no record
//! key is built for either.

use crate::partial::{Partial, Period};
use foldhash::fast::FixedState;
use hashbrown::HashTable;
use std::collections::BTreeMap;
use std::hash::BuildHasher;
use vardpuls_core::calendar::LocalMonth;

#[derive(Debug, Clone, Default)]
pub struct Emitted {
    current: HashTable<Entry>,
    /// How many of `current` are monthly values, per month: which months are not final yet,
    /// asked several times a batch, without a pass over every value.
    months: BTreeMap<LocalMonth, usize>,
    /// Values removed since the last checkpoint (their periods became final).
    removed: Vec<Partial>,
    /// Entries changed since the last checkpoint carry this number; logging the changes moves
    /// it on, which unmarks them all at once. (Finding them is a pass over the table per
    /// checkpoint, where a set of changed keys would cost a hash and a clone per change; in a
    /// batch most values change.)
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

/// The checkpoint log of published records: its generation (a compaction starts a new file),
/// how many entries and bytes of it the head vouches for, and its format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LogPosition {
    pub generation: u64,
    pub entries: usize,
    pub bytes: u64,
    /// [`LOG_FORMAT`] when written; a head naming another is refused.
    pub format: u32,
}

impl Default for LogPosition {
    fn default() -> Self {
        LogPosition { generation: 0, entries: 0, bytes: 0, format: LOG_FORMAT }
    }
}

/// A line is a [`LogEntry`].
pub const LOG_FORMAT: u32 = 2;

/// One line of the log: a value published, or a value whose period became final.
/// Each carries the whole partial, so the log needs no record keys.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogEntry<P> {
    Published(P),
    Final(P),
}

fn identity_hash(p: &Partial) -> u64 {
    FixedState::default().hash_one((&p.kpi, &p.unit_id, &p.period, &p.dimensions))
}

fn month_of(p: &Partial) -> Option<LocalMonth> {
    match p.period {
        Period::Month { year, month } => Some(LocalMonth { year, month }),
        Period::Day(_) => None,
    }
}

fn hash_entry(e: &Entry) -> u64 {
    identity_hash(&e.partial)
}

impl Emitted {
    /// Records restored from a checkpoint's log, in order.
    pub fn from_log(entries: impl IntoIterator<Item = LogEntry<Partial>>) -> Emitted {
        let mut emitted = Emitted::default();
        for entry in entries {
            match entry {
                LogEntry::Published(p) => {
                    emitted.put(p, UNCHANGED);
                }
                LogEntry::Final(p) => {
                    emitted.take(&p);
                }
            }
        }
        emitted
    }

    /// Stores `p` as changed in `changed_in`, unless this very value is stored already.
    /// Returns the stored value when it is new or changed.
    fn put(&mut self, p: Partial, changed_in: u64) -> Option<&Partial> {
        let entry = match self.current.entry(identity_hash(&p), |e| e.partial.same_key(&p), hash_entry) {
            hashbrown::hash_table::Entry::Occupied(e) if e.get().partial == p => return None,
            hashbrown::hash_table::Entry::Occupied(mut e) => {
                *e.get_mut() = Entry { partial: p, changed_in };
                e.into_mut()
            }
            hashbrown::hash_table::Entry::Vacant(slot) => {
                if let Some(month) = month_of(&p) {
                    *self.months.entry(month).or_default() += 1;
                }
                slot.insert(Entry { partial: p, changed_in }).into_mut()
            }
        };
        Some(&entry.partial)
    }

    /// Removes and returns the value with `p`'s identity.
    fn take(&mut self, p: &Partial) -> Option<Partial> {
        let entry = self.current.find_entry(identity_hash(p), |e| e.partial.same_key(p)).ok()?;
        let taken = entry.remove().0.partial;
        if let Some(month) = month_of(&taken)
            && let std::collections::btree_map::Entry::Occupied(mut count) = self.months.entry(month)
        {
            *count.get_mut() -= 1;
            if *count.get() == 0 {
                count.remove();
            }
        }
        Some(taken)
    }

    /// The months with monthly values here: not final yet.
    pub fn months(&self) -> impl Iterator<Item = LocalMonth> + '_ {
        self.months.keys().copied()
    }

    /// The published value with `p`'s identity.
    pub fn get(&self, p: &Partial) -> Option<&Partial> {
        self.current.find(identity_hash(p), |e| e.partial.same_key(p)).map(|e| &e.partial)
    }

    /// Remembers `p` as published, unless this very value already was. Returns the stored
    /// value when it is new or changed: the caller publishes it.
    pub fn publish(&mut self, p: Partial) -> Option<&Partial> {
        self.put(p, self.generation)
    }

    /// Forgets the value with `p`'s identity: its period is final.
    pub fn remove(&mut self, p: &Partial) {
        if let Some(removed) = self.take(p) {
            self.removed.push(removed);
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

    /// Every record, for a compacted log.
    pub fn entries(&self) -> Vec<LogEntry<&Partial>> {
        self.values().map(LogEntry::Published).collect()
    }

    /// What changed since the last checkpoint, as log entries: finals first, then values new
    /// or changed (a value made final and published again then ends up present).
    pub fn changes(&self) -> Vec<LogEntry<&Partial>> {
        let finals = self.removed.iter().map(LogEntry::Final);
        let changed = self.current.iter().filter(|e| e.changed_in == self.generation);
        finals.chain(changed.map(|e| LogEntry::Published(&e.partial))).collect()
    }

    /// The changes are in the log: start counting anew.
    pub fn logged(&mut self) {
        self.removed.clear();
        self.generation += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn partial(kpi: &str, numerator: i64) -> Partial {
        Partial {
            kpi: kpi.parse().unwrap(),
            unit_id: "SE2321000180-E00101".into(),
            period: crate::partial::Period::Day("2026-03-29".parse().unwrap()),
            dimensions: Default::default(),
            numerator: numerator.into(),
            denominator: Some(4.into()),
            pending: None,
            last_event_at: None,
            cases: None,
            revision: 0,
        }
    }

    fn logged(emitted: &Emitted) -> Vec<(&str, bool)> {
        let mut logged: Vec<_> = emitted
            .changes()
            .into_iter()
            .map(|e| match e {
                LogEntry::Published(p) => (p.kpi.as_str(), true),
                LogEntry::Final(p) => (p.kpi.as_str(), false),
            })
            .collect();
        logged.sort();
        logged
    }

    #[test]
    fn only_new_or_changed_values_are_published_and_logged_once() {
        let mut emitted = Emitted::default();
        assert!(emitted.publish(partial("same_day_contact", 3)).is_some());
        assert!(emitted.publish(partial("visits", 3)).is_some());
        assert!(emitted.publish(partial("visits", 3)).is_none(), "the same value again is not news");
        emitted.remove(&partial("chats_started", 0)); // never published
        assert_eq!(logged(&emitted), [("same_day_contact", true), ("visits", true)]);
        emitted.logged();
        assert!(emitted.changes().is_empty());

        assert_eq!(emitted.publish(partial("visits", 5)).map(|p| p.numerator), Some(5.into()));
        emitted.remove(&partial("same_day_contact", 0));
        assert_eq!(logged(&emitted), [("same_day_contact", false), ("visits", true)]);
        assert_eq!(emitted.len(), 1);
        assert_eq!(emitted.get(&partial("visits", 0)).map(|p| p.numerator), Some(5.into()));
    }

    #[test]
    fn the_months_not_final_are_those_with_monthly_values_left() {
        let month = |m: u32, kpi: &str| Partial {
            period: crate::partial::Period::Month { year: 2026, month: m },
            ..partial(kpi, 1)
        };
        let mut emitted = Emitted::default();
        emitted.publish(partial("visits", 1));
        emitted.publish(month(3, "visits"));
        emitted.publish(month(3, "same_day_contact"));
        emitted.publish(month(4, "visits"));
        emitted.publish(Partial { numerator: 2.into(), ..month(4, "visits") });
        let months = |e: &Emitted| e.months().map(|m| m.month).collect::<Vec<_>>();
        assert_eq!(months(&emitted), [3, 4]);
        emitted.remove(&month(3, "visits"));
        assert_eq!(months(&emitted), [3, 4], "March still has a value not final");
        emitted.remove(&month(4, "visits"));
        emitted.remove(&month(4, "visits"));
        assert_eq!(months(&emitted), [3]);
        emitted.remove(&month(3, "same_day_contact"));
        assert!(emitted.months().next().is_none());
    }

    #[test]
    fn a_log_read_back_gives_the_last_value_of_each_kpi_value() {
        let (a, b) = (partial("same_day_contact", 1), partial("visits", 2));
        let log = [LogEntry::Published(a.clone()), LogEntry::Published(b), LogEntry::Final(a.clone())];
        let back = Emitted::from_log(log.into_iter().chain([LogEntry::Published(partial("visits", 7))]));
        assert_eq!(back.values().map(|p| (p.kpi.as_str(), p.numerator)).collect::<Vec<_>>(), [("visits", 7.into())]);
        assert!(back.changes().is_empty(), "read from the log: nothing to log again");
        assert_eq!(back.log.format, LOG_FORMAT);
    }
}
