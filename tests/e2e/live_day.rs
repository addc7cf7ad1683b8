//! Input for the observability tests: a realistic "today so far" for three Dalarna units,
//! plus what the live KPIs compare against (the same weekday a week ago, this month's list
//! sizes, chats in the same month last year). Event times are relative to now, so the
//! exporter's current-day and current-month series exist whenever the test runs.

use crate::scenario::Message;
use chrono::{DateTime, Duration, Utc};
use vardpuls_core::Topic;
use vardpuls_core::calendar::LocalDay;

/// Mora calls a lot and misses many, Koppardalen does well, Särna is small.
pub const UNITS: [(&str, u32, u32); 3] = [
    // (HSA-id, calls today, in every 10 calls how many are answered directly)
    ("SE2321000180-E00101", 60, 6),
    ("SE2321000180-E00102", 40, 10),
    ("SE2321000180-E00103", 12, 8),
];

pub fn messages(now: DateTime<Utc>) -> Vec<Message> {
    let today = LocalDay::of(now);
    // Today's events fall between local midnight (or two hours ago) and a minute ago.
    let start = today.start().max(now - Duration::hours(2));
    let span = (now - Duration::minutes(1) - start).num_seconds().max(60);
    let week_ago = LocalDay::from_date(today.date() - Duration::days(7));
    let month_start = today.month().first_day();
    let last_year = LocalDay::from_date(month_start.date().with_year_back());

    let mut out: Vec<(DateTime<Utc>, Message)> = Vec::new();
    let mut n = 0u64;
    let mut push = |at: DateTime<Utc>, topic: Topic, unit: &str, body: String| {
        n += 1;
        let json = format!(
            r#"{{"schema_version":1,"event_id":"7a1f0c2a-0000-4000-8000-{n:012}","occurred_at":"{}","unit_id":"{unit}",{body}}}"#,
            at.format("%Y-%m-%dT%H:%M:%SZ")
        );
        out.push((at, Message { topic, key: unit.to_string(), payload: json.into_bytes() }));
    };
    for (u, (unit, calls, answered_of_10)) in UNITS.iter().enumerate() {
        // Last year's chats in this month (the growth baseline) and this month's.
        for c in 0..10 {
            let at = last_year.start() + Duration::hours(10) + Duration::minutes(c);
            push(
                at,
                Topic::Chats,
                unit,
                format!(r#""event_type":"chat_started","chat_id":"ly-{u}-{c}","channel":"e_service_1177""#),
            );
        }
        // The list size at the start of the month, then today's moves.
        push(
            month_start.start() + Duration::minutes(1),
            Topic::Listings,
            unit,
            r#""event_type":"stock_snapshot","listed_count":21593"#.into(),
        );
        // A week ago: the expected volume of a day like today.
        for c in 0..*calls {
            let at = week_ago.start() + Duration::hours(9) + Duration::minutes(c as i64);
            push(
                at,
                Topic::Phone,
                unit,
                format!(
                    r#""event_type":"call_received","call_id":"w-{u}-{c}","line":"primary_care","in_phone_hours":true"#
                ),
            );
            push(
                at + Duration::seconds(20),
                Topic::Phone,
                unit,
                format!(
                    r#""event_type":"call_answered","call_id":"w-{u}-{c}","line":"primary_care","queue_wait_seconds":60"#
                ),
            );
        }
        for c in 0..*calls {
            let at = start + Duration::seconds(span * c as i64 / *calls as i64);
            let call = format!("t-{u}-{c}");
            push(
                at,
                Topic::Phone,
                unit,
                format!(
                    r#""event_type":"call_received","call_id":"{call}","line":"primary_care","in_phone_hours":true"#
                ),
            );
            let outcome = if c % 10 < *answered_of_10 {
                format!(
                    r#""event_type":"call_answered","call_id":"{call}","line":"primary_care","queue_wait_seconds":120"#
                )
            } else if c % 2 == 0 {
                format!(r#""event_type":"callback_booked","call_id":"{call}","line":"primary_care""#)
            } else {
                format!(r#""event_type":"call_abandoned","call_id":"{call}","line":"primary_care""#)
            };
            push(at + Duration::seconds(1), Topic::Phone, unit, outcome);
            if c % 6 == 0 {
                push(
                    at,
                    Topic::Phone,
                    unit,
                    format!(
                        r#""event_type":"call_received","call_id":"1177-{u}-{c}","line":"1177","in_phone_hours":true"#
                    ),
                );
                push(
                    at + Duration::seconds(1),
                    Topic::Phone,
                    unit,
                    format!(
                        r#""event_type":"call_answered","call_id":"1177-{u}-{c}","line":"1177","queue_wait_seconds":{}"#,
                        300 + c * 10
                    ),
                );
            }
            let form = ["physical", "phone", "video", "chat"][c as usize % 4];
            let profession = ["doctor", "nurse", "psychologist"][c as usize % 3];
            let first_contact = (at - Duration::days(c as i64 % 5)).format("%Y-%m-%dT%H:%M:%SZ");
            let listed_elsewhere = if c % 5 == 0 { r#","listed_unit_id":"SE2321000180-E00104""# } else { "" };
            push(
                at,
                Topic::Visits,
                unit,
                format!(
                    r#""event_type":"visit_completed","visit_id":"v-{u}-{c}","patient_ref":"p-{u}-{c}","profession":"{profession}","contact_form":"{form}"{listed_elsewhere},"assessment":{{"first_contact_at":"{first_contact}","patient_chosen_wait":false}}"#
                ),
            );
            if c % 3 == 0 {
                push(
                    at,
                    Topic::Chats,
                    unit,
                    format!(r#""event_type":"chat_started","chat_id":"ty-{u}-{c}","channel":"e_service_1177""#),
                );
                push(
                    at,
                    Topic::Listings,
                    unit,
                    format!(
                        r#""event_type":"listed","patient_ref":"pl-{u}-{c}","kommun_code":"2062","channel":"e_service_1177""#
                    ),
                );
            }
            if c % 4 == 0 {
                push(
                    at,
                    Topic::Listings,
                    unit,
                    format!(r#""event_type":"unlisted","patient_ref":"pu-{u}-{c}","kommun_code":"2062""#),
                );
            }
        }
    }
    // Digital out-of-county care for Dalarna's residents, at a Kry unit.
    for c in 0..5 {
        let at = start + Duration::seconds(span * c / 5);
        push(
            at,
            Topic::Visits,
            "SE2321000057-K0001",
            format!(
                r#""event_type":"visit_completed","visit_id":"kry-{c}","patient_ref":"pk-{c}","profession":"doctor","contact_form":"video","out_of_county":{{"provider":"Kry","home_region":"20","contracting_region":"06","price_sek":"500.00","patient_fee_sek":"100"}}"#
            ),
        );
    }
    out.sort_by_key(|(at, _)| *at);
    out.into_iter().map(|(_, m)| m).collect()
}

trait YearBack {
    fn with_year_back(self) -> Self;
}

impl YearBack for chrono::NaiveDate {
    fn with_year_back(self) -> Self {
        use chrono::Datelike;
        self.with_year(self.year() - 1).expect("the first of a month exists every year")
    }
}
