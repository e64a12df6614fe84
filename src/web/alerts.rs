//! `/alerts`: active and past alert episodes, the alert rules (enable/disable), and the
//! webhook endpoints with their recent attempts and a "send test event" button — the API's
//! handlers (`api::alerts`, `api::alert_rules`, `api::webhooks`), rendered.
//!
//! Each episode row carries `id="episode-N"`: the link of a Pushover message opens it.

use super::error::{WebError, WebResult};
use super::layout::{Chrome, link, segment, when, when_opt};
use super::session::{Signed, Write};
use crate::api::alerts::{self as alerts_api, HistoryQuery};
use crate::api::webhooks::{self as hooks_api, AttemptQuery};
use crate::api::{ApiPath, ApiQuery, AppState, alert_rules};
use crate::notify::Webhook;
use crate::notify::alert::episodes::Episode;
use crate::notify::alert::rules::AlertRule;
use crate::notify::deliver::Attempt;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Redirect};
use serde::Deserialize;

/// Attempts shown per endpoint.
const RECENT: i64 = 5;

#[derive(Deserialize, Default)]
pub struct PageQuery {
    done: Option<String>,
}

pub struct EpisodeRow {
    pub e: Episode,
    pub fired: String,
    pub resolved: String,
}

impl EpisodeRow {
    fn of(e: Episode) -> EpisodeRow {
        EpisodeRow { fired: when(&e.fired_at), resolved: when_opt(&e.resolved_at), e }
    }
}

pub struct RuleRow {
    pub r: AlertRule,
    pub per: String,
    /// The criteria as the config file writes them (JSON), one per line.
    pub criteria: Vec<String>,
    pub path: String,
}

pub struct AttemptRow {
    pub a: Attempt,
    pub started: String,
    pub status: String,
}

pub struct EndpointRow {
    pub w: Webhook,
    pub path: String,
    pub attempts: Vec<AttemptRow>,
}

#[derive(Template)]
#[template(path = "alerts.html")]
struct AlertsPage {
    chrome: Chrome,
    active: Vec<EpisodeRow>,
    past: Vec<EpisodeRow>,
    rules: Vec<RuleRow>,
    endpoints: Vec<EndpointRow>,
}

#[utoipa::path(get, path = "/alerts", tag = "web", security(("session" = [])),
    responses((status = 200, description = "Active and past alerts, the alert rules, webhook endpoints with their recent attempts", content_type = "text/html"), (status = 303, description = "Not signed in: to /login")))]
pub async fn page(signed: Signed, State(state): State<AppState>, Query(q): Query<PageQuery>) -> WebResult {
    let now = alerts_api::list(signed.viewer(), State(state.clone())).await?.0;
    let history = HistoryQuery { after: None, limit: Some(50) };
    let history = alerts_api::history(signed.viewer(), State(state.clone()), ApiQuery(history)).await?.0;
    let hooks = hooks_api::list(signed.viewer(), State(state.clone())).await?.0.webhooks;
    let mut endpoints = Vec::with_capacity(hooks.len());
    for w in hooks {
        let q = AttemptQuery { after: None, limit: Some(RECENT) };
        let name = w.config.name.clone();
        let page = hooks_api::attempts(signed.viewer(), State(state.clone()), ApiPath(name), ApiQuery(q)).await?.0;
        let attempts = page
            .attempts
            .into_iter()
            .map(|a| AttemptRow {
                started: when(&a.started_at),
                status: a.status_code.map(|s| s.to_string()).unwrap_or_else(|| "—".into()),
                a,
            })
            .collect();
        endpoints.push(EndpointRow { path: segment(&w.config.name), w, attempts });
    }
    let rules = now
        .rules
        .into_iter()
        .map(|r| RuleRow {
            per: serde_json::to_value(r.config.per)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            criteria: r.config.criteria.iter().map(|c| serde_json::to_string(c).unwrap_or_default()).collect(),
            path: segment(&r.config.name),
            r,
        })
        .collect();
    let page = AlertsPage {
        chrome: Chrome::of(&signed, "alerts").with_notice(q.done),
        active: now.active.into_iter().map(EpisodeRow::of).collect(),
        past: history.episodes.into_iter().filter(|e| e.resolved_at.is_some()).map(EpisodeRow::of).collect(),
        rules,
        endpoints,
    };
    Ok(Html(page.render()?).into_response())
}

#[derive(Deserialize)]
pub struct ToggleForm {
    /// `enable` or `disable`.
    #[serde(rename = "do")]
    action: String,
}

/// Enables or disables an alert rule.
#[utoipa::path(post, path = "/alerts/rules/{name}/toggle", tag = "web", security(("session" = [])), request_body(content_type = "application/x-www-form-urlencoded", description = "`do`: enable or disable"),
    responses((status = 303, description = "Switched: to the alerts page with a notice"), (status = 403, description = "Without the session's CSRF token, or from a viewer")))]
pub async fn toggle_rule(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Write { signed, form }: Write<ToggleForm>,
) -> WebResult {
    let admin = signed.as_admin()?;
    let r = match form.action.as_str() {
        "enable" => alert_rules::enable(admin, State(state), ApiPath(name)).await?.0,
        "disable" => alert_rules::disable(admin, State(state), ApiPath(name)).await?.0,
        other => return Err(WebError::bad_request(format!("`{other}`: enable or disable"))),
    };
    let state = if r.config.enabled { "enabled" } else { "disabled" };
    Ok(Redirect::to(&link("/alerts", &[("done", &format!("alert rule {} {state}", r.config.name))])).into_response())
}

#[derive(Deserialize)]
pub struct TestForm {}

/// Sends a signed `webhook.test` event to one endpoint.
#[utoipa::path(post, path = "/alerts/webhooks/{name}/test", tag = "web", security(("session" = [])), request_body(content_type = "application/x-www-form-urlencoded", description = "Only the CSRF token"),
    responses((status = 303, description = "Queued: to the alerts page with a notice"), (status = 403, description = "Without the session's CSRF token, or from a viewer")))]
pub async fn send_test(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Write { signed, form: TestForm {} }: Write<TestForm>,
) -> WebResult {
    let admin = signed.as_admin()?;
    let e = hooks_api::test(admin, State(state), ApiPath(name.clone())).await?.1.0;
    let done = format!("test event {} queued for {name}; its attempt is listed below once made", e.id);
    Ok(Redirect::to(&link("/alerts", &[("done", &done)])).into_response())
}
