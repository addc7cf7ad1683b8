//! The aggregator's Kafka loop: consume a batch, compute, publish, checkpoint, commit.
//!
//! Order matters for "nothing lost, nothing twice":
//! 1. apply a batch of messages to the shards (dead letters and late events are sent now);
//! 2. compute and send the changed KPI records, and wait until Kafka acknowledged everything
//!    (after a full batch, only where something becomes final: `Pace::CatchingUp`);
//! 3. checkpoint every touched shard with its next offset (atomic per shard), written on another
//!    thread while step 1 of the next batch goes on; step 2 of the next batch waits for it;
//! 4. once it is written, commit those offsets to the consumer group, so standard tooling shows
//!    the lag.
//!
//! A crash anywhere replays from the last checkpoint written: outputs already sent are sent
//! again as the same upserts, and messages already in the state are recognised by offset and
//! skipped. When partitions move (rebalance), the batch is finished and its checkpoint written
//! before they go, and the new owner loads it from the shared state directory. With fixed slots
//! (`crate::assignment`) an instance assigns itself its partitions and they never move while it
//! runs.

use crate::assignment::{Assignment, PartitionLocks};
use crate::config::AggregatorConfig;
use crate::crash_marker::CrashMarker;
use crate::driver::{Checkpointed, Driver};
use crate::engine::{OutcomeCounts, Pace, Routed};
use crate::metrics::AggregatorMetrics;
use anyhow::Context;
use chrono::{DateTime, Utc};
use futures::future::{BoxFuture, FutureExt, join_all};
use rdkafka::client::ClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::types::RDKafkaRespErr;
use rdkafka::{Offset, TopicPartitionList};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use vardpuls_core::Topic;
use vardpuls_kafka::{BrokerCompatibility, EventProducer, KafkaConfig};

type Delivery = BoxFuture<'static, Result<(), KafkaError>>;

/// Records sent to each output topic since the last flush.
#[derive(Debug, Default)]
struct Sent {
    kpi: u64,
    late: u64,
    dead_letters: u64,
}

/// The driver plus what it needs to publish; shared with the rebalance callbacks.
struct Worker {
    driver: Driver,
    producer: EventProducer,
    runtime: tokio::runtime::Runtime,
    metrics: Option<AggregatorMetrics>,
    /// The broker's workarounds, if any (the resume rewind).
    compatibility: BrokerCompatibility,
    deliveries: Vec<Delivery>,
    /// Messages by input topic and outcome since the last flush; added to the metrics per batch
    /// rather than per message (docs/performance.md: a labelled counter lookup per message).
    counts: [OutcomeCounts; Topic::INPUTS.len()],
    /// Records sent since the last flush.
    sent: Sent,
    /// Set when a flush failed (an output not acknowledged, a state write refused). The state
    /// then holds messages whose outputs may be lost, so no later flush (a rebalance, the stop)
    /// may checkpoint it: the next start replays them from the last checkpoint instead.
    flush_failed: bool,
    /// When values not final yet were last all published (a live computation), and how long a
    /// backlog may make them wait.
    live_at: Instant,
    catching_up_publish_interval: Duration,
}

impl Worker {
    fn offer(&mut self, topic: Topic, partition: i32, offset: i64, payload: &[u8], produced_at: Option<DateTime<Utc>>) {
        let routed = self.driver.offer(topic, partition, offset, payload, produced_at);
        let outcome = routed.outcome();
        if let Some(t) = Topic::INPUTS.iter().position(|t| *t == topic) {
            self.counts[t].add(outcome);
        }
        match routed {
            Routed::Late(late) => {
                let payload = serde_json::to_vec(&late).expect("late events serialize");
                self.deliveries.push(self.producer.send(Topic::Late, None, payload).boxed());
                self.sent.late += 1;
            }
            Routed::Invalid(letter) => {
                self.deliveries.push(self.producer.send_dead_letter(&letter).boxed());
                self.sent.dead_letters += 1;
            }
            Routed::Counted | Routed::Duplicate | Routed::AlreadyApplied | Routed::Restating => {}
        }
    }

    /// Steps 2 and 3 of the module doc, the checkpoint written in the background. Returns the
    /// offsets of the checkpoints written meanwhile, to commit.
    /// `behind`: the batch was full, so more messages are waiting.
    fn flush(&mut self, behind: bool) -> anyhow::Result<TopicPartitionList> {
        let pace = match behind && self.live_at.elapsed() < self.catching_up_publish_interval {
            true => Pace::CatchingUp,
            false => Pace::Live,
        };
        self.flush_then(pace, |_| Ok(Checkpointed::default()))
    }

    /// [`Worker::flush`] of everything, then waits until its checkpoint is written (before
    /// partitions go, and at the stop).
    fn flush_and_wait(&mut self) -> anyhow::Result<TopicPartitionList> {
        self.flush_then(Pace::Live, |driver| driver.written())
    }

    fn flush_then(
        &mut self,
        pace: Pace,
        then: impl FnOnce(&mut Driver) -> anyhow::Result<Checkpointed>,
    ) -> anyhow::Result<TopicPartitionList> {
        anyhow::ensure!(!self.flush_failed, "an earlier flush of this run failed; not checkpointing past it");
        let result = self.compute_publish_checkpoint(pace).and_then(|before| Ok(before.and(then(&mut self.driver)?)));
        self.flush_failed = result.is_err();
        self.written_offsets(result?)
    }

    /// The offsets of checkpoints written since the last flush, without waiting: while no
    /// batch comes, the group still learns how far the last one got.
    fn written_so_far(&mut self) -> anyhow::Result<TopicPartitionList> {
        let written = self.driver.written_so_far();
        self.flush_failed |= written.is_err();
        self.written_offsets(written?)
    }

    /// Records written checkpoints in the metrics; their offsets, to commit.
    fn written_offsets(&self, written: Checkpointed) -> anyhow::Result<TopicPartitionList> {
        let Checkpointed { bytes, next_offsets, seconds } = written;
        if let Some(m) = &self.metrics {
            // One observation per checkpoint: a revoke or the stop reports two at once.
            for s in seconds {
                m.checkpoint_seconds.observe(s);
            }
            if bytes > 0 {
                m.checkpoint_bytes.set(bytes as i64);
                m.last_checkpoint_timestamp.set(chrono::Utc::now().timestamp());
            }
        }
        let mut offsets = TopicPartitionList::new();
        for (topic, partition, next_offset) in next_offsets {
            offsets.add_partition_offset(topic.name(), partition, Offset::Offset(next_offset))?;
        }
        Ok(offsets)
    }

    /// Computes, publishes and starts the checkpoint; what was written meanwhile.
    fn compute_publish_checkpoint(&mut self, pace: Pace) -> anyhow::Result<Checkpointed> {
        let started = Instant::now();
        let shards = self.driver.touched();
        let changed = self.runtime.block_on(self.driver.compute_at(pace))?;
        if pace == Pace::Live {
            self.live_at = started;
        }
        let computed = Instant::now();
        let (producer, deliveries) = (&self.producer, &mut self.deliveries);
        changed.for_each(
            |record| (record.key(), serde_json::to_vec(&record).expect("KPI records serialize")),
            |(key, payload)| deliveries.push(producer.send(Topic::Kpi, Some(&key), payload).boxed()),
        );
        self.sent.kpi += changed.len() as u64;
        for result in self.runtime.block_on(join_all(std::mem::take(&mut self.deliveries))) {
            result.context("publishing aggregator output")?;
        }
        let published = Instant::now();
        // The last checkpoint was written before computing (`Driver::compute` waits for it).
        let written = self.driver.written()?;
        self.driver.checkpoint_in_background()?;
        tracing::debug!(
            shards,
            ?pace,
            records = changed.len(),
            compute_ms = computed.duration_since(started).as_millis() as u64,
            publish_ms = published.duration_since(computed).as_millis() as u64,
            plan_ms = published.elapsed().as_millis() as u64,
            "batch done"
        );
        let (counts, sent) = (std::mem::take(&mut self.counts), std::mem::take(&mut self.sent));
        if let Some(m) = &self.metrics {
            for (t, topic) in Topic::INPUTS.iter().enumerate() {
                for (outcome, n) in counts[t].iter() {
                    m.messages.with_label_values(&[topic.short_name(), outcome.as_str()]).inc_by(n);
                }
            }
            for (topic, n) in [(Topic::Kpi, sent.kpi), (Topic::Late, sent.late), (Topic::DeadLetter, sent.dead_letters)]
            {
                if n > 0 {
                    m.published.with_label_values(&[topic.name()]).inc_by(n);
                }
            }
            m.batch_seconds.observe(started.elapsed().as_secs_f64());
            m.shards_waiting.set(self.driver.shards_waiting() as i64);
        }
        Ok(written)
    }

    /// Takes on a partition from its checkpoint; where its consumption resumes: the
    /// checkpoint's next offset (moved back on a broker that serves only whole batches; messages
    /// already in the state are skipped by offset). Without a checkpoint the state is empty, so
    /// the partition is read from its start.
    fn resume(&mut self, topic: Topic, partition: i32) -> anyhow::Result<Offset> {
        Ok(match self.driver.resume(topic, partition)? {
            Some(next_offset) => {
                let rewind = self.compatibility.resume_rewind_messages();
                Offset::Offset(next_offset.saturating_sub(rewind).max(0))
            }
            None => self.compatibility.start_of_partition(),
        })
    }
}

struct RebalanceContext {
    worker: Arc<Mutex<Worker>>,
    /// A failure inside a callback, reported by the loop (callbacks cannot return errors).
    failed: Arc<Mutex<Option<anyhow::Error>>>,
    /// Where librdkafka's periodic statistics report consumer lag.
    lag: Option<prometheus::IntGaugeVec>,
    group: String,
}

impl RebalanceContext {
    fn record(&self, result: anyhow::Result<()>) {
        if let Err(e) = result {
            tracing::error!(error = %e, "rebalance handling failed");
            self.failed.lock().expect("lock").get_or_insert(e);
        }
    }
}

impl ClientContext for RebalanceContext {
    // librdkafka computes lag per assigned partition (high watermark minus position) every
    // `statistics.interval.ms`; -1 means not known yet.
    fn stats(&self, statistics: rdkafka::Statistics) {
        let Some(lag) = &self.lag else { return };
        for (topic, t) in &statistics.topics {
            for (partition, p) in &t.partitions {
                if *partition >= 0 && p.consumer_lag >= 0 {
                    lag.with_label_values(&[self.group.as_str(), topic, &partition.to_string()]).set(p.consumer_lag);
                }
            }
        }
    }
}

impl ConsumerContext for RebalanceContext {
    // Overridden (not pre/post_rebalance) because the assignment's start offsets must come from
    // the checkpoints, which are the source of truth, not from the group's committed offsets.
    fn rebalance(&self, consumer: &BaseConsumer<Self>, err: RDKafkaRespErr, partitions: &mut TopicPartitionList) {
        match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                let mut worker = self.worker.lock().expect("lock");
                let result = worker.flush_and_wait().and_then(|offsets| {
                    for p in partitions.elements() {
                        if let Ok(topic) = p.topic().parse::<Topic>() {
                            worker.driver.release(topic, p.partition())?;
                            tracing::info!(%topic, partition = p.partition(), "partition revoked");
                        }
                    }
                    Ok(offsets)
                });
                drop(worker);
                match result {
                    Ok(offsets) if offsets.count() > 0 => {
                        self.record(consumer.commit(&offsets, CommitMode::Sync).context("committing revoked offsets"))
                    }
                    Ok(_) => {}
                    Err(e) => self.record(Err(e)),
                }
                self.record(consumer.unassign().context("unassigning revoked partitions"));
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                let mut worker = self.worker.lock().expect("lock");
                let mut starts = Vec::new();
                for p in partitions.elements() {
                    if let Ok(topic) = p.topic().parse::<Topic>() {
                        match worker.resume(topic, p.partition()) {
                            Ok(offset) => starts.push((p.topic().to_string(), p.partition(), offset)),
                            Err(e) => self.record(Err(e)),
                        }
                    }
                }
                drop(worker);
                for (topic, partition, offset) in starts {
                    self.record(partitions.set_partition_offset(&topic, partition, offset).map_err(Into::into));
                }
                self.record(consumer.assign(partitions).context("assigning partitions"));
            }
            other => tracing::error!(error = ?other, "consumer group rebalance failed"),
        }
    }
}

/// Runs the aggregator until `stop` is set, then finishes the batch, checkpoints and leaves the
/// group (or releases its fixed slot). Blocking: run it on its own thread.
pub fn run(
    kafka: &KafkaConfig,
    config: AggregatorConfig,
    metrics: Option<AggregatorMetrics>,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<()> {
    config.validate()?;
    let assignment = Assignment::of(&config)?;
    let batching =
        Batching { max_messages: config.max_batch_messages, max_wait: Duration::from_millis(config.max_batch_wait_ms) };
    let group = config.consumer_group.clone();
    let consumer_settings = ConsumerSettings::of(&config);
    let (session_timeout, state_dir) = (Duration::from_millis(config.session_timeout_ms), config.state_dir.clone());
    let catching_up_publish_interval = Duration::from_millis(config.catching_up_publish_interval_ms);
    let worker = Arc::new(Mutex::new(Worker {
        driver: Driver::new(config, Some(state_dir.clone())),
        producer: EventProducer::new(kafka)?,
        runtime: tokio::runtime::Builder::new_current_thread().enable_all().build()?,
        metrics,
        compatibility: kafka.compatibility,
        deliveries: Vec::new(),
        counts: Default::default(),
        sent: Default::default(),
        flush_failed: false,
        live_at: Instant::now(),
        catching_up_publish_interval,
    }));
    let failed = Arc::new(Mutex::new(None));
    let lag = worker.lock().expect("lock").metrics.as_ref().map(|m| m.consumer_lag.clone());
    let context = RebalanceContext { worker: worker.clone(), failed: failed.clone(), lag, group: group.clone() };
    let consumer = consumer_settings.create(kafka, &group, context)?;
    let held = match assignment {
        Assignment::ConsumerGroup => {
            // Only a broker that keeps dead members needs a crashed predecessor waited out.
            let marker = match kafka.compatibility.keeps_dead_group_members() {
                true => Some(CrashMarker::acquire(&state_dir, session_timeout, &stop)?),
                false => None,
            };
            let inputs: Vec<&str> = Topic::INPUTS.iter().map(|t| t.name()).collect();
            consumer.subscribe(&inputs).context("subscribing to input topics")?;
            Held::GroupMembership(marker)
        }
        slot @ Assignment::FixedSlot { .. } => match assign_fixed_slot(&consumer, &worker, slot, &state_dir, &stop)? {
            Some(locks) => Held::PartitionLocks(locks),
            None => return Ok(()), // stopped while waiting for a partition
        },
    };
    tracing::info!(group, %assignment, "aggregator consuming");
    consume_until_stopped(&consumer, &worker, &failed, batching, &stop)?;
    let offsets = worker.lock().expect("lock").flush_and_wait()?;
    commit(&consumer, &offsets);
    match held {
        Held::GroupMembership(marker) => {
            consumer.unsubscribe();
            if let Some(marker) = marker {
                marker.release();
            }
        }
        Held::PartitionLocks(locks) => drop(locks),
    }
    Ok(())
}

/// When a batch is processed: after `max_messages`, or `max_wait` after its first message.
#[derive(Debug, Clone, Copy)]
struct Batching {
    max_messages: usize,
    max_wait: Duration,
}

/// The consumer's group settings, from the aggregator's configuration.
struct ConsumerSettings {
    session_timeout_ms: String,
    heartbeat_interval_ms: String,
    statistics_interval_ms: String,
}

impl ConsumerSettings {
    fn of(config: &AggregatorConfig) -> ConsumerSettings {
        ConsumerSettings {
            session_timeout_ms: config.session_timeout_ms.to_string(),
            // A sixth of the session: several heartbeats may be lost before the member is.
            heartbeat_interval_ms: (config.session_timeout_ms / 6).max(100).to_string(),
            statistics_interval_ms: config.lag_statistics_interval_ms.to_string(),
        }
    }

    fn create(
        &self,
        kafka: &KafkaConfig,
        group: &str,
        context: RebalanceContext,
    ) -> anyhow::Result<BaseConsumer<RebalanceContext>> {
        kafka
            .consumer_config()
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            // Round-robin over all input topics' partitions: range would give the first
            // instances a partition more of every topic whenever the count does not divide
            // (docs/aggregator.md, "Rebalances and several instances").
            .set("partition.assignment.strategy", "roundrobin")
            .set("session.timeout.ms", &self.session_timeout_ms)
            .set("heartbeat.interval.ms", &self.heartbeat_interval_ms)
            .set("statistics.interval.ms", &self.statistics_interval_ms)
            .create_with_context(context)
            .context("creating aggregator consumer")
    }
}

/// Polls messages into the worker and flushes each batch until `stop` is set (the last batch
/// is the caller's to flush).
fn consume_until_stopped(
    consumer: &BaseConsumer<RebalanceContext>,
    worker: &Mutex<Worker>,
    failed: &Mutex<Option<anyhow::Error>>,
    batching: Batching,
    stop: &AtomicBool,
) -> anyhow::Result<()> {
    let mut in_batch = 0usize;
    let mut batch_started = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        // Past its window, a batch still takes what is already fetched (a backlog) without
        // waiting for more: batches grow to `max_messages` while catching up, where each
        // recomputation of the open days then serves more messages, and stay short when
        // messages trickle in.
        let window_passed = in_batch > 0 && batch_started.elapsed() >= batching.max_wait;
        let timeout = if window_passed { Duration::ZERO } else { Duration::from_millis(100) };
        let mut received = false;
        match consumer.poll(timeout) {
            None => {}
            Some(Err(e)) => tracing::warn!(error = %e, "Kafka consumer error"),
            Some(Ok(message)) => {
                received = true;
                let topic: Topic = message.topic().parse().map_err(|e: String| anyhow::anyhow!(e))?;
                if in_batch == 0 {
                    batch_started = Instant::now();
                }
                in_batch += 1;
                let payload = message.payload().unwrap_or_default();
                // The record's timestamp: when it was produced (CreateTime), which a replay reads
                // again, so the future-date rule refuses the same events in every run.
                let produced_at = message.timestamp().to_millis().and_then(DateTime::from_timestamp_millis);
                worker.lock().expect("lock").offer(topic, message.partition(), message.offset(), payload, produced_at);
            }
        }
        if let Some(e) = failed.lock().expect("lock").take() {
            return Err(e);
        }
        let window_passed = in_batch > 0 && batch_started.elapsed() >= batching.max_wait;
        if in_batch >= batching.max_messages || (window_passed && !received) {
            let offsets = worker.lock().expect("lock").flush(in_batch >= batching.max_messages)?;
            commit(consumer, &offsets);
            in_batch = 0;
        } else if in_batch == 0 && !received {
            let mut worker = worker.lock().expect("lock");
            // Caught up after a full batch: what waited is published now.
            let offsets = match worker.driver.waiting() {
                true => worker.flush(false)?,
                false => worker.written_so_far()?,
            };
            commit(consumer, &offsets);
        }
    }
    Ok(())
}

/// What an instance holds while it consumes, given up on a clean stop.
enum Held {
    /// Membership of the consumer group; with the mark of a running instance on brokers that
    /// keep dead members ([`CrashMarker`]).
    GroupMembership(Option<CrashMarker>),
    PartitionLocks(PartitionLocks),
}

/// Fixed slots: locks this instance's partitions, loads their checkpoints and assigns them from
/// the checkpointed offsets. `None` if `stop` was set while waiting.
fn assign_fixed_slot(
    consumer: &BaseConsumer<RebalanceContext>,
    worker: &Mutex<Worker>,
    slot: Assignment,
    state_dir: &Path,
    stop: &AtomicBool,
) -> anyhow::Result<Option<PartitionLocks>> {
    let mut owned = Vec::new();
    for topic in Topic::INPUTS {
        let Some(partitions) = partition_count(consumer, topic, stop)? else { return Ok(None) };
        owned.extend((0..partitions).filter(|p| slot.owns(*p)).map(|p| (topic, p)));
    }
    let Some(locks) = PartitionLocks::acquire(state_dir, &owned, stop)? else { return Ok(None) };
    let mut list = TopicPartitionList::new();
    let mut worker = worker.lock().expect("lock");
    for (topic, partition) in owned {
        let offset = worker.resume(topic, partition)?;
        list.add_partition_offset(topic.name(), partition, offset)?;
    }
    consumer.assign(&list).context("assigning partitions")?;
    Ok(Some(locks))
}

/// The partition count of an input topic, waiting until it exists. Partitions added later are
/// picked up at the next start.
fn partition_count(
    consumer: &BaseConsumer<RebalanceContext>,
    topic: Topic,
    stop: &AtomicBool,
) -> anyhow::Result<Option<i32>> {
    loop {
        let metadata =
            consumer.fetch_metadata(Some(topic.name()), Duration::from_secs(10)).context("fetching topic metadata")?;
        let partitions: usize =
            metadata.topics().iter().filter(|t| t.error().is_none()).map(|t| t.partitions().len()).sum();
        if partitions > 0 {
            return Ok(Some(i32::try_from(partitions)?));
        }
        if stop.load(Ordering::Relaxed) {
            return Ok(None);
        }
        tracing::warn!(%topic, "input topic has no partitions yet; waiting");
        std::thread::sleep(Duration::from_secs(1));
    }
}

fn commit(consumer: &BaseConsumer<RebalanceContext>, offsets: &TopicPartitionList) {
    if offsets.count() == 0 {
        return;
    }
    // The checkpoint, not the group offset, is the source of truth; a failed commit only delays
    // what lag tooling shows, so it is logged and not fatal.
    if let Err(e) = consumer.commit(offsets, CommitMode::Async) {
        tracing::warn!(error = %e, "committing offsets");
    }
}
