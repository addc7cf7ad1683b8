//! KPIs are a function of the set of valid events, not of their arrival order: the same events
//! in time order, reversed and shuffled give the same compacted KPI topic through a real
//! broker, and it agrees with DuckDB. Late events restate closed days; one unit's mistyped date
//! closes no other unit's day; a date far in the future is refused with its own rule.

use crate::aggregator::{assert_agrees_with_duckdb, assert_same_kpis, run_in_batches_of};
use crate::scenario::{Message, shuffled};
use crate::support::TestKafka;
use serde_json::Value;
use vardpuls_core::Topic;
use vardpuls_core::calendar::LocalDay;
use vardpuls_simulator::{faults::Faults, registry, stream::Simulation};

/// Region Dalarna from Friday to Monday over the autumn DST shift (a 25-hour day), with
/// duplicates, disorder, corrected and cancelled visits and chats, plus one unit's visits of
/// Thursday corrected by hand ([`corrected_visits`]), one unit's chat mistyped as 30 November
/// and one chat dated in 2031 (last).
fn events() -> (Vec<Message>, String) {
    let faults = Faults { duplicate: 0.02, out_of_order: 0.05, corrected: 0.02, cancelled: 0.01, ..Faults::default() };
    let simulation = Simulation::new(registry::dalarna(), 11, faults);
    let first = LocalDay::parse("2026-10-23").unwrap();
    let mut messages: Vec<Message> = simulation
        .days(first, 4)
        .flat_map(|(_, events)| events)
        .map(|e| Message { topic: e.topic, key: e.key, payload: e.payload })
        .collect();
    let chat = messages.iter().find(|m| m.topic == Topic::Chats).expect("the simulation has chats").clone();
    let with = |occurred_at: &str, n: u32| {
        let mut event: Value = serde_json::from_slice(&chat.payload).unwrap();
        event["occurred_at"] = Value::String(occurred_at.into());
        event["event_id"] = Value::String(format!("7d0c9a10-0000-4000-8000-{n:012}"));
        event["chat_id"] = Value::String(format!("typo-{n}"));
        Message { topic: Topic::Chats, key: chat.key.clone(), payload: serde_json::to_vec(&event).unwrap() }
    };
    messages.extend(corrected_visits(&chat.key));
    messages.push(with("2026-11-30T10:00:00+01:00", 1));
    messages.push(with("2031-01-01T10:00:00+01:00", 2));
    (messages, chat.key)
}

/// Thursday 22 October, one unit: v-fix-1 sent as a nurse's visit, then corrected to a
/// doctor's; v-fix-2 a nurse's phone contact, then cancelled; v-fix-3 a physiotherapist's.
/// Versions in the order a source would send them, the corrections last.
fn corrected_visits(unit: &str) -> Vec<Message> {
    let visit = |n: u32, visit_id: &str, event_type: &str, recorded_at: &str, profession: &str, form: &str| {
        let recorded =
            if recorded_at.is_empty() { String::new() } else { format!(r#","recorded_at":"{recorded_at}""#) };
        let payload = format!(
            r#"{{"schema_version":1,"event_id":"c0a1d2e3-0000-4000-8000-{n:012}","event_type":"{event_type}","occurred_at":"2026-10-22T10:{n:02}:00+02:00","unit_id":"{unit}","visit_id":"{visit_id}","patient_ref":"p-fix-{n}","profession":"{profession}","contact_form":"{form}"{recorded}}}"#
        );
        Message { topic: Topic::Visits, key: unit.to_string(), payload: payload.into_bytes() }
    };
    vec![
        visit(1, "v-fix-1", "visit_completed", "", "nurse", "physical"),
        visit(2, "v-fix-2", "visit_completed", "2026-10-22T12:00:00+02:00", "nurse", "phone"),
        visit(3, "v-fix-3", "visit_completed", "", "physiotherapist", "physical"),
        // Same occurred_at as the first version would be usual; any time that day will do.
        visit(4, "v-fix-1", "visit_completed", "2026-10-23T09:00:00+02:00", "doctor", "physical"),
        visit(5, "v-fix-2", "visit_cancelled", "2026-10-23T10:00:00+02:00", "nurse", "phone"),
    ]
}

/// By hand from [`corrected_visits`]: two visits count, v-fix-1 as a doctor's and v-fix-3 (a
/// physiotherapist's, so "other professions"), both physical; no nurse's visit and no phone
/// contact.
fn assert_corrected_visits(published: &std::collections::BTreeMap<String, Value>, unit: &str) {
    let visits: std::collections::BTreeMap<String, &str> = published
        .values()
        .filter(|r| {
            r["kpi"] == "visits" && r["scope"] == "unit" && r["scope_id"] == unit && r["period"] == "2026-10-22"
        })
        .map(|r| {
            let dims = r["dimensions"].as_object().unwrap();
            (
                dims.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap())).collect::<Vec<_>>().join(";"),
                r["numerator"].as_str().unwrap(),
            )
        })
        .filter(|(_, n)| *n != "0")
        .collect();
    let expected: std::collections::BTreeMap<String, &str> = [
        ("", "2"),
        ("profession=doctor", "1"),
        ("profession=physiotherapist", "1"),
        ("contact_form=physical", "2"),
        ("contact_group=physical;profession_group=doctor", "1"),
        ("contact_group=physical;profession_group=other", "1"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_eq!(visits, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_order_reversed_and_shuffled_give_the_same_compacted_kpis() {
    let (messages, typo_unit) = events();
    let reversed: Vec<Message> = messages.iter().rev().cloned().collect();
    let mixed = shuffled(&messages, 20261206);

    let mut runs = Vec::new();
    for order in [&messages, &reversed, &mixed] {
        let kafka = TestKafka::start().await;
        // Batches of 500: later batches find earlier ones' days closed.
        let published = run_in_batches_of(&kafka, order, 500).await;
        // The chat dated 2031 is refused with its rule, in every order; nothing is late.
        let future: Vec<_> =
            kafka.dead_letters().into_iter().filter(|d| d.reason.rule.as_str() == "occurred_in_future").collect();
        assert_eq!(future.len(), 1, "{future:?}");
        assert!(kafka.read(Topic::Late).is_empty(), "within the horizon nothing is late");
        runs.push(published);
    }
    let (in_order, reversed, mixed) = (&runs[0], &runs[1], &runs[2]);
    assert_corrected_visits(in_order, &typo_unit);
    assert_same_kpis(reversed, in_order);
    assert_same_kpis(mixed, in_order);
    // DuckDB gets the valid events: all but the one refused as dated in the future.
    assert_agrees_with_duckdb(mixed, &messages[..messages.len() - 1], 14);
    // Reversed, nearly every day was final before most of its events came: restated.
    assert!(reversed.values().any(|r| r["revision"].as_u64() > Some(0)), "the reversed run restated days");

    // The mistyped date counts on its own day, for its unit, and closes nothing: the last real
    // day (Monday 26 October) is not final for any unit, while Friday, by every partition's
    // other units, is.
    let unit_days = |period: &str| -> Vec<&Value> {
        in_order.values().filter(|r| r["scope"] == "unit" && r["grain"] == "day" && r["period"] == period).collect()
    };
    let typo = unit_days("2026-11-30");
    assert!(!typo.is_empty() && typo.iter().all(|r| r["scope_id"] == typo_unit.as_str() && r["final"] == false));
    let (monday, friday) = (unit_days("2026-10-26"), unit_days("2026-10-23"));
    assert!(monday.len() > 50 && monday.iter().all(|r| r["final"] == false), "Monday is still open");
    let open: Vec<String> =
        friday.iter().filter(|r| r["final"] != true).map(|r| format!("{} {}", r["kpi"], r["scope_id"])).collect();
    assert!(friday.len() > 50 && open.is_empty(), "Friday is final: {open:?}");
}

/// One unit's chats: `per_day(day)` on each local day from `first` to `last`, at 10:00, 11:00 and
/// so on, with ids unique over `tag`.
fn chats(unit: &str, first: &str, last: &str, tag: u32, per_day: impl Fn(chrono::NaiveDate) -> u32) -> Vec<Message> {
    let (first, last) = (LocalDay::parse(first).unwrap().date(), LocalDay::parse(last).unwrap().date());
    let mut out = Vec::new();
    let mut n = 0u32;
    for day in first.iter_days().take_while(|d| *d <= last) {
        let start = LocalDay::from_date(day).start();
        for i in 0..per_day(day) {
            n += 1;
            let at = (start + chrono::Duration::hours(10 + i as i64)).to_rfc3339();
            let payload = format!(
                r#"{{"schema_version":1,"event_id":"{n:08x}-{tag:04x}-4000-8000-abcdefabcdef","event_type":"chat_started","occurred_at":"{at}","unit_id":"{unit}","chat_id":"h{tag}-{n}","channel":"e_service_1177"}}"#
            );
            out.push(Message { topic: Topic::Chats, key: unit.to_string(), payload: payload.into_bytes() });
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_year_of_history_loaded_after_the_live_month_restates_chat_growth_also_across_a_kill_9() {
    use crate::aggregator::{
        checkpoint_exists, end_offsets, latest_kpis, spawn_aggregator_with, terminate, wait_until_caught_up,
    };
    use chrono::Datelike;
    use std::time::{Duration, Instant};
    const UNIT: &str = "SE2321000180-E00101";
    // Live first: 1-20 November 2026. Then last year's history, newest day first, as an export
    // sorted the wrong way round would come: 1 November 2025 to 31 October 2026.
    let live = chats(UNIT, "2026-11-01", "2026-11-20", 1, |d| 2 + d.day() % 3);
    let mut history = chats(UNIT, "2025-11-01", "2026-10-31", 2, |d| 1 + d.day() % 2);
    history.reverse();
    // By hand: chat_growth for November 2026 compares 1-20 November with the same days of 2025.
    let this_year: u32 = (1..=20).map(|d| 2 + d % 3).sum();
    let last_year: u32 = (1..=20).map(|d| 1 + d % 2).sum();
    let growth_key = format!("chat_growth/unit/{UNIT}/2026-11");

    // Uninterrupted, in this process: the reference.
    let reference_kafka = TestKafka::start().await;
    let all: Vec<Message> = live.iter().chain(&history).cloned().collect();
    let expected = run_in_batches_of(&reference_kafka, &all, 100).await;
    let growth = &expected[&growth_key];
    assert_eq!(growth["numerator"], this_year.to_string());
    assert_eq!(growth["denominator"], last_year.to_string());
    assert_eq!(growth["final"], false, "November 2026 is not over");
    let last_years_day = &expected[&format!("chats_started/unit/{UNIT}/2025-11-05")];
    assert_eq!((last_years_day["numerator"].as_str(), last_years_day["final"].as_bool()), (Some("2"), Some(true)));

    // The binary, live month first; then the history, killed with SIGKILL while it restates.
    let kafka = TestKafka::start().await;
    let state = crate::support::tempdir();
    crate::support::produce(&kafka, &live).await;
    let live_ends = end_offsets(&kafka);
    let batch = [("VARDPULS_AGGREGATOR_MAX_BATCH_MESSAGES", "25".to_string())];
    let mut running = spawn_aggregator_with(&kafka, &state, 25, &batch);
    wait_until_caught_up(&state, &live_ends, Duration::from_secs(120));
    let before = latest_kpis(&kafka);
    assert_eq!(before[&growth_key]["denominator"], "0", "no history yet");

    crate::support::produce(&kafka, &history).await;
    let ends = end_offsets(&kafka);
    let (partition, live_end) = live_ends.iter().map(|((_, p), end)| (*p, *end)).next().unwrap();
    let end = ends[&(Topic::Chats, partition)];
    let deadline = Instant::now() + Duration::from_secs(120);
    let killed_at = loop {
        let done = vardpuls_aggregator::checkpoint::load(&state, Topic::Chats, partition).unwrap().unwrap().next_offset;
        if done > live_end {
            break done;
        }
        assert!(Instant::now() < deadline && checkpoint_exists(&state), "the history is not being consumed");
        std::thread::sleep(Duration::from_millis(2));
    };
    running.0.kill().unwrap(); // SIGKILL
    running.0.wait().unwrap();
    assert!(killed_at < end, "killed mid-way through the history ({killed_at} of {end})");
    let mut running = spawn_aggregator_with(&kafka, &state, 25, &batch);
    wait_until_caught_up(&state, &ends, Duration::from_secs(300));
    terminate(&mut running.0);
    assert_same_kpis(&latest_kpis(&kafka), &expected);
}
