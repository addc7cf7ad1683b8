//! Versions of a visit or a chat: which of a day's events count.
//!
//! Source systems correct what they sent: a journal re-exports a visit with a new `event_id`
//! after fixing its profession, or cancels it (`visit_cancelled`). Events with the same
//! `unit_id`, business key (`visit_id`, `chat_id`) and local day are versions of one visit or
//! chat, and exactly one of them counts: the one recorded last (`recorded_at`; a version with
//! it beats one without), on a tie a cancellation, then the greatest `event_id`. A visit whose
//! counting version is a cancellation counts nowhere. Calls need no such rule: their events
//! are grouped by `call_id` in SQL already.
//!
//! The winner depends only on the versions, not on their order, and all versions of a day are
//! at hand whenever the day is computed (open days in memory, closed days from the day store),
//! so corrections stay exact under restatement. Why versions share a day rather than spanning
//! the horizon: an index of every visit and chat id over 400 days would hold ~17 million keys
//! per aggregator instance in the national benchmark (docs/kpis.md, "Corrections").

use std::collections::HashMap;
use vardpuls_core::Topic;
use vardpuls_core::events::{InputEvent, VisitEventType};

/// The events of one day that count, in their order: all of them for topics without versions;
/// for visits and chats the counting version of each, and no cancelled visit.
pub fn counting(topic: Topic, events: &[InputEvent]) -> Vec<&InputEvent> {
    if !matches!(topic, Topic::Visits | Topic::Chats) {
        return events.iter().collect();
    }
    let mut winner: HashMap<(&str, &str), usize> = HashMap::with_capacity(events.len());
    for (i, event) in events.iter().enumerate() {
        winner
            .entry(key(event))
            .and_modify(|best| {
                if rank(event) > rank(&events[*best]) {
                    *best = i;
                }
            })
            .or_insert(i);
    }
    if winner.len() == events.len() && !events.iter().any(is_cancellation) {
        return events.iter().collect();
    }
    events.iter().enumerate().filter(|(i, e)| winner[&key(e)] == *i && !is_cancellation(e)).map(|(_, e)| e).collect()
}

/// The unit and business key the versions of one visit or chat share (within a day).
fn key(event: &InputEvent) -> (&str, &str) {
    match event {
        InputEvent::Visit(v) => (v.unit_id.as_str(), v.visit_id.as_str()),
        InputEvent::Chat(c) => (c.unit_id.as_str(), c.chat_id.as_str()),
        InputEvent::Phone(_) | InputEvent::Listing(_) => unreachable!("calls and listings have no versions"),
    }
}

fn is_cancellation(event: &InputEvent) -> bool {
    matches!(event, InputEvent::Visit(v) if v.event_type == VisitEventType::VisitCancelled)
}

/// The order of versions: the greatest counts. `None < Some(_)`: a version with `recorded_at`
/// beats one without.
fn rank(event: &InputEvent) -> impl Ord {
    (event.recorded_at(), is_cancellation(event), event.event_id())
}

#[cfg(test)]
mod tests {
    use super::*;
    use vardpuls_core::events::decode;

    fn visit(id: u32, visit_id: &str, event_type: &str, recorded_at: Option<&str>, profession: &str) -> InputEvent {
        let recorded = recorded_at.map(|r| format!(r#","recorded_at":"{r}""#)).unwrap_or_default();
        let json = format!(
            r#"{{"schema_version":1,"event_id":"00000000-0000-4000-8000-{id:012}","event_type":"{event_type}","occurred_at":"2026-03-09T10:00:00+01:00","unit_id":"SE2321000180-E00101","visit_id":"{visit_id}","patient_ref":"p-1","profession":"{profession}","contact_form":"physical"{recorded}}}"#
        );
        decode(Topic::Visits, json.as_bytes()).unwrap()
    }

    fn professions(events: &[InputEvent]) -> Vec<String> {
        counting(Topic::Visits, events)
            .into_iter()
            .map(|e| match e {
                InputEvent::Visit(v) => format!("{}:{}", v.visit_id.as_str(), v.profession.unwrap().as_str()),
                _ => unreachable!(),
            })
            .collect()
    }

    #[test]
    fn the_version_recorded_last_counts_in_any_order() {
        let nurse = visit(1, "v-1", "visit_completed", Some("2026-03-09T11:00:00+01:00"), "nurse");
        let doctor = visit(2, "v-1", "visit_completed", Some("2026-03-10T08:00:00+01:00"), "doctor");
        let other = visit(3, "v-2", "visit_completed", None, "nurse");
        for events in
            [vec![nurse.clone(), doctor.clone(), other.clone()], vec![other.clone(), doctor.clone(), nurse.clone()]]
        {
            let mut got = professions(&events);
            got.sort();
            assert_eq!(got, ["v-1:doctor", "v-2:nurse"]);
        }
    }

    #[test]
    fn recorded_at_beats_none_and_event_id_breaks_ties() {
        // Without recorded_at on either side the greatest event id counts (id 5 over id 4).
        let (a, b) =
            (visit(5, "v-1", "visit_completed", None, "doctor"), visit(4, "v-1", "visit_completed", None, "nurse"));
        assert_eq!(professions(&[a.clone(), b.clone()]), ["v-1:doctor"]);
        // Any recorded_at beats none, whatever the ids.
        let dated = visit(1, "v-1", "visit_completed", Some("2026-03-09T10:00:00+01:00"), "psychologist");
        assert_eq!(professions(&[a, dated, b]), ["v-1:psychologist"]);
    }

    #[test]
    fn a_cancellation_takes_the_visit_out_unless_a_later_version_restores_it() {
        let visit_ = visit(1, "v-1", "visit_completed", Some("2026-03-09T11:00:00+01:00"), "nurse");
        let cancelled = visit(2, "v-1", "visit_cancelled", Some("2026-03-09T12:00:00+01:00"), "nurse");
        assert!(professions(&[cancelled.clone(), visit_.clone()]).is_empty());
        // Recorded at the same instant, the cancellation wins.
        let same_time = visit(3, "v-1", "visit_cancelled", Some("2026-03-09T11:00:00+01:00"), "nurse");
        assert!(professions(&[visit_.clone(), same_time]).is_empty());
        let restored = visit(0, "v-1", "visit_completed", Some("2026-03-09T13:00:00+01:00"), "doctor");
        assert_eq!(professions(&[restored, cancelled, visit_]), ["v-1:doctor"]);
    }
}
