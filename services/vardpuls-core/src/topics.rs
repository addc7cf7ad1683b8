//! The Kafka topics of vardpuls: one contract (JSON Schema under `schemas/`) per topic.

use std::fmt;
use std::str::FromStr;

/// Every topic vardpuls reads or writes. The `.v1` suffix is the contract's major version: a
/// breaking change gets a new topic, so old and new producers can run side by side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Topic {
    Phone,
    Visits,
    Listings,
    Chats,
    Kpi,
    Alerts,
    Late,
    DeadLetter,
}

impl Topic {
    pub const ALL: [Topic; 8] = [
        Topic::Phone,
        Topic::Visits,
        Topic::Listings,
        Topic::Chats,
        Topic::Kpi,
        Topic::Alerts,
        Topic::Late,
        Topic::DeadLetter,
    ];

    /// Topics that carry events from the regions' source systems.
    pub const INPUTS: [Topic; 4] = [Topic::Phone, Topic::Visits, Topic::Listings, Topic::Chats];

    pub const fn name(self) -> &'static str {
        match self {
            Topic::Phone => "vardpuls.phone.v1",
            Topic::Visits => "vardpuls.visits.v1",
            Topic::Listings => "vardpuls.listings.v1",
            Topic::Chats => "vardpuls.chats.v1",
            Topic::Kpi => "vardpuls.kpi.v1",
            Topic::Alerts => "vardpuls.alerts.v1",
            Topic::Late => "vardpuls.late.v1",
            Topic::DeadLetter => "vardpuls.dlq.v1",
        }
    }

    /// The short name used in URLs, CLI flags and CSV mapping docs (`phone`, `visits`, ...).
    pub const fn short_name(self) -> &'static str {
        match self {
            Topic::Phone => "phone",
            Topic::Visits => "visits",
            Topic::Listings => "listings",
            Topic::Chats => "chats",
            Topic::Kpi => "kpi",
            Topic::Alerts => "alerts",
            Topic::Late => "late",
            Topic::DeadLetter => "dlq",
        }
    }

    pub fn is_input(self) -> bool {
        Self::INPUTS.contains(&self)
    }

    /// Output topics hold upserts keyed by record identity and are meant to be log-compacted.
    pub fn is_compacted(self) -> bool {
        matches!(self, Topic::Kpi)
    }
}

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Topic {
    type Err = String;

    /// Accepts the full topic name or the short name.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Topic::ALL.into_iter().find(|t| t.name() == s || t.short_name() == s).ok_or_else(|| {
            let names: Vec<_> = Topic::ALL.iter().map(|t| t.short_name()).collect();
            format!("unknown topic `{s}`; expected one of {}", names.join(", "))
        })
    }
}

impl serde::Serialize for Topic {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> serde::Deserialize<'de> for Topic {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_full_names_parse_to_the_same_topic() {
        for t in Topic::ALL {
            assert_eq!(t.name().parse::<Topic>().unwrap(), t);
            assert_eq!(t.short_name().parse::<Topic>().unwrap(), t);
        }
        assert!("vardpuls.phone.v2".parse::<Topic>().is_err());
    }
}
