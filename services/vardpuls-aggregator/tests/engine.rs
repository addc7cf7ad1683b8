//! The engine on in-memory messages, through the driver every source uses, with hand-computed
//! expectations: same-day contact on the 23-hour day, assessments on the 25-hour day,
//! duplicates, out-of-order and late events, and chat growth against the same days last year.

use rust_decimal::Decimal;
use std::collections::HashMap;
use vardpuls_aggregator::{AggregatorConfig, Driver, Pace, Routed};
use vardpuls_core::Topic;
use vardpuls_core::outputs::KpiRecord;

const UNIT: &str = "SE2321000180-E00101";

struct Feed {
    driver: Driver,
    offsets: HashMap<Topic, i64>,
    latest: HashMap<String, KpiRecord>,
    /// Checkpoints written on another thread while the next batch is offered, as the consumer
    /// does; else written before `compute` returns, as `aggregate-files` does.
    in_background: bool,
    /// How each computation runs: live, or as the consumer behind a backlog.
    pace: Pace,
}

/// Few events: each moves the progress.
fn config() -> AggregatorConfig {
    AggregatorConfig { allowed_lateness_hours: 12, progress_quorum_events: 1, ..AggregatorConfig::default() }
}

impl Feed {
    /// Closed days' events stay in memory, as in `aggregate-files` without a state directory.
    fn new() -> Feed {
        Feed::with_state(None)
    }

    fn with_state(dir: Option<std::path::PathBuf>) -> Feed {
        Feed {
            driver: Driver::new(config(), dir),
            offsets: HashMap::new(),
            latest: HashMap::new(),
            in_background: false,
            pace: Pace::Live,
        }
    }

    fn offer(&mut self, topic: Topic, json: String) -> Routed {
        let offset = self.offsets.entry(topic).or_default();
        let routed = self.driver.offer(topic, 0, *offset, json.as_bytes(), None);
        *offset += 1;
        routed
    }

    /// Computes a batch and checkpoints it, as every source does.
    async fn compute(&mut self) -> Vec<KpiRecord> {
        let records = self.driver.compute_at(self.pace).await.unwrap().into_records();
        for r in &records {
            self.latest.insert(r.key(), r.clone());
        }
        match self.in_background {
            true => self.driver.checkpoint_in_background().unwrap(),
            false => drop(self.driver.checkpoint().unwrap()),
        }
        records
    }

    fn get(&self, key: &str) -> &KpiRecord {
        self.latest.get(key).unwrap_or_else(|| {
            let mut keys: Vec<_> = self.latest.keys().collect();
            keys.sort();
            panic!("no record {key}; have {keys:#?}")
        })
    }
}

fn id(n: u32) -> String {
    format!("00000000-0000-4000-8000-{n:012}")
}

fn call(n: u32, event_type: &str, at: &str, call_id: &str, extra: &str) -> String {
    format!(
        r#"{{"schema_version":1,"event_id":"{}","event_type":"{event_type}","occurred_at":"{at}","unit_id":"{UNIT}","call_id":"{call_id}","line":"primary_care"{extra}}}"#,
        id(n)
    )
}

fn dec(n: i64) -> Decimal {
    Decimal::from(n)
}

#[tokio::test]
async fn same_day_contact_on_the_23_hour_day() {
    let mut f = Feed::new();
    let in_hours = r#","in_phone_hours":true"#;
    let events = [
        // A: answered the same day: met.
        call(1, "call_received", "2026-03-29T08:00:00+02:00", "A", in_hours),
        call(2, "call_answered", "2026-03-29T08:05:00+02:00", "A", r#","queue_wait_seconds":300"#),
        // B: called back and reached the same day: met. The completion arrives first.
        call(3, "callback_completed", "2026-03-29T14:00:00+02:00", "B", r#","reached":true"#),
        call(4, "call_received", "2026-03-29T09:00:00+02:00", "B", in_hours),
        call(5, "callback_booked", "2026-03-29T09:01:00+02:00", "B", ""),
        // C: callback made the next day: a miss for the 29th (pending until the day is final).
        call(6, "call_received", "2026-03-29T10:00:00+02:00", "C", in_hours),
        call(7, "callback_booked", "2026-03-29T10:01:00+02:00", "C", ""),
        call(8, "callback_completed", "2026-03-30T08:00:00+02:00", "C", r#","reached":true"#),
        // D: abandoned: no contact.
        call(9, "call_received", "2026-03-29T11:00:00+02:00", "D", in_hours),
        call(10, "call_abandoned", "2026-03-29T11:02:00+02:00", "D", ""),
        // E: outside phone hours: not counted at all.
        call(11, "call_received", "2026-03-29T19:00:00+02:00", "E", r#","in_phone_hours":false"#),
        // F: received 23:30 on the 29th, answered after midnight: a miss.
        call(12, "call_received", "2026-03-29T23:30:00+02:00", "F", in_hours),
        call(13, "call_answered", "2026-03-30T00:10:00+02:00", "F", r#","queue_wait_seconds":2400"#),
        // G: callback booked, never made.
        call(14, "call_received", "2026-03-29T16:00:00+02:00", "G", in_hours),
        call(15, "callback_booked", "2026-03-29T16:01:00+02:00", "G", ""),
    ];
    for e in events {
        assert!(matches!(f.offer(Topic::Phone, e), Routed::Counted));
    }
    // The same event id again (a re-sent export) is not counted twice.
    assert!(matches!(
        f.offer(Topic::Phone, call(1, "call_received", "2026-03-29T08:00:00+02:00", "A", in_hours)),
        Routed::Duplicate
    ));
    f.compute().await;

    let day = f.get(&format!("same_day_contact/unit/{UNIT}/2026-03-29"));
    assert!(!day.is_final);
    assert_eq!((day.numerator, day.denominator), (dec(2), Some(dec(6))));
    let live = day.live.as_ref().expect("live outcome while the day is open");
    // Pending: C (callback not made today), F (not answered today), G (callback not made).
    assert_eq!((live.met, live.pending, live.missed), (2, 3, 1));
    assert!((live.best_value.unwrap() - 5.0 / 6.0).abs() < 1e-12);
    assert!((live.worst_value.unwrap() - 2.0 / 6.0).abs() < 1e-12);

    // The 29th has 23 hours: it ends 22:00 UTC; with 12 h lateness it is final at 10:00 UTC on
    // the 30th. An event at 11:59 local (09:59 UTC) keeps it open ...
    f.offer(Topic::Phone, call(20, "call_received", "2026-03-30T11:59:00+02:00", "H", in_hours));
    f.compute().await;
    assert!(!f.get(&format!("same_day_contact/unit/{UNIT}/2026-03-29")).is_final);
    // ... a late event for the 29th is still counted ...
    f.offer(Topic::Phone, call(21, "call_received", "2026-03-29T17:00:00+02:00", "I", in_hours));
    f.offer(Topic::Phone, call(22, "call_answered", "2026-03-29T17:01:00+02:00", "I", r#","queue_wait_seconds":60"#));
    // ... and one at 12:00 local closes it.
    f.offer(Topic::Phone, call(23, "call_received", "2026-03-30T12:00:00+02:00", "J", in_hours));
    f.compute().await;
    let day = f.get(&format!("same_day_contact/unit/{UNIT}/2026-03-29"));
    assert!(day.is_final);
    assert_eq!((day.numerator, day.denominator), (dec(3), Some(dec(7))));
    assert!(day.live.is_none());

    // Now an event for the 29th restates it: G was answered after all. The day is final
    // again, with its next revision; the month follows.
    let answered = call(24, "call_answered", "2026-03-29T16:30:00+02:00", "G", r#","queue_wait_seconds":5"#);
    assert!(matches!(f.offer(Topic::Phone, answered.clone()), Routed::Restating));
    let changed = f.compute().await;
    let day_key = format!("same_day_contact/unit/{UNIT}/2026-03-29");
    assert!(changed.iter().any(|r| r.key() == day_key), "the restated day is republished");
    let day = f.get(&day_key);
    assert!(day.is_final);
    assert_eq!((day.numerator, day.denominator, day.revision), (dec(4), Some(dec(7)), 1));
    assert_eq!(day.updated_at.to_rfc3339(), "2026-03-30T10:00:00+00:00", "stamped with when the day closed");

    // The month sums days: 4 of 7 on the 29th, plus the 30th so far (H, J received, pending).
    let month = f.get(&format!("same_day_contact/unit/{UNIT}/2026-03"));
    assert_eq!((month.numerator, month.denominator), (dec(4), Some(dec(9))));
    assert!(!month.is_final);
    // Only the open day has pending calls: C and F were pending on the 29th, and are misses
    // now it is final (with D, abandoned). Best 6 of 9, worst 4 of 9.
    let live = month.live.as_ref().expect("the month is open");
    assert_eq!((live.met, live.pending, live.missed), (4, 2, 3));
    assert!((live.best_value.unwrap() - 6.0 / 9.0).abs() < 1e-12);
    assert!((live.worst_value.unwrap() - 4.0 / 9.0).abs() < 1e-12);

    // The same event again restates nothing: no record changes.
    assert!(matches!(f.offer(Topic::Phone, answered), Routed::Restating));
    assert!(f.compute().await.is_empty(), "a duplicate publishes nothing");
}

fn visit(n: u32, at: &str, profession: &str, form: &str, extra: &str) -> String {
    format!(
        r#"{{"schema_version":1,"event_id":"{}","event_type":"visit_completed","occurred_at":"{at}","unit_id":"{UNIT}","visit_id":"v{n}","patient_ref":"p{n}","profession":"{profession}","contact_form":"{form}"{extra}}}"#,
        id(n)
    )
}

fn assessed(first_contact: &str, chosen: bool) -> String {
    format!(r#","assessment":{{"first_contact_at":"{first_contact}","patient_chosen_wait":{chosen}}}"#)
}

#[tokio::test]
async fn visits_and_assessments_on_the_25_hour_day() {
    let mut f = Feed::new();
    let events = [
        // 3 calendar days (22nd to 25th): within.
        visit(1, "2026-10-25T23:30:00+01:00", "doctor", "physical", &assessed("2026-10-22T09:00:00+02:00", false)),
        // 02:30 happens twice on the 25th; both are the 25th.
        visit(2, "2026-10-25T02:30:00+02:00", "nurse", "phone", &assessed("2026-10-21T09:00:00+02:00", false)),
        visit(3, "2026-10-25T02:30:00+01:00", "doctor", "video", &assessed("2026-10-21T09:00:00+02:00", true)),
        // No assessment: a visit only. Listed elsewhere.
        visit(4, "2026-10-25T10:00:00+01:00", "physiotherapist", "chat", r#","listed_unit_id":"SE2321000180-E00199""#),
        // 00:30 on the 26th local is 23:30 UTC on the 25th: the 26th.
        visit(5, "2026-10-25T23:30:00Z", "doctor", "physical", &format!(r#","listed_unit_id":"{UNIT}""#)),
    ];
    for e in events {
        assert!(matches!(f.offer(Topic::Visits, e), Routed::Counted));
    }
    f.compute().await;
    let key = |kpi: &str, rest: &str| format!("{kpi}/unit/{UNIT}/{rest}");

    // Assessment: visit 3 chose its wait (excluded); 1 within, 2 not (4 days).
    let a = f.get(&key("assessment_within_3_days", "2026-10-25"));
    assert_eq!((a.numerator, a.denominator), (dec(1), Some(dec(2))));
    let a = f.get(&key("assessment_within_3_days", "2026-10-25/profession=doctor"));
    assert_eq!((a.numerator, a.denominator), (dec(1), Some(dec(1))));

    // Visits: four on the 25th, one on the 26th.
    assert_eq!(f.get(&key("visits", "2026-10-25")).numerator, dec(4));
    assert_eq!(f.get(&key("visits", "2026-10-26")).numerator, dec(1));
    assert_eq!(f.get(&key("visits", "2026-10-25/contact_form=phone")).numerator, dec(1));
    assert_eq!(f.get(&key("visits", "2026-10-25/profession=doctor")).numerator, dec(2));
    // Digital = video + chat: 2 of 4. Phone is distance, not digital.
    let d = f.get(&key("digital_visit_share", "2026-10-25"));
    assert_eq!((d.numerator, d.denominator, d.value), (dec(2), Some(dec(4)), Some(0.5)));
    // Other unit: of the visits with a known listing, one listed elsewhere (25th).
    let o = f.get(&key("visits_other_unit_share", "2026-10-25"));
    assert_eq!((o.numerator, o.denominator), (dec(1), Some(dec(1))));
    let month = f.get(&key("visits", "2026-10"));
    assert_eq!(month.numerator, dec(5));
}

fn chat(n: u32, at: &str) -> String {
    format!(
        r#"{{"schema_version":1,"event_id":"{}","event_type":"chat_started","occurred_at":"{at}","unit_id":"{UNIT}","chat_id":"c{n}","channel":"e_service_1177"}}"#,
        id(n)
    )
}

#[tokio::test]
async fn chat_growth_compares_the_same_days_last_year() {
    let mut f = Feed::new();
    let mut n = 0;
    // Last year: 10 chats on 1-20 November, 5 more on the 28th (after this year's latest day).
    for d in 1..=10 {
        n += 1;
        f.offer(Topic::Chats, chat(n, &format!("2025-11-{:02}T10:00:00+01:00", d * 2)));
    }
    for _ in 0..5 {
        n += 1;
        f.offer(Topic::Chats, chat(n, "2025-11-28T10:00:00+01:00"));
    }
    f.compute().await;
    // This year: 11 chats up to the 23rd.
    for d in 1..=11 {
        n += 1;
        f.offer(Topic::Chats, chat(n, &format!("2026-11-{:02}T10:00:00+01:00", d * 2 + 1)));
    }
    f.compute().await;
    let g = f.get(&format!("chat_growth/unit/{UNIT}/2026-11"));
    assert_eq!((g.numerator, g.denominator), (dec(11), Some(dec(10))));
    assert!((g.value.unwrap() - 0.10).abs() < 1e-9, "{:?}", g.value);
    assert_eq!(f.get(&format!("chats_started/unit/{UNIT}/2025-11")).numerator, dec(15));
}

fn chat_of(unit: &str, n: u32, at: &str) -> String {
    chat(n, at).replace(UNIT, unit)
}

#[tokio::test]
async fn chat_growth_counts_the_same_days_on_both_sides_and_units_without_chats_this_month() {
    let mut f = Feed::new();
    let (quiet, new_unit) = ("SE2321000180-E00102", "SE2321000180-E00103");
    let mut n = 0;
    let mut send = |f: &mut Feed, unit: &str, at: String| {
        n += 1;
        // November 2024 comes after March 2025: it is restated in (a first value for its days).
        assert!(matches!(f.offer(Topic::Chats, chat_of(unit, n, &at)), Routed::Counted | Routed::Restating), "{at}");
    };
    // February, leap year last year: 10 and 29 February 2024; 10 February 2025.
    send(&mut f, UNIT, "2024-02-10T10:00:00+01:00".into());
    send(&mut f, UNIT, "2024-02-29T10:00:00+01:00".into());
    send(&mut f, UNIT, "2025-02-10T10:00:00+01:00".into());
    // The data's current day is 20 February: both sides through the 20th, 1 against 1.
    send(&mut f, new_unit, "2025-02-20T10:00:00+01:00".into());
    f.compute().await;
    let growth = |f: &Feed, unit: &str, month: &str| {
        let g = f.get(&format!("chat_growth/unit/{unit}/{month}"));
        (g.numerator, g.denominator, g.is_final)
    };
    assert_eq!(growth(&f, UNIT, "2025-02"), (dec(1), Some(dec(1)), false));
    // March: February is final and compares whole months, the 29th included: 1 against 2.
    send(&mut f, new_unit, "2025-03-02T13:00:00+01:00".into());
    f.compute().await;
    assert_eq!(growth(&f, UNIT, "2025-02"), (dec(1), Some(dec(2)), true));

    // November 2024: one chat a day on the 1st-20th and one on Friday the 29th; the quiet unit
    // 4 chats. November 2025 ended on a Sunday: one chat a day on the 9th-28th (Friday), none
    // on the weekend, and the quiet unit none at all; another unit's chat on Sunday the 30th
    // makes that the data's current day.
    for day in (1..=20).chain([29]) {
        send(&mut f, UNIT, format!("2024-11-{day:02}T10:00:00+01:00"));
    }
    for day in 3..=6 {
        send(&mut f, quiet, format!("2024-11-{day:02}T11:00:00+01:00"));
    }
    for day in 9..=28 {
        send(&mut f, UNIT, format!("2025-11-{day:02}T10:00:00+01:00"));
    }
    send(&mut f, new_unit, "2025-11-30T10:00:00+01:00".into());
    f.compute().await;
    // Through the 30th on both sides: 20 against 21 (-4.8 %), not 20 against 20 through the
    // last day with chats. The quiet unit: 0 against 4.
    assert_eq!(growth(&f, UNIT, "2025-11"), (dec(20), Some(dec(21)), false));
    let g = f.get(&format!("chat_growth/unit/{UNIT}/2025-11"));
    assert!((g.value.unwrap() - (20.0 / 21.0 - 1.0)).abs() < 1e-9, "{:?}", g.value);
    assert_eq!(growth(&f, quiet, "2025-11"), (dec(0), Some(dec(4)), false));
    // December: November final, the same figures.
    send(&mut f, new_unit, "2025-12-02T10:00:00+01:00".into());
    f.compute().await;
    assert_eq!(growth(&f, UNIT, "2025-11"), (dec(20), Some(dec(21)), true));
    assert_eq!(growth(&f, quiet, "2025-11"), (dec(0), Some(dec(4)), true));
}

fn listing(n: u32, at: &str, unit: &str, body: &str) -> String {
    format!(r#"{{"schema_version":1,"event_id":"{}","occurred_at":"{at}","unit_id":"{unit}",{body}}}"#, id(n))
}

#[tokio::test]
async fn listed_patients_carries_the_level_from_snapshots_and_final_days() {
    let mut f = Feed::new();
    let other = "SE2321000180-E00102";
    let listed = r#""event_type":"listed","patient_ref":"p-1","kommun_code":"2062","channel":"e_service_1177""#;
    let unlisted = r#""event_type":"unlisted","patient_ref":"p-2","kommun_code":"2062""#;
    let events = [
        // Mora on 1 November: one listing before the snapshot (already in it), 21 593 at noon,
        // then +2 -1.
        listing(1, "2026-11-01T09:00:00+01:00", UNIT, listed),
        listing(2, "2026-11-01T12:00:00+01:00", UNIT, r#""event_type":"stock_snapshot","listed_count":21593"#),
        listing(3, "2026-11-01T13:00:00+01:00", UNIT, listed),
        listing(4, "2026-11-01T14:00:00+01:00", UNIT, listed),
        listing(5, "2026-11-01T15:00:00+01:00", UNIT, unlisted),
        // Another unit with a snapshot only.
        listing(6, "2026-11-01T12:00:00+01:00", other, r#""event_type":"stock_snapshot","listed_count":5302"#),
        // 2 November: +1 for Mora.
        listing(7, "2026-11-02T10:00:00+01:00", UNIT, listed),
    ];
    for e in events {
        assert!(matches!(f.offer(Topic::Listings, e), Routed::Counted));
    }
    f.compute().await;
    let key = |unit: &str, period: &str| format!("listed_patients/unit/{unit}/{period}");
    assert_eq!(f.get(&key(UNIT, "2026-11-01")).numerator, dec(21594));
    assert_eq!(f.get(&key(UNIT, "2026-11-02")).numerator, dec(21595));
    assert_eq!(f.get(&key(other, "2026-11-01")).numerator, dec(5302));
    // A stock has a value every day: the other unit had no events on the 2nd.
    assert_eq!(f.get(&key(other, "2026-11-02")).numerator, dec(5302));

    // Days 1 and 2 close (an event on the 4th at noon is past midnight + 12 h of the 2nd);
    // Mora's level carries over from its last final day, the other unit's from the 1st.
    f.offer(Topic::Listings, listing(8, "2026-11-04T12:00:00+01:00", UNIT, unlisted));
    f.offer(Topic::Listings, listing(9, "2026-11-04T12:30:00+01:00", other, listed));
    f.compute().await;
    assert!(f.get(&key(UNIT, "2026-11-02")).is_final);
    assert_eq!(f.get(&key(UNIT, "2026-11-04")).numerator, dec(21594));
    assert_eq!(f.get(&key(other, "2026-11-04")).numerator, dec(5303));
    // The month's value is its last day's level, not a sum of days.
    assert_eq!(f.get(&key(UNIT, "2026-11")).numerator, dec(21594));
    // The 3rd had no listing events at all: both levels carry into it, and it is final.
    let third = [f.get(&key(UNIT, "2026-11-03")), f.get(&key(other, "2026-11-03"))];
    assert_eq!(third.map(|r| (r.numerator, r.is_final)), [(dec(21595), true), (dec(5302), true)]);

    // December: only Mora has events. The other unit's level carries through the rest of
    // November into December, so both have a final November and a December value.
    assert!(matches!(
        f.offer(Topic::Listings, listing(10, "2026-12-02T12:00:00+01:00", UNIT, listed)),
        Routed::Counted
    ));
    f.compute().await;
    let november = [f.get(&key(UNIT, "2026-11")), f.get(&key(other, "2026-11"))];
    assert_eq!(november.map(|r| (r.numerator, r.is_final)), [(dec(21594), true), (dec(5303), true)]);
    assert_eq!(f.get(&key(other, "2026-11-30")).numerator, dec(5303));
    assert_eq!(f.get(&key(other, "2026-12")).numerator, dec(5303));
    assert_eq!(f.get(&key(other, "2026-12-02")).numerator, dec(5303));
    assert_eq!(f.get(&key(UNIT, "2026-12")).numerator, dec(21595));
    // Net change per day is a flow: +1 (before the snapshot) +2 -1 on the 1st, from 4 events.
    let net = f.get(&format!("listing_net_change/unit/{UNIT}/2026-11-01"));
    assert_eq!((net.numerator, net.cases), (dec(2), Some(4)));
}

#[tokio::test]
async fn phone_1177_waits_out_of_county_cost_and_digital_listings() {
    let mut f = Feed::new();
    let line_1177 = |n: u32, t: &str, at: &str, call_id: &str, extra: &str| {
        call(n, t, at, call_id, extra).replace(r#""line":"primary_care""#, r#""line":"1177""#)
    };
    for e in [
        line_1177(1, "call_received", "2026-11-23T19:00:00+01:00", "q1", r#","in_phone_hours":true"#),
        line_1177(2, "call_answered", "2026-11-23T19:10:00+01:00", "q1", r#","queue_wait_seconds":600"#),
        line_1177(3, "call_received", "2026-11-23T19:05:00+01:00", "q2", r#","in_phone_hours":true"#),
        line_1177(4, "call_answered", "2026-11-23T19:20:00+01:00", "q2", r#","queue_wait_seconds":900"#),
        line_1177(5, "call_received", "2026-11-23T19:06:00+01:00", "q3", r#","in_phone_hours":true"#),
        line_1177(6, "call_abandoned", "2026-11-23T19:30:00+01:00", "q3", r#","queue_wait_seconds":1440"#),
        // Received at 23:55, answered 11 minutes later, after midnight: answered, with its wait,
        // on the day it came in.
        line_1177(7, "call_received", "2026-11-23T23:55:00+01:00", "q4", r#","in_phone_hours":true"#),
        line_1177(8, "call_answered", "2026-11-24T00:06:00+01:00", "q4", r#","queue_wait_seconds":660"#),
    ] {
        assert!(matches!(f.offer(Topic::Phone, e), Routed::Counted));
    }
    let ooc = |n: u32, profession: &str, provider: &str, price: &str| {
        visit(
            n,
            "2026-11-02T21:15:00+01:00",
            profession,
            "video",
            &format!(
                r#","out_of_county":{{"provider":"{provider}","home_region":"20","contracting_region":"06","price_sek":"{price}","patient_fee_sek":"100"}}"#
            ),
        )
    };
    for e in [
        ooc(10, "doctor", "Kry", "500.00"),
        ooc(11, "doctor", "Kry", "500"),
        ooc(12, "psychologist", "Min Doktor", "425.50"),
        // The unit's own visit that evening.
        visit(13, "2026-11-02T18:00:00+01:00", "nurse", "physical", ""),
    ] {
        assert!(matches!(f.offer(Topic::Visits, e), Routed::Counted));
    }
    for (n, channel) in [(20, "e_service_1177"), (21, "e_service_1177"), (22, "form")] {
        let body = format!(r#""event_type":"listed","patient_ref":"p-{n}","kommun_code":"2080","channel":"{channel}""#);
        assert!(matches!(
            f.offer(Topic::Listings, listing(n, "2026-11-23T10:00:00+01:00", UNIT, &body)),
            Routed::Counted
        ));
    }
    f.compute().await;
    let key = |kpi: &str, rest: &str| format!("{kpi}/unit/{UNIT}/{rest}");

    // 1177: (600 + 900 + 660) / 3 answered = 720 s mean; the abandoned wait is not an
    // answered wait. 3 of 4 received calls answered, the one across midnight included.
    let wait = f.get(&key("phone_1177_mean_wait_seconds", "2026-11-23"));
    assert_eq!((wait.numerator, wait.denominator, wait.value), (dec(2160), Some(dec(3)), Some(720.0)));
    let answered = f.get(&key("phone_1177_answered_share", "2026-11-23"));
    assert_eq!((answered.numerator, answered.denominator), (dec(3), Some(dec(4))));
    assert!(!f.latest.contains_key(&key("phone_1177_mean_wait_seconds", "2026-11-24")), "no wait lands on the 24th");
    assert_eq!(f.get(&key("phone_1177_answered_share", "2026-11")).numerator, dec(3));
    // 1177 calls never count toward same-day contact.
    assert!(!f.latest.contains_key(&key("same_day_contact", "2026-11-23")));

    // Out-of-county cost, exact: 500 + 500 + 425.50 = 1425.50 for home region 20.
    let cost = f.get(&key("out_of_county_digital_cost_sek", "2026-11-02/home_region=20"));
    assert_eq!(cost.numerator, Decimal::new(142550, 2));
    let kry = f.get(&key("out_of_county_digital_cost_sek", "2026-11-02/home_region=20/profession=doctor/provider=Kry"));
    assert_eq!(kry.numerator, dec(1000));
    let month = f.get(&key("out_of_county_digital_cost_sek", "2026-11/home_region=20"));
    assert_eq!(month.numerator, Decimal::new(142550, 2));
    // The contacts behind each sum, for small-cell suppression: 425.50 SEK is one contact.
    assert_eq!((cost.cases, kry.cases, month.cases), (Some(3), Some(2), Some(3)));
    let psychologist =
        key("out_of_county_digital_cost_sek", "2026-11-02/home_region=20/profession=psychologist/provider=Min Doktor");
    assert_eq!(f.get(&psychologist).cases, Some(1));
    // Other regions' residents' contacts are not the unit's production: 1 visit, physical.
    assert_eq!(f.get(&key("visits", "2026-11-02")).numerator, dec(1));
    assert!(!f.latest.contains_key(&key("visits", "2026-11-02/contact_form=video")));
    let digital = f.get(&key("digital_visit_share", "2026-11-02"));
    assert_eq!((digital.numerator, digital.denominator), (dec(0), Some(dec(1))));

    // Listings made in the 1177 e-services: 2 of 3, by the patient's kommun too.
    assert_eq!(f.get(&key("listings_via_1177", "2026-11-23")).numerator, dec(2));
    assert_eq!(f.get(&key("listings_via_1177", "2026-11-23/kommun_code=2080")).numerator, dec(2));
    assert_eq!(f.get(&key("listing_net_change", "2026-11-23")).numerator, dec(3));
    assert_eq!(f.get(&key("listing_net_change", "2026-11-23")).cases, Some(3));
}

/// The checkpointing feed the consumer runs: archived days restored before computing,
/// checkpointed (and archived) after; optionally a restart from the checkpoints in between.
struct CheckpointedFeed {
    feed: Feed,
    dir: std::path::PathBuf,
}

impl CheckpointedFeed {
    fn new(dir: std::path::PathBuf) -> CheckpointedFeed {
        CheckpointedFeed { feed: Feed::with_state(Some(dir.clone())), dir }
    }

    async fn compute(&mut self) {
        self.feed.compute().await;
    }

    /// A restart after a clean stop, which waits for the last checkpoint to be written.
    fn restart(&mut self) {
        self.feed.driver.written().unwrap();
        self.feed.driver = Driver::new(config(), Some(self.dir.clone()));
        for topic in self.feed.offsets.keys() {
            assert!(self.feed.driver.resume(*topic, 0).unwrap().is_some(), "{topic} was checkpointed");
        }
    }
}

#[tokio::test]
async fn archiving_closed_days_to_checkpoints_changes_no_result() {
    let dir = std::env::temp_dir().join(format!("vardpuls-engine-archive-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut kept = Feed::new();
    let mut archived = CheckpointedFeed::new(dir.clone());
    let snapshot = r#""event_type":"stock_snapshot","listed_count":21593"#;
    let listed = r#""event_type":"listed","patient_ref":"p-1","kommun_code":"2062","channel":"e_service_1177""#;
    // A year in batches: November chats and a list size, then January, then November again,
    // when last November's chats and December's level are long out of memory.
    let batches: Vec<Vec<(Topic, String)>> = vec![
        (1..=8).map(|d| (Topic::Chats, chat(d, &format!("2025-11-{:02}T10:00:00+01:00", d * 3)))).collect(),
        vec![(Topic::Listings, listing(100, "2025-12-10T12:00:00+01:00", UNIT, snapshot))],
        vec![
            (Topic::Chats, chat(101, "2026-01-15T10:00:00+01:00")),
            (Topic::Listings, listing(102, "2026-01-15T10:00:00+01:00", UNIT, listed)),
        ],
        vec![(Topic::Chats, chat(103, "2026-03-02T10:00:00+01:00"))],
        (1..=6).map(|d| (Topic::Chats, chat(200 + d, &format!("2026-11-{:02}T10:00:00+01:00", d * 2)))).collect(),
        vec![(Topic::Listings, listing(300, "2026-11-20T10:00:00+01:00", UNIT, listed))],
        vec![
            (Topic::Chats, chat(301, "2026-11-25T10:00:00+01:00")),
            (Topic::Listings, listing(302, "2026-11-25T10:00:00+01:00", UNIT, listed)),
        ],
    ];
    for (i, batch) in batches.into_iter().enumerate() {
        for (topic, json) in batch {
            kept.offer(topic, json.clone());
            archived.feed.offer(topic, json);
        }
        kept.compute().await;
        archived.compute().await;
        if i == 3 {
            archived.restart();
            let chats = archived.feed.driver.shard(Topic::Chats, 0).unwrap();
            assert!(!chats.archived.is_empty() && chats.closed.len() < 4, "old days stay on disk after a restart");
        }
    }
    let mut differing: Vec<&String> = kept.latest.keys().chain(archived.feed.latest.keys()).collect();
    differing.retain(|k| kept.latest.get(*k) != archived.feed.latest.get(*k));
    assert!(differing.is_empty(), "records differ with archiving: {differing:?}");
    let growth = archived.feed.get(&format!("chat_growth/unit/{UNIT}/2026-11"));
    assert_eq!((growth.numerator, growth.denominator), (dec(7), Some(dec(8))));
    assert_eq!(archived.feed.get(&format!("listed_patients/unit/{UNIT}/2026-11-25")).numerator, dec(21596));
    let listings = archived.feed.driver.shard(Topic::Listings, 0).unwrap();
    assert!(listings.closed.keys().all(|d| d.to_string().starts_with("2026-11")), "{:?}", listings.closed.keys());
    std::fs::remove_dir_all(dir).unwrap();
}

/// A partition quiet at a month's end: its last November day closes while November is still
/// the progress's month, the progress then moves into December before November's values may be
/// final, and a later batch makes them final. They come from November's month to date, kept
/// for it, not from its days read back from their segments.
#[tokio::test]
async fn a_month_final_after_its_last_day_closed_comes_from_its_month_to_date() {
    use vardpuls_core::calendar::LocalMonth;
    let dir = std::env::temp_dir().join(format!("vardpuls-engine-month-end-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut f = CheckpointedFeed::new(dir.clone());
    let november = LocalMonth { year: 2025, month: 11 };
    f.feed.offer(Topic::Chats, chat(1, "2025-11-12T10:00:00+01:00"));
    f.feed.offer(Topic::Chats, chat(2, "2025-11-12T11:00:00+01:00"));
    f.compute().await;
    f.feed.offer(Topic::Chats, chat(3, "2025-11-20T10:00:00+01:00"));
    f.compute().await;
    // December 1st, 02:00: every November day with events is closed, November's values are not
    // final before its last day's lateness (December 1st, 12:00).
    f.feed.offer(Topic::Chats, chat(4, "2025-12-01T02:00:00+01:00"));
    f.compute().await;
    let month = f.feed.get(&format!("chats_started/unit/{UNIT}/2025-11"));
    assert!(!month.is_final);
    assert_eq!(month.numerator, dec(3));
    let shard = f.feed.driver.shard(Topic::Chats, 0).unwrap();
    assert!(shard.month_to_date.contains_key(&november), "November's month to date is kept until it is final");
    assert!(shard.closed.keys().all(|d| d.to_string().as_str() >= "2025-12"), "{:?}", shard.closed.keys());
    assert!(shard.archived.iter().any(|d| d.to_string() == "2025-11-20"));

    f.feed.offer(Topic::Chats, chat(5, "2025-12-02T10:00:00+01:00"));
    f.compute().await;
    let month = f.feed.get(&format!("chats_started/unit/{UNIT}/2025-11"));
    assert!(month.is_final);
    assert_eq!(month.numerator, dec(3));
    let shard = f.feed.driver.shard(Topic::Chats, 0).unwrap();
    assert!(!shard.month_to_date.contains_key(&november), "a final month's month to date goes");
    std::fs::remove_dir_all(dir).unwrap();
}

/// Additive KPIs are computed from each batch's new events and added up
/// (`catalogue::Combine::Additive`); whole-day KPIs are recomputed. Small batches, a restart from
/// checkpoints in between, and one computation at the end must give the same values.
#[tokio::test]
async fn small_batches_and_a_restart_give_the_values_of_one_computation() {
    small_batches_and_a_restart(false, Pace::Live).await;
}

/// As the consumer runs: each batch's checkpoint is written while the next is offered.
#[tokio::test]
async fn small_batches_checkpointed_in_the_background_and_a_restart_give_the_values_of_one_computation() {
    small_batches_and_a_restart(true, Pace::Live).await;
}

/// As the consumer runs behind a backlog: values not final yet wait for a live computation,
/// across the restart too (its checkpoint holds events whose values were not computed).
#[tokio::test]
async fn small_batches_catching_up_and_a_restart_give_the_values_of_one_computation() {
    small_batches_and_a_restart(true, Pace::CatchingUp).await;
}

async fn small_batches_and_a_restart(in_background: bool, pace: Pace) {
    use vardpuls_core::calendar::LocalDay;
    use vardpuls_simulator::{faults::Faults, registry, stream::Simulation};
    let dir =
        std::env::temp_dir().join(format!("vardpuls-engine-batches-{in_background}-{pace:?}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    // Around the 23-hour day, with duplicates, disorder, late and malformed events.
    let faults = Faults { duplicate: 0.02, out_of_order: 0.05, malformed: 0.001, late: 0.002, ..Faults::default() };
    let sim = Simulation::new(registry::dalarna(), 11, faults);
    let first = LocalDay::from_date(chrono::NaiveDate::from_ymd_opt(2026, 3, 27).unwrap());
    let events: Vec<_> = sim.days(first, 8).flat_map(|(_, events)| events).collect();
    assert!(events.len() > 10_000, "{} events", events.len());

    let mut whole = Feed::new();
    let mut batched = CheckpointedFeed::new(dir.clone());
    batched.feed.in_background = in_background;
    batched.feed.pace = pace;
    for (i, e) in events.iter().enumerate() {
        let json = String::from_utf8(e.payload.clone()).unwrap();
        whole.offer(e.topic, json.clone());
        batched.feed.offer(e.topic, json);
        if i % 331 == 330 {
            batched.compute().await;
        }
        if i == events.len() / 2 {
            batched.compute().await;
            batched.restart();
        }
    }
    whole.compute().await;
    batched.compute().await;
    let value = |r: &KpiRecord| (r.numerator, r.denominator, r.live.clone(), r.is_final);
    let stale = whole.latest.iter().filter(|(k, r)| batched.feed.latest.get(*k).map(value) != Some(value(r))).count();
    match pace {
        Pace::Live => assert_eq!((batched.feed.driver.waiting(), stale), (false, 0)),
        Pace::CatchingUp => {
            assert!(batched.feed.driver.waiting(), "the last open day's events wait");
            assert!(stale > 0, "values not final yet wait for a live computation");
        }
    }
    batched.feed.pace = Pace::Live;
    batched.compute().await;
    assert!(!batched.feed.driver.waiting());

    let mut differing: Vec<&String> = whole.latest.keys().chain(batched.feed.latest.keys()).collect();
    differing.retain(|k| whole.latest.get(*k).map(value) != batched.feed.latest.get(*k).map(value));
    assert!(differing.is_empty(), "{} values differ, e.g. {:?}", differing.len(), &differing[..differing.len().min(5)]);
    for kpi in ["visits", "chats_started", "same_day_contact", "listed_patients", "assessment_within_3_days"] {
        assert!(whole.latest.keys().any(|k| k.starts_with(kpi)), "no {kpi} values");
    }
    // The last checkpoint, written in the background or not, is what a restart loads.
    let offsets = batched.feed.offsets.clone();
    batched.restart();
    for (topic, next) in offsets {
        assert_eq!(batched.feed.driver.shard(topic, 0).unwrap().next_offset, next, "{topic}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// A checkpoint that cannot be written (here its head's temporary file is in the way) fails the
/// next step that reads the state, never reports its offsets, and leaves the one before it.
#[tokio::test]
async fn a_checkpoint_failing_in_the_background_fails_the_next_step_and_leaves_the_last_one_written() {
    let dir = std::env::temp_dir().join(format!("vardpuls-engine-failed-write-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut f = Feed::with_state(Some(dir.clone()));
    f.in_background = true;
    f.offer(Topic::Chats, chat(1, "2026-11-02T10:00:00+01:00"));
    f.compute().await;
    assert_eq!(f.driver.written().unwrap().next_offsets, vec![(Topic::Chats, 0, 1)]);
    let head = vardpuls_aggregator::checkpoint::path(&dir, Topic::Chats, 0);
    std::fs::create_dir(head.with_extension("json.tmp")).unwrap();
    f.offer(Topic::Chats, chat(2, "2026-11-02T11:00:00+01:00"));
    f.compute().await;
    f.offer(Topic::Chats, chat(3, "2026-11-02T12:00:00+01:00"));
    let error = f.driver.compute().await.err().expect("the failed checkpoint is reported");
    assert!(format!("{error:#}").contains("0.json.tmp"), "{error:#}");
    assert!(f.driver.written().unwrap().next_offsets.is_empty(), "a failed checkpoint's offsets are never reported");
    let mut restarted = Driver::new(config(), Some(dir.clone()));
    assert_eq!(restarted.resume(Topic::Chats, 0).unwrap(), Some(1), "the checkpoint before it is the one on disk");
    std::fs::remove_dir_all(dir).unwrap();
}

/// A live event after a backfill moves the watermark past the retention of the days it closes:
/// they close, publish their final values and expire in the same computation.
#[tokio::test]
async fn a_watermark_jump_closes_and_expires_days_in_one_computation() {
    let mut f = Feed::new();
    f.offer(Topic::Chats, chat(1, "2025-01-10T10:00:00+01:00"));
    f.compute().await;
    f.offer(Topic::Chats, chat(2, "2025-01-10T11:00:00+01:00"));
    f.offer(Topic::Chats, chat(3, "2026-11-24T10:00:00+01:00"));
    f.compute().await;
    let day = f.get(&format!("chats_started/unit/{UNIT}/2025-01-10"));
    assert!(day.is_final);
    assert_eq!(day.numerator, dec(2));
    let month = f.get(&format!("chats_started/unit/{UNIT}/2025-01"));
    assert!(month.is_final);
    assert_eq!(month.numerator, dec(2));
    let shard = f.driver.shard(Topic::Chats, 0).unwrap();
    assert!(shard.closed_days().iter().all(|d| d.to_string().as_str() > "2025-10"), "{:?}", shard.closed_days());
}

#[tokio::test]
async fn a_late_event_restates_an_archived_day_after_a_restart_as_without_one() {
    let dir = std::env::temp_dir().join(format!("vardpuls-engine-restate-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    const OTHER: &str = "SE2321000180-E00102";
    let chat_of = |unit: &str, n: u32, at: &str| chat(n, at).replace(UNIT, unit);
    let mut kept = Feed::new();
    let mut restarted = CheckpointedFeed::new(dir.clone());
    // Two units' chats on 2-4 March, then November: March is closed, archived, and after the
    // restart no event of OTHER has been seen by the new instance.
    let mut batches: Vec<Vec<String>> = vec![
        (2..=4)
            .flat_map(|d| {
                [
                    chat_of(UNIT, d, &format!("2026-03-0{d}T10:00:00+01:00")),
                    chat_of(OTHER, 10 + d, &format!("2026-03-0{d}T11:00:00+01:00")),
                ]
            })
            .collect(),
        (1..=3).map(|d| chat(20 + d, &format!("2026-11-{:02}T10:00:00+01:00", d))).collect(),
    ];
    // Late: UNIT's chat for 3 March; its day also holds OTHER's.
    batches.push(vec![chat(30, "2026-03-03T15:00:00+01:00")]);
    for (i, batch) in batches.into_iter().enumerate() {
        for json in batch {
            kept.offer(Topic::Chats, json.clone());
            restarted.feed.offer(Topic::Chats, json);
        }
        kept.compute().await;
        restarted.compute().await;
        if i == 1 {
            restarted.restart();
            assert!(
                restarted.feed.driver.shard(Topic::Chats, 0).unwrap().archived.contains(&"2026-03-03".parse().unwrap())
            );
        }
    }
    let mut differing: Vec<&String> = kept.latest.keys().chain(restarted.feed.latest.keys()).collect();
    differing.retain(|k| kept.latest.get(*k) != restarted.feed.latest.get(*k));
    assert!(differing.is_empty(), "records differ after a restart: {differing:?}");
    let day = restarted.feed.get(&format!("chats_started/unit/{UNIT}/2026-03-03"));
    assert_eq!((day.numerator, day.is_final, day.revision), (dec(2), true, 1));
    let month = restarted.feed.get(&format!("chats_started/unit/{UNIT}/2026-03"));
    assert_eq!((month.numerator, month.is_final, month.revision), (dec(4), true, 1));
    assert_eq!(restarted.feed.get(&format!("chats_started/unit/{OTHER}/2026-03")).numerator, dec(3));
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn persons_listed_via_1177_count_once_per_month_and_over_the_year_also_restated_and_restarted() {
    let dir = std::env::temp_dir().join(format!("vardpuls-engine-persons-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut f = CheckpointedFeed::new(dir.clone());
    let mut n = 700;
    let mut list = |f: &mut CheckpointedFeed, person: &str, channel: &str, at: &str| {
        n += 1;
        let body =
            format!(r#""event_type":"listed","patient_ref":"{person}","kommun_code":"2062","channel":"{channel}""#);
        let routed = f.feed.offer(Topic::Listings, listing(n, at, UNIT, &body));
        assert!(matches!(routed, Routed::Counted | Routed::Restating), "{at}: {routed:?}");
    };
    // January: p-1 twice via 1177, p-2 by form. March: p-1 again, p-3 twice. April: p-4.
    list(&mut f, "p-1", "e_service_1177", "2026-01-10T10:00:00+01:00");
    list(&mut f, "p-1", "e_service_1177", "2026-01-20T10:00:00+01:00");
    list(&mut f, "p-2", "form", "2026-01-15T10:00:00+01:00");
    list(&mut f, "p-1", "e_service_1177", "2026-03-05T10:00:00+01:00");
    list(&mut f, "p-3", "e_service_1177", "2026-03-06T10:00:00+01:00");
    list(&mut f, "p-3", "e_service_1177", "2026-03-07T10:00:00+01:00");
    list(&mut f, "p-4", "e_service_1177", "2026-04-02T10:00:00+02:00");
    f.compute().await;
    let persons = |f: &CheckpointedFeed, kpi: &str, month: &str| -> (i64, bool) {
        let r = f.feed.get(&format!("{kpi}/unit/{UNIT}/{month}"));
        (r.numerator.try_into().unwrap(), r.is_final)
    };
    let month = |f: &CheckpointedFeed, m| persons(f, "persons_listed_via_1177", m);
    let ytd = |f: &CheckpointedFeed, m| persons(f, "persons_listed_via_1177_ytd", m);
    assert_eq!([month(&f, "2026-01"), month(&f, "2026-03"), month(&f, "2026-04")], [(1, true), (2, true), (1, false)]);
    // The year to date: p-1; p-1 (no one in February); p-1 and p-3; and p-4.
    assert_eq!(
        ["2026-01", "2026-02", "2026-03", "2026-04"].map(|m| ytd(&f, m)),
        [(1, true), (1, true), (2, true), (3, false)]
    );
    // 3 listings via 1177 in March, 2 persons.
    assert_eq!(f.feed.get(&format!("listings_via_1177/unit/{UNIT}/2026-03")).numerator, dec(3));

    // A late listing of a new person on 10 February restates February and the year to date of
    // every later month; then a restart from the checkpoints, and one more person in April.
    list(&mut f, "p-5", "e_service_1177", "2026-02-10T10:00:00+01:00");
    f.compute().await;
    assert_eq!(month(&f, "2026-02"), (1, true));
    assert_eq!(["2026-02", "2026-03", "2026-04"].map(|m| ytd(&f, m)), [(2, true), (3, true), (4, false)]);
    assert!(f.feed.get(&format!("persons_listed_via_1177_ytd/unit/{UNIT}/2026-03")).revision > 0, "restated");
    f.restart();
    list(&mut f, "p-6", "e_service_1177", "2026-04-03T10:00:00+02:00");
    list(&mut f, "p-1", "e_service_1177", "2026-04-03T11:00:00+02:00");
    f.compute().await;
    // April: p-4, p-6 and p-1 (again this year, but new this month); the year: p-1 to p-6
    // without p-2, who listed by form.
    assert_eq!((month(&f, "2026-04"), ytd(&f, "2026-04")), ((3, false), (5, false)));
    let _ = std::fs::remove_dir_all(&dir);
}
