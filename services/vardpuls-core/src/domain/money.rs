//! Amounts in Swedish kronor, exact.

use crate::rejection::{Invalid, Rule};
use rust_decimal::Decimal;
use std::fmt;
use std::str::FromStr;

/// A non-negative amount in SEK with at most two decimals (öre). Sent as a JSON string
/// (`"500.00"`), never a JSON number, so no binary float ever touches money.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Sek(Decimal);

impl Sek {
    /// Larger single contact prices are typos.
    pub const MAX: Decimal = Decimal::from_parts(1_000_000, 0, 0, false, 0);

    pub fn parse(s: &str) -> Result<Sek, Invalid> {
        let well_formed = {
            let (int, frac) = s.split_once('.').unwrap_or((s, ""));
            !int.is_empty()
                && int.bytes().all(|b| b.is_ascii_digit())
                && frac.len() <= 2
                && frac.bytes().all(|b| b.is_ascii_digit())
                && !(s.contains('.') && frac.is_empty())
        };
        if !well_formed {
            return Err(Invalid::new(
                Rule::DecimalFormat,
                format!(
                    "{} is not an amount in SEK; expected a decimal string like \"500\" or \"425.50\"",
                    super::personnummer::quote(s, 30)
                ),
            ));
        }
        let d = Decimal::from_str(s).map_err(|e| Invalid::new(Rule::DecimalFormat, e.to_string()))?;
        if d > Self::MAX {
            return Err(Invalid::new(Rule::OutOfRange, format!("{d} SEK exceeds {}", Self::MAX)));
        }
        Ok(Sek(d))
    }

    pub fn new(d: Decimal) -> Sek {
        Sek(d)
    }

    pub fn amount(&self) -> Decimal {
        self.0
    }
}

impl fmt::Display for Sek {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

super::serde_via_parse!(Sek);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_amounts() {
        assert_eq!(Sek::parse("425.50").unwrap().amount(), Decimal::new(42550, 2));
        assert_eq!(Sek::parse("500").unwrap().amount(), Decimal::new(500, 0));
        for bad in ["-5", "1e3", "5.", ".5", "5.123", "", "5,00"] {
            assert_eq!(Sek::parse(bad).unwrap_err().rule, Rule::DecimalFormat, "{bad}");
        }
        assert_eq!(Sek::parse("2000000").unwrap_err().rule, Rule::OutOfRange);
    }
}
