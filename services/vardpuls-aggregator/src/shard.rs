//! The state of one input partition: the unit of checkpointing and of moving work between
//! aggregator instances.
//!
//! Kafka keys every input event by unit, so one partition holds all events of its units for
//! that topic, and the KPIs of those units depend on nothing else. A shard keeps:
//! - the events of days that are still open (not yet final), raw;
//! - the ids of those events, to count each event id once;
//! - the final daily partials of closed days, for months and last-year comparisons: in memory
//!   only for the months that need them day by day ([`Shard::resident_months`]); the others are
//!   archived, on disk only, in their checkpoint segments;
//! - the events of closed days within the restatement horizon, on disk only (the day store): a
//!   late event for a closed day *reopens* it ([`Shard::reopen`]), so the day, its month and what
//!   compares with it are computed again from the whole set of the day's events;
//! - per month that open days still change, its closed days folded into one row per KPI, unit
//!   and breakdown (*month to date*): what the monthly queries read instead of every closed day;
//! - the latest final level of each stock KPI, unit and breakdown (the opening level of open
//!   days), so no archived day is needed for it;
//! - each unit's newest event time, from which the partition's progress follows
//!   ([`Shard::progress`]), and the next offset to read.

use crate::catalogue::{self, KpiId};
use crate::emitted::Emitted;
use crate::partial::{Partial, Period};
use crate::persons::PersonsListed;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use compact_str::CompactString;
// foldhash, not SipHash: the event-id set is probed once per event (docs/performance.md).
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
    /// The partition's progress in event time ([`Shard::progress`]): days end by it, so a
    /// replay closes the same days at the same point as the first run.
    pub watermark: Option<DateTime<Utc>>,
    /// The `occurred_at` of the `quorum` newest events counted, newest first: the progress is
    /// the last of them.
    pub newest: Vec<DateTime<Utc>>,
    /// A progress carried over from a checkpoint written before units were tracked.
    pub progress_floor: Option<DateTime<Utc>>,
    /// When days close and how long they stay restatable.
    pub policy: Policy,
    /// Valid events for closed days within the horizon: applied once their days are reopened
    /// (`checkpoint::prepare`), before the next computation.
    pub restating: Vec<InputEvent>,
    /// Closed days whose events are in the day store.
    pub event_days: BTreeSet<NaiveDate>,
    /// The events of days closed since the last checkpoint, which writes them to the day store.
    pub closing: BTreeMap<NaiveDate, Vec<InputEvent>>,
    /// Reopened days, with the final partials published for them before: the computation
    /// publishes only what the restatement changed, as the next revision.
    pub restated_days: BTreeMap<NaiveDate, Vec<Partial>>,
    /// Final monthly partials published, for the months a batch publishes final values of
    /// (read from their month segments by `checkpoint::prepare` when a restatement changes
    /// them); `month_finals_changed` are written back by the checkpoint.
    pub month_finals: BTreeMap<LocalMonth, Vec<Partial>>,
    pub month_finals_changed: BTreeSet<LocalMonth>,
    /// Stock levels of closed days that left the horizon: the opening levels when a stock
    /// topic's days are restated from the oldest kept day on.
    pub base_levels: HashMap<LevelKey, Partial>,
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
    /// Who was listed via 1177, per month and unit (listings only): persons, not events.
    pub persons: PersonsListed,
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

/// When a shard's days become final, and for how long they stay restatable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// A day is final once the progress passes its local midnight plus this.
    pub lateness: Duration,
    /// How many events must have reached an instant for the progress to reach it (at most
    /// [`MAX_QUORUM`]).
    pub quorum: usize,
    /// Closed days stay restatable this many days before the progress's day.
    pub horizon_days: i64,
}

impl Default for Policy {
    fn default() -> Self {
        Policy { lateness: Duration::hours(12), quorum: 1, horizon_days: 400 }
    }
}

/// The largest progress quorum.
pub const MAX_QUORUM: usize = 64;

/// A stock level's identity: KPI, unit and breakdown.
pub type LevelKey = (KpiId, CompactString, CompactString);

/// What applying one event did.
#[derive(Debug, Clone, PartialEq)]
pub enum Applied {
    Counted,
    /// The event id was already counted.
    Duplicate,
    /// The event's day is final, within the horizon: the event waits in `restating` until the
    /// day is reopened.
    Restating,
    /// The event's day is final and cannot be restated: it is not counted.
    Late {
        day: LocalDay,
        closed_at: DateTime<Utc>,
        why: NotRestatable,
    },
}

/// Why a late event's day cannot be restated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotRestatable {
    /// Older than the restatement horizon before the progress.
    BeyondHorizon { oldest: NaiveDate },
    /// Closed by a version that kept no events of closed days.
    EventsNotKept,
}

impl Shard {
    pub fn new(topic: Topic, partition: i32) -> Shard {
        Shard {
            topic,
            partition,
            next_offset: 0,
            watermark: None,
            newest: Vec::new(),
            progress_floor: None,
            policy: Policy::default(),
            restating: Vec::new(),
            event_days: BTreeSet::new(),
            closing: BTreeMap::new(),
            restated_days: BTreeMap::new(),
            month_finals: BTreeMap::new(),
            month_finals_changed: BTreeSet::new(),
            base_levels: HashMap::default(),
            open: BTreeMap::new(),
            seen: BTreeMap::new(),
            closed: BTreeMap::new(),
            archived: BTreeSet::new(),
            month_to_date: BTreeMap::new(),
            levels: HashMap::default(),
            emitted: Emitted::default(),
            dirty: BTreeSet::new(),
            persons: PersonsListed::default(),
            persisted: BTreeSet::new(),
            journaled: BTreeMap::new(),
            recent_day: None,
        }
    }

    /// When `day` stops taking events: its local midnight plus the allowed lateness.
    pub fn closes_at(day: LocalDay, lateness: Duration) -> DateTime<Utc> {
        day.end() + lateness
    }

    pub fn is_final(&self, day: LocalDay) -> bool {
        self.has_passed(Self::closes_at(day, self.policy.lateness))
    }

    /// When a month's values become final: when its last day does.
    pub fn month_closes_at(month: LocalMonth, lateness: Duration) -> DateTime<Utc> {
        Self::closes_at(month.last_day(), lateness)
    }

    /// Whether the data's watermark has reached `instant`.
    fn has_passed(&self, instant: DateTime<Utc>) -> bool {
        self.watermark.is_some_and(|w| w >= instant)
    }

    pub fn apply(&mut self, event: InputEvent) -> Applied {
        let at = event.occurred_at().utc();
        let span = DaySpan::of(event.counts_on(), &mut self.recent_day);
        // `closes_at` from the span's end: the same instant, without another time-zone lookup.
        let (day, closes_at) = (span.day, span.end + self.policy.lateness);
        let date = day.date();
        if self.has_passed(closes_at) && !self.open.contains_key(&date) {
            if let Err(why) = self.restatable(date) {
                return Applied::Late { day, closed_at: closes_at, why };
            }
            // It moves the progress once applied to its reopened day, if not a duplicate.
            self.restating.push(event);
            return Applied::Restating;
        }
        if !self.seen.entry(date).or_default().insert(event.event_id().as_u128()) {
            return Applied::Duplicate;
        }
        self.advance(at);
        if let Some(person) = listed_via_1177(&event) {
            self.persons.add(day.month(), event.unit_id().as_str(), person, at);
        }
        self.open.entry(date).or_default().push(event);
        self.dirty.insert(date);
        Applied::Counted
    }

    /// Takes a counted event's time into the newest ones, and moves the progress.
    ///
    /// The progress is the `quorum`-th newest time among the events counted: a function of the
    /// set of events, not of their order, that only grows as events are added. So a few
    /// mistyped dates move nothing (with the default quorum of 10, nine), and every order of the
    /// same events ends at the same progress.
    fn advance(&mut self, at: DateTime<Utc>) {
        // Only the `quorum` newest are kept: a short array, shifted by at most that many.
        let quorum = self.policy.quorum;
        if self.newest.len() == quorum {
            if self.newest.last().is_some_and(|oldest| *oldest >= at) {
                return;
            }
            self.newest.pop();
        }
        let slot = self.newest.partition_point(|t| *t >= at);
        self.newest.insert(slot, at);
        if self.newest.len() == quorum {
            self.watermark = self.progress();
        }
    }

    /// The partition's progress: the `quorum`-th newest event time (none with fewer events), or
    /// the floor carried over from an older checkpoint if that is later.
    pub fn progress(&self) -> Option<DateTime<Utc>> {
        self.newest.get(self.policy.quorum.max(1) - 1).copied().max(self.progress_floor)
    }

    /// The data's current day: the local day of the progress, or, before there is one (fewer
    /// events than the quorum), of the newest event. A month not final yet is compared with
    /// last year through this day.
    pub fn current_day(&self) -> Option<LocalDay> {
        self.watermark.or_else(|| self.newest.first().copied()).map(LocalDay::of)
    }

    /// Sets a progress the events cannot take it below (a checkpoint's from before the newest
    /// times were kept; tests that need a progress without events).
    pub fn set_progress_floor(&mut self, floor: Option<DateTime<Utc>>) {
        self.progress_floor = floor;
        self.watermark = self.progress();
    }

    /// Sets the newest event times (from a checkpoint); [`Shard::set_policy`] keeps its
    /// quorum's worth of them and takes the progress from them.
    pub fn set_newest(&mut self, mut newest: Vec<DateTime<Utc>>) {
        newest.sort_by(|a, b| b.cmp(a));
        self.newest = newest;
        self.watermark = self.progress();
    }

    /// Sets the policy; a new quorum recomputes the progress.
    pub fn set_policy(&mut self, policy: Policy) {
        self.policy = Policy { quorum: policy.quorum.clamp(1, MAX_QUORUM), ..policy };
        // A raised quorum has fewer times than it needs until new events come: the progress
        // waits for them.
        self.newest.truncate(self.policy.quorum);
        self.watermark = self.progress();
    }

    /// The oldest day still restatable: `horizon_days` before the progress's day.
    pub fn oldest_restatable(&self) -> Option<NaiveDate> {
        self.watermark.map(|w| LocalDay::of(w).date() - Duration::days(self.policy.horizon_days))
    }

    /// Whether a closed `day` can be reopened: within the horizon, with its events kept (or
    /// with no events at all).
    fn restatable(&self, day: NaiveDate) -> Result<(), NotRestatable> {
        if let Some(oldest) = self.oldest_restatable().filter(|oldest| day < *oldest) {
            return Err(NotRestatable::BeyondHorizon { oldest });
        }
        let kept = self.event_days.contains(&day) || self.closing.contains_key(&day);
        if !kept && (self.closed.contains_key(&day) || self.archived.contains(&day)) {
            return Err(NotRestatable::EventsNotKept);
        }
        Ok(())
    }

    /// The days the waiting restating events fall on.
    pub fn days_to_reopen(&self) -> BTreeSet<NaiveDate> {
        let mut cached = None;
        self.restating.iter().map(|e| DaySpan::of(e.counts_on(), &mut cached).day.date()).collect()
    }

    /// Makes a closed day open again with all its `events` (from the day store, or those of a
    /// day closed in this batch), keeping the `finals` published for it to compare with. Its
    /// month's month to date no longer holds, and is folded again.
    pub fn reopen(&mut self, day: NaiveDate, events: Vec<InputEvent>, finals: Vec<Partial>) {
        self.seen.insert(day, events.iter().map(|e| e.event_id().as_u128()).collect());
        self.open.insert(day, events);
        self.dirty.insert(day);
        self.closed.remove(&day);
        self.archived.remove(&day);
        self.persisted.remove(&day);
        self.restated_days.insert(day, finals);
        self.month_to_date.remove(&LocalDay::from_date(day).month());
    }

    /// The months of the days reopened in this batch.
    pub fn restated_months(&self) -> BTreeSet<LocalMonth> {
        self.restated_days.keys().map(|d| LocalDay::from_date(*d).month()).collect()
    }

    /// Where a KPI counts from January (persons listed via 1177 this year): the months after a
    /// restated one in its year that have days, whose year to date the restatement changes.
    pub fn later_months_of_restated_years(&self) -> BTreeSet<LocalMonth> {
        if self.restated_days.is_empty() || !catalogue::accumulates_over_the_year(self.topic) {
            return BTreeSet::new();
        }
        let days = self.closed_days();
        let has_days = |m: &LocalMonth| {
            let (first, last) = (m.first_day().date(), m.last_day().date());
            days.range(first..=last).next().is_some() || self.open.range(first..=last).next().is_some()
        };
        self.restated_months()
            .into_iter()
            .flat_map(|m| (m.month + 1..=12).map(move |month| LocalMonth { year: m.year, month }))
            .filter(has_days)
            .collect()
    }

    /// Applies the events that waited for their days to be reopened.
    pub fn apply_restating(&mut self) -> Vec<Applied> {
        std::mem::take(&mut self.restating).into_iter().map(|e| self.apply(e)).collect()
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

    /// For a topic with a stock KPI, opens without events every day that is not open from the
    /// day after the last closed day (or the first open day) through the progress's day, so a
    /// unit's level is carried into every day and month, not only those with its events
    /// (docs/kpis.md, "Stocks every day"). A restart opens them again: they have no journal.
    pub fn open_days_without_events(&mut self) {
        if !catalogue::has_stock_kpi(self.topic) {
            return;
        }
        let Some(progress) = self.watermark else { return };
        let last = LocalDay::of(progress).date();
        let after_closed = self.closed.keys().chain(&self.archived).max().map(|d| *d + Duration::days(1));
        let Some(first) = after_closed.or_else(|| self.open.keys().next().copied()) else { return };
        for day in first.iter_days().take_while(|d| *d <= last) {
            if let std::collections::btree_map::Entry::Vacant(slot) = self.open.entry(day) {
                slot.insert(Vec::new());
                self.seen.entry(day).or_default();
                self.dirty.insert(day);
            }
        }
    }

    /// Open days whose lateness has passed: to be computed one last time and closed.
    pub fn days_to_close(&self) -> Vec<NaiveDate> {
        self.open.keys().copied().filter(|d| self.is_final(LocalDay::from_date(*d))).collect()
    }

    /// Replaces `day`'s events by its final partials.
    pub fn close(&mut self, day: NaiveDate, partials: Vec<Partial>) {
        self.close_days(BTreeMap::from([(day, partials)]));
    }

    /// Replaces each day's events by its final partials, and forgets their event ids. The
    /// events wait in `closing` for the checkpoint to write them to the day store.
    pub fn close_days(&mut self, finals: BTreeMap<NaiveDate, Vec<Partial>>) {
        for (day, partials) in finals {
            self.closing.insert(day, self.open.remove(&day).unwrap_or_default());
            self.seen.remove(&day);
            self.dirty.remove(&day);
            self.update_levels(&partials);
            self.closed.insert(day, partials);
        }
    }

    /// Takes the stock values among a closed day's partials as the latest levels.
    pub fn update_levels(&mut self, partials: &[Partial]) {
        for p in partials.iter().filter(|p| catalogue::is_stock(p.kpi)) {
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

    /// Forgets closed days older than the horizon before the progress (the checkpoint then
    /// removes their files).
    pub fn expire(&mut self) {
        if let Some(oldest) = self.oldest_restatable() {
            self.persons.expire(LocalDay::from_date(oldest).month());
            self.closed.retain(|d, _| *d >= oldest);
            self.archived.retain(|d| *d >= oldest);
            self.event_days.retain(|d| *d >= oldest);
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
        // Past months a computation reads day by day: those whose values become final now
        // without a month to date (after a restart), and, where a KPI compares with last year,
        // the months a year after restated ones.
        months.extend(self.months_to_finalize().into_iter().filter(|m| !self.month_to_date.contains_key(m)));
        let growth = catalogue::compares_with_last_year(self.topic);
        if growth {
            months.extend(self.restated_months().into_iter().map(|m| m.same_month_next_year()));
        }
        months.extend(self.later_months_of_restated_years());
        if growth {
            let read: Vec<LocalMonth> = months.iter().chain(&current).copied().collect();
            months.extend(read.iter().map(|m| m.same_month_last_year()));
        }
        months
    }

    /// Months with values published as not final whose last day is now final: they become
    /// final in the next computation, whether or not a day of theirs closes in it.
    pub fn months_to_finalize(&self) -> BTreeSet<LocalMonth> {
        let Some(progress) = self.watermark else { return BTreeSet::new() };
        let mut months = self.months_not_final();
        months.retain(|m| Self::month_closes_at(*m, self.policy.lateness) <= progress);
        months
    }

    /// Months with values published as not final.
    fn months_not_final(&self) -> BTreeSet<LocalMonth> {
        self.emitted.months().collect()
    }

    /// Moves closed days that are in their segment and not in a resident month out of memory,
    /// and forgets the month to date of months neither current nor with values not final yet:
    /// a month whose values become final in a later computation than its last day closed (a
    /// partition quiet at the month's end) is finalised from its month to date, not from its
    /// days read back.
    pub fn archive(&mut self) {
        let mut kept = self.current_months();
        kept.extend(self.months_not_final());
        self.month_to_date.retain(|m, _| kept.contains(m));
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

/// The person of a listing made in the 1177 e-services.
fn listed_via_1177(event: &InputEvent) -> Option<&str> {
    use vardpuls_core::events::{ListingChannel, ListingEventType};
    match event {
        InputEvent::Listing(l)
            if l.event_type == ListingEventType::Listed && l.channel == Some(ListingChannel::EService1177) =>
        {
            l.patient_ref.as_ref().map(|p| p.as_str())
        }
        _ => None,
    }
}

pub fn level_key(p: &Partial) -> LevelKey {
    (p.kpi, p.unit_id.clone(), p.dimensions.clone())
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

    fn shard(lateness_hours: i64) -> Shard {
        let mut s = Shard::new(Topic::Chats, 0);
        s.set_policy(Policy { lateness: Duration::hours(lateness_hours), ..Policy::default() });
        s
    }

    fn chat(id: u32, at: &str) -> InputEvent {
        let json = format!(
            r#"{{"schema_version":1,"event_id":"00000000-0000-4000-8000-{id:012}","event_type":"chat_started","occurred_at":"{at}","unit_id":"SE2321000180-E001","chat_id":"c{id}","channel":"other"}}"#
        );
        decode(Topic::Chats, json.as_bytes()).unwrap()
    }

    #[test]
    fn closing_a_day_forgets_only_its_event_ids() {
        let mut s = shard(2);
        let (day1, day2) =
            (NaiveDate::from_ymd_opt(2026, 3, 28).unwrap(), NaiveDate::from_ymd_opt(2026, 3, 29).unwrap());
        for (id, at) in
            [(1, "2026-03-28T10:00:00+01:00"), (2, "2026-03-29T10:00:00+02:00"), (3, "2026-03-29T11:00:00+02:00")]
        {
            assert_eq!(s.apply(chat(id, at)), Applied::Counted);
        }
        s.close(day1, Vec::new());
        assert_eq!(s.seen.keys().copied().collect::<Vec<_>>(), vec![day2], "the closed day's ids are gone");
        assert_eq!(s.seen[&day2].len(), 2, "the open day's stay");
        assert_eq!(s.apply(chat(2, "2026-03-29T10:00:00+02:00")), Applied::Duplicate);
        assert_eq!(s.closed.keys().copied().collect::<Vec<_>>(), vec![day1]);
        assert_eq!(s.open.keys().copied().collect::<Vec<_>>(), vec![day2]);
    }

    #[test]
    fn an_event_id_is_a_duplicate_within_its_own_day() {
        let mut s = shard(48);
        assert_eq!(s.apply(chat(1, "2026-03-29T10:00:00+02:00")), Applied::Counted);
        assert_eq!(s.apply(chat(1, "2026-03-29T23:59:00+02:00")), Applied::Duplicate);
        // The same id on another day is not the same event redelivered: it carries another time.
        assert_eq!(s.apply(chat(1, "2026-03-30T00:00:00+02:00")), Applied::Counted);
        // Restored from a checkpoint, the ids are rebuilt per day from the open events.
        let mut restored = Shard::new(Topic::Chats, 0);
        restored.set_open(s.open.clone());
        assert_eq!(restored.seen, s.seen);
    }

    #[test]
    fn a_closed_day_takes_late_events_for_restatement_within_the_horizon() {
        let mut s = shard(2);
        assert_eq!(s.apply(chat(1, "2026-03-29T10:00:00+02:00")), Applied::Counted);
        assert_eq!(s.apply(chat(1, "2026-03-29T10:00:00+02:00")), Applied::Duplicate);
        // 29 March (23 hours) ends at 22:00 UTC; closes at 00:00 UTC on the 30th.
        assert_eq!(s.apply(chat(2, "2026-03-30T01:59:00+02:00")), Applied::Counted);
        assert!(s.days_to_close().is_empty());
        assert_eq!(s.apply(chat(3, "2026-03-30T02:00:00+02:00")), Applied::Counted);
        let day = NaiveDate::from_ymd_opt(2026, 3, 29).unwrap();
        assert_eq!(s.days_to_close(), vec![day]);
        // Final by now, but not closed yet: still counted with the day.
        assert_eq!(s.apply(chat(4, "2026-03-29T23:58:00+02:00")), Applied::Counted);
        s.close(day, Vec::new());
        // Closed: the event waits for the day to be reopened.
        assert_eq!(s.apply(chat(5, "2026-03-29T23:59:00+02:00")), Applied::Restating);
        assert_eq!(s.days_to_reopen(), BTreeSet::from([day]));
        let events = s.closing.remove(&day).unwrap();
        assert_eq!(events.len(), 2);
        s.reopen(day, events, Vec::new());
        assert_eq!(s.apply_restating(), vec![Applied::Counted]);
        assert_eq!(s.open[&day].len(), 3);
        // Older than the horizon: refused for good.
        s.set_policy(Policy { horizon_days: 30, ..s.policy });
        match s.apply(chat(6, "2026-02-27T12:00:00+01:00")) {
            Applied::Late { day, why: NotRestatable::BeyondHorizon { oldest }, .. } => {
                assert_eq!(day.to_string(), "2026-02-27");
                assert_eq!(oldest.to_string(), "2026-02-28");
            }
            other => panic!("{other:?}"),
        }
    }

    fn chat_of(unit: &str, id: u32, at: &str) -> InputEvent {
        let json = format!(
            r#"{{"schema_version":1,"event_id":"00000000-0000-4000-8000-{id:012}","event_type":"chat_started","occurred_at":"{at}","unit_id":"{unit}","chat_id":"c{id}","channel":"other"}}"#
        );
        decode(Topic::Chats, json.as_bytes()).unwrap()
    }

    #[test]
    fn a_mistyped_date_moves_no_progress_and_every_order_ends_at_the_same_progress() {
        let events = [
            ("SE2321000180-E001", 1, "2026-03-02T10:00:00+01:00"),
            ("SE2321000180-E002", 2, "2026-03-02T11:00:00+01:00"),
            ("SE2321000180-E001", 3, "2026-11-30T09:00:00+01:00"), // the typo
            ("SE2321000180-E003", 4, "2026-03-03T08:00:00+01:00"),
            ("SE2321000180-E002", 5, "2026-03-03T09:30:00+01:00"),
            ("SE2321000180-E002", 5, "2026-03-03T09:30:00+01:00"), // a duplicate counts once
        ];
        let progress_of = |order: &[usize]| {
            let mut s = shard(12);
            s.set_policy(Policy { quorum: 2, ..s.policy });
            for &i in order {
                let (unit, id, at) = events[i];
                s.apply(chat_of(unit, id, at));
            }
            s.watermark
        };
        let in_order = progress_of(&[0, 1, 2, 3, 4, 5]);
        // The second newest event: 09:30 on the 3rd, not the typo.
        assert_eq!(in_order, Some("2026-03-03T08:30:00Z".parse().unwrap()));
        for order in [[5, 4, 3, 2, 1, 0], [2, 0, 4, 1, 5, 3], [3, 2, 1, 4, 0, 5]] {
            assert_eq!(progress_of(&order), in_order, "{order:?}");
        }
        // One event alone does not reach the quorum.
        assert_eq!(progress_of(&[2]), None);
    }
}
