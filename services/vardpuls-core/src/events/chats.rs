//! `vardpuls.chats.v1`: chats started with a unit. Chats never count toward the telephone KPI.

use super::{Checked, SchemaVersion};
use crate::domain::{ChatId, EventId, EventTime, HsaId};
use crate::rejection::Rejection;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChatEventType {
    ChatStarted,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChatChannel {
    /// The national 1177 e-services.
    #[serde(rename = "e_service_1177")]
    EService1177,
    /// A region's own app.
    RegionalApp,
    Other,
}

impl ChatChannel {
    pub fn as_str(self) -> &'static str {
        match self {
            ChatChannel::EService1177 => "e_service_1177",
            ChatChannel::RegionalApp => "regional_app",
            ChatChannel::Other => "other",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatEvent {
    pub schema_version: SchemaVersion,
    pub event_id: EventId,
    pub event_type: ChatEventType,
    pub occurred_at: EventTime,
    pub unit_id: HsaId,
    pub chat_id: ChatId,
    /// When the source recorded this version: of a chat's versions the latest counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recorded_at: Option<EventTime>,
    pub channel: ChatChannel,
}

impl Checked for ChatEvent {
    fn check(&self) -> Result<(), Rejection> {
        Ok(())
    }
}
