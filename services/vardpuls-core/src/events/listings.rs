//! `vardpuls.listings.v1`: patients listing at and leaving units, and stock snapshots that let
//! a region load today's list sizes without decades of history.

use super::{Checked, SchemaVersion, forbid, require};
use crate::domain::{EventId, EventTime, HsaId, KommunCode, PatientRef};
use crate::rejection::{Rejection, Rule};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ListingEventType {
    /// A patient listed at the unit. Carries `patient_ref`, `kommun_code`, `channel`.
    Listed,
    /// A patient left the unit (moved, listed elsewhere, died). Carries `patient_ref`,
    /// `kommun_code`.
    Unlisted,
    /// The unit's number of listed patients at `occurred_at`. Later listed/unlisted events
    /// change the stock from there.
    StockSnapshot,
}

impl ListingEventType {
    pub fn as_str(self) -> &'static str {
        match self {
            ListingEventType::Listed => "listed",
            ListingEventType::Unlisted => "unlisted",
            ListingEventType::StockSnapshot => "stock_snapshot",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ListingChannel {
    /// Chosen by the patient in the 1177 e-services.
    #[serde(rename = "e_service_1177")]
    EService1177,
    /// A paper or in-person form.
    Form,
    /// Listed by the region's rules (e.g. nearest unit for a newborn or newcomer).
    Automatic,
}

impl ListingChannel {
    pub fn as_str(self) -> &'static str {
        match self {
            ListingChannel::EService1177 => "e_service_1177",
            ListingChannel::Form => "form",
            ListingChannel::Automatic => "automatic",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListingEvent {
    pub schema_version: SchemaVersion,
    pub event_id: EventId,
    pub event_type: ListingEventType,
    pub occurred_at: EventTime,
    pub unit_id: HsaId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient_ref: Option<PatientRef>,
    /// The patient's home kommun.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kommun_code: Option<KommunCode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<ListingChannel>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listed_count: Option<u32>,
}

impl ListingEvent {
    /// The largest vårdcentral lists about 40 000; five times that is an error.
    pub const MAX_LISTED_COUNT: u32 = 200_000;
}

impl Checked for ListingEvent {
    fn check(&self) -> Result<(), Rejection> {
        use ListingEventType::*;
        let t = self.event_type.as_str();
        match self.event_type {
            Listed | Unlisted => {
                require("patient_ref", t, &self.patient_ref)?;
                require("kommun_code", t, &self.kommun_code)?;
                forbid("listed_count", t, &self.listed_count)?;
                if self.event_type == Listed {
                    require("channel", t, &self.channel)?;
                }
            }
            StockSnapshot => {
                require("listed_count", t, &self.listed_count)?;
                forbid("patient_ref", t, &self.patient_ref)?;
                forbid("kommun_code", t, &self.kommun_code)?;
                forbid("channel", t, &self.channel)?;
            }
        }
        if let Some(n) = self.listed_count
            && n > Self::MAX_LISTED_COUNT
        {
            return Err(Rejection::new(
                "listed_count",
                Rule::OutOfRange,
                format!("{n} exceeds {}", Self::MAX_LISTED_COUNT),
            ));
        }
        Ok(())
    }
}
