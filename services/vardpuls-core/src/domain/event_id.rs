//! The idempotency key of every input event.

use crate::rejection::{Invalid, Rule};
use std::fmt;
use uuid::Uuid;

/// A UUID chosen by the producer. The same event sent twice carries the same id, and vardpuls
/// counts it once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventId(Uuid);

impl EventId {
    pub fn parse(s: &str) -> Result<EventId, Invalid> {
        // Only the hyphenated form: braces and URNs are easy to get wrong across systems.
        if s.len() != 36 {
            return Err(Invalid::new(Rule::UuidFormat, "event_id must be a UUID in 8-4-4-4-12 hex form"));
        }
        Uuid::try_parse(s)
            .map(EventId)
            .map_err(|e| Invalid::new(Rule::UuidFormat, format!("event_id is not a UUID: {e}")))
    }

    pub fn from_uuid(id: Uuid) -> EventId {
        EventId(id)
    }

    pub fn as_uuid(&self) -> &Uuid {
        &self.0
    }

    pub fn as_u128(&self) -> u128 {
        self.0.as_u128()
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

super::serde_via_parse!(EventId);
