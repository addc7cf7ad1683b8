//! Days in order: every unit's day, the regions' 1177 and out-of-county traffic, sorted by when
//! each event is sent. Events that belong to a later time (tomorrow's callbacks, late faults)
//! are carried to the day they are sent on, so the stream is in time order before faults.

use crate::SimEvent;
use crate::day::{DayWriter, region_day, stock_snapshot, unit_day};
use crate::faults::{self, Faults};
use crate::registry::SimUnit;
use crate::rng::Rng;
use std::collections::BTreeMap;
use vardpuls_core::calendar::LocalDay;

pub struct Simulation {
    pub units: Vec<SimUnit>,
    pub seed: u64,
    pub faults: Faults,
}

impl Simulation {
    pub fn new(units: Vec<SimUnit>, seed: u64, faults: Faults) -> Simulation {
        Simulation { units, seed, faults }
    }

    /// The events that happen on `day`, before carrying and faults. `first` adds the list-size
    /// snapshots that start a simulation.
    pub fn generate_day(&self, day: LocalDay, first: bool) -> Vec<SimEvent> {
        let mut events = Vec::new();
        let mut regions: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, unit) in self.units.iter().enumerate() {
            regions.entry(unit.region()).or_default().push(i);
        }
        let day_key = day_key(day);
        for (i, unit) in self.units.iter().enumerate() {
            let others: Vec<&SimUnit> =
                regions[unit.region()].iter().filter(|&&j| j != i).map(|&j| &self.units[j]).collect();
            let mut w = DayWriter::new(self.seed, day, i as u32);
            if first {
                stock_snapshot(&mut w, unit);
            }
            unit_day(&mut w, &mut Rng::derive(self.seed, &[day_key, i as u64]), unit, i, &others);
            events.append(&mut w.events);
        }
        for (r, (region, members)) in regions.iter().enumerate() {
            let inhabitants: f64 = members.iter().map(|&i| self.units[i].listed as f64).sum();
            let org = &self.units[members[0]].hsa_id[2..12];
            let part = 0x800 + r as u32;
            let mut w = DayWriter::new(self.seed, day, part);
            region_day(&mut w, &mut Rng::derive(self.seed, &[day_key, part as u64]), region, org, inhabitants);
            events.append(&mut w.events);
        }
        events
    }

    /// `count` days from `from`, one batch of events per day, each in send order.
    pub fn days(&self, from: LocalDay, count: u32) -> Days<'_> {
        Days { sim: self, next: from, first: from, left: count, carry: Vec::new() }
    }
}

/// A day as a number (20260329) for deriving its random streams.
fn day_key(day: LocalDay) -> u64 {
    use chrono::Datelike;
    let d = day.date();
    d.year() as u64 * 10_000 + d.month() as u64 * 100 + d.day() as u64
}

pub struct Days<'a> {
    sim: &'a Simulation,
    next: LocalDay,
    first: LocalDay,
    left: u32,
    /// Events generated earlier but sent on a later day.
    carry: Vec<SimEvent>,
}

impl Iterator for Days<'_> {
    type Item = (LocalDay, Vec<SimEvent>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        let day = self.next;
        let mut events = self.sim.generate_day(day, day == self.first);
        events.append(&mut self.carry);
        let end = day.end();
        let (mut today, later): (Vec<_>, Vec<_>) = events.into_iter().partition(|e| e.at < end);
        self.carry = later;
        today.sort_by_key(|e| e.at);
        let (today, late) =
            faults::apply(&self.sim.faults, &mut Rng::derive(self.sim.seed, &[day_key(day), 0xfa17]), today);
        self.carry.extend(late);
        self.next = day.next();
        self.left -= 1;
        Some((day, today))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::dalarna;
    use vardpuls_core::Topic;

    fn week() -> Vec<(LocalDay, Vec<SimEvent>)> {
        Simulation::new(dalarna(), 42, Faults::default()).days(LocalDay::parse("2026-03-23").unwrap(), 7).collect()
    }

    #[test]
    fn deterministic_time_ordered_and_shaped_like_primary_care() {
        let (a, b) = (week(), week());
        assert_eq!(a, b, "the same seed gives the same stream");
        let all: Vec<&SimEvent> = a.iter().flat_map(|(_, e)| e).collect();
        assert!(all.windows(2).all(|w| w[0].at <= w[1].at), "time order without faults");
        // Every event decodes under its topic's contract.
        for e in &all {
            vardpuls_core::events::decode(e.topic, &e.payload)
                .unwrap_or_else(|r| panic!("{r:?}: {}", String::from_utf8_lossy(&e.payload)));
        }
        // Mora (21 593 listed) gets about 145 calls on a Tuesday; Särna (2 127) about 15.
        let tuesday = &a[1].1;
        let calls = |unit: &str| {
            tuesday
                .iter()
                .filter(|e| {
                    e.key == unit
                        && e.topic == Topic::Phone
                        && String::from_utf8_lossy(&e.payload).contains("call_received")
                })
                .count()
        };
        assert!((110..190).contains(&calls("SE2321000180-E00101")), "{}", calls("SE2321000180-E00101"));
        assert!((5..30).contains(&calls("SE2321000180-E00103")), "{}", calls("SE2321000180-E00103"));
        // Monday is busier than Friday; Sunday has no primary-care calls.
        let day_calls = |d: usize| {
            a[d].1
                .iter()
                .filter(|e| {
                    String::from_utf8_lossy(&e.payload).contains("\"line\":\"primary_care\",\"in_phone_hours\"")
                })
                .count()
        };
        assert!(day_calls(0) > day_calls(4) && day_calls(6) == 0, "{} {} {}", day_calls(0), day_calls(4), day_calls(6));
    }

    #[test]
    fn faults_add_duplicates_malformed_and_late_events() {
        let faults = Faults { duplicate: 0.05, out_of_order: 0.1, malformed: 0.01, late: 0.01, ..Faults::default() };
        let days: Vec<_> =
            Simulation::new(dalarna(), 42, faults).days(LocalDay::parse("2026-03-23").unwrap(), 4).collect();
        let all: Vec<&SimEvent> = days.iter().flat_map(|(_, e)| e).collect();
        let malformed = all.iter().filter(|e| serde_json::from_slice::<serde_json::Value>(&e.payload).is_err()).count();
        assert!(malformed > 0);
        let mut ids = std::collections::HashMap::<String, usize>::new();
        for e in &all {
            if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&e.payload) {
                *ids.entry(v["event_id"].as_str().unwrap().to_string()).or_default() += 1;
            }
        }
        assert!(ids.values().any(|&n| n > 1), "duplicates");
        // A late event is sent on a later day than it happened.
        let late = days[2..].iter().flat_map(|(d, e)| e.iter().map(move |e| (d, e))).any(|(d, e)| {
            serde_json::from_slice::<serde_json::Value>(&e.payload)
                .ok()
                .and_then(|v| v["occurred_at"].as_str().map(str::to_string))
                .is_some_and(|t| {
                    LocalDay::of(t.parse().unwrap()) < *d
                        && e.at >= d.start()
                        && (e.at - t.parse::<chrono::DateTime<chrono::Utc>>().unwrap()) >= faults::LATE_BY
                })
        });
        assert!(late, "late events");
    }

    #[test]
    fn corrections_are_later_versions_sent_when_recorded() {
        let faults = Faults { corrected: 0.05, cancelled: 0.05, ..Faults::default() };
        let days: Vec<_> =
            Simulation::new(dalarna(), 42, faults).days(LocalDay::parse("2026-03-23").unwrap(), 3).collect();
        let json: Vec<(chrono::DateTime<chrono::Utc>, serde_json::Value)> =
            days.iter().flat_map(|(_, e)| e).map(|e| (e.at, serde_json::from_slice(&e.payload).unwrap())).collect();
        let originals: std::collections::HashMap<String, &serde_json::Value> = json
            .iter()
            .filter(|(_, v)| v.get("recorded_at").is_none())
            .filter_map(|(_, v)| v.get("visit_id").or(v.get("chat_id")).map(|id| (id.as_str().unwrap().to_string(), v)))
            .collect();
        let (mut corrected, mut cancelled) = (0, 0);
        for (at, v) in json.iter().filter(|(_, v)| v.get("recorded_at").is_some()) {
            let id = v.get("visit_id").or(v.get("chat_id")).unwrap().as_str().unwrap();
            let original = originals[id];
            assert_ne!(v["event_id"], original["event_id"]);
            assert_eq!((&v["occurred_at"], &v["unit_id"]), (&original["occurred_at"], &original["unit_id"]));
            let recorded: chrono::DateTime<chrono::Utc> = v["recorded_at"].as_str().unwrap().parse().unwrap();
            assert_eq!(*at, recorded, "sent when recorded");
            if v["event_type"] == "visit_cancelled" {
                cancelled += 1;
            } else {
                assert!(v["profession"] != original["profession"] || v["channel"] != original["channel"]);
                corrected += 1;
            }
        }
        assert!(corrected > 10 && cancelled > 10, "{corrected} corrected, {cancelled} cancelled");
    }
}
