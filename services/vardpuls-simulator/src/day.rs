//! One calendar day (Europe/Stockholm) of one unit: calls in phone hours shaped over the day
//! and week, answered calls with queue waits, callbacks made the same day, the next day or not
//! at all, abandoned calls; visits by profession and contact form with first assessments and
//! patients listed elsewhere; chats growing year on year; listing moves. Plus, per region, 1177
//! calls and digital out-of-county contacts priced by the SKR list.
//!
//! Rates scale with the list size; the constants below are the model, in one place.

use crate::SimEvent;
use crate::registry::SimUnit;
use crate::rng::Rng;
use chrono::{DateTime, Datelike, Duration, NaiveTime, TimeZone, Utc};
use vardpuls_core::Topic;
use vardpuls_core::calendar::{LocalDay, TIME_ZONE};

/// Calls a weekday per listed patient (Mora, 21 593 listed: about 145 calls).
const CALLS_PER_LISTED: f64 = 1.0 / 150.0;
/// Monday to Friday: Mondays are busiest.
const WEEKDAY_FACTOR: [f64; 5] = [1.35, 1.05, 1.0, 0.95, 0.85];
/// Arrivals per hour of phone hours (08-17): the morning peak.
const HOUR_WEIGHTS: [f64; 9] = [3.0, 2.0, 1.5, 1.2, 0.6, 1.2, 1.0, 0.9, 0.6];
const SHARE_IN_PHONE_HOURS: f64 = 0.95;
const SHARE_CALLBACK: f64 = 0.30;
const MEAN_QUEUE_WAIT_S: f64 = 180.0;
/// Visits a weekday per listed patient (about 2 contacts a person a year).
const VISITS_PER_LISTED: f64 = 1.0 / 125.0;
const PROFESSIONS: [(&str, f64); 7] = [
    ("doctor", 0.42),
    ("nurse", 0.38),
    ("physiotherapist", 0.10),
    ("psychologist", 0.05),
    ("occupational_therapist", 0.02),
    ("counsellor", 0.02),
    ("dietitian", 0.01),
];
/// Distance is about 15 % (mostly phone); digital (video, chat) about 2 %.
const CONTACT_FORMS: [(&str, f64); 4] = [("physical", 0.83), ("phone", 0.15), ("video", 0.01), ("chat", 0.01)];
const SHARE_FIRST_ASSESSMENT: f64 = 0.25;
/// Days from first contact to assessment, 0 to 7: about 83 % within 3 days (81-88 % nationally).
const ASSESSMENT_WAIT_DAYS: [f64; 8] = [0.35, 0.22, 0.15, 0.11, 0.07, 0.04, 0.03, 0.03];
const SHARE_PATIENT_CHOSEN_WAIT: f64 = 0.08;
const SHARE_LISTED_ELSEWHERE: f64 = 0.07;
const CHATS_PER_LISTED: f64 = 1.0 / 500.0;
/// Chats grow 12 % a year from 2024.
const CHAT_GROWTH_PER_YEAR: f64 = 1.12;
const LISTINGS_PER_LISTED: f64 = 1.0 / 2500.0;
const CALLS_1177_PER_INHABITANT: f64 = 1.0 / 1500.0;
const MEAN_1177_WAIT_S: f64 = 420.0;
const DIGITAL_OUT_OF_COUNTY_PER_INHABITANT: f64 = 1.0 / 4500.0;
/// Digital out-of-county providers and professions (2020: 67 % doctor, 19 % nurse, ...), with
/// the SKR 2019 price list: 500 kr doctor, 425 kr psychologist, 275 kr other staff.
const PROVIDERS: [(&str, &str, f64); 3] = [
    ("Kry", "SE2321000016-KRY01", 0.5),
    ("Min Doktor", "SE2321000016-MDR01", 0.3),
    ("Doktor24", "SE2321000016-D2401", 0.2),
];
const OUT_OF_COUNTY_PROFESSIONS: [(&str, f64, &str, &str); 4] = [
    ("doctor", 0.67, "500.00", "100"),
    ("nurse", 0.19, "275.00", "0"),
    ("physiotherapist", 0.09, "275.00", "0"),
    ("psychologist", 0.05, "425.00", "0"),
];

/// Builds the events of one day, with ids unique for (seed, day, stream part).
pub struct DayWriter {
    pub day: LocalDay,
    day_number: u32,
    part: u32,
    seed: u64,
    next: u64,
    pub events: Vec<SimEvent>,
}

impl DayWriter {
    pub fn new(seed: u64, day: LocalDay, part: u32) -> DayWriter {
        let day_number = (day.date().num_days_from_ce() - 730_000).max(0) as u32;
        DayWriter { day, day_number, part, seed, next: 0, events: Vec::new() }
    }

    /// An instant `seconds` after local midnight of the day (or of a later day).
    pub fn at(&self, seconds: f64) -> DateTime<Utc> {
        local(self.day, seconds)
    }

    pub fn push(&mut self, at: DateTime<Utc>, topic: Topic, unit: &str, body: &str) {
        self.next += 1;
        let id = format!(
            "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
            self.seed as u32,
            self.day_number & 0xffff,
            self.part >> 12 & 0xfff,
            self.part & 0xfff,
            self.next
        );
        let json = format!(
            r#"{{"schema_version":1,"event_id":"{id}","occurred_at":"{}","unit_id":"{unit}",{body}}}"#,
            at.format("%Y-%m-%dT%H:%M:%SZ")
        );
        self.events.push(SimEvent { at, topic, key: unit.to_string(), payload: json.into_bytes() });
    }
}

/// Local time of day to an instant; DST days have 23 or 25 hours, local times stay local.
pub fn local(day: LocalDay, seconds: f64) -> DateTime<Utc> {
    let whole = seconds.max(0.0) as i64;
    let date = day.date() + Duration::days(whole / 86_400);
    let time = NaiveTime::from_num_seconds_from_midnight_opt((whole % 86_400) as u32, 0).expect("in range");
    match TIME_ZONE.from_local_datetime(&date.and_time(time)) {
        chrono::LocalResult::Single(t) | chrono::LocalResult::Ambiguous(t, _) => t.with_timezone(&Utc),
        // 02:00-03:00 on the spring-forward day does not exist: an hour later does.
        chrono::LocalResult::None => local(day, seconds + 3600.0),
    }
}

fn pick<'a, T>(rng: &mut Rng, items: &'a [(T, f64)]) -> &'a T {
    let weights: Vec<f64> = items.iter().map(|(_, w)| *w).collect();
    &items[rng.weighted(&weights)].0
}

/// One unit's phone, visits, chats and listings for the day. `others` are the region's other
/// units (where patients listed elsewhere are listed).
pub fn unit_day(w: &mut DayWriter, rng: &mut Rng, unit: &SimUnit, unit_no: usize, others: &[&SimUnit]) {
    let weekday = w.day.date().weekday().num_days_from_monday() as usize;
    let listed = unit.listed as f64;
    if weekday < 5 {
        calls(w, rng, unit, unit_no, listed * CALLS_PER_LISTED * WEEKDAY_FACTOR[weekday]);
    }
    let visit_rate = if weekday < 5 { VISITS_PER_LISTED * WEEKDAY_FACTOR[weekday] } else { VISITS_PER_LISTED / 20.0 };
    visits(w, rng, unit, unit_no, others, listed * visit_rate);
    let years = (w.day.date().year() - 2024) as f64 + w.day.date().ordinal() as f64 / 365.0;
    let chat_rate = CHATS_PER_LISTED * CHAT_GROWTH_PER_YEAR.powf(years) * if weekday < 5 { 1.0 } else { 0.4 };
    for c in 0..rng.poisson(listed * chat_rate) {
        let at = w.at(6.0 * 3600.0 + rng.unit() * 16.0 * 3600.0);
        let channel = pick(rng, &[("e_service_1177", 0.7), ("regional_app", 0.25), ("other", 0.05)]);
        w.push(
            at,
            Topic::Chats,
            &unit.hsa_id,
            &format!(
                r#""event_type":"chat_started","chat_id":"ch{unit_no}x{c}x{}","channel":"{channel}""#,
                rng.below(1 << 20)
            ),
        );
    }
    for (kind, rate) in [("listed", LISTINGS_PER_LISTED), ("unlisted", LISTINGS_PER_LISTED * 0.96)] {
        for _ in 0..rng.poisson(listed * rate) {
            let at = w.at(7.0 * 3600.0 + rng.unit() * 12.0 * 3600.0);
            let kommun = if rng.chance(0.1) && !others.is_empty() {
                &others[rng.below(others.len() as u64) as usize].kommun
            } else {
                &unit.kommun
            };
            let channel = match kind {
                "listed" => format!(
                    r#","channel":"{}""#,
                    pick(rng, &[("e_service_1177", 0.4), ("form", 0.5), ("automatic", 0.1)])
                ),
                _ => String::new(),
            };
            w.push(
                at,
                Topic::Listings,
                &unit.hsa_id,
                &format!(
                    r#""event_type":"{kind}","patient_ref":"lp{unit_no}x{}","kommun_code":"{kommun}"{channel}"#,
                    rng.below(1 << 30)
                ),
            );
        }
    }
}

fn calls(w: &mut DayWriter, rng: &mut Rng, unit: &SimUnit, unit_no: usize, mean: f64) {
    // Outcomes chosen so that same-day contact lands near the unit's quality.
    let abandoned = (1.0 - unit.contact_quality) * 0.4;
    let answered = 1.0 - abandoned - SHARE_CALLBACK;
    let callback_success = ((unit.contact_quality - answered) / SHARE_CALLBACK).clamp(0.0, 1.0);
    for c in 0..rng.poisson(mean) {
        let in_hours = rng.chance(SHARE_IN_PHONE_HOURS);
        let t = if in_hours {
            (8 + rng.weighted(&HOUR_WEIGHTS)) as f64 * 3600.0 + rng.unit() * 3600.0
        } else if rng.chance(0.5) {
            7.5 * 3600.0 + rng.unit() * 1800.0
        } else {
            17.0 * 3600.0 + rng.unit() * 3600.0
        };
        let call = format!("c{unit_no}x{}x{c}", w.day_number);
        let line = r#""line":"primary_care""#;
        w.push(
            w.at(t),
            Topic::Phone,
            &unit.hsa_id,
            &format!(r#""event_type":"call_received","call_id":"{call}",{line},"in_phone_hours":{in_hours}"#),
        );
        let outcome = rng.unit();
        if outcome < answered {
            let wait = rng.exponential(MEAN_QUEUE_WAIT_S).min(1800.0);
            w.push(
                w.at(t + wait),
                Topic::Phone,
                &unit.hsa_id,
                &format!(
                    r#""event_type":"call_answered","call_id":"{call}",{line},"queue_wait_seconds":{}"#,
                    wait as u32
                ),
            );
        } else if outcome < answered + SHARE_CALLBACK {
            w.push(
                w.at(t + 30.0),
                Topic::Phone,
                &unit.hsa_id,
                &format!(r#""event_type":"callback_booked","call_id":"{call}",{line}"#),
            );
            let (when, reached) = if rng.chance(callback_success) {
                ((t + 1800.0 + rng.unit() * 4.0 * 3600.0).min(86_399.0), true)
            } else if rng.chance(0.6) {
                (86_400.0 + 9.0 * 3600.0 + rng.unit() * 3.0 * 3600.0, true) // tomorrow: a miss today
            } else {
                ((t + 3600.0 + rng.unit() * 3.0 * 3600.0).min(86_399.0), false)
            };
            w.push(
                w.at(when),
                Topic::Phone,
                &unit.hsa_id,
                &format!(r#""event_type":"callback_completed","call_id":"{call}",{line},"reached":{reached}"#),
            );
        } else {
            let after = rng.exponential(60.0);
            w.push(
                w.at(t + after),
                Topic::Phone,
                &unit.hsa_id,
                &format!(r#""event_type":"call_abandoned","call_id":"{call}",{line}"#),
            );
        }
    }
}

fn visits(w: &mut DayWriter, rng: &mut Rng, unit: &SimUnit, unit_no: usize, others: &[&SimUnit], mean: f64) {
    for v in 0..rng.poisson(mean) {
        let t = 8.0 * 3600.0 + rng.unit() * 9.0 * 3600.0;
        let profession = pick(rng, &PROFESSIONS);
        let form = pick(rng, &CONTACT_FORMS);
        let elsewhere = match (rng.chance(SHARE_LISTED_ELSEWHERE), others.is_empty()) {
            (true, false) => {
                format!(r#","listed_unit_id":"{}""#, others[rng.below(others.len() as u64) as usize].hsa_id)
            }
            _ => format!(r#","listed_unit_id":"{}""#, unit.hsa_id),
        };
        let assessment = if rng.chance(SHARE_FIRST_ASSESSMENT) {
            let days_before = rng.weighted(&ASSESSMENT_WAIT_DAYS) as f64;
            let first = w.at(t) - Duration::seconds((days_before * 86_400.0 + rng.unit() * 3600.0) as i64);
            format!(
                r#","assessment":{{"first_contact_at":"{}","patient_chosen_wait":{}}}"#,
                first.format("%Y-%m-%dT%H:%M:%SZ"),
                rng.chance(SHARE_PATIENT_CHOSEN_WAIT)
            )
        } else {
            String::new()
        };
        w.push(w.at(t), Topic::Visits, &unit.hsa_id, &format!(
            r#""event_type":"visit_completed","visit_id":"v{unit_no}x{}x{v}","patient_ref":"p{unit_no}x{}","profession":"{profession}","contact_form":"{form}"{elsewhere}{assessment}"#,
            w.day_number,
            rng.below(1 << 30)
        ));
    }
}

/// A region's 1177 calls (around the clock) and its residents' digital out-of-county contacts.
pub fn region_day(w: &mut DayWriter, rng: &mut Rng, region: &str, region_org: &str, inhabitants: f64) {
    let service = crate::registry::service_1177(region_org);
    for c in 0..rng.poisson(inhabitants * CALLS_1177_PER_INHABITANT) {
        let t = rng.unit() * 86_400.0;
        let call = format!("r{region}x{}x{c}", w.day_number);
        w.push(
            w.at(t),
            Topic::Phone,
            &service,
            &format!(r#""event_type":"call_received","call_id":"{call}","line":"1177","in_phone_hours":true"#),
        );
        if rng.chance(0.93) {
            // Whole seconds, so the answer less its wait is the second the call came in.
            let wait = rng.exponential(MEAN_1177_WAIT_S).min(3600.0).floor();
            w.push(
                w.at(t + wait),
                Topic::Phone,
                &service,
                &format!(
                    r#""event_type":"call_answered","call_id":"{call}","line":"1177","queue_wait_seconds":{}"#,
                    wait as u32
                ),
            );
        } else {
            w.push(
                w.at(t + rng.exponential(300.0)),
                Topic::Phone,
                &service,
                &format!(r#""event_type":"call_abandoned","call_id":"{call}","line":"1177""#),
            );
        }
    }
    let contracting = if region == "01" { "12" } else { "01" };
    for v in 0..rng.poisson(inhabitants * DIGITAL_OUT_OF_COUNTY_PER_INHABITANT) {
        let t = 7.0 * 3600.0 + rng.unit() * 15.0 * 3600.0;
        let weights: Vec<f64> = PROVIDERS.iter().map(|p| p.2).collect();
        let (provider, provider_unit, _) = PROVIDERS[rng.weighted(&weights)];
        let weights: Vec<f64> = OUT_OF_COUNTY_PROFESSIONS.iter().map(|p| p.1).collect();
        let (profession, _, price, fee) = OUT_OF_COUNTY_PROFESSIONS[rng.weighted(&weights)];
        let form = if rng.chance(0.7) { "video" } else { "chat" };
        w.push(w.at(t), Topic::Visits, provider_unit, &format!(
            r#""event_type":"visit_completed","visit_id":"oc{region}x{}x{v}","patient_ref":"op{region}x{}","profession":"{profession}","contact_form":"{form}","out_of_county":{{"provider":"{provider}","home_region":"{region}","contracting_region":"{contracting}","price_sek":"{price}","patient_fee_sek":"{fee}"}}"#,
            w.day_number,
            rng.below(1 << 30)
        ));
    }
}

/// The list size at the start of the simulated period: loads the stock without its history.
pub fn stock_snapshot(w: &mut DayWriter, unit: &SimUnit) {
    w.push(
        w.at(1.0),
        Topic::Listings,
        &unit.hsa_id,
        &format!(r#""event_type":"stock_snapshot","listed_count":{}"#, unit.listed),
    );
}
