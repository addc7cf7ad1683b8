//! Opaque identifiers from source systems (call, visit, chat ids, pseudonymous patient
//! references) and provider names: bounded, printable, and never a personal identity number.

use super::personnummer::contains_personnummer;
use crate::rejection::{Invalid, Rule};
use compact_str::CompactString;
use std::fmt;

fn parse_opaque(s: &str, what: &str, max_len: usize, allow_space: bool) -> Result<CompactString, Invalid> {
    if s.is_empty() {
        return Err(Invalid::new(Rule::IdFormat, format!("{what} must not be empty")));
    }
    if s.chars().count() > max_len {
        return Err(Invalid::new(Rule::FieldTooLong, format!("{what} is longer than {max_len} characters")));
    }
    let allowed = |c: char| {
        c.is_ascii_alphanumeric()
            || matches!(c, '-' | '_' | '.' | ':')
            || (allow_space && (c == ' ' || c.is_alphabetic()))
    };
    if let Some(bad) = s.chars().find(|&c| !allowed(c)) {
        return Err(Invalid::new(
            Rule::IdFormat,
            format!("{what} contains {bad:?}; allowed are letters, digits and - _ . :"),
        ));
    }
    if contains_personnummer(s) {
        // Do not echo the value: it may be a real person's number.
        return Err(Invalid::new(
            Rule::PersonalIdentityNumber,
            format!("{what} looks like a personal identity number; send a pseudonymous reference instead"),
        ));
    }
    Ok(CompactString::new(s))
}

macro_rules! opaque_id {
    ($(#[$doc:meta])* $name:ident, $what:literal, $max:literal, $space:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        // Inline up to 24 bytes (no heap): ids in practice are short, and the aggregator holds
        // every event of its open days.
        pub struct $name(CompactString);

        impl $name {
            pub const MAX_LEN: usize = $max;

            pub fn parse(s: &str) -> Result<Self, Invalid> {
                parse_opaque(s, $what, $max, $space).map($name)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        super::serde_via_parse!($name);
    };
}

opaque_id!(
    /// Links the events of one telephone call (received, answered, callback, abandoned).
    CallId, "call id", 64, false
);
opaque_id!(
    /// The source system's id of one visit.
    VisitId, "visit id", 64, false
);
opaque_id!(
    /// The source system's id of one chat.
    ChatId, "chat id", 64, false
);
opaque_id!(
    /// A pseudonymous patient reference, stable per patient within a region's export. Never a
    /// personal identity number.
    PatientRef, "patient reference", 64, false
);
opaque_id!(
    /// The name of a digital care provider, e.g. `Kry` or `Min Doktor`.
    ProviderName, "provider", 80, true
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_personnummer_without_echoing_it() {
        let err = PatientRef::parse("19811218-9876").unwrap_err();
        assert_eq!(err.rule, Rule::PersonalIdentityNumber);
        assert!(!err.detail.contains("9876"));
    }

    #[test]
    fn bounds_and_charset() {
        assert!(CallId::parse("c-2026-03-29-000123").is_ok());
        assert_eq!(CallId::parse("").unwrap_err().rule, Rule::IdFormat);
        assert_eq!(CallId::parse(&"x".repeat(65)).unwrap_err().rule, Rule::FieldTooLong);
        assert_eq!(CallId::parse("a b").unwrap_err().rule, Rule::IdFormat);
        assert!(ProviderName::parse("Min Doktor").is_ok());
        assert!(ProviderName::parse("Doktor24").is_ok());
    }
}
