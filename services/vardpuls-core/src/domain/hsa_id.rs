//! HSA-id: the national catalogue identifier of a care unit.

use super::personnummer;
use crate::rejection::{Invalid, Rule};
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};

/// `SE` + the 10-digit organisation number of the catalogue owner + `-` + `[A-Za-z0-9]+`,
/// at most 31 characters. Example: `SE2321000131-P000000123457` (Västra Götalandsregionen).
///
/// Stored inline (32 bytes, no heap): every event carries one, and the aggregator holds all
/// events of its open days. Compares and orders as its text. The bytes after the text are
/// zero but the last, which holds the text's length (the text is at most 31 bytes and never
/// contains a zero byte); the same text is so always the same array, and two texts differ
/// before the last byte, so comparing, ordering and hashing the whole array gives the same
/// answers as the text. Aligned to 16 bytes, hashing is two loads; the length is one.
#[derive(Clone, Copy)]
#[repr(C, align(16))]
pub struct HsaId {
    /// The text, then zeros, then (in the last byte) the text's length.
    bytes: [u8; 32],
}

impl HsaId {
    pub const MAX_LEN: usize = 31;

    pub fn parse(s: &str) -> Result<HsaId, Invalid> {
        let fail = |why: &str| {
            Invalid::new(
                Rule::HsaIdFormat,
                format!(
                    "{} is not an HSA-id ({why}); expected SE + 10-digit organisation number + '-' + letters/digits, at most 31 characters",
                    personnummer::quote(s, 40)
                ),
            )
        };
        if s.len() > Self::MAX_LEN {
            return Err(fail("longer than 31 characters"));
        }
        let rest = s.strip_prefix("SE").ok_or_else(|| fail("does not start with SE"))?;
        let (org, local) = rest.split_once('-').ok_or_else(|| fail("no '-' after the organisation number"))?;
        if org.len() != 10 || !org.bytes().all(|b| b.is_ascii_digit()) {
            return Err(fail("organisation number is not 10 digits"));
        }
        if local.is_empty() || !local.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(fail("unit part must be ASCII letters and digits"));
        }
        // The unit part is free text to the catalogue owner; a source system that put a
        // patient's number there would publish it in every KPI key.
        if personnummer::contains_personnummer(s) {
            return Err(Invalid::new(
                Rule::PersonalIdentityNumber,
                "the unit part of the HSA-id looks like a personal identity number; send the unit's catalogue id",
            ));
        }
        let mut bytes = [0; 32];
        bytes[..s.len()].copy_from_slice(s.as_bytes());
        bytes[Self::MAX_LEN] = s.len() as u8;
        Ok(HsaId { bytes })
    }

    pub fn as_str(&self) -> &str {
        let len = usize::from(self.bytes[Self::MAX_LEN]);
        // Called for every partial and record: no second check of what parse checked.
        debug_assert!(self.bytes[..len].is_ascii());
        // SAFETY: `parse`, the only constructor, copies ASCII only (it checks every byte).
        unsafe { std::str::from_utf8_unchecked(&self.bytes[..len]) }
    }

    /// The organisation number of the catalogue owner, e.g. `2321000131` for VGR.
    pub fn organisation_number(&self) -> &str {
        &self.as_str()[2..12]
    }
}

impl PartialEq for HsaId {
    fn eq(&self, other: &Self) -> bool {
        self.bytes == other.bytes
    }
}

impl Eq for HsaId {}

impl PartialOrd for HsaId {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for HsaId {
    fn cmp(&self, other: &Self) -> Ordering {
        self.bytes.cmp(&other.bytes)
    }
}

impl Hash for HsaId {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // Two aligned words: the aggregator hashes a unit id per event.
        let (head, tail) = self.bytes.split_at(16);
        state.write_u128(u128::from_le_bytes(head.try_into().expect("16 bytes")));
        state.write_u128(u128::from_le_bytes(tail.try_into().expect("16 bytes")));
    }
}

impl fmt::Debug for HsaId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HsaId({:?})", self.as_str())
    }
}

impl fmt::Display for HsaId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

super::serde_via_parse!(HsaId);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_catalogue_examples() {
        let id = HsaId::parse("SE2321000131-P000000123457").unwrap();
        assert_eq!(id.organisation_number(), "2321000131");
        assert!(HsaId::parse("SE2321000180-E0abc").is_ok());
        let longest = "SE2321000131-P00000000000000000";
        assert_eq!(longest.len(), HsaId::MAX_LEN);
        assert_eq!(HsaId::parse(longest).unwrap().as_str(), longest);
    }

    #[test]
    fn orders_and_compares_as_text() {
        let (short, long) = (HsaId::parse("SE2321000180-E9").unwrap(), HsaId::parse("SE2321000180-E10").unwrap());
        assert!(long < short, "text order, not length first");
        let prefix = HsaId::parse("SE2321000180-E1").unwrap();
        assert!(prefix < long && prefix.as_str().len() < long.as_str().len(), "a prefix first");
        assert_eq!(short, HsaId::parse("SE2321000180-E9").unwrap());
        assert_eq!(format!("{short}"), "SE2321000180-E9");
        assert_eq!(std::mem::size_of::<HsaId>(), 32);
    }

    #[test]
    fn refuses_a_personal_identity_number_as_unit_part_without_echoing_it() {
        for bad in ["SE2321000180-198112189876", "SE2321000180-198112789876"] {
            let err = HsaId::parse(bad).unwrap_err();
            assert_eq!(err.rule, Rule::PersonalIdentityNumber, "{bad}");
            assert!(!err.detail.contains("9876"), "{}", err.detail);
        }
        let err = HsaId::parse("SE2321000180-19811218-9876").unwrap_err();
        assert!(!err.detail.contains("9876"), "{}", err.detail);
        assert!(HsaId::parse("SE2321000180-P198112189876").is_ok(), "a letter before the digits: no number");
    }

    #[test]
    fn rejects_wrong_shapes() {
        for bad in [
            "",
            "se2321000131-P1",
            "SE232100013-P1",
            "SE2321000131P1",
            "SE2321000131-",
            "SE2321000131-Påby",
            "SE2321000131-P1-2",
            "SE2321000131-P00000000000000000000",
        ] {
            let err = HsaId::parse(bad).unwrap_err();
            assert_eq!(err.rule, Rule::HsaIdFormat, "{bad}");
        }
    }
}
