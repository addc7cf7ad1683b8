//! SCB kommun and län (region) codes.

use super::personnummer;
use crate::rejection::{Invalid, Rule};
use std::fmt;

/// The 21 län codes in use since 1998 (SCB). A region in vardpuls is a län.
pub const REGION_CODES: [&str; 21] = [
    "01", "03", "04", "05", "06", "07", "08", "09", "10", "12", "13", "14", "17", "18", "19", "20", "21", "22", "23",
    "24", "25",
];

/// Region (län) code: two digits, one of [`REGION_CODES`]. `20` Dalarna, `13` Halland.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RegionCode([u8; 2]);

impl RegionCode {
    pub fn parse(s: &str) -> Result<RegionCode, Invalid> {
        if REGION_CODES.contains(&s) {
            let b = s.as_bytes();
            Ok(RegionCode([b[0], b[1]]))
        } else {
            Err(Invalid::new(
                Rule::RegionCode,
                format!(
                    "{} is not a län code; expected two digits, one of {}",
                    personnummer::quote(s, 10),
                    REGION_CODES.join(", ")
                ),
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII digits are ever stored.
        std::str::from_utf8(&self.0).expect("ascii")
    }
}

/// Kommun code: four digits, the first two the län (`2080` Falun in Dalarna). Only the län
/// prefix is checked against the list; the full list of 290 kommuner changes too rarely to be
/// worth shipping, and an unknown one shows up as its own series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KommunCode([u8; 4]);

impl KommunCode {
    pub fn parse(s: &str) -> Result<KommunCode, Invalid> {
        let fail = || {
            Invalid::new(
                Rule::KommunCode,
                format!(
                    "{} is not a kommun code; expected 4 digits starting with a län code",
                    personnummer::quote(s, 10)
                ),
            )
        };
        if s.len() != 4 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(fail());
        }
        RegionCode::parse(&s[..2]).map_err(|_| fail())?;
        let b = s.as_bytes();
        Ok(KommunCode([b[0], b[1], b[2], b[3]]))
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("ascii")
    }

    pub fn region(&self) -> RegionCode {
        RegionCode([self.0[0], self.0[1]])
    }
}

impl fmt::Display for RegionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for KommunCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

super::serde_via_parse!(RegionCode);
super::serde_via_parse!(KommunCode);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kommun_knows_its_region() {
        let falun = KommunCode::parse("2080").unwrap();
        assert_eq!(falun.region().as_str(), "20");
        assert_eq!(KommunCode::parse("1480").unwrap().region().as_str(), "14");
    }

    #[test]
    fn rejects_bad_codes() {
        for bad in ["208", "20800", "1180", "0280", "20a0", ""] {
            assert_eq!(KommunCode::parse(bad).unwrap_err().rule, Rule::KommunCode, "{bad}");
        }
        for bad in ["02", "2", "26", "aa"] {
            assert_eq!(RegionCode::parse(bad).unwrap_err().rule, Rule::RegionCode, "{bad}");
        }
    }
}
