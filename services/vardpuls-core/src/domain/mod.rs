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

/// Implements `Serialize`/`Deserialize` for a validated type through its `parse` and a
/// string view, so that serde errors carry the domain rule.
macro_rules! serde_via_parse {
    ($ty:ty, $as_str:expr) => {
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let view: fn(&$ty) -> String = $as_str;
                s.serialize_str(&view(self))
            }
        }

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let raw = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
                <$ty>::parse(&raw).map_err(|invalid| serde::de::Error::custom(invalid.to_serde_message()))
            }
        }
    };
}
pub(crate) use serde_via_parse;
