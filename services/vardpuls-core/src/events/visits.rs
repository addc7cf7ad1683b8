//! `vardpuls.visits.v1`: completed visits, physical and distance, with what the 3-day
//! assessment KPI and the out-of-county cost KPI need.
//!
//! A visit may come in versions: the source system re-sends it with the same `visit_id` after a
//! correction, or cancels it. Which version counts is decided by the aggregator from all of a
//! day's versions (see `vardpuls_aggregator::versions`), never by their arrival order.

use super::{Checked, SchemaVersion, require};
use crate::domain::{EventId, EventTime, HsaId, PatientRef, ProviderName, RegionCode, Sek, VisitId};
use crate::rejection::{Rejection, Rule};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VisitEventType {
    VisitCompleted,
    /// Takes the visit out. Dated at the visit it cancels: versions of a visit share its day.
    VisitCancelled,
}

impl VisitEventType {
    pub fn as_str(self) -> &'static str {
        match self {
            VisitEventType::VisitCompleted => "visit_completed",
            VisitEventType::VisitCancelled => "visit_cancelled",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Profession {
    Doctor,
    Nurse,
    Physiotherapist,
    Psychologist,
    OccupationalTherapist,
    Counsellor,
    Dietitian,
    Other,
}

impl Profession {
    pub fn as_str(self) -> &'static str {
        match self {
            Profession::Doctor => "doctor",
            Profession::Nurse => "nurse",
            Profession::Physiotherapist => "physiotherapist",
            Profession::Psychologist => "psychologist",
            Profession::OccupationalTherapist => "occupational_therapist",
            Profession::Counsellor => "counsellor",
            Profession::Dietitian => "dietitian",
            Profession::Other => "other",
        }
    }
}

/// How the visit took place. Distance = phone, video, chat; digital = video, chat only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContactForm {
    Physical,
    /// A qualified telephone contact that replaces a visit.
    Phone,
    Video,
    /// Chat or other written e-service contact.
    Chat,
}

impl ContactForm {
    pub fn as_str(self) -> &'static str {
        match self {
            ContactForm::Physical => "physical",
            ContactForm::Phone => "phone",
            ContactForm::Video => "video",
            ContactForm::Chat => "chat",
        }
    }

    pub fn is_distance(self) -> bool {
        !matches!(self, ContactForm::Physical)
    }

    pub fn is_digital(self) -> bool {
        matches!(self, ContactForm::Video | ContactForm::Chat)
    }
}

/// Present when the visit was the first medical assessment of a new or worsened care need.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Assessment {
    /// When the patient first contacted primary care about this care need.
    pub first_contact_at: EventTime,
    /// The patient chose a later time than offered: excluded from the 3-day KPI.
    #[serde(default)]
    pub patient_chosen_wait: bool,
}

/// Present for digital contacts with a provider contracted by another region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutOfCounty {
    pub provider: ProviderName,
    /// The region the patient lives in, which pays.
    pub home_region: RegionCode,
    /// The region that contracts the provider and invoices.
    pub contracting_region: RegionCode,
    pub price_sek: Sek,
    pub patient_fee_sek: Sek,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VisitEvent {
    pub schema_version: SchemaVersion,
    pub event_id: EventId,
    pub event_type: VisitEventType,
    pub occurred_at: EventTime,
    pub unit_id: HsaId,
    pub visit_id: VisitId,
    /// When the source recorded this version: of a visit's versions the latest counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recorded_at: Option<EventTime>,
    /// Required for `visit_completed`; a cancellation may carry the visit's fields or not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient_ref: Option<PatientRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profession: Option<Profession>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_form: Option<ContactForm>,
    /// The unit the patient is listed at, when the source system knows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listed_unit_id: Option<HsaId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assessment: Option<Assessment>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out_of_county: Option<OutOfCounty>,
}

impl Checked for VisitEvent {
    fn check(&self) -> Result<(), Rejection> {
        if self.event_type == VisitEventType::VisitCompleted {
            let t = self.event_type.as_str();
            require("patient_ref", t, &self.patient_ref)?;
            require("profession", t, &self.profession)?;
            require("contact_form", t, &self.contact_form)?;
        }
        if let Some(a) = &self.assessment
            && a.first_contact_at > self.occurred_at
        {
            return Err(Rejection::new(
                "assessment.first_contact_at",
                Rule::Inconsistent,
                "first contact for the care need is after the assessment itself",
            ));
        }
        if let Some(o) = &self.out_of_county {
            if let Some(form) = self.contact_form
                && !form.is_digital()
            {
                return Err(Rejection::new(
                    "contact_form",
                    Rule::Inconsistent,
                    format!("out-of-county contacts are digital (video or chat), not {}", form.as_str()),
                ));
            }
            if o.home_region == o.contracting_region {
                return Err(Rejection::new(
                    "out_of_county.contracting_region",
                    Rule::Inconsistent,
                    "contracting region equals the patient's home region: not out of county",
                ));
            }
            if o.patient_fee_sek > o.price_sek {
                return Err(Rejection::new(
                    "out_of_county.patient_fee_sek",
                    Rule::Inconsistent,
                    "patient fee exceeds the price of the contact",
                ));
            }
        }
        Ok(())
    }
}
