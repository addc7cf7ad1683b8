//! `vardpuls.phone.v1`: the life of a telephone call to a unit or to 1177.

use super::{Checked, SchemaVersion, forbid, require};
use crate::domain::{CallId, EventId, EventTime, HsaId};
use crate::rejection::{Rejection, Rule};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhoneEventType {
    /// A call reached the unit's queue. Carries `in_phone_hours`.
    CallReceived,
    /// A person answered. Carries `queue_wait_seconds`.
    CallAnswered,
    /// The caller chose a callback (återuppringning).
    CallbackBooked,
    /// The unit called back. Carries `reached`.
    CallbackCompleted,
    /// The caller hung up before being answered or booking a callback.
    CallAbandoned,
}

impl PhoneEventType {
    pub fn as_str(self) -> &'static str {
        match self {
            PhoneEventType::CallReceived => "call_received",
            PhoneEventType::CallAnswered => "call_answered",
            PhoneEventType::CallbackBooked => "callback_booked",
            PhoneEventType::CallbackCompleted => "callback_completed",
            PhoneEventType::CallAbandoned => "call_abandoned",
        }
    }
}

/// Which telephone service the call went to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PhoneLine {
    /// The vårdcentral's own line: counts toward same-day contact.
    #[serde(rename = "primary_care")]
    PrimaryCare,
    /// 1177 Vårdguiden på telefon: counts toward the 1177 wait KPIs.
    #[serde(rename = "1177")]
    Vardguiden1177,
}

impl PhoneLine {
    pub fn as_str(self) -> &'static str {
        match self {
            PhoneLine::PrimaryCare => "primary_care",
            PhoneLine::Vardguiden1177 => "1177",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhoneEvent {
    pub schema_version: SchemaVersion,
    pub event_id: EventId,
    pub event_type: PhoneEventType,
    pub occurred_at: EventTime,
    pub unit_id: HsaId,
    pub call_id: CallId,
    pub line: PhoneLine,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_phone_hours: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_wait_seconds: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reached: Option<bool>,
}

impl PhoneEvent {
    /// A queue wait longer than a day is a clock or export error.
    pub const MAX_QUEUE_WAIT_SECONDS: u32 = 86_400;
}

impl Checked for PhoneEvent {
    fn check(&self) -> Result<(), Rejection> {
        use PhoneEventType::*;
        let t = self.event_type.as_str();
        match self.event_type {
            CallReceived => require("in_phone_hours", t, &self.in_phone_hours)?,
            _ => forbid("in_phone_hours", t, &self.in_phone_hours)?,
        }
        match self.event_type {
            CallAnswered => require("queue_wait_seconds", t, &self.queue_wait_seconds)?,
            CallAbandoned => {}
            _ => forbid("queue_wait_seconds", t, &self.queue_wait_seconds)?,
        }
        match self.event_type {
            CallbackCompleted => require("reached", t, &self.reached)?,
            _ => forbid("reached", t, &self.reached)?,
        }
        if let Some(wait) = self.queue_wait_seconds
            && wait > Self::MAX_QUEUE_WAIT_SECONDS
        {
            return Err(Rejection::new(
                "queue_wait_seconds",
                Rule::OutOfRange,
                format!("{wait} s exceeds {} s (one day)", Self::MAX_QUEUE_WAIT_SECONDS),
            ));
        }
        Ok(())
    }
}
