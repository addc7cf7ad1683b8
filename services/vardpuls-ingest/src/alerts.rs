//! Alert history: Alertmanager's webhook (`POST /v1/alerts`, the same bearer tokens as event
//! ingest) becomes `vardpuls.alerts.v1`, one record per alert that started or ended, so what
//! fired, for whom and for how long is in Kafka next to the KPIs it was about.
//!
//! Alertmanager sends the alerts of a notification group together and again at each repeat
//! interval; a record is a state as Alertmanager saw it, so a repeat repeats it (same
//! fingerprint, state and time). Kafka not acknowledging is a 503: Alertmanager retries.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use std::collections::BTreeMap;
use vardpuls_core::outputs::{AlertChange, AlertState, Scope, Severity};

/// Alertmanager's webhook body (version 4); only what the history keeps.
#[derive(Debug, Deserialize)]
pub struct Notification {
    pub version: String,
    pub alerts: Vec<Alert>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Alert {
    pub status: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    pub starts_at: DateTime<Utc>,
    /// Alertmanager sends `0001-01-01T00:00:00Z` while an alert fires.
    pub ends_at: DateTime<Utc>,
    pub fingerprint: String,
}

/// A body that is not an Alertmanager notification vardpuls can read, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotANotification(String);

impl std::fmt::Display for NotANotification {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for NotANotification {}

/// The records of a notification, or what is wrong with it.
pub fn changes(body: &[u8]) -> Result<Vec<AlertChange>, NotANotification> {
    let notification: Notification = serde_json::from_slice(body)
        .map_err(|e| NotANotification(format!("not an Alertmanager webhook notification: {e}")))?;
    if notification.version != "4" {
        return Err(NotANotification(format!(
            "Alertmanager webhook version {} (version 4 is read)",
            notification.version
        )));
    }
    notification.alerts.into_iter().map(|a| change(a).map_err(NotANotification)).collect()
}

fn change(alert: Alert) -> Result<AlertChange, String> {
    let label = |name: &str| alert.labels.get(name).cloned();
    let name = label("alertname").ok_or("an alert without an alertname label")?;
    let state = match alert.status.as_str() {
        "firing" => AlertState::Firing,
        "resolved" => AlertState::Resolved,
        other => return Err(format!("{name}: status `{other}` is neither firing nor resolved")),
    };
    let severity = match label("severity").as_deref() {
        Some("page") => Severity::Page,
        Some("ticket") => Severity::Ticket,
        _ => Severity::Info,
    };
    let scope = match label("scope").as_deref() {
        Some("unit") => Some(Scope::Unit),
        Some("kommun") => Some(Scope::Kommun),
        Some("region") => Some(Scope::Region),
        _ => None,
    };
    Ok(AlertChange {
        schema_version: 1,
        state,
        severity,
        scope,
        scope_id: scope.and(label("scope_id")),
        kpi: label("kpi"),
        period: None,
        value: None,
        target: None,
        summary: alert.annotations.get("summary").cloned().unwrap_or_else(|| name.clone()),
        changed_at: if state == AlertState::Firing { alert.starts_at } else { alert.ends_at },
        fingerprint: alert.fingerprint,
        labels: alert.labels,
        alert: name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn firing_and_resolved_alerts_become_changes_with_their_scope() {
        let body = r#"{"version":"4","status":"firing","receiver":"vardpuls-history","groupKey":"{}","alerts":[
            {"status":"firing","labels":{"alertname":"VardpulsKpiAtRisk","severity":"page","kpi":"same_day_contact","scope":"unit","scope_id":"SE2321000180-E00101","region":"20"},
             "annotations":{"summary":"Vårdcentral Mora: same_day_contact is at risk (day)"},
             "startsAt":"2026-11-23T09:15:00Z","endsAt":"0001-01-01T00:00:00Z","fingerprint":"8a3f2c1d9e0b4a57"},
            {"status":"resolved","labels":{"alertname":"VardpulsServiceDown","severity":"page","job":"vardpuls-aggregator"},
             "annotations":{},"startsAt":"2026-11-23T09:00:00Z","endsAt":"2026-11-23T09:20:00Z","fingerprint":"1f0e2d3c4b5a6978"}]}"#;
        let changes = changes(body.as_bytes()).unwrap();
        let (risk, down) = (&changes[0], &changes[1]);
        assert_eq!((risk.state, risk.severity, risk.scope), (AlertState::Firing, Severity::Page, Some(Scope::Unit)));
        assert_eq!(
            (risk.scope_id.as_deref(), risk.kpi.as_deref()),
            (Some("SE2321000180-E00101"), Some("same_day_contact"))
        );
        assert_eq!(risk.changed_at.to_rfc3339(), "2026-11-23T09:15:00+00:00");
        assert_eq!(risk.key(), "VardpulsKpiAtRisk/8a3f2c1d9e0b4a57");
        assert_eq!(
            (down.state, down.scope, down.summary.as_str()),
            (AlertState::Resolved, None, "VardpulsServiceDown")
        );
        assert_eq!(down.changed_at.to_rfc3339(), "2026-11-23T09:20:00+00:00", "a resolution is dated at its end");
        assert_eq!(down.labels["job"], "vardpuls-aggregator");
    }

    #[test]
    fn what_is_not_a_notification_is_named() {
        let why = |body: &[u8]| changes(body).unwrap_err().to_string();
        assert!(why(b"[]").contains("not an Alertmanager webhook notification"));
        assert!(why(br#"{"version":"3","alerts":[]}"#).contains("version 3"));
        let no_name = br#"{"version":"4","alerts":[{"status":"firing","labels":{},"startsAt":"2026-11-23T09:15:00Z","endsAt":"0001-01-01T00:00:00Z","fingerprint":"x"}]}"#;
        assert!(why(no_name).contains("alertname"));
    }
}
