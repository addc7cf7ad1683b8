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
/// duplicates and disorder, plus one unit's chat mistyped as 30 November and one chat dated in
/// 2031.
fn events() -> (Vec<Message>, String) {
    let faults = Faults { duplicate: 0.02, out_of_order: 0.05, ..Faults::default() };
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
    messages.push(with("2026-11-30T10:00:00+01:00", 1));
    messages.push(with("2031-01-01T10:00:00+01:00", 2));
    (messages, chat.key)
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
    assert_same_kpis(reversed, in_order);
    assert_same_kpis(mixed, in_order);
    // DuckDB gets the valid events: all but the one refused as dated in the future.
    assert_agrees_with_duckdb(mixed, &messages[..messages.len() - 1], 12);
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
