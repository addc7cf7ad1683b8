//! The KPI engine: applies messages to shards and turns shard state into KPI records with the
//! catalogue's SQL.
//!
//! It does no I/O. The Kafka loop ([`crate::consumer`]) feeds it messages, asks it to
//! [`Engine::compute`] after each batch, publishes what it returns, and checkpoints the shards.

use crate::catalogue::{self, CATALOGUE, KpiId, MONTH_TO_DATE_SQL, MONTHLY_LAST_SQL, MONTHLY_SUM_SQL, Measure, Stage};
use crate::config::AggregatorConfig;
use crate::partial::{self, Partial, Period};
use crate::persons::{self, PersonsListed};
use crate::records::{Changed, ToPublish};
use crate::shard::{Applied, NotRestatable, Policy, Shard};
use crate::stocks;
use crate::tables;
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use datafusion::arrow::array::{ArrayRef, Date32Builder, Int64Builder};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::datasource::MemTable;
use datafusion::prelude::{SessionConfig, SessionContext};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use vardpuls_core::Topic;
use vardpuls_core::calendar::{LocalDay, LocalMonth};
use vardpuls_core::dlq::{DeadLetter, Source};
use vardpuls_core::domain::HsaId;
use vardpuls_core::events::{InputEvent, decode};
use vardpuls_core::outputs::LateEvent;
use vardpuls_core::rejection::{Rejection, Rule};

type ShardId = (Topic, i32);

/// What one computation does, decided before any SQL runs.
struct Plan {
    /// Shards with new events, or with months to recompute.
    active: BTreeSet<ShardId>,
    /// Open days whose lateness has passed.
    closing: HashMap<ShardId, BTreeSet<NaiveDate>>,
    /// The months each shard recomputes: of its changed and closing days, those becoming final
    /// now, where a KPI compares with last year those a year after restated ones, and where one
    /// counts from January the later months of restated ones' years.
    months_of: HashMap<ShardId, BTreeSet<LocalMonth>>,
    /// The days each shard recomputes.
    recompute: HashMap<ShardId, BTreeSet<NaiveDate>>,
}

/// Rows per slice of a registered table (slices share the table's buffers: no copy).
const SCAN_SLICE_ROWS: usize = 65_536;

/// Which shards a computation brings up to date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pace {
    /// Every shard with new events: values not final yet are published as they change.
    Live,
    /// Behind a backlog: only shards where something becomes final (a day closes, a month is
    /// finalised, a closed day is restated). The others' new events wait, their days dirty, for
    /// a later computation, which publishes their values once rather than batch after batch.
    CatchingUp,
}

/// What happened to one consumed message.
#[derive(Debug)]
pub enum Routed {
    Counted,
    /// Same event id already counted: skipped.
    Duplicate,
    /// Offset already in the shard's state (a re-delivery after a restart): skipped.
    AlreadyApplied,
    /// Valid, for a closed day within the restatement horizon: the day is reopened and
    /// computed again before the next records are published.
    Restating,
    /// Valid, but its day can no longer be restated: publish to `vardpuls.late.v1`.
    Late(Box<LateEvent>),
    /// Invalid: publish to `vardpuls.dlq.v1`.
    Invalid(Box<DeadLetter>),
}

/// What happened to a message, as `vardpuls_aggregator_messages_total{outcome}` counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Counted,
    Duplicate,
    Replayed,
    Restating,
    Late,
    Invalid,
}

impl Outcome {
    pub const ALL: [Outcome; 6] =
        [Outcome::Counted, Outcome::Duplicate, Outcome::Replayed, Outcome::Restating, Outcome::Late, Outcome::Invalid];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Counted => "counted",
            Outcome::Duplicate => "duplicate",
            Outcome::Replayed => "replayed",
            Outcome::Restating => "restating",
            Outcome::Late => "late",
            Outcome::Invalid => "invalid",
        }
    }
}

/// Messages per outcome: counted per message without a map lookup, reported per batch.
#[derive(Debug, Clone, Copy, Default)]
pub struct OutcomeCounts([u64; Outcome::ALL.len()]);

impl OutcomeCounts {
    pub fn add(&mut self, outcome: Outcome) {
        self.0[outcome as usize] += 1;
    }

    /// The outcomes that happened, with their counts.
    pub fn iter(&self) -> impl Iterator<Item = (Outcome, u64)> + '_ {
        Outcome::ALL.into_iter().zip(self.0).filter(|(_, n)| *n > 0)
    }
}

impl Routed {
    pub fn outcome(&self) -> Outcome {
        match self {
            Routed::Counted => Outcome::Counted,
            Routed::Duplicate => Outcome::Duplicate,
            Routed::AlreadyApplied => Outcome::Replayed,
            Routed::Restating => Outcome::Restating,
            Routed::Late(_) => Outcome::Late,
            Routed::Invalid(_) => Outcome::Invalid,
        }
    }
}

pub struct Engine {
    config: AggregatorConfig,
    shards: BTreeMap<ShardId, Shard>,
    /// Which partition holds a unit's events, per topic: routes computed partials to shards.
    units: foldhash::HashMap<(Topic, HsaId), i32>,
    ctx: SessionContext,
}

impl Engine {
    pub fn new(config: AggregatorConfig) -> Engine {
        let ctx = SessionContext::new_with_config(SessionConfig::new().with_target_partitions(config.sql_partitions()));
        Engine { config, shards: BTreeMap::new(), units: Default::default(), ctx }
    }

    pub fn config(&self) -> &AggregatorConfig {
        &self.config
    }

    pub fn shards(&self) -> impl Iterator<Item = &Shard> {
        self.shards.values()
    }

    pub fn shard(&self, topic: Topic, partition: i32) -> Option<&Shard> {
        self.shards.get(&(topic, partition))
    }

    /// For checkpointing, which records what it persisted in the shard.
    pub fn shard_mut(&mut self, topic: Topic, partition: i32) -> Option<&mut Shard> {
        self.shards.get_mut(&(topic, partition))
    }

    /// The shards of `ids` this engine has, each once, to be written at the same time.
    pub fn shards_mut<'a>(&'a mut self, ids: &BTreeSet<ShardId>) -> Vec<&'a mut Shard> {
        self.shards.iter_mut().filter(|(id, _)| ids.contains(id)).map(|(_, shard)| shard).collect()
    }

    /// How this engine's shards close and restate days.
    pub fn policy(&self) -> Policy {
        Policy {
            lateness: self.config.lateness(),
            quorum: self.config.progress_quorum_events,
            horizon_days: self.config.retention_days,
        }
    }

    /// Adds a shard (new, or loaded from a checkpoint).
    pub fn insert_shard(&mut self, mut shard: Shard) {
        shard.set_policy(self.policy());
        for events in shard.open.values() {
            for e in events {
                self.units.insert((shard.topic, *e.unit_id()), shard.partition);
            }
        }
        for p in shard.closed.values().flatten().chain(shard.levels.values()) {
            if let Ok(unit) = HsaId::parse(&p.unit_id) {
                self.units.insert((shard.topic, unit), shard.partition);
            }
        }
        self.shards.insert((shard.topic, shard.partition), shard);
    }

    /// Removes a shard whose partition moved to another instance.
    pub fn remove_shard(&mut self, topic: Topic, partition: i32) -> Option<Shard> {
        let shard = self.shards.remove(&(topic, partition))?;
        self.units.retain(|(t, _), p| !(*t == topic && *p == partition));
        Some(shard)
    }

    /// Applies one consumed message, produced to Kafka at `produced_at` (its record timestamp;
    /// `None` takes the wall clock).
    pub fn offer(
        &mut self,
        topic: Topic,
        partition: i32,
        offset: i64,
        payload: &[u8],
        produced_at: Option<DateTime<Utc>>,
    ) -> Routed {
        if self.shards.get(&(topic, partition)).is_some_and(|shard| offset < shard.next_offset) {
            return Routed::AlreadyApplied;
        }
        let produced_at = produced_at.unwrap_or_else(Utc::now);
        self.offer_decoded(topic, partition, offset, payload, decode(topic, payload), produced_at)
    }

    /// [`Engine::offer`] for a message the caller has decoded already
    /// (`vardpuls_core::events::decode`), which it may do on other threads.
    pub fn offer_decoded(
        &mut self,
        topic: Topic,
        partition: i32,
        offset: i64,
        payload: &[u8],
        decoded: Result<InputEvent, Rejection>,
        produced_at: DateTime<Utc>,
    ) -> Routed {
        let max_future = self.config.max_future();
        let policy = self.policy();
        let shard = self.shards.entry((topic, partition)).or_insert_with(|| {
            let mut shard = Shard::new(topic, partition);
            shard.set_policy(policy);
            shard
        });
        if offset < shard.next_offset {
            return Routed::AlreadyApplied;
        }
        shard.next_offset = offset + 1;
        let source = || Source::Kafka { topic: topic.name().to_string(), partition, offset };
        let event = match decoded.and_then(|e| not_in_future(e, produced_at, max_future)) {
            Ok(e) => e,
            Err(reason) => return Routed::Invalid(Box::new(DeadLetter::new(topic, source(), reason, payload))),
        };
        let unit = *event.unit_id();
        match shard.apply(event) {
            Applied::Counted => {
                self.units.insert((topic, unit), partition);
                Routed::Counted
            }
            Applied::Restating => {
                self.units.insert((topic, unit), partition);
                Routed::Restating
            }
            Applied::Duplicate => Routed::Duplicate,
            Applied::Late { day, closed_at, why } => Routed::Late(Box::new(LateEvent {
                schema_version: 1,
                routed_at: Utc::now(),
                source_topic: topic.name().to_string(),
                partition,
                offset,
                day: day.to_string(),
                reason: match why {
                    NotRestatable::BeyondHorizon { oldest } => format!(
                        "day {day} was final at {} and is older than the restatement horizon of {} days \
                         (the oldest restatable day is {oldest})",
                        closed_at.to_rfc3339(),
                        self.config.retention_days,
                    ),
                    NotRestatable::EventsNotKept => format!(
                        "day {day} was final at {} and was closed by a version that kept no events of \
                         closed days, so it cannot be restated",
                        closed_at.to_rfc3339()
                    ),
                },
                // The event as decoded, not the payload: decoding replaces what must go no further
                // (an event id spelt like a personal identity number). Decoded again only here, so
                // counted events need no copy.
                event: vardpuls_core::events::decode(topic, payload)
                    .map(|e| serde_json::from_slice(&e.to_json()).expect("events serialize to JSON"))
                    .unwrap_or(serde_json::Value::Null),
            })),
        }
    }

    /// Closes the days whose lateness has passed, recomputes the open days (reopened ones
    /// included) and the months they feed, and returns the records that changed since they were
    /// last returned. Reopened days and months already final are republished only where their
    /// values changed, as the next revision. In four phases: [`Engine::plan`] what to compute,
    /// [`Engine::compute_days`], [`Engine::compute_months`], [`Engine::close_and_publish`].
    pub async fn compute(&mut self, pace: Pace) -> anyhow::Result<Changed> {
        let Some(plan) = self.plan(pace) else { return Ok(Changed::default()) };
        let daily = self.compute_days(&plan).await?;
        let monthly = self.compute_months(&plan, &daily).await?;
        self.close_and_publish(plan, daily, monthly).await
    }

    /// The shards with something to compute, the days that close, the days and months each
    /// recomputes; None when nothing changed.
    fn plan(&mut self, pace: Pace) -> Option<Plan> {
        let mut closing: HashMap<ShardId, BTreeSet<NaiveDate>> = HashMap::new();
        let mut active: BTreeSet<ShardId> = BTreeSet::new();
        let mut months_of: HashMap<ShardId, BTreeSet<LocalMonth>> = HashMap::new();
        for shard in self.shards.values_mut() {
            shard.open_days_without_events();
        }
        for (id, shard) in &self.shards {
            let close: BTreeSet<NaiveDate> = shard.days_to_close().into_iter().collect();
            // The months something becomes final in: of closing days, and those to finalise.
            let mut months: BTreeSet<LocalMonth> = close.iter().map(|d| LocalDay::from_date(*d).month()).collect();
            // Only events move the progress, so only a shard with new events has months to
            // finalise (a scan of its published values, spared for the others).
            if !shard.dirty.is_empty() {
                months.extend(shard.months_to_finalize());
            }
            if pace == Pace::CatchingUp && months.is_empty() && shard.restated_days.is_empty() {
                // Its new events only change values not final yet: they wait, dirty, for the
                // next computation that is live or makes something of this shard final.
                continue;
            }
            months.extend(shard.dirty.iter().map(|d| LocalDay::from_date(*d).month()));
            if catalogue::compares_with_last_year(id.0) {
                let days = shard.closed_days();
                let has_days_in = |m: LocalMonth| {
                    let (first, last) = (m.first_day().date(), m.last_day().date());
                    days.range(first..=last).next().is_some() || shard.open.range(first..=last).next().is_some()
                };
                months.extend(
                    shard.restated_months().into_iter().map(|m| m.same_month_next_year()).filter(|m| has_days_in(*m)),
                );
            }
            months.extend(shard.later_months_of_restated_years());
            if !shard.dirty.is_empty() || !months.is_empty() {
                active.insert(*id);
                months_of.insert(*id, months);
            }
            if !close.is_empty() {
                closing.insert(*id, close);
            }
        }
        if active.is_empty() {
            return None;
        }
        self.register_units_read_again(&active, &months_of);

        // Days to recompute: those with new events and those closing. A topic with a stock KPI
        // recomputes all its open days, since a level depends on the days before.
        let mut recompute: HashMap<ShardId, BTreeSet<NaiveDate>> = HashMap::new();
        for id in &active {
            let shard = &self.shards[id];
            let days: BTreeSet<NaiveDate> = if catalogue::has_stock_kpi(id.0) {
                shard.open.keys().copied().collect()
            } else {
                shard.dirty.iter().chain(closing.get(id).into_iter().flatten()).copied().collect()
            };
            recompute.insert(*id, days);
        }
        Some(Plan { active, closing, months_of, recompute })
    }

    /// The daily partials of the days to recompute, per shard: each topic's table, then all
    /// their queries; closing days' values as closed; stock levels carried into days without
    /// their unit's events.
    async fn compute_days(&mut self, plan: &Plan) -> anyhow::Result<HashMap<ShardId, Vec<Partial>>> {
        let mut queries: Vec<Query> = Vec::new();
        for topic in Topic::INPUTS {
            let days: Vec<tables::DayEvents> = plan
                .active
                .iter()
                .filter(|(t, _)| *t == topic)
                .flat_map(|id| {
                    let days = &plan.recompute[id];
                    self.shards[id]
                        .open
                        .iter()
                        .filter(|(day, events)| days.contains(day) && !events.is_empty())
                        .map(|(day, events)| (*day, events.as_slice()))
                })
                .collect();
            if days.is_empty() {
                continue;
            }
            let partitions = self.partitions();
            self.register_parts(tables::table_name(topic), tables::batches(topic, &days, partitions)?)?;
            for kpi in catalogue::daily_kpis_of(topic) {
                queries.push(Query::of(kpi.id, self.render(sql_of(kpi.id)?, &[])));
            }
        }
        let openings = latest_final_levels(plan.active.iter().map(|id| &self.shards[id]));
        self.register("closed_latest", closed_latest_table(&openings)?)?;
        let mut daily: HashMap<ShardId, Vec<Partial>> = HashMap::new();
        for p in self.run_together(&queries).await? {
            let shard = self.shard_of(source_of(p.kpi)?, &p.unit_id)?;
            // A closing day's values are final from here on, its month's sums included.
            let closes =
                matches!(p.period, Period::Day(day) if plan.closing.get(&shard).is_some_and(|c| c.contains(&day)));
            daily.entry(shard).or_default().push(if closes { p.as_closed() } else { p });
        }
        // A unit's stock level carries into the days without its events.
        for id in plan.active.iter().filter(|id| catalogue::has_stock_kpi(id.0)) {
            let own = daily.get(id).map(Vec::as_slice).unwrap_or_default();
            let carried = stocks::carried(self.shards[id].levels.values(), &plan.recompute[id], own);
            daily.entry(*id).or_default().extend(carried);
        }
        Ok(daily)
    }

    /// The monthly partials of the months to recompute, per shard, from their closed days (a
    /// current month's folded to date), this computation's daily partials and the open days'
    /// last published ones.
    async fn compute_months(
        &mut self,
        plan: &Plan,
        daily: &HashMap<ShardId, Vec<Partial>>,
    ) -> anyhow::Result<HashMap<ShardId, Vec<Partial>>> {
        // A touched current month's closed days come folded, as its month to date (made now
        // where a restart, a new month or a reopened day left none); other months' closed days
        // and last year's months come day by day.
        let missing: BTreeMap<(ShardId, LocalMonth), Vec<NaiveDate>> = plan
            .active
            .iter()
            .flat_map(|id| {
                let shard = &self.shards[id];
                let current = shard.current_months();
                plan.months_of[id]
                    .iter()
                    .filter(move |m| current.contains(m) && !shard.month_to_date.contains_key(m))
                    .map(move |m| ((*id, *m), Vec::new()))
            })
            .collect();
        self.fold_months_to_date(missing).await?;
        let (rows, current_days) = self.monthly_inputs(plan, daily);
        let all_months: BTreeSet<LocalMonth> = plan.months_of.values().flatten().copied().collect();
        if rows.is_empty() || all_months.is_empty() {
            return Ok(HashMap::new());
        }
        self.register("daily", daily_table(&rows, &current_days)?)?;
        self.run_monthly_queries(plan, &all_months).await
    }

    /// The daily partials the months to recompute are made of, and where each shard's rows end
    /// with the data's current day (its progress's local day): what a month not final yet is
    /// compared with last year through.
    fn monthly_inputs<'s>(
        &'s self,
        plan: &Plan,
        daily: &'s HashMap<ShardId, Vec<Partial>>,
    ) -> (Vec<&'s Partial>, Vec<(usize, Option<LocalDay>)>) {
        let mut rows: Vec<&Partial> = Vec::new();
        let mut current_days: Vec<(usize, Option<LocalDay>)> = Vec::new();
        for id in &plan.active {
            let shard = &self.shards[id];
            let months = &plan.months_of[id];
            let growth = catalogue::compares_with_last_year(id.0);
            let last_years: BTreeSet<LocalMonth> = if growth {
                months.iter().map(|m| m.same_month_last_year()).filter(|m| !months.contains(m)).collect()
            } else {
                BTreeSet::new()
            };
            for m in months {
                // A month another month compares with goes day by day: the comparison reads
                // its days up to a day of the month.
                let compared = growth && months.contains(&m.same_month_next_year());
                match shard.month_to_date.get(m) {
                    Some(so_far) if !compared => rows.extend(so_far),
                    _ => rows.extend(closed_in(shard, *m)),
                }
            }
            for m in &last_years {
                rows.extend(closed_in(shard, *m));
            }
            rows.extend(daily.get(id).into_iter().flatten());
            // Open days not recomputed: their last published partials are still current.
            let recomputed = &plan.recompute[id];
            rows.extend(shard.emitted.values().filter(|p| match p.period {
                Period::Day(day) => !recomputed.contains(&day) && shard.open.contains_key(&day),
                Period::Month { .. } => false,
            }));
            current_days.push((rows.len(), shard.current_day()));
        }
        (rows, current_days)
    }

    /// Runs the monthly SQL over the registered `daily` table: sums, stock levels and the
    /// monthly KPIs, each shard keeping only its own months' results.
    async fn run_monthly_queries(
        &self,
        plan: &Plan,
        all_months: &BTreeSet<LocalMonth>,
    ) -> anyhow::Result<HashMap<ShardId, Vec<Partial>>> {
        let month_list = sql_list(all_months);
        let month_rows = all_months.iter().map(|m| format!("('{m}', {})", m.year)).collect::<Vec<_>>().join(", ");
        let sum_sql =
            self.render(MONTHLY_SUM_SQL, &[("{months}", &month_list), ("{additive_kpis}", &daily_kpi_list(false))]);
        let last_sql =
            self.render(MONTHLY_LAST_SQL, &[("{months}", &month_list), ("{stock_kpis}", &daily_kpi_list(true))]);
        let persons = plan.active.iter().filter(|id| catalogue::accumulates_over_the_year(id.0));
        let persons = persons::table(persons.map(|id| &self.shards[id].persons), &PersonsListed::year_to(all_months))?;
        self.register("persons_via_1177", persons)?;
        let mut queries = vec![Query::of_several("monthly", sum_sql), Query::of_several("monthly stock", last_sql)];
        for kpi in CATALOGUE.iter().filter(|k| matches!(k.stage, Stage::Monthly { .. })) {
            let sql = self.render(sql_of(kpi.id)?, &[("{months}", &month_list), ("{month_rows}", &month_rows)]);
            queries.push(Query::of(kpi.id, sql));
        }
        let mut monthly: HashMap<ShardId, Vec<Partial>> = HashMap::new();
        for p in self.run_together(&queries).await? {
            let shard = self.shard_of(source_of(p.kpi)?, &p.unit_id)?;
            // Only the shard's own months: another shard's month may find this shard's days of
            // it partly archived.
            if plan.months_of.get(&shard).is_some_and(|m| m.contains(&p.period.local_month())) {
                monthly.entry(shard).or_default().push(p);
            }
        }
        Ok(monthly)
    }

    /// Closes the days that close, publishes what changed (as the next revision where a final
    /// value is restated), folds the closed days into their months to date and expires what
    /// left the horizon.
    async fn close_and_publish(
        &mut self,
        mut plan: Plan,
        mut daily: HashMap<ShardId, Vec<Partial>>,
        mut monthly: HashMap<ShardId, Vec<Partial>>,
    ) -> anyhow::Result<Changed> {
        let mut publish = Vec::new();
        let mut closed_now: BTreeMap<(ShardId, LocalMonth), Vec<NaiveDate>> = BTreeMap::new();
        let lateness = self.config.lateness();
        for id in plan.active.iter().copied() {
            let shard = self.shards.get_mut(&id).expect("active shard exists");
            let closing = plan.closing.remove(&id).unwrap_or_default();
            let finals = publish_days(shard, closing, daily.remove(&id).unwrap_or_default(), lateness, &mut publish);
            let months = &plan.months_of[&id];
            publish_months(shard, months, monthly.remove(&id).unwrap_or_default(), lateness, &mut publish);
            for day in finals.keys() {
                closed_now.entry((id, LocalDay::from_date(*day).month())).or_default().push(*day);
            }
            shard.close_days(finals);
            shard.dirty.clear();
            shard.restated_days.clear();
        }
        let changed = Changed::new(publish, self.partitions());
        self.fold_months_to_date(closed_now).await?;
        // Only now: a jump of the progress (a live event after a backfill) may expire the very
        // days just closed, which the fold still read.
        for id in &plan.active {
            self.shards.get_mut(id).expect("active shard exists").expire();
        }
        Ok(changed)
    }

    /// Registers the units of what a computation reads from disk rather than from this run's
    /// events: reopened days' events and closed days read day by day (a unit may have had no
    /// event since this instance started), so that their results find their shard.
    fn register_units_read_again(
        &mut self,
        active: &BTreeSet<ShardId>,
        months_of: &HashMap<ShardId, BTreeSet<LocalMonth>>,
    ) {
        let all_months: BTreeSet<LocalMonth> = months_of.values().flatten().copied().collect();
        let mut found: Vec<(ShardId, HsaId)> = Vec::new();
        for id in active {
            let shard = &self.shards[id];
            for day in shard.restated_days.keys() {
                found.extend(shard.open.get(day).into_iter().flatten().map(|e| (*id, *e.unit_id())));
            }
            // Months with a month to date were folded (which registers their units) or hold
            // this run's events; last year's days only give results when their month is
            // computed too.
            let months = &months_of[id];
            let unfolded = months.iter().copied().filter(|m| !shard.month_to_date.contains_key(m));
            let last_years = months.iter().map(|m| m.same_month_last_year()).filter(|m| all_months.contains(m));
            let read: BTreeSet<LocalMonth> = unfolded.chain(last_years).collect();
            let mut seen: BTreeSet<&str> = BTreeSet::new();
            for p in read.into_iter().flat_map(|m| closed_in(shard, m)) {
                if seen.insert(p.unit_id.as_str()) {
                    found.extend(HsaId::parse(&p.unit_id).ok().map(|unit| (*id, unit)));
                }
            }
            // Persons of earlier months count in a year to date.
            for persons in shard.persons.months.values() {
                found.extend(persons.0.keys().filter_map(|u| HsaId::parse(u).ok()).map(|unit| (*id, unit)));
            }
        }
        for ((topic, partition), unit) in found {
            self.units.insert((topic, unit), partition);
        }
    }

    /// Folds closed days into months to date with `month_to_date.sql`. For each shard and
    /// month: its month to date so far and the given days, or, where it has none yet, every
    /// closed day of the month (all must be in memory: the caller restores archived ones).
    async fn fold_months_to_date(
        &mut self,
        folds: BTreeMap<(ShardId, LocalMonth), Vec<NaiveDate>>,
    ) -> anyhow::Result<()> {
        if folds.is_empty() {
            return Ok(());
        }
        let mut rows: Vec<&Partial> = Vec::new();
        for ((id, month), days) in &folds {
            let shard = &self.shards[id];
            let first = rows.len();
            let in_month = |d: &&NaiveDate| LocalDay::from_date(**d).month() == *month;
            match shard.month_to_date.get(month) {
                Some(so_far) => rows.extend(so_far.iter().chain(days.iter().flat_map(|d| &shard.closed[d]))),
                None => {
                    if let Some(day) = shard.archived.iter().find(in_month) {
                        anyhow::bail!("{}/{}: closed day {day} is archived; restore it first", id.0, id.1);
                    }
                    rows.extend(shard.closed.iter().filter(|(d, _)| in_month(d)).flat_map(|(_, p)| p));
                    // Restored days may hold units this instance has had no event of since it
                    // started (a month to date's units were registered when it was folded).
                    for p in &rows[first..] {
                        if let Ok(unit) = HsaId::parse(&p.unit_id) {
                            self.units.insert((id.0, unit), id.1);
                        }
                    }
                }
            }
        }
        let mut folded: BTreeMap<(ShardId, LocalMonth), Vec<Partial>> =
            folds.keys().map(|k| (*k, Vec::new())).collect();
        if !rows.is_empty() {
            let months: BTreeSet<LocalMonth> = folds.keys().map(|(_, m)| *m).collect();
            let sql = self.render(
                MONTH_TO_DATE_SQL,
                &[
                    ("{monthly_sum}", MONTHLY_SUM_SQL),
                    ("{monthly_last}", MONTHLY_LAST_SQL),
                    ("{months}", &sql_list(&months)),
                    ("{additive_kpis}", &daily_kpi_list(false)),
                    ("{stock_kpis}", &daily_kpi_list(true)),
                ],
            );
            self.register("daily", daily_table(&rows, &[])?)?;
            for p in self.run(&Query::of_several("month to date", sql)).await? {
                let id = self.shard_of(source_of(p.kpi)?, &p.unit_id)?;
                folded.entry((id, p.period.local_month())).or_default().push(p);
            }
        }
        for ((id, month), partials) in folded {
            self.shards.get_mut(&id).expect("folded shard exists").month_to_date.insert(month, partials);
        }
        Ok(())
    }

    fn shard_of(&self, topic: Topic, unit: &str) -> anyhow::Result<ShardId> {
        let id = HsaId::parse(unit).map_err(|e| anyhow::anyhow!("KPI result for unit `{unit}`: {e}"))?;
        let partition =
            self.units.get(&(topic, id)).ok_or_else(|| anyhow::anyhow!("unit {unit} has no shard for {topic}"))?;
        Ok((topic, *partition))
    }

    fn render(&self, sql: &str, extra: &[(&str, &str)]) -> String {
        // A unit's production: without other regions' residents' out-of-county contacts.
        let production = if self.config.count_out_of_county_visits {
            "visits"
        } else {
            "(SELECT * FROM visits WHERE ooc_provider IS NULL) AS visits"
        };
        let mut sql = sql
            .replace("{count_abandoned}", if self.config.count_abandoned_calls { "TRUE" } else { "FALSE" })
            .replace("{production_visits}", production);
        for (placeholder, value) in extra {
            sql = sql.replace(placeholder, value);
        }
        sql
    }

    /// The partitions queries run in: the threads they use.
    fn partitions(&self) -> usize {
        self.ctx.copied_config().target_partitions()
    }

    fn register(&self, name: &str, batch: RecordBatch) -> anyhow::Result<()> {
        self.register_parts(name, vec![batch])
    }

    /// Registers `parts` (batches of one schema) as table `name`, in slices spread over the
    /// session's partitions: one large batch would be scanned and pre-aggregated by one thread.
    fn register_parts(&self, name: &str, parts: Vec<RecordBatch>) -> anyhow::Result<()> {
        self.ctx.deregister_table(name)?;
        let Some(schema) = parts.first().map(|b| b.schema()) else { anyhow::bail!("table {name} has no batches") };
        let partitions = self.partitions();
        let mut slices: Vec<Vec<RecordBatch>> = vec![Vec::new(); partitions];
        let mut next = 0;
        for batch in parts {
            let rows = batch.num_rows();
            for offset in (0..rows).step_by(SCAN_SLICE_ROWS) {
                slices[next % partitions].push(batch.slice(offset, SCAN_SLICE_ROWS.min(rows - offset)));
                next += 1;
            }
        }
        self.ctx.register_table(name, Arc::new(MemTable::try_new(schema, slices)?))?;
        Ok(())
    }

    /// Runs `(name, sql)` queries at once, their results in the order given: one query is
    /// planned while the others execute, so small queries do not leave cores idle in turn.
    async fn run_together(&self, queries: &[Query]) -> anyhow::Result<Vec<Partial>> {
        let results = futures::future::try_join_all(queries.iter().map(|query| self.run(query))).await?;
        Ok(results.into_iter().flatten().collect())
    }

    async fn run(&self, query: &Query) -> anyhow::Result<Vec<Partial>> {
        let name = query.name;
        let batches = self
            .ctx
            .sql(&query.sql)
            .await
            .map_err(|e| anyhow::anyhow!("planning {name}: {e}"))?
            .collect()
            .await
            .map_err(|e| anyhow::anyhow!("running {name}: {e}"))?;
        partial::from_batches(name, query.kpi, &batches)
    }
}

/// A catalogue query: one KPI's, or one of several KPIs whose rows name their KPI.
struct Query {
    name: &'static str,
    kpi: Option<KpiId>,
    sql: String,
}

impl Query {
    fn of(kpi: KpiId, sql: String) -> Query {
        Query { name: kpi.as_str(), kpi: Some(kpi), sql }
    }

    fn of_several(name: &'static str, sql: String) -> Query {
        Query { name, kpi: None, sql }
    }
}

/// The daily KPIs that are stocks (or, with `false`, additive), as a SQL list.
fn daily_kpi_list(stock: bool) -> String {
    CATALOGUE
        .iter()
        .filter(|k| matches!(k.stage, Stage::Daily { .. }) && (k.measure == Measure::Stock) == stock)
        .map(|k| format!("'{}'", k.id))
        .collect::<Vec<_>>()
        .join(", ")
}

fn sql_list(months: &BTreeSet<LocalMonth>) -> String {
    months.iter().map(|m| format!("'{m}'")).collect::<Vec<_>>().join(", ")
}

/// A computed KPI's SQL; a catalogue entry without one is a bug.
fn sql_of(id: KpiId) -> anyhow::Result<&'static str> {
    catalogue::sql_of(id).ok_or_else(|| anyhow::anyhow!("KPI {id} has no SQL in the aggregator's catalogue"))
}

fn source_of(kpi: KpiId) -> anyhow::Result<Topic> {
    match kpi.definition().stage {
        Stage::Daily { source } | Stage::Monthly { source, .. } => Ok(source),
        Stage::Derived => anyhow::bail!("KPI {kpi} has no source topic"),
    }
}

/// When a partial's period became final: the instant its final records are stamped with, the
/// same in every run.
fn closes_at(p: &Partial, lateness: chrono::Duration) -> DateTime<Utc> {
    let last_day = match p.period {
        Period::Day(d) => LocalDay::from_date(d),
        Period::Month { .. } => p.period.local_month().last_day(),
    };
    Shard::closes_at(last_day, lateness)
}

/// A shard's daily partials: those of open days published where they changed, those of the
/// `closing` days made final (as the next revision where a final value is restated). The
/// closing days' final values, for the shard to keep.
fn publish_days(
    shard: &mut Shard,
    closing: BTreeSet<NaiveDate>,
    daily: Vec<Partial>,
    lateness: chrono::Duration,
    publish: &mut Vec<ToPublish>,
) -> BTreeMap<NaiveDate, Vec<Partial>> {
    let as_of = shard.watermark.unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
    let mut finals: BTreeMap<NaiveDate, Vec<Partial>> = closing.iter().map(|d| (*d, Vec::new())).collect();
    for p in daily {
        let Period::Day(day) = p.period else { continue };
        match finals.get_mut(&day) {
            Some(day_finals) => {
                shard.emitted.remove(&p);
                day_finals.push(p);
            }
            None => {
                if let Some(p) = shard.emitted.publish(p) {
                    publish.push(ToPublish { partial: p.clone(), is_final: false, as_of });
                }
            }
        }
    }
    for (day, new) in finals.iter_mut() {
        let old = shard.restated_days.remove(day);
        let changed = restate(old.as_deref(), new);
        publish.extend(changed.into_iter().map(|p| ToPublish {
            as_of: closes_at(&p, lateness),
            partial: p,
            is_final: true,
        }));
    }
    finals
}

/// A shard's monthly partials of its recomputed `months`: published where they changed, or
/// made final (as the next revision where restated) once their month is.
fn publish_months(
    shard: &mut Shard,
    months: &BTreeSet<LocalMonth>,
    monthly: Vec<Partial>,
    lateness: chrono::Duration,
    publish: &mut Vec<ToPublish>,
) {
    let as_of = shard.watermark.unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
    let mut month_finals: BTreeMap<LocalMonth, Vec<Partial>> = BTreeMap::new();
    for p in monthly {
        let m = p.period.local_month();
        if shard.is_final(m.last_day()) {
            shard.emitted.remove(&p);
            month_finals.entry(m).or_default().push(p.as_closed());
        } else if let Some(p) = shard.emitted.publish(p) {
            publish.push(ToPublish { partial: p.clone(), is_final: false, as_of });
        }
    }
    // A month computed final leaves no value behind as not final (one its SQL no longer gives
    // would otherwise be finalised again in every batch).
    let finalised: BTreeSet<LocalMonth> = months.iter().filter(|m| shard.is_final(m.last_day())).copied().collect();
    if !finalised.is_empty() {
        let stale: Vec<Partial> = shard
            .emitted
            .values()
            .filter(|p| matches!(p.period, Period::Month { .. }) && finalised.contains(&p.period.local_month()))
            .cloned()
            .collect();
        for p in &stale {
            shard.emitted.remove(p);
        }
    }
    for (m, mut new) in month_finals {
        let changed = restate(shard.month_finals.get(&m).map(Vec::as_slice), &mut new);
        publish.extend(changed.into_iter().map(|p| ToPublish {
            as_of: closes_at(&p, lateness),
            partial: p,
            is_final: true,
        }));
        shard.month_finals.insert(m, new);
        shard.month_finals_changed.insert(m);
    }
}

/// The final values of one period to publish, given those published for it before (`old`,
/// `None` when it was never final): each value that is new or whose figures changed, as the next
/// revision of the old one, and, for each old value the period no longer has, a zero (its
/// events were corrected away). `new` takes the revisions, as the period's finals to keep.
fn restate(old: Option<&[Partial]>, new: &mut [Partial]) -> Vec<Partial> {
    let Some(old) = old else { return new.to_vec() };
    // A day of a national partition has tens of thousands of values: looked up by identity.
    let key = |p: &Partial| (p.kpi, p.unit_id.clone(), p.dimensions.clone(), p.period);
    let before: HashMap<_, &Partial> = old.iter().map(|o| (key(o), o)).collect();
    let mut changed = Vec::new();
    for p in new.iter_mut() {
        match before.get(&key(p)) {
            Some(o) if o.same_figures(p) => p.revision = o.revision,
            Some(o) => {
                p.revision = o.revision + 1;
                changed.push(p.clone());
            }
            None => changed.push(p.clone()),
        }
    }
    let after: std::collections::HashSet<_> = new.iter().map(key).collect();
    for o in old.iter().filter(|o| !after.contains(&key(o))) {
        changed.push(Partial {
            numerator: rust_decimal::Decimal::ZERO,
            denominator: o.denominator.map(|_| rust_decimal::Decimal::ZERO),
            pending: None,
            cases: o.cases.map(|_| 0),
            revision: o.revision + 1,
            ..o.clone()
        });
    }
    changed
}

/// A shard's closed days of month `m` in memory, day by day.
fn closed_in(shard: &Shard, m: LocalMonth) -> impl Iterator<Item = &Partial> {
    shard.closed.range(m.first_day().date()..=m.last_day().date()).flat_map(|(_, partials)| partials)
}

/// Refuses an event dated more than `max_future` after it was produced: a mistyped year or a
/// wrong clock, which would otherwise count in a day that has not happened and, with others,
/// close days early. The same for `recorded_at`, which would make its version win for good.
fn not_in_future(
    event: InputEvent,
    produced_at: DateTime<Utc>,
    max_future: chrono::Duration,
) -> Result<InputEvent, Rejection> {
    let times = [("occurred_at", Some(event.occurred_at())), ("recorded_at", event.recorded_at())];
    for (field, at) in times {
        let Some(at) = at.map(|at| at.utc()) else { continue };
        if at > produced_at + max_future {
            return Err(Rejection::new(
                field,
                Rule::OccurredInFuture,
                format!(
                    "{field} {} is more than {} minutes after the message was produced ({})",
                    at.to_rfc3339(),
                    max_future.num_minutes(),
                    produced_at.to_rfc3339()
                ),
            ));
        }
    }
    Ok(event)
}

/// For each stock KPI, unit and breakdown, its value on the latest closed day that has one.
fn latest_final_levels<'a>(shards: impl Iterator<Item = &'a Shard>) -> Vec<&'a Partial> {
    shards.flat_map(|shard| shard.levels.values()).collect()
}

/// Sizes for the string builders of partial tables (capacities only; longer values fit):
/// a KPI id, a breakdown such as `profession=doctor;contact_form=physical`, a month `2026-01`.
const KPI_ID_BYTES: usize = 40;
const DIMENSIONS_BYTES: usize = 48;
const MONTH_BYTES: usize = 7;

/// The `closed_latest` table: the last final value per stock KPI, unit and breakdown, the
/// opening level of the open days.
fn closed_latest_table(rows: &[&Partial]) -> anyhow::Result<RecordBatch> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("kpi", DataType::Utf8, false),
        Field::new("unit_id", DataType::Utf8, false),
        Field::new("dimensions", DataType::Utf8, false),
        Field::new("numerator", DataType::Decimal128(tables::DECIMAL_PRECISION, tables::DECIMAL_SCALE), false),
    ]));
    let n = rows.len();
    let (mut kpi, mut unit, mut dims, mut num) = (
        tables::strings(n, KPI_ID_BYTES),
        tables::strings(n, HsaId::MAX_LEN),
        tables::strings(n, DIMENSIONS_BYTES),
        tables::decimal_builder(n),
    );
    for p in rows {
        kpi.append_value(p.kpi.as_str());
        unit.append_value(&p.unit_id);
        dims.append_value(&p.dimensions);
        num.append_value(tables::scaled(p.numerator));
    }
    let columns: Vec<ArrayRef> =
        vec![Arc::new(kpi.finish()), Arc::new(unit.finish()), Arc::new(dims.finish()), Arc::new(num.finish())];
    Ok(RecordBatch::try_new(schema, columns)?)
}

/// The `daily` table monthly SQL reads: daily partials with their month, the same month next
/// year (which compares with it), and the data's current day of their shard (`current_days`: where each shard's
/// rows end, and its day; null where not given).
fn daily_table(rows: &[&Partial], current_days: &[(usize, Option<LocalDay>)]) -> anyhow::Result<RecordBatch> {
    use DataType::*;
    let money = Decimal128(tables::DECIMAL_PRECISION, tables::DECIMAL_SCALE);
    let schema = Arc::new(Schema::new(vec![
        Field::new("kpi", Utf8, false),
        Field::new("unit_id", Utf8, false),
        Field::new("day", Date32, false),
        Field::new("month", Utf8, false),
        Field::new("month_next_year", Utf8, false),
        Field::new("day_of_month", Int64, false),
        Field::new("current_day", Date32, true),
        Field::new("dimensions", Utf8, false),
        Field::new("numerator", money.clone(), false),
        Field::new("denominator", money, true),
        Field::new("pending", Int64, true),
        Field::new("last_event_at", Int64, true),
        Field::new("cases", Int64, true),
    ]));
    let n = rows.len();
    let (mut kpi, mut unit, mut day, mut month, mut next_year, mut dom, mut dims) = (
        tables::strings(n, KPI_ID_BYTES),
        tables::strings(n, HsaId::MAX_LEN),
        Date32Builder::with_capacity(n),
        tables::strings(n, MONTH_BYTES),
        tables::strings(n, MONTH_BYTES),
        Int64Builder::with_capacity(n),
        tables::strings(n, DIMENSIONS_BYTES),
    );
    let mut current = Date32Builder::with_capacity(n);
    let mut spans = current_days.iter().peekable();
    let (mut num, mut den, mut pending) =
        (tables::decimal_builder(n), tables::decimal_builder(n), Int64Builder::with_capacity(n));
    let (mut last, mut cases) = (Int64Builder::with_capacity(n), Int64Builder::with_capacity(n));
    // Rows come a day at a time: the day's calendar columns are formatted once per run of it.
    let mut calendar: Option<(NaiveDate, i32, String, String)> = None;
    for (i, p) in rows.iter().enumerate() {
        while spans.next_if(|(end, _)| *end <= i).is_some() {}
        let Period::Day(d) = p.period else { continue };
        current.append_option(spans.peek().and_then(|(_, d)| *d).map(tables::date32));
        let (_, date32, this_month, month_next_year) = match &calendar {
            Some(c) if c.0 == d => c,
            _ => {
                let local = LocalDay::from_date(d);
                let m = local.month();
                calendar.insert((d, tables::date32(local), m.to_string(), m.same_month_next_year().to_string()))
            }
        };
        kpi.append_value(p.kpi.as_str());
        unit.append_value(&p.unit_id);
        day.append_value(*date32);
        month.append_value(this_month);
        next_year.append_value(month_next_year);
        dom.append_value(d.day() as i64);
        dims.append_value(&p.dimensions);
        num.append_value(tables::scaled(p.numerator));
        den.append_option(p.denominator.map(tables::scaled));
        pending.append_option(p.pending);
        last.append_option(p.last_event_at);
        cases.append_option(p.cases);
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(kpi.finish()),
        Arc::new(unit.finish()),
        Arc::new(day.finish()),
        Arc::new(month.finish()),
        Arc::new(next_year.finish()),
        Arc::new(dom.finish()),
        Arc::new(current.finish()),
        Arc::new(dims.finish()),
        Arc::new(num.finish()),
        Arc::new(den.finish()),
        Arc::new(pending.finish()),
        Arc::new(last.finish()),
        Arc::new(cases.finish()),
    ];
    Ok(RecordBatch::try_new(schema, columns)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn final_value(kpi: &str, dimensions: &str, numerator: i64, revision: u32) -> Partial {
        Partial {
            kpi: kpi.parse().unwrap(),
            unit_id: "SE2321000180-E00101".into(),
            period: Period::Day("2026-03-29".parse().unwrap()),
            dimensions: dimensions.into(),
            numerator: numerator.into(),
            denominator: Some(10.into()),
            pending: None,
            last_event_at: Some(1),
            cases: None,
            revision,
        }
    }

    #[test]
    fn a_restatement_publishes_changed_new_and_vanished_values_as_the_next_revision() {
        let old = [
            final_value("visits", "", 5, 0),
            final_value("visits", "profession=nurse", 5, 2),
            final_value("assessment_within_3_days", "", 3, 1),
        ];
        let mut new = vec![
            final_value("visits", "", 5, 0),                   // unchanged: not published
            final_value("visits", "profession=doctor", 5, 0),  // new: first revision
            final_value("assessment_within_3_days", "", 4, 0), // changed: revision 1 + 1
        ];
        let published = restate(Some(&old), &mut new);
        let summary: Vec<(&str, &str, i64, u32)> = published
            .iter()
            .map(|p| (p.kpi.as_str(), p.dimensions.as_str(), p.numerator.try_into().unwrap(), p.revision))
            .collect();
        assert_eq!(
            summary,
            [
                ("visits", "profession=doctor", 5, 0),
                ("assessment_within_3_days", "", 4, 2),
                // The nurse visit was corrected away: its value is published as zero.
                ("visits", "profession=nurse", 0, 3),
            ]
        );
        assert_eq!(published[2].denominator, Some(rust_decimal::Decimal::ZERO));
        // The kept finals carry their revisions; restating the same again publishes nothing.
        assert_eq!(new.iter().map(|p| p.revision).collect::<Vec<_>>(), [0, 0, 2]);
        let mut again = new.clone();
        assert!(restate(Some(&new), &mut again).is_empty());
        // Never final before: everything is published, as revision 0.
        assert_eq!(restate(None, &mut new.clone()).len(), 3);
    }
}
