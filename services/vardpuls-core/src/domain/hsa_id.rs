//! HSA-id: the national catalogue identifier of a care unit.

use crate::rejection::{Invalid, Rule};
use std::fmt;

/// `SE` + the 10-digit organisation number of the catalogue owner + `-` + `[A-Za-z0-9]+`,
/// at most 31 characters. Example: `SE2321000131-P000000123457` (Västra Götalandsregionen).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HsaId(String);

impl HsaId {
    pub const MAX_LEN: usize = 31;

    pub fn parse(s: &str) -> Result<HsaId, Invalid> {
        let fail = |why: &str| {
            Invalid::new(
                Rule::HsaIdFormat,
                format!(
                    "`{}` is not an HSA-id ({why}); expected SE + 10-digit organisation number + '-' + letters/digits, at most 31 characters",
                    truncate(s)
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
        Ok(HsaId(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The organisation number of the catalogue owner, e.g. `2321000131` for VGR.
    pub fn organisation_number(&self) -> &str {
        &self.0[2..12]
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(40).collect()
}

impl fmt::Display for HsaId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

super::serde_via_parse!(HsaId, |v| v.0.clone());

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_catalogue_examples() {
        let id = HsaId::parse("SE2321000131-P000000123457").unwrap();
        assert_eq!(id.organisation_number(), "2321000131");
        assert!(HsaId::parse("SE2321000180-E0abc").is_ok());
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
