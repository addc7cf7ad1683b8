//! The exporter's HTTP routes: the JSON API (public: small cells suppressed), the wallboard
//! (internal: operations centres see every number, small cells flagged), the OpenAPI document,
//! and readiness.

use crate::presentation::Presented;
use crate::state::ExporterState;
use crate::targets::Direction;
use crate::view::KpiView;
use axum::Json;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use vardpuls_core::calendar::{LocalDay, TIME_ZONE, TIME_ZONE_NAME};
use vardpuls_core::catalogue::KpiId;
use vardpuls_core::outputs::{Grain, KpiRecord, LiveOutcome, Scope, Status};

const OPENAPI: &str = include_str!("openapi.json");
const WALLBOARD_HTML: &str = include_str!("wallboard.html");
/// The KPI the wallboard ranks units by.
const WALLBOARD_KPI: KpiId = KpiId::SameDayContact;

pub fn router(state: ExporterState) -> Router {
    Router::new()
        .route("/api/v1/kpis", get(kpis))
        .route("/api/v1/history", get(history))
        .route("/api/v1/wallboard", get(wallboard))
        .route("/api/v1/openapi.json", get(|| async { ([(header::CONTENT_TYPE, "application/json")], OPENAPI) }))
        .route("/wallboard", get(|| async { ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], WALLBOARD_HTML) }))
        .route("/readyz", get(readyz))
        .with_state(state)
}

async fn readyz(State(state): State<ExporterState>) -> Response {
    if state.is_ready() {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "rebuilding the KPI view from vardpuls.kpi.v1\n").into_response()
    }
}

/// A KPI value as published: numbers withheld when suppressed.
#[derive(Debug, Serialize, Deserialize)]
pub struct PublicKpi {
    pub kpi: KpiId,
    pub scope: Scope,
    pub scope_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub grain: Grain,
    pub period: String,
    pub dimensions: BTreeMap<String, String>,
    pub numerator: Option<String>,
    pub denominator: Option<String>,
    pub value: Option<f64>,
    pub target: Option<f64>,
    pub direction: Option<Direction>,
    pub status: Status,
    #[serde(rename = "final")]
    pub is_final: bool,
    pub suppressed: bool,
    pub updated_at: String,
}

impl PublicKpi {
    fn from(p: &Presented<'_>, name: Option<String>) -> PublicKpi {
        let r = p.record;
        let hide = p.suppressed;
        PublicKpi {
            kpi: r.kpi,
            scope: r.scope,
            scope_id: r.scope_id.clone(),
            name,
            grain: r.grain,
            period: r.period.clone(),
            dimensions: r.dimensions.clone(),
            numerator: (!hide).then(|| r.numerator.to_string()),
            denominator: if hide { None } else { r.denominator.map(|d| d.to_string()) },
            value: if hide { None } else { r.value },
            target: p.target.map(|t| t.value),
            direction: p.target.map(|t| t.direction),
            status: if hide { Status::NoTarget } else { p.status },
            is_final: r.is_final,
            suppressed: hide,
            updated_at: local_time(r.updated_at),
        }
    }
}

fn local_time(t: DateTime<Utc>) -> String {
    t.with_timezone(&TIME_ZONE).to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}

#[derive(Debug, Deserialize)]
struct KpiQuery {
    kpi: Option<KpiId>,
    scope: Option<Scope>,
    scope_id: Option<String>,
    /// `YYYY-MM-DD` or `YYYY-MM`; default: today and this month.
    period: Option<String>,
}

async fn kpis(State(state): State<ExporterState>, Query(q): Query<KpiQuery>) -> Response {
    let today = LocalDay::of(Utc::now());
    let periods = match &q.period {
        Some(p) => vec![p.clone()],
        None => vec![today.to_string(), today.month().to_string()],
    };
    let view = state.view.read().expect("lock");
    let mut items: Vec<PublicKpi> = periods
        .iter()
        .flat_map(|p| view.period(p))
        .filter(|r| q.kpi.is_none_or(|k| k == r.kpi))
        .filter(|r| q.scope.is_none_or(|s| s == r.scope))
        .filter(|r| q.scope_id.as_ref().is_none_or(|id| *id == r.scope_id))
        .map(|r| PublicKpi::from(&state.presenter.present_public(&view, r), unit_name(&state, r)))
        .collect();
    items.sort_by(|a, b| (&a.kpi, a.scope, &a.scope_id, &a.period).cmp(&(&b.kpi, b.scope, &b.scope_id, &b.period)));
    Json(serde_json::json!({ "time_zone": TIME_ZONE_NAME, "today": today.to_string(), "items": items })).into_response()
}

fn unit_name(state: &ExporterState, r: &KpiRecord) -> Option<String> {
    (r.scope == Scope::Unit).then(|| state.presenter.units.get(&r.scope_id).map(|u| u.name)).flatten()
}

#[derive(Debug, Deserialize)]
struct HistoryQuery {
    kpi: KpiId,
    scope: Scope,
    scope_id: String,
    /// How many days back from today (default 30, at most the view's retention).
    days: Option<i64>,
    /// One breakdown instead of the total, as `key=value` pairs joined by `;`:
    /// `contact_group=distance;profession_group=doctor` is doctors' distance visits.
    breakdown: Option<String>,
}

/// One KPI for one scope: its last `days` days, the same weekday a week before today, this
/// month and the same month last year, and the year to date against last year's.
async fn history(State(state): State<ExporterState>, Query(q): Query<HistoryQuery>) -> Response {
    let today = LocalDay::of(Utc::now());
    let days = q.days.unwrap_or(30).clamp(1, 366);
    let view = state.view.read().expect("lock");
    let breakdown = breakdown_of(q.breakdown.as_deref().unwrap_or(""));
    let wanted =
        |r: &&KpiRecord| r.kpi == q.kpi && r.scope == q.scope && r.scope_id == q.scope_id && r.dimensions == breakdown;
    let find = |period: &str| {
        view.period(period).find(wanted).map(|r| PublicKpi::from(&state.presenter.present_public(&view, r), None))
    };
    let daily: Vec<PublicKpi> = (0..days)
        .rev()
        .filter_map(|back| find(&LocalDay::from_date(today.date() - Duration::days(back)).to_string()))
        .collect();
    let month = today.month();
    let this_month = view.period(&month.to_string()).find(wanted).cloned();
    let (ytd, ytd_last_year) = match &this_month {
        Some(r) => (
            crate::comparisons::year_to_date(&view, r, month),
            crate::comparisons::year_to_date(&view, r, month.same_month_last_year()),
        ),
        None => (None, None),
    };
    let public = |r: &KpiRecord| PublicKpi::from(&state.presenter.present(r), None);
    let (ytd, ytd_last_year) = (ytd.as_ref().map(public), ytd_last_year.as_ref().map(public));
    let value = |p: &Option<PublicKpi>| p.as_ref().and_then(|p| p.value);
    let change = crate::comparisons::change(q.kpi, value(&ytd), value(&ytd_last_year));
    Json(serde_json::json!({
        "kpi": q.kpi, "scope": q.scope, "scope_id": q.scope_id, "breakdown": breakdown, "time_zone": TIME_ZONE_NAME,
        "days": daily,
        "same_weekday_last_week": find(&LocalDay::from_date(today.date() - Duration::days(7)).to_string()),
        "same_weekday_last_year": same_weekday_last_year(&state, &view, &q, today),
        "this_month": find(&month.to_string()),
        "same_month_last_year": find(&month.same_month_last_year().to_string()),
        "year_to_date": ytd,
        "year_to_date_last_year": ytd_last_year,
        "year_to_date_change": change,
    }))
    .into_response()
}

/// Today's weekday 364 days back: its value, or `suppressed` below the small-cell minimum.
/// Daily totals only (a breakdown's year is not kept), and only once that day is older than the
/// view's own days, which it always is.
fn same_weekday_last_year(
    state: &ExporterState,
    view: &KpiView,
    q: &HistoryQuery,
    today: LocalDay,
) -> Option<serde_json::Value> {
    if q.breakdown.as_deref().is_some_and(|b| !b.is_empty()) {
        return None;
    }
    let day = crate::year_of_days::same_weekday_last_year(today.date());
    let past = view.year_of_days().get(&crate::year_of_days::series_of(q.kpi, q.scope, &q.scope_id), day)?;
    let suppressed = past.cases < state.presenter.min_cases;
    Some(serde_json::json!({
        "period": LocalDay::from_date(day).to_string(),
        "value": if suppressed { None } else { Some(past.value) },
        "suppressed": suppressed,
    }))
}

/// `contact_group=distance;profession_group=doctor` as a record's dimensions.
fn breakdown_of(text: &str) -> BTreeMap<String, String> {
    text.split(';')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

/// One unit's line on the wallboard.
#[derive(Debug, Serialize, Deserialize)]
pub struct WallboardRow {
    pub scope_id: String,
    pub name: String,
    pub kommun: Option<String>,
    pub region: Option<String>,
    pub calls: u64,
    pub value: Option<f64>,
    pub live: Option<LiveOutcome>,
    pub target: Option<f64>,
    pub status: Status,
    pub few_cases: bool,
    /// Latest event behind the value, Europe/Stockholm.
    pub updated_at: String,
}

/// Today's same-day contact per unit, worst first: the operations centre's view.
async fn wallboard(State(state): State<ExporterState>) -> Response {
    let now = Utc::now();
    let today = LocalDay::of(now);
    let view = state.view.read().expect("lock");
    let mut rows: Vec<WallboardRow> = view
        .period(&today.to_string())
        .filter(|r| r.kpi == WALLBOARD_KPI && r.scope == Scope::Unit && r.dimensions.is_empty())
        .map(|r| {
            let p = state.presenter.present(r);
            let unit = state.presenter.units.get(&r.scope_id);
            WallboardRow {
                scope_id: r.scope_id.clone(),
                name: unit.as_ref().map(|u| u.name.clone()).unwrap_or_else(|| r.scope_id.clone()),
                kommun: unit.as_ref().and_then(|u| u.kommun.map(|k| k.as_str().to_string())),
                region: unit.as_ref().map(|u| u.region.as_str().to_string()),
                calls: p.cases,
                value: r.value,
                live: r.live.clone(),
                target: p.target.map(|t| t.value),
                status: p.status,
                few_cases: p.suppressed,
                updated_at: local_time(r.updated_at),
            }
        })
        .collect();
    rows.sort_by(|a, b| worst_first(a).partial_cmp(&worst_first(b)).unwrap_or(std::cmp::Ordering::Equal));
    Json(serde_json::json!({
        "kpi": WALLBOARD_KPI,
        "day": today.to_string(),
        "time_zone": TIME_ZONE_NAME,
        "generated_at": local_time(now),
        "ready": state.is_ready(),
        "units": rows,
    }))
    .into_response()
}

/// Sort key: lowest value first, then most pending callbacks; units without a value last.
fn worst_first(row: &WallboardRow) -> (f64, f64) {
    let pending = row.live.as_ref().map_or(0, |l| l.pending) as f64;
    (row.value.unwrap_or(f64::INFINITY), -pending)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::presentation::Presenter;
    use crate::targets::Targets;
    use crate::view::Retention;
    use crate::view::tests::record;
    use vardpuls_core::units::UnitRegistry;

    async fn history_of(state: &ExporterState, query: &str) -> serde_json::Value {
        let q: HistoryQuery = serde_urlencoded_query(query);
        let response = history(State(state.clone()), Query(q)).await;
        assert_eq!(response.status(), StatusCode::OK);
        let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        serde_json::from_slice(&body).unwrap()
    }

    fn serde_urlencoded_query(query: &str) -> HistoryQuery {
        let uri: axum::http::Uri = format!("/api/v1/history?{query}").parse().unwrap();
        Query::<HistoryQuery>::try_from_uri(&uri).unwrap().0
    }

    #[tokio::test]
    async fn history_sets_a_day_beside_the_same_weekday_last_year_and_picks_breakdowns() {
        let today = LocalDay::of(Utc::now());
        let day = |back: i64| LocalDay::from_date(today.date() - Duration::days(back)).to_string();
        let mut view = KpiView::new(Retention::default());
        // 364 days back, the same weekday: 41 of 50 for U1, 3 of 4 for U2 (too few to show).
        for (unit, n, d) in [("U1", 41, 50), ("U2", 3, 4)] {
            let mut r = record("same_day_contact", unit, &day(364), n, Some(d));
            r.value = Some(n as f64 / d as f64);
            r.is_final = true;
            assert!(!view.apply(r, today), "older than the kept days");
        }
        // This month's visits in total and doctors' distance visits.
        let month = today.month().to_string();
        view.apply(record("visits", "U1", &month, 400, None), today);
        let mut doctors_distance = record("visits", "U1", &month, 120, None);
        doctors_distance.dimensions = [("contact_group", "distance"), ("profession_group", "doctor")]
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .into();
        view.apply(doctors_distance, today);
        let state = ExporterState::new(
            view,
            Presenter { targets: Targets::default(), units: UnitRegistry::default(), min_cases: 20 },
        );

        let u1 = history_of(&state, "kpi=same_day_contact&scope=unit&scope_id=U1").await;
        assert_eq!(
            u1["same_weekday_last_year"],
            serde_json::json!({"period": day(364), "value": 0.82, "suppressed": false})
        );
        let u2 = history_of(&state, "kpi=same_day_contact&scope=unit&scope_id=U2").await;
        assert_eq!(
            u2["same_weekday_last_year"],
            serde_json::json!({"period": day(364), "value": null, "suppressed": true})
        );

        let total = history_of(&state, "kpi=visits&scope=unit&scope_id=U1").await;
        assert_eq!(total["this_month"]["numerator"], "400");
        let breakdown = "contact_group%3Ddistance%3Bprofession_group%3Ddoctor";
        let doctors = history_of(&state, &format!("kpi=visits&scope=unit&scope_id=U1&breakdown={breakdown}")).await;
        assert_eq!(doctors["this_month"]["numerator"], "120");
        assert_eq!(
            doctors["breakdown"],
            serde_json::json!({"contact_group": "distance", "profession_group": "doctor"})
        );
    }

    #[test]
    fn days_leaving_the_view_stay_a_year_as_daily_totals() {
        let today = LocalDay::parse("2026-12-06").unwrap();
        let mut view = KpiView::new(Retention::default());
        let mut r = record("same_day_contact", "U1", "2026-11-30", 9, Some(10));
        r.value = Some(0.9);
        assert!(view.apply(r, today));
        view.prune(LocalDay::parse("2027-01-20").unwrap());
        assert_eq!(view.period("2026-11-30").count(), 0);
        let series = crate::year_of_days::series_of(KpiId::SameDayContact, Scope::Unit, "U1");
        let kept = view.year_of_days().get(&series, chrono::NaiveDate::from_ymd_opt(2026, 11, 30).unwrap()).unwrap();
        assert_eq!((kept.value, kept.cases), (0.9, 10));
    }
}
