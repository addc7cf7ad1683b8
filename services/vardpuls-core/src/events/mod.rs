//! Input event contracts, one module per topic, each with the same shape: a struct that mirrors
//! `schemas/<topic>.schema.json`, its enumerations, and `check`, the rules that depend on the
//! event type. [`decode`] is the single way from bytes to an event; it returns a valid event or
//! a [`Rejection`] naming the field and rule.

mod chats;
mod listings;
mod phone;
mod visits;

pub use chats::{ChatChannel, ChatEvent, ChatEventType};
pub use listings::{ListingChannel, ListingEvent, ListingEventType};
pub use phone::{PhoneEvent, PhoneEventType, PhoneLine};
pub use visits::{Assessment, ContactForm, OutOfCounty, Profession, VisitEvent, VisitEventType};

use crate::domain::{EventId, EventTime, HsaId};
use crate::rejection::{Rejection, Rule, from_serde_error};
use crate::topics::Topic;
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Larger messages are refused before parsing: no legitimate event comes near this.
pub const MAX_EVENT_BYTES: usize = 64 * 1024;

/// The contract version every input event carries in `schema_version`.
pub const SCHEMA_VERSION: u32 = 1;

/// `schema_version`: only the version this build understands is accepted, so a producer that
/// moved to v2 fails loudly instead of being half-understood.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SchemaVersion;

impl Serialize for SchemaVersion {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u32(SCHEMA_VERSION)
    }
}

impl<'de> Deserialize<'de> for SchemaVersion {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = serde_json::Value::deserialize(d)?;
        match v.as_u64() {
            Some(n) if n == SCHEMA_VERSION as u64 => Ok(SchemaVersion),
            _ => Err(serde::de::Error::custom(
                crate::rejection::Invalid::new(
                    Rule::UnsupportedVersion,
                    format!("schema_version {v} is not supported; this build reads version {SCHEMA_VERSION}"),
                )
                .to_serde_message(),
            )),
        }
    }
}

/// A decoded, valid input event from one of the four input topics.
///
/// Visits are boxed: they are twice the size of the other events, and the aggregator holds
/// every event of its open days, most of them phone events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InputEvent {
    Phone(PhoneEvent),
    Visit(Box<VisitEvent>),
    Listing(ListingEvent),
    Chat(ChatEvent),
}

impl InputEvent {
    pub fn topic(&self) -> Topic {
        match self {
            InputEvent::Phone(_) => Topic::Phone,
            InputEvent::Visit(_) => Topic::Visits,
            InputEvent::Listing(_) => Topic::Listings,
            InputEvent::Chat(_) => Topic::Chats,
        }
    }

    pub fn event_id(&self) -> EventId {
        match self {
            InputEvent::Phone(e) => e.event_id,
            InputEvent::Visit(e) => e.event_id,
            InputEvent::Listing(e) => e.event_id,
            InputEvent::Chat(e) => e.event_id,
        }
    }

    pub fn occurred_at(&self) -> EventTime {
        match self {
            InputEvent::Phone(e) => e.occurred_at,
            InputEvent::Visit(e) => e.occurred_at,
            InputEvent::Listing(e) => e.occurred_at,
            InputEvent::Chat(e) => e.occurred_at,
        }
    }

    /// The instant whose Europe/Stockholm day the event counts on: when it occurred, except
    /// that a 1177 answer counts on the day its call was received (its time less the queue
    /// wait), so a call received at 23:55 and answered at 00:06 is answered, with its wait, on
    /// the day it came in (docs/kpis.md). A unit's own line keeps the answer's time: an answer
    /// after midnight is no same-day contact.
    pub fn counts_on(&self) -> DateTime<Utc> {
        let at = self.occurred_at().utc();
        match self {
            InputEvent::Phone(PhoneEvent {
                event_type: PhoneEventType::CallAnswered,
                line: PhoneLine::Vardguiden1177,
                queue_wait_seconds: Some(wait),
                ..
            }) => at - chrono::Duration::seconds(i64::from(*wait)),
            _ => at,
        }
    }

    /// When the source recorded this version of a visit or chat (corrections are later).
    pub fn recorded_at(&self) -> Option<EventTime> {
        match self {
            InputEvent::Visit(e) => e.recorded_at,
            InputEvent::Chat(e) => e.recorded_at,
            InputEvent::Phone(_) | InputEvent::Listing(_) => None,
        }
    }

    pub fn unit_id(&self) -> &HsaId {
        match self {
            InputEvent::Phone(e) => &e.unit_id,
            InputEvent::Visit(e) => &e.unit_id,
            InputEvent::Listing(e) => &e.unit_id,
            InputEvent::Chat(e) => &e.unit_id,
        }
    }

    /// The canonical JSON encoding, as produced to Kafka.
    pub fn to_json(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_json(&mut out);
        out
    }

    /// [`InputEvent::to_json`], appended to `out` (many events into one buffer).
    pub fn write_json(&self, out: &mut Vec<u8>) {
        let r = match self {
            InputEvent::Phone(e) => serde_json::to_writer(out, e),
            InputEvent::Visit(e) => serde_json::to_writer(out, e),
            InputEvent::Listing(e) => serde_json::to_writer(out, e),
            InputEvent::Chat(e) => serde_json::to_writer(out, e),
        };
        r.expect("events serialize")
    }
}

/// Decodes and validates one message of an input topic.
pub fn decode(topic: Topic, bytes: &[u8]) -> Result<InputEvent, Rejection> {
    let text = precheck(bytes)?;
    match topic {
        Topic::Phone => decode_as::<PhoneEvent>(text).map(InputEvent::Phone),
        Topic::Visits => decode_as::<VisitEvent>(text).map(|v| InputEvent::Visit(Box::new(v))),
        Topic::Listings => decode_as::<ListingEvent>(text).map(InputEvent::Listing),
        Topic::Chats => decode_as::<ChatEvent>(text).map(InputEvent::Chat),
        other => Err(Rejection::whole(Rule::UnknownValue, format!("{other} is not an input topic"))),
    }
}

/// Size, encoding and shape checks that come before any JSON parsing.
fn precheck(bytes: &[u8]) -> Result<&str, Rejection> {
    if bytes.len() > MAX_EVENT_BYTES {
        return Err(Rejection::whole(
            Rule::Oversized,
            format!("message is {} bytes; the limit is {MAX_EVENT_BYTES}", bytes.len()),
        ));
    }
    let text = std::str::from_utf8(bytes).map_err(|e| {
        Rejection::whole(Rule::NotUtf8, format!("message is not UTF-8: invalid byte at offset {}", e.valid_up_to()))
    })?;
    match text.trim_start().chars().next() {
        Some('{') => Ok(text),
        None => Err(Rejection::whole(Rule::MalformedJson, "message is empty")),
        Some(_) => Err(Rejection::whole(Rule::NotAnObject, "message must be a JSON object")),
    }
}

/// An event type whose rules go beyond its field types.
pub(crate) trait Checked {
    /// Rules between fields: which optional fields an event type requires or forbids, and
    /// consistency between values.
    fn check(&self) -> Result<(), Rejection>;
}

fn decode_as<T: DeserializeOwned + Checked>(text: &str) -> Result<T, Rejection> {
    // Valid input is the common case: decode it without tracking the path. Only input that
    // fails is decoded again with path tracking, so the rejection names the field.
    match serde_json::from_str::<T>(text) {
        Ok(event) => {
            event.check()?;
            Ok(event)
        }
        Err(_) => decode_naming_the_field(text),
    }
}

fn decode_naming_the_field<T: DeserializeOwned + Checked>(text: &str) -> Result<T, Rejection> {
    let mut de = serde_json::Deserializer::from_str(text);
    let event: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        from_serde_error(&path, e.inner())
    })?;
    de.end().map_err(|e| from_serde_error(".", &e))?;
    event.check()?;
    Ok(event)
}

/// `field` must be present for this event type.
pub(crate) fn require<T>(field: &str, event_type: &str, value: &Option<T>) -> Result<(), Rejection> {
    match value {
        Some(_) => Ok(()),
        None => Err(Rejection::new(field, Rule::MissingField, format!("`{field}` is required for {event_type}"))),
    }
}

/// `field` must be absent for this event type.
pub(crate) fn forbid<T>(field: &str, event_type: &str, value: &Option<T>) -> Result<(), Rejection> {
    match value {
        None => Ok(()),
        Some(_) => {
            Err(Rejection::new(field, Rule::NotAllowedForEventType, format!("`{field}` is not part of {event_type}")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structural_failures_have_their_own_rules() {
        let cases: [(&[u8], Rule); 5] = [
            (b"\xff\xfe{}", Rule::NotUtf8),
            (b"{\"schema_version\": 1, \"event_id\"", Rule::MalformedJson),
            (b"[1,2]", Rule::NotAnObject),
            (b"", Rule::MalformedJson),
            (b"{\"schema_version\": tru", Rule::MalformedJson),
        ];
        for (bytes, rule) in cases {
            let err = decode(Topic::Phone, bytes).unwrap_err();
            assert_eq!(err.rule, rule, "{err}");
        }
        let big = vec![b' '; MAX_EVENT_BYTES + 1];
        assert_eq!(decode(Topic::Chats, &big).unwrap_err().rule, Rule::Oversized);
    }
}
