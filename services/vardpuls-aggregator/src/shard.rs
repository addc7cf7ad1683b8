//! The state of one input partition: the unit of checkpointing and of moving work between
//! aggregator instances.
//!
//! Kafka keys every input event by unit, so one partition holds all events of its units for
//! that topic, and the KPIs of those units depend on nothing else. A shard keeps:
//! - the events of days that are still open (not yet past the allowed lateness), raw;
//! - the ids of those events, to count each event id once;
//! - the final daily partials of closed days (no events), for months and last-year comparisons:
//!   in memory only for the months that need them day by day ([`Shard::resident_months`]); the
//!   others are archived, on disk only, in their checkpoint segments;
//! - per month that open days still change, its closed days folded into one row per KPI, unit
//!   and breakdown (*month to date*): what the monthly queries read instead of every closed day;
//! - the latest final level of each stock KPI, unit and breakdown (the opening level of open
//!   days), so no archived day is needed for it;
//! - the event-time watermark and the next offset to read.

use crate::catalogue::{self, Measure};
use crate::emitted::Emitted;
use crate::partial::{Partial, Period};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use compact_str::CompactString;
// foldhash, not SipHash: the event-id set is probed once per event (SipHash was 6 % of replay).
use foldhash::{HashMap, HashSet};
use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, BTreeSet};
use vardpuls_core::Topic;
use vardpuls_core::calendar::{DaySpan, LocalDay, LocalMonth};
use vardpuls_core::events::InputEvent;

#[derive(Debug, Clone)]
pub struct Shard {
    pub topic: Topic,
    pub partition: i32,
    /// The offset of the next message to apply; earlier ones are already in this state.
    pub next_offset: i64,
    /// The latest `occurred_at` applied. Days end by event time, so a replay closes the same
    /// days at the same point as the first run.
    pub watermark: Option<DateTime<Utc>>,
    pub open: BTreeMap<NaiveDate, Vec<InputEvent>>,
    /// The ids of each open day's events, to count each event id once. An id is looked up
    /// among its own day's: a redelivered event carries the same `occurred_at`, so it falls on
    /// the same day. The set being filled is so one day's, which stays in cache (one set of
    /// every open day's ids cost a cache miss per event), and a closing day's ids leave with it
    /// in one piece.
    pub seen: BTreeMap<NaiveDate, HashSet<u128>>,
    pub closed: BTreeMap<NaiveDate, Vec<Partial>>,
    /// Closed days not in memory: their partials are only in their checkpoint segment.
    pub archived: BTreeSet<NaiveDate>,
    /// Per month open days still change: its closed days' partials folded by
    /// `month_to_date.sql`. Rebuilt from the closed days after a restart, so not checkpointed.
    pub month_to_date: BTreeMap<LocalMonth, Vec<Partial>>,
    /// The latest final value per stock KPI, unit and breakdown.
    pub levels: HashMap<LevelKey, Partial>,
    /// Records published for periods that are not final yet, to publish only changes.
    pub emitted: Emitted,
    /// Open days that received events since the last computation.
    pub dirty: BTreeSet<NaiveDate>,
    /// Closed days whose partials are already in their own checkpoint segment file.
    pub persisted: BTreeSet<NaiveDate>,
    /// How much of each open day's events its checkpoint journal holds (events are only ever
    /// appended to an open day, so a checkpoint writes just the rest).
    pub journaled: BTreeMap<NaiveDate, JournalLength>,
    /// The local day of the last event applied, with its bounds: spares a time-zone lookup
    /// for the next events, which mostly fall on the same day.
    recent_day: Option<DaySpan>,
}

/// The first `events` of an open day's events, as the first `bytes` of its journal file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct JournalLength {
    pub events: usize,
    pub bytes: u64,
}

/// A stock level's identity: KPI, unit and breakdown.
pub type LevelKey = (CompactString, CompactString, CompactString);

/// What applying one event did.
#[derive(Debug, Clone, PartialEq)]
pub enum Applied {
    Counted,
    /// The event id was already counted.
    Duplicate,
    /// The event's day is final; it is not counted.
    Late {
        day: LocalDay,
        closed_at: DateTime<Utc>,
    },
}

impl Shard {
    pub fn new(topic: Topic, partition: i32) -> Shard {
        Shard {
            topic,
            partition,
            next_offset: 0,
            watermark: None,
            open: BTreeMap::new(),
            seen: BTreeMap::new(),
            closed: BTreeMap::new(),
            archived: BTreeSet::new(),
            month_to_date: BTreeMap::new(),
            levels: HashMap::default(),
            emitted: Emitted::default(),
            dirty: BTreeSet::new(),
            persisted: BTreeSet::new(),
            journaled: BTreeMap::new(),
            recent_day: None,
        }
    }

    /// When `day` stops taking events: its local midnight plus the allowed lateness.
    pub fn closes_at(day: LocalDay, lateness: Duration) -> DateTime<Utc> {
        day.end() + lateness
    }

    pub fn is_final(&self, day: LocalDay, lateness: Duration) -> bool {
        self.has_passed(Self::closes_at(day, lateness))
    }

    /// Whether the data's watermark has reached `instant`.
    fn has_passed(&self, instant: DateTime<Utc>) -> bool {
        self.watermark.is_some_and(|w| w >= instant)
    }

    pub fn apply(&mut self, event: InputEvent, lateness: Duration) -> Applied {
        let at = event.occurred_at().utc();
        let span = DaySpan::of(at, &mut self.recent_day);
        // `closes_at` from the span's end: the same instant, without another time-zone lookup.
        let (day, closes_at) = (span.day, span.end + lateness);
        if self.has_passed(closes_at) {
            return Applied::Late { day, closed_at: closes_at };
        }
        if !self.seen.entry(day.date()).or_default().insert(event.event_id().as_u128()) {
            return Applied::Duplicate;
        }
        self.open.entry(day.date()).or_default().push(event);
        self.dirty.insert(day.date());
        self.watermark = Some(self.watermark.map_or(at, |w| w.max(at)));
        Applied::Counted
    }

    /// Takes the open days' events from a checkpoint, and their ids for spotting duplicates.
    pub fn set_open(&mut self, open: BTreeMap<NaiveDate, Vec<InputEvent>>) {
        self.open = open;
        self.seen = self.open_event_ids();
    }

    /// The ids of each open day's events, as `seen` holds them.
    fn open_event_ids(&self) -> BTreeMap<NaiveDate, HashSet<u128>> {
        self.open.iter().map(|(day, events)| (*day, events.iter().map(|e| e.event_id().as_u128()).collect())).collect()
    }

    /// Open days whose lateness has passed: to be computed one last time and closed.
    pub fn days_to_close(&self, lateness: Duration) -> Vec<NaiveDate> {
        self.open.keys().copied().filter(|d| self.is_final(LocalDay::from_date(*d), lateness)).collect()
    }

    /// Replaces `day`'s events by its final partials.
    pub fn close(&mut self, day: NaiveDate, partials: Vec<Partial>) {
        self.close_days(BTreeMap::from([(day, partials)]));
    }

    /// Replaces each day's events by its final partials, and forgets their event ids.
    pub fn close_days(&mut self, finals: BTreeMap<NaiveDate, Vec<Partial>>) {
        for (day, partials) in finals {
            self.open.remove(&day);
            self.seen.remove(&day);
            self.dirty.remove(&day);
            self.update_levels(&partials);
            self.closed.insert(day, partials);
        }
    }

    /// Takes the stock values among a closed day's partials as the latest levels.
    pub fn update_levels(&mut self, partials: &[Partial]) {
        for p in partials.iter().filter(|p| is_stock(&p.kpi)) {
            match self.levels.entry(level_key(p)) {
                Entry::Occupied(mut old) if day_of(old.get()) <= day_of(p) => {
                    old.insert(p.clone());
                }
                Entry::Occupied(_) => {}
                Entry::Vacant(slot) => {
                    slot.insert(p.clone());
                }
            }
        }
    }

    /// Forgets closed days older than `retention_days` before the watermark.
    pub fn expire(&mut self, retention_days: i64) {
        if let Some(w) = self.watermark {
            let oldest = LocalDay::of(w).date() - Duration::days(retention_days);
            self.closed.retain(|d, _| *d >= oldest);
            self.archived.retain(|d| *d >= oldest);
        }
    }

    /// The months a batch can still change: those of the open days and of the watermark.
    pub fn current_months(&self) -> BTreeSet<LocalMonth> {
        let mut months: BTreeSet<LocalMonth> = self.open.keys().map(|d| LocalDay::from_date(*d).month()).collect();
        months.extend(self.watermark.map(|w| LocalDay::of(w).month()));
        months
    }

    /// The months whose closed days must be in memory, day by day: current months without
    /// their month to date yet (to fold it), and, where a monthly KPI compares with last year,
    /// the same months a year earlier (it compares day by day). Memory so stays at about a
    /// month of closed days, for chats, and none for other topics, however long the retention.
    pub fn resident_months(&self) -> BTreeSet<LocalMonth> {
        let current = self.current_months();
        let mut months: BTreeSet<LocalMonth> =
            current.iter().filter(|m| !self.month_to_date.contains_key(m)).copied().collect();
        if catalogue::compares_with_last_year(self.topic) {
            months.extend(current.iter().map(|m| m.same_month_last_year()));
        }
        months
    }

    /// Moves closed days that are in their segment and not in a resident month out of memory,
    /// and forgets the month to date of months no longer current.
    pub fn archive(&mut self) {
        let current = self.current_months();
        self.month_to_date.retain(|m, _| current.contains(m));
        let resident = self.resident_months();
        let leaving: Vec<NaiveDate> = self
            .closed
            .keys()
            .filter(|d| self.persisted.contains(d) && !resident.contains(&LocalDay::from_date(**d).month()))
            .copied()
            .collect();
        for day in leaving {
            self.closed.remove(&day);
            self.archived.insert(day);
        }
    }

    /// Archived days in a resident month: to read back from their segments before computing.
    pub fn days_to_restore(&self) -> Vec<NaiveDate> {
        let resident = self.resident_months();
        self.archived.iter().filter(|d| resident.contains(&LocalDay::from_date(**d).month())).copied().collect()
    }

    /// Brings an archived day's partials back into memory.
    pub fn restore(&mut self, day: NaiveDate, partials: Vec<Partial>) {
        self.archived.remove(&day);
        self.closed.insert(day, partials);
    }

    /// Every closed day, in memory or archived.
    pub fn closed_days(&self) -> BTreeSet<NaiveDate> {
        self.closed.keys().chain(&self.archived).copied().collect()
    }
}

fn is_stock(kpi: &str) -> bool {
    catalogue::find(kpi).is_some_and(|k| k.measure == Measure::Stock)
}

pub fn level_key(p: &Partial) -> LevelKey {
    (p.kpi.clone(), p.unit_id.clone(), p.dimensions.clone())
}

fn day_of(p: &Partial) -> Option<NaiveDate> {
    match p.period {
        Period::Day(d) => Some(d),
        Period::Month { .. } => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vardpuls_core::events::decode;

    fn chat(id: u32, at: &str) -> InputEvent {
        let json = format!(
            r#"{{"schema_version":1,"event_id":"00000000-0000-4000-8000-{id:012}","event_type":"chat_started","occurred_at":"{at}","unit_id":"SE2321000180-E001","chat_id":"c{id}","channel":"other"}}"#
        );
        decode(Topic::Chats, json.as_bytes()).unwrap()
    }

    #[test]
    fn closing_a_day_forgets_only_its_event_ids() {
        let lateness = Duration::hours(2);
        let mut s = Shard::new(Topic::Chats, 0);
        let (day1, day2) =
            (NaiveDate::from_ymd_opt(2026, 3, 28).unwrap(), NaiveDate::from_ymd_opt(2026, 3, 29).unwrap());
        for (id, at) in
            [(1, "2026-03-28T10:00:00+01:00"), (2, "2026-03-29T10:00:00+02:00"), (3, "2026-03-29T11:00:00+02:00")]
        {
            assert_eq!(s.apply(chat(id, at), lateness), Applied::Counted);
        }
        s.close(day1, Vec::new());
        assert_eq!(s.seen.keys().copied().collect::<Vec<_>>(), vec![day2], "the closed day's ids are gone");
        assert_eq!(s.seen[&day2].len(), 2, "the open day's stay");
        assert_eq!(s.apply(chat(2, "2026-03-29T10:00:00+02:00"), lateness), Applied::Duplicate);
        assert_eq!(s.closed.keys().copied().collect::<Vec<_>>(), vec![day1]);
        assert_eq!(s.open.keys().copied().collect::<Vec<_>>(), vec![day2]);
    }

    #[test]
    fn an_event_id_is_a_duplicate_within_its_own_day() {
        let lateness = Duration::hours(48);
        let mut s = Shard::new(Topic::Chats, 0);
        assert_eq!(s.apply(chat(1, "2026-03-29T10:00:00+02:00"), lateness), Applied::Counted);
        assert_eq!(s.apply(chat(1, "2026-03-29T23:59:00+02:00"), lateness), Applied::Duplicate);
        // The same id on another day is not the same event redelivered: it carries another time.
        assert_eq!(s.apply(chat(1, "2026-03-30T00:00:00+02:00"), lateness), Applied::Counted);
        // Restored from a checkpoint, the ids are rebuilt per day from the open events.
        let mut restored = Shard::new(Topic::Chats, 0);
        restored.set_open(s.open.clone());
        assert_eq!(restored.seen, s.seen);
    }

    #[test]
    fn duplicates_count_once_and_late_events_are_refused_after_close() {
        let lateness = Duration::hours(2);
        let mut s = Shard::new(Topic::Chats, 0);
        assert_eq!(s.apply(chat(1, "2026-03-29T10:00:00+02:00"), lateness), Applied::Counted);
        assert_eq!(s.apply(chat(1, "2026-03-29T10:00:00+02:00"), lateness), Applied::Duplicate);
        // 29 March (23 hours) ends at 22:00 UTC; closes at 00:00 UTC on the 30th.
        assert_eq!(s.apply(chat(2, "2026-03-30T01:59:00+02:00"), lateness), Applied::Counted);
        assert!(s.days_to_close(lateness).is_empty());
        assert_eq!(s.apply(chat(3, "2026-03-30T02:00:00+02:00"), lateness), Applied::Counted);
        assert_eq!(s.days_to_close(lateness), vec![NaiveDate::from_ymd_opt(2026, 3, 29).unwrap()]);
        match s.apply(chat(4, "2026-03-29T23:59:00+02:00"), lateness) {
            Applied::Late { day, closed_at } => {
                assert_eq!(day.to_string(), "2026-03-29");
                assert_eq!(closed_at.to_rfc3339(), "2026-03-30T00:00:00+00:00");
            }
            other => panic!("{other:?}"),
        }
    }
}
