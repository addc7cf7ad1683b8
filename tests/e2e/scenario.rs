//! A deterministic stream of input messages for end-to-end tests: several units over the DST
//! days at the end of March 2026, with out-of-order, duplicate, invalid and late messages.

use vardpuls_core::Topic;
use vardpuls_core::calendar::LocalDay;

pub const UNITS: [&str; 6] = [
    "SE2321000180-E00101",
    "SE2321000180-E00102",
    "SE2321000180-E00103",
    "SE2321000115-V1380A",
    "SE2321000115-V1383B",
    "SE2321000131-P000000123457",
];

#[derive(Debug, Clone)]
pub struct Message {
    pub topic: Topic,
    pub key: String,
    pub payload: Vec<u8>,
}

/// A small linear congruential generator: the same seed gives the same stream everywhere.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn at(day: &str, seconds: i64) -> String {
    let start = LocalDay::parse(day).unwrap().start();
    (start + chrono::Duration::seconds(seconds)).format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// `messages` in an order drawn from `seed` (Fisher-Yates).
pub fn shuffled(messages: &[Message], seed: u64) -> Vec<Message> {
    let mut out: Vec<Message> = messages.to_vec();
    let mut rng = Rng(seed);
    for i in (1..out.len()).rev() {
        out.swap(i, rng.below(i as u64 + 1) as usize);
    }
    out
}

pub fn days() -> Vec<&'static str> {
    vec!["2026-03-27", "2026-03-28", "2026-03-29", "2026-03-30", "2026-03-31"]
}

/// Messages in production order.
pub fn stream(seed: u64, calls_per_unit_day: u32) -> Vec<Message> {
    let mut rng = Rng(seed);
    let mut out: Vec<(String, Message)> = Vec::new();
    let mut n = 0u64;
    let mut next_id = || {
        n += 1;
        format!("5e1f0c2a-0000-4000-8000-{n:012}")
    };
    for day in days() {
        for unit in UNITS {
            for c in 0..calls_per_unit_day {
                let call = format!("{unit}-{day}-{c}").replace("SE", "c");
                let t0 = 7 * 3600 + rng.below(10 * 3600) as i64;
                let in_hours = rng.below(10) < 9;
                let mut events = vec![(
                    t0,
                    format!(
                        r#""event_type":"call_received","call_id":"{call}","line":"primary_care","in_phone_hours":{in_hours}"#
                    ),
                )];
                match rng.below(20) {
                    0..=11 => events.push((t0 + 60, format!(r#""event_type":"call_answered","call_id":"{call}","line":"primary_care","queue_wait_seconds":{}"#, rng.below(900)))),
                    12..=16 => {
                        events.push((t0 + 30, format!(r#""event_type":"callback_booked","call_id":"{call}","line":"primary_care""#)));
                        // Mostly the same day; sometimes after midnight (a miss).
                        let later = if rng.below(5) == 0 { 20 * 3600 } else { 3600 };
                        let reached = rng.below(6) != 0;
                        events.push((t0 + later, format!(r#""event_type":"callback_completed","call_id":"{call}","line":"primary_care","reached":{reached}"#)));
                    }
                    _ => events.push((t0 + 45, format!(r#""event_type":"call_abandoned","call_id":"{call}","line":"primary_care""#))),
                }
                for (t, body) in events {
                    let json = format!(
                        r#"{{"schema_version":1,"event_id":"{}","occurred_at":"{}","unit_id":"{unit}",{body}}}"#,
                        next_id(),
                        at(day, t)
                    );
                    out.push((
                        at(day, t),
                        Message { topic: Topic::Phone, key: unit.to_string(), payload: json.into_bytes() },
                    ));
                }
            }
            for v in 0..(calls_per_unit_day / 2) {
                let t = 8 * 3600 + rng.below(9 * 3600) as i64;
                let form = ["physical", "phone", "video", "chat"][rng.below(4) as usize];
                let profession = ["doctor", "nurse", "psychologist"][rng.below(3) as usize];
                let assessment = if rng.below(3) == 0 {
                    // First contact 0 to 6.5 days before the assessment.
                    let first_contact = at(day, t - rng.below(14) as i64 * 43_200);
                    format!(
                        r#","assessment":{{"first_contact_at":"{first_contact}","patient_chosen_wait":{}}}"#,
                        rng.below(8) == 0
                    )
                } else {
                    String::new()
                };
                let json = format!(
                    r#"{{"schema_version":1,"event_id":"{}","event_type":"visit_completed","occurred_at":"{}","unit_id":"{unit}","visit_id":"v-{day}-{v}","patient_ref":"p-{}","profession":"{profession}","contact_form":"{form}"{assessment}}}"#,
                    next_id(),
                    at(day, t),
                    rng.below(1000)
                );
                out.push((
                    at(day, t),
                    Message { topic: Topic::Visits, key: unit.to_string(), payload: json.into_bytes() },
                ));
            }
            for c in 0..(calls_per_unit_day / 4) {
                let t = rng.below(86_000) as i64;
                let json = format!(
                    r#"{{"schema_version":1,"event_id":"{}","event_type":"chat_started","occurred_at":"{}","unit_id":"{unit}","chat_id":"chat-{day}-{c}","channel":"e_service_1177"}}"#,
                    next_id(),
                    at(day, t)
                );
                out.push((
                    at(day, t),
                    Message { topic: Topic::Chats, key: unit.to_string(), payload: json.into_bytes() },
                ));
            }
        }
    }
    // Time order, then local disorder: swap some neighbours.
    out.sort_by(|a, b| a.0.cmp(&b.0));
    let mut messages: Vec<Message> = out.into_iter().map(|(_, m)| m).collect();
    for i in 1..messages.len() {
        if rng.below(8) == 0 {
            messages.swap(i - 1, i);
        }
    }
    // Duplicates: some messages sent again later.
    let len = messages.len();
    for _ in 0..len / 50 {
        let i = rng.below(len as u64) as usize;
        let again =
            Message { topic: messages[i].topic, key: messages[i].key.clone(), payload: messages[i].payload.clone() };
        let j = (i + 1 + rng.below(20) as usize).min(messages.len());
        messages.insert(j, again);
    }
    // Invalid messages straight onto the input topics (not through ingest).
    for (i, garbage) in
        [&b"{\"schema_version\":1"[..], b"\xff\xfe", b"{\"schema_version\":2}", b"[]"].iter().enumerate()
    {
        let at = rng.below(messages.len() as u64) as usize;
        messages.insert(at, Message { topic: Topic::Phone, key: UNITS[i].to_string(), payload: garbage.to_vec() });
    }
    // Late: chats for the 27th, long after it closed.
    for (i, unit) in UNITS.iter().enumerate() {
        let json = format!(
            r#"{{"schema_version":1,"event_id":"{}","event_type":"chat_started","occurred_at":"2026-03-27T10:00:00+01:00","unit_id":"{unit}","chat_id":"late-{i}","channel":"other"}}"#,
            next_id()
        );
        messages.push(Message { topic: Topic::Chats, key: unit.to_string(), payload: json.into_bytes() });
    }
    messages
}
