//! The idempotency key of every input event.

use super::personnummer::contains_personnummer;
use crate::rejection::{Invalid, Rule};
use std::fmt;
use uuid::Uuid;

/// A UUID chosen by the producer. The same event sent twice carries the same id, and vardpuls
/// counts it once.
///
/// About one random UUID in 60 000 is spelt like a personal identity number (its last group
/// twelve plausible digits, or its first two `YYYYMMDD-NNNN`). Such an id is not refused, which
/// would lose a valid event by chance, nor kept, which would store the digits: it is replaced by
/// a name-based UUID (v5) derived from it, so the event counts, its re-sends still match it, and
/// the digits go no further.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventId(Uuid);

impl EventId {
    pub fn parse(s: &str) -> Result<EventId, Invalid> {
        // Only the hyphenated form: braces and URNs are easy to get wrong across systems.
        if s.len() != 36 {
            return Err(Invalid::new(Rule::UuidFormat, "event_id must be a UUID in 8-4-4-4-12 hex form"));
        }
        let id =
            Uuid::try_parse(s).map_err(|e| Invalid::new(Rule::UuidFormat, format!("event_id is not a UUID: {e}")))?;
        Ok(EventId(Self::without_personnummer(id)))
    }

    fn without_personnummer(mut id: Uuid) -> Uuid {
        while contains_personnummer(id.hyphenated().encode_lower(&mut Uuid::encode_buffer())) {
            id = Uuid::new_v5(&Self::DERIVED_NAMESPACE, id.as_bytes());
        }
        id
    }

    /// The namespace of ids derived from ids shaped like a personal identity number.
    const DERIVED_NAMESPACE: Uuid = Uuid::from_u128(0x6f1c_5d0e_8a4b_4c39_9d2e_7b61_a0f3_c845);

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_spelt_like_a_personal_identity_number_is_replaced_the_same_way_every_time() {
        for shaped in ["00000000-0000-4000-8000-198112189876", "19811218-9876-4000-8000-0000000000ab"] {
            let id = EventId::parse(shaped).unwrap();
            let text = id.to_string();
            assert!(!text.contains("9876") && !contains_personnummer(&text), "{text}");
            assert_eq!(EventId::parse(shaped).unwrap(), id, "re-sends must still match");
        }
        let plain = "0b5c6a3e-8f1d-4c2a-9e7b-000000000001";
        assert_eq!(EventId::parse(plain).unwrap().to_string(), plain);
    }
}
