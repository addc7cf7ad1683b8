//! The aggregator through a real broker: a run that is killed with SIGKILL mid-stream and
//! restarted publishes exactly the KPIs of an uninterrupted run; invalid messages reach the
//! DLQ with their Kafka position, late ones the late topic, and duplicates count once.

use crate::scenario::{Message, stream};
use crate::support::{KillOnDrop as Running, TestKafka, produce, tempdir};
use rust_decimal::Decimal;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use vardpuls_aggregator::metrics::AggregatorMetrics;
use vardpuls_aggregator::{AggregatorConfig, checkpoint};
use vardpuls_core::Topic;
use vardpuls_core::dlq::Source;
use vardpuls_kafka::partition_of;

/// The next offset of every input partition that has messages.
pub fn end_offsets(kafka: &TestKafka) -> BTreeMap<(Topic, i32), i64> {
    let mut ends = BTreeMap::new();
    for topic in Topic::INPUTS {
        for r in kafka.read(topic) {
            let end = ends.entry((topic, r.partition)).or_insert(0);
            *end = (*end).max(r.offset + 1);
        }
    }
    ends
}

/// Waits until every shard's checkpoint has reached its partition's end with no values waiting
/// (`Pace::CatchingUp`): everything consumed, published and checkpointed. Polls the checkpoint
/// files, the aggregator's own record of progress.
pub fn wait_until_caught_up(state_dir: &Path, ends: &BTreeMap<(Topic, i32), i64>, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    loop {
        let behind: Vec<_> = ends
            .iter()
            .filter(|((topic, partition), end)| {
                checkpoint::load(state_dir, *topic, *partition)
                    .ok()
                    .flatten()
                    .is_none_or(|shard| shard.next_offset < **end || !shard.dirty.is_empty())
            })
            .collect();
        if behind.is_empty() {
            return;
        }
        assert!(Instant::now() < deadline, "aggregator did not catch up; behind: {behind:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The compacted view of `vardpuls.kpi.v1`: the latest record per key.
pub fn latest_kpis(kafka: &TestKafka) -> BTreeMap<String, serde_json::Value> {
    kafka
        .read(Topic::Kpi)
        .into_iter()
        .map(|r| (String::from_utf8(r.key.unwrap()).unwrap(), serde_json::from_slice(&r.payload).unwrap()))
        .collect()
}

/// A published value of nothing: numerator zero, no denominator or a zero one, nothing pending.
fn is_zero(record: &serde_json::Value) -> bool {
    let zero = |v: &serde_json::Value| v.as_str().is_some_and(|s| s.parse::<Decimal>().is_ok_and(|d| d.is_zero()));
    zero(&record["numerator"])
        && (record["denominator"].is_null() || zero(&record["denominator"]))
        && record["live"]["pending"].as_u64().unwrap_or(0) == 0
}

fn config(state_dir: &Path) -> AggregatorConfig {
    AggregatorConfig {
        state_dir: state_dir.to_path_buf(),
        allowed_lateness_hours: 12,
        max_batch_messages: 100,
        max_batch_wait_ms: 50,
        ..AggregatorConfig::default()
    }
}

/// Starts the binary with batches of 100 messages (small batches mean many checkpoints).
fn spawn_aggregator(kafka: &TestKafka, state_dir: &Path) -> Running {
    spawn_aggregator_with(kafka, state_dir, 100, &[])
}

/// Starts the binary with batches of `batch` messages and extra environment variables.
pub fn spawn_aggregator_with(kafka: &TestKafka, state_dir: &Path, batch: usize, env: &[(&str, String)]) -> Running {
    let child = Command::new(crate::support::vardpuls_binary())
        .args(["run", "--target", "aggregator"])
        .envs(env.iter().map(|(k, v)| (k, v)))
        .envs(kafka.client_env())
        .env("VARDPULS_AGGREGATOR_STATE_DIR", state_dir)
        .env("VARDPULS_AGGREGATOR_ALLOWED_LATENESS_HOURS", "12")
        .env("VARDPULS_AGGREGATOR_MAX_BATCH_MESSAGES", batch.to_string())
        .env("VARDPULS_INGEST_LISTEN", "127.0.0.1:0")
        .env("RUST_LOG", std::env::var("VARDPULS_TEST_LOG").unwrap_or("warn".into()))
        .stdout(Stdio::null())
        .spawn()
        .expect("starting vardpuls");
    Running(child)
}

/// The same keys with the same values (naming a few keys that differ). `revision` is left
/// out: it counts how often a run republished a final value, which depends on when late events
/// arrived relative to its batches, not on the set of events.
///
/// A key one run published as zero and the other never published are the same figure: a value
/// whose events were all corrected away is republished as zero, but only if it had been
/// published before the correction came, which depends on batch boundaries.
pub fn assert_same_kpis(actual: &BTreeMap<String, serde_json::Value>, expected: &BTreeMap<String, serde_json::Value>) {
    let unmatched = |this: &BTreeMap<String, serde_json::Value>, other: &BTreeMap<String, serde_json::Value>| {
        this.iter().filter(|(k, v)| !other.contains_key(*k) && !is_zero(v)).map(|(k, _)| k.clone()).take(5).collect()
    };
    let (missing, extra): (Vec<String>, Vec<String>) = (unmatched(expected, actual), unmatched(actual, expected));
    assert!(missing.is_empty() && extra.is_empty(), "missing {missing:?}, extra {extra:?}");
    let without_revision = |v: &serde_json::Value| {
        let mut v = v.clone();
        v.as_object_mut().map(|o| o.remove("revision"));
        v
    };
    for (key, value) in expected.iter().filter(|(k, _)| actual.contains_key(*k)) {
        assert_eq!(without_revision(&actual[key]), without_revision(value), "{key}");
    }
}

/// The KPIs one uninterrupted in-process aggregator publishes for `messages`.
async fn reference_run(messages: &[Message]) -> BTreeMap<String, serde_json::Value> {
    reference_run_on(&TestKafka::start().await, messages).await
}

async fn reference_run_on(kafka: &TestKafka, messages: &[Message]) -> BTreeMap<String, serde_json::Value> {
    run_in_batches_of(kafka, messages, 100).await
}

/// Produces `messages`, runs one aggregator in this process with batches of up to `batch`
/// messages until it has consumed them all, and returns the compacted KPI topic.
pub async fn run_in_batches_of(
    kafka: &TestKafka,
    messages: &[Message],
    batch: usize,
) -> BTreeMap<String, serde_json::Value> {
    produce(kafka, messages).await;
    let ends = end_offsets(kafka);
    let state = tempdir();
    let instance = Instance::start_with(kafka, AggregatorConfig { max_batch_messages: batch, ..config(&state) }, None);
    wait_until_caught_up(&state, &ends, Duration::from_secs(600));
    instance.stop();
    let expected = latest_kpis(kafka);
    assert!(expected.len() > 100, "the scenario should produce many KPI values, got {}", expected.len());
    expected
}

/// An aggregator running in this process on its own thread.
struct Instance {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<anyhow::Result<()>>,
}

impl Instance {
    fn start(kafka: &TestKafka, state: &Path, metrics: Option<AggregatorMetrics>) -> Instance {
        Instance::start_with(kafka, config(state), metrics)
    }

    fn start_with(kafka: &TestKafka, config: AggregatorConfig, metrics: Option<AggregatorMetrics>) -> Instance {
        let stop = Arc::new(AtomicBool::new(false));
        let (kafka, flag) = (kafka.config.clone(), stop.clone());
        let thread = std::thread::spawn(move || vardpuls_aggregator::consumer::run(&kafka, config, metrics, flag));
        Instance { stop, thread }
    }

    fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap().unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_in_one_group_publish_what_one_publishes() {
    let messages = stream(11, 20);
    let expected = reference_run(&messages).await;

    // Two instances in one consumer group sharing the state directory; the second joins while
    // the first is consuming, so partitions move (and their state with them) mid-stream.
    let (first, second) = messages.split_at(messages.len() / 2);
    let kafka = TestKafka::start().await;
    produce(&kafka, first).await;
    let state = tempdir();
    let (registry_a, registry_b) = (prometheus::Registry::new(), prometheus::Registry::new());
    let a = Instance::start(&kafka, &state, Some(AggregatorMetrics::register(&registry_a).unwrap()));
    let deadline = Instant::now() + Duration::from_secs(60);
    while !checkpoint_exists(&state) {
        assert!(Instant::now() < deadline, "no checkpoint written");
        std::thread::sleep(Duration::from_millis(5));
    }
    let b = Instance::start(&kafka, &state, Some(AggregatorMetrics::register(&registry_b).unwrap()));
    produce(&kafka, second).await;
    let ends = end_offsets(&kafka);
    wait_until_caught_up(&state, &ends, Duration::from_secs(120));
    a.stop();
    b.stop();

    // Both instances did work, and together they published what one instance publishes.
    for registry in [&registry_a, &registry_b] {
        let counted: f64 = registry
            .gather()
            .iter()
            .filter(|f| f.name() == "vardpuls_aggregator_messages_total")
            .flat_map(|f| f.get_metric())
            .map(|m| m.get_counter().get_value())
            .sum();
        assert!(counted > 0.0, "an instance consumed nothing: the group did not split the partitions");
    }
    assert_same_kpis(&latest_kpis(&kafka), &expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_and_restart_publishes_what_an_uninterrupted_run_publishes() {
    let messages = stream(7, 30);
    let (first, second) = messages.split_at(messages.len() / 2);

    let expected = reference_run(&messages).await;

    // Interrupted: the real binary, killed with SIGKILL as soon as it has checkpointed once,
    // while half of the stream is not even produced yet; then restarted.
    let crashing = TestKafka::start().await;
    produce(&crashing, first).await;
    let state = tempdir();
    let mut running = spawn_aggregator(&crashing, &state);
    let deadline = Instant::now() + Duration::from_secs(120);
    while !checkpoint_exists(&state) {
        assert!(Instant::now() < deadline, "no checkpoint written");
        assert!(running.0.try_wait().unwrap().is_none(), "vardpuls exited early");
        std::thread::sleep(Duration::from_millis(5));
    }
    running.0.kill().unwrap(); // SIGKILL
    running.0.wait().unwrap();
    produce(&crashing, second).await;
    let ends = end_offsets(&crashing);
    let mut running = spawn_aggregator(&crashing, &state);
    wait_until_caught_up(&state, &ends, Duration::from_secs(120));
    terminate(&mut running.0);

    assert_same_kpis(&latest_kpis(&crashing), &expected);

    // Invalid messages: on the DLQ with their Kafka position (at least once across the crash).
    let dead: BTreeSet<(i32, i64)> = crashing
        .dead_letters()
        .into_iter()
        .map(|d| match d.source {
            Source::Kafka { topic, partition, offset } if topic == Topic::Phone.name() => (partition, offset),
            other => panic!("unexpected source {other:?}"),
        })
        .collect();
    assert_eq!(dead.len(), 4);
    // Late chats for the 27th, one per unit, arrive after the day is final: they restate it
    // (the compared values above include them), and none is refused as late.
    assert!(crashing.read(Topic::Late).is_empty(), "within the horizon nothing is late");
    let restated: Vec<&serde_json::Value> = expected
        .values()
        .filter(|r| r["kpi"] == "chats_started" && r["period"] == "2026-03-27" && r["dimensions"]["channel"] == "other")
        .collect();
    assert_eq!(restated.len(), 6, "one restated breakdown per unit");
    assert!(restated.iter().all(|r| r["final"] == true), "{restated:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixed_slots_split_the_partitions_and_a_killed_slot_resumes_where_it_stopped() {
    let messages = stream(5, 24);
    let (first, second) = messages.split_at(messages.len() / 2);
    let expected = reference_run(&messages).await;

    // Two instances with fixed slots (3 partitions a topic: slot 0 owns 0 and 2, slot 1 owns 1).
    let kafka = TestKafka::start().await;
    produce(&kafka, first).await;
    let state = tempdir();
    let slot = |i: u32| {
        let env = [("VARDPULS_AGGREGATOR_INSTANCES", "2".to_string()), ("VARDPULS_AGGREGATOR_INSTANCE", i.to_string())];
        spawn_aggregator_with(&kafka, &state, 100, &env)
    };
    let (mut zero, mut one) = (slot(0), slot(1));
    wait_until_caught_up(&state, &end_offsets(&kafka), Duration::from_secs(120));
    // The producer placed every unit where Kafka's default partitioner (murmur2) does, which
    // `aggregate-files --partitions` relies on.
    let mut units_checked = 0;
    for (topic, partition) in end_offsets(&kafka).keys() {
        let shard = checkpoint::load(&state, *topic, *partition).unwrap().expect("checkpointed");
        let open = shard.open.values().flatten().map(|e| e.unit_id().as_str());
        for unit in open.chain(shard.closed.values().flatten().map(|p| p.unit_id.as_str())) {
            assert_eq!(partition_of(unit.as_bytes(), kafka.config.partitions), *partition, "{topic} {unit}");
            units_checked += 1;
        }
    }
    assert!(units_checked > 100, "{units_checked}");

    // Slot 0 is killed; the second half arrives. Slot 1 goes on with its own partitions and
    // takes none of slot 0's: those stay where slot 0 checkpointed them.
    zero.0.kill().unwrap(); // SIGKILL
    zero.0.wait().unwrap();
    produce(&kafka, second).await;
    let ends = end_offsets(&kafka);
    let (odd, even): (BTreeMap<_, _>, BTreeMap<_, _>) = ends.iter().partition(|((_, partition), _)| *partition == 1);
    wait_until_caught_up(&state, &odd, Duration::from_secs(120));
    for ((topic, partition), end) in &even {
        let shard = checkpoint::load(&state, *topic, *partition).unwrap().expect("slot 0 checkpointed");
        assert!(shard.next_offset < *end, "{topic}/{partition} moved while its slot was down");
    }

    // Restarted, slot 0 resumes from its checkpoints; together the slots publish what one
    // uninterrupted instance publishes.
    zero = slot(0);
    wait_until_caught_up(&state, &ends, Duration::from_secs(120));
    terminate(&mut zero.0);
    terminate(&mut one.0);
    assert_same_kpis(&latest_kpis(&kafka), &expected);
}

pub fn checkpoint_exists(state: &Path) -> bool {
    Topic::INPUTS.iter().any(|t| std::fs::read_dir(state.join(t.name())).is_ok_and(|mut d| d.next().is_some()))
}

pub fn terminate(child: &mut Child) {
    unsafe_sigterm(child.id());
    let status = child.wait().unwrap();
    assert!(status.success(), "vardpuls exited with {status}");
}

fn unsafe_sigterm(pid: u32) {
    Command::new("kill").args(["-TERM", &pid.to_string()]).status().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daily_kpis_agree_with_an_independent_duckdb_computation() {
    // The hand-written scenario: spring DST, duplicates, late and out-of-order events; it has
    // the inputs of six KPIs (its visits have no listing unit).
    assert_daily_kpis_agree_with_duckdb(&stream(23, 20), 6).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_daily_kpi_agrees_with_duckdb_on_simulated_load() {
    // Region Dalarna's units from Friday to Monday over the autumn DST shift (a 25-hour day),
    // with duplicates and out-of-order events: the inputs of every daily KPI, breakdowns, money
    // and list sizes.
    use vardpuls_simulator::{faults::Faults, registry, stream::Simulation};
    let faults = Faults { duplicate: 0.02, out_of_order: 0.05, ..Faults::default() };
    let simulation = Simulation::new(registry::dalarna(), 11, faults);
    let first = vardpuls_core::calendar::LocalDay::parse("2026-10-23").unwrap();
    let messages: Vec<Message> = simulation
        .days(first, 4)
        .flat_map(|(_, events)| events)
        .map(|e| Message { topic: e.topic, key: e.key, payload: e.payload })
        .collect();
    assert_daily_kpis_agree_with_duckdb(&messages, 13).await;
}

/// Runs `messages` through the aggregator and the same valid events through DuckDB
/// (tests/crosscheck/duckdb_daily_kpis.py), and asserts that every daily unit value agrees.
async fn assert_daily_kpis_agree_with_duckdb(messages: &[Message], kpi_count: usize) {
    let published = reference_run(messages).await;
    assert_agrees_with_duckdb(&published, messages, kpi_count);
}

/// Asserts that every daily unit value `published` (a compacted KPI topic) agrees with DuckDB's
/// computation from the valid events of `messages`, in any order.
pub fn assert_agrees_with_duckdb(
    published: &BTreeMap<String, serde_json::Value>,
    messages: &[Message],
    kpi_count: usize,
) {
    // The same valid events as NDJSON files (duplicates included: both sides must count an
    // event id once; late ones included: they restate their days). Invalid messages are the
    // DLQ's business.
    let dir = tempdir();
    let mut files: BTreeMap<Topic, Vec<u8>> = BTreeMap::new();
    for m in messages {
        let Ok(event) = vardpuls_core::events::decode(m.topic, &m.payload) else { continue };
        let file = files.entry(event.topic()).or_default();
        file.extend_from_slice(&m.payload);
        file.push(b'\n');
    }
    for (topic, bytes) in &files {
        std::fs::write(dir.join(format!("{}.ndjson", topic.short_name())), bytes).unwrap();
    }
    let script = crate::support::repo_root().join("tests/crosscheck/duckdb_daily_kpis.py");
    let output = Command::new("python3").arg(script).arg(&dir).output().expect("python3");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));

    // Every daily value, breakdowns included, keyed kpi/unit/day/dimensions, compared as
    // decimals (DuckDB prints 500 where vardpuls may print 500.00).
    type Values = BTreeMap<String, (Decimal, Option<Decimal>)>;
    let decimal = |v: &serde_json::Value| v.as_str().map(|s| s.parse::<Decimal>().unwrap().normalize());
    let duckdb: Values = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let [kpi, unit, day, dimensions] = ["kpi", "unit_id", "day", "dimensions"].map(|f| v[f].as_str().unwrap());
            (
                format!("{kpi}/{unit}/{day}/{dimensions}"),
                (decimal(&v["numerator"]).unwrap(), decimal(&v["denominator"])),
            )
        })
        .collect();
    let kpis: BTreeSet<&str> = duckdb.keys().map(|k| k.split('/').next().unwrap()).collect();
    assert_eq!(kpis.len(), kpi_count, "KPIs with values: {kpis:?}");
    let ours: Values = published
        .values()
        .filter(|record| record["grain"] == "day" && record["scope"] == "unit")
        .map(|r| {
            let dimensions: Vec<String> = r["dimensions"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap()))
                .collect();
            let [kpi, unit, day] = ["kpi", "scope_id", "period"].map(|f| r[f].as_str().unwrap());
            let key = format!("{kpi}/{unit}/{day}/{}", dimensions.join(";"));
            (key, (decimal(&r["numerator"]).unwrap(), decimal(&r["denominator"])))
        })
        .collect();
    assert!(duckdb.len() > 20 * kpi_count, "too few values to compare: {}", duckdb.len());
    // A value whose events were all corrected away or cancelled is published as zero (its key
    // stays in the compacted topic); DuckDB has no row for it.
    let zero = |(numerator, denominator): &(Decimal, Option<Decimal>)| {
        numerator.is_zero() && denominator.is_none_or(|d| d.is_zero())
    };
    let ours: Values = ours.into_iter().filter(|(k, v)| duckdb.contains_key(k) || !zero(v)).collect();
    // Listed patients is a level on every day, which DuckDB gives through the last day in the
    // files and vardpuls through its partition's progress: DuckDB's days after a unit's last
    // day here are not compared (every day up to it is, gaps and values).
    let last_listed_day: BTreeMap<&str, &str> = ours
        .keys()
        .filter_map(|k| k.strip_prefix("listed_patients/"))
        .filter_map(|k| k.split_once('/'))
        .map(|(unit, rest)| (unit, rest.split('/').next().unwrap()))
        .fold(BTreeMap::new(), |mut last, (unit, day)| {
            let newest = last.entry(unit).or_insert(day);
            *newest = (*newest).max(day);
            last
        });
    let duckdb: Values = duckdb
        .into_iter()
        .filter(|(k, _)| {
            let Some((unit, rest)) = k.strip_prefix("listed_patients/").and_then(|k| k.split_once('/')) else {
                return true;
            };
            last_listed_day.get(unit).is_none_or(|last| rest.split('/').next().unwrap() <= *last)
        })
        .collect();
    let differing: Vec<_> = ours
        .keys()
        .chain(duckdb.keys())
        .filter(|k| ours.get(*k) != duckdb.get(*k))
        .take(10)
        .map(|k| (k, ours.get(k), duckdb.get(k)))
        .collect();
    assert!(differing.is_empty(), "(key, vardpuls, duckdb): {differing:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollups_sum_unit_values_to_kommun_and_region() {
    let kafka = TestKafka::start().await;
    let units = reference_run_on(&kafka, &stream(5, 12)).await;
    let registry =
        vardpuls_core::units::UnitRegistry::load(&crate::support::repo_root().join("deploy/units.csv")).unwrap();

    // What the roll-up must publish: sums of the unit values, per kommun and per region.
    let mut expected: BTreeMap<String, (rust_decimal::Decimal, rust_decimal::Decimal)> = BTreeMap::new();
    for record in units.values().filter(|r| r["kpi"] == "same_day_contact" && r["scope"] == "unit") {
        let unit = registry.get(record["scope_id"].as_str().unwrap()).unwrap();
        let number = |v: &serde_json::Value| v.as_str().unwrap().parse::<rust_decimal::Decimal>().unwrap();
        let scopes = [("kommun", unit.kommun.unwrap().to_string()), ("region", unit.region.to_string())];
        for (scope, id) in scopes {
            let key = format!("same_day_contact/{scope}/{id}/{}", record["period"].as_str().unwrap());
            let sum = expected.entry(key).or_default();
            sum.0 += number(&record["numerator"]);
            sum.1 += number(&record["denominator"]);
        }
    }
    assert!(expected.keys().any(|k| k.contains("/region/13/")) && expected.keys().any(|k| k.contains("/kommun/2062/")));

    let stop = Arc::new(AtomicBool::new(false));
    let rollup = {
        let (config, stop) = (kafka.config.clone(), stop.clone());
        std::thread::spawn(move || vardpuls_rollup::service::run(&config, &Default::default(), registry, None, stop))
    };
    // The roll-up publishes asynchronously: read the topic until every expected value is there.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mismatched = loop {
        let latest = latest_kpis(&kafka);
        let mismatched: Vec<_> = expected
            .iter()
            .filter(|(key, (n, d))| {
                latest.get(*key).is_none_or(|r| {
                    r["numerator"].as_str() != Some(&n.normalize().to_string())
                        || r["denominator"].as_str() != Some(&d.normalize().to_string())
                })
            })
            .map(|(k, _)| k.clone())
            .collect();
        if mismatched.is_empty() || Instant::now() > deadline {
            break mismatched;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    stop.store(true, Ordering::Relaxed);
    rollup.join().unwrap().unwrap();
    assert!(mismatched.is_empty(), "roll-ups missing or wrong: {mismatched:?}");
}

/// Measurement, not a test: `make measure-recovery`. Runs the real binary over a larger stream,
/// kills it with SIGKILL halfway through, restarts it, and prints how long it took to catch up
/// and how large the checkpoints are.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement; run with make measure-recovery"]
async fn measure_restart_recovery_and_state_size() {
    let calls: u32 = std::env::var("VARDPULS_MEASURE_CALLS").ok().and_then(|v| v.parse().ok()).unwrap_or(400);
    let messages = stream(99, calls);
    let (first, second) = messages.split_at(messages.len() / 2);
    let kafka = TestKafka::start().await;
    produce(&kafka, first).await;
    let state = tempdir();
    let started = Instant::now();
    let mut running = spawn_aggregator_with(&kafka, &state, 50_000, &[]);
    let half_ends = end_offsets(&kafka);
    wait_until_caught_up(&state, &half_ends, Duration::from_secs(600));
    let first_half = started.elapsed();
    produce(&kafka, second).await;
    // Killed while the second half is waiting: everything after the last checkpoint is replayed.
    running.0.kill().unwrap();
    running.0.wait().unwrap();
    let ends = end_offsets(&kafka);
    let restarted = Instant::now();
    let mut running = spawn_aggregator_with(&kafka, &state, 50_000, &[]);
    wait_until_caught_up(&state, &ends, Duration::from_secs(600));
    let recovery = restarted.elapsed();
    terminate(&mut running.0);
    let bytes: u64 = Topic::INPUTS.iter().map(|t| checkpoint::size_on_disk(&state, *t)).sum();
    println!(
        "messages {} (first half {} in {:.1} s); restart after SIGKILL to caught up with {} messages of backlog: {:.2} s; checkpoints {} bytes",
        messages.len(),
        first.len(),
        first_half.as_secs_f64(),
        second.len(),
        recovery.as_secs_f64(),
        bytes
    );
}
