//! Domain values that validate on construction. Each type has one `parse` that is the only way
//! in, and serde goes through it, so a decoded event never holds an invalid value.

mod event_id;
mod event_time;
mod hsa_id;
mod kommun;
mod money;
mod opaque_id;
pub mod personnummer;

pub use event_id::EventId;
pub use event_time::EventTime;
pub use hsa_id::HsaId;
pub use kommun::{KommunCode, RegionCode};
pub use money::Sek;
pub use opaque_id::{CallId, ChatId, PatientRef, ProviderName, VisitId};

/// Implements `Serialize`/`Deserialize` for a validated type as a JSON string: written through
/// its `Display`, read through its `parse`, so that serde errors carry the domain rule.
macro_rules! serde_via_parse {
    ($ty:ty) => {
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                // Through `Display`, which writes the canonical form: no string in between.
                s.collect_str(self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                // A visitor of `&str`, not a `Cow<str>` (which serde always makes owned): the
                // text is parsed where the JSON holds it, without allocating per field.
                struct Parse;
                impl serde::de::Visitor<'_> for Parse {
                    type Value = $ty;

                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str("a string")
                    }

                    fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<$ty, E> {
                        <$ty>::parse(s).map_err(|invalid| E::custom(invalid.to_serde_message()))
                    }
                }
                d.deserialize_str(Parse)
            }
        }
    };
}
pub(crate) use serde_via_parse;
