//! `/audit`: every change made through the web admin, the API or the CLI, newest first,
//! filtered by actor, action and target (the API's `GET /api/v1/audit`), and `/settings`:
//! the effective configuration with every secret masked (`rebound check-config`'s text).

use super::error::WebResult;
use super::layout::{Chrome, link, when};
use super::session::Signed;
use crate::api::ApiQuery;
use crate::api::AppState;
use crate::api::audit::{self as api, AuditQuery};
use crate::audit::Entry;
use askama::Template;
use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse};
use serde::Deserialize;

#[derive(Deserialize, Default, Clone, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Filters {
    #[serde(default)]
    actor: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    target: String,
    #[serde(default)]
    after: String,
}

pub struct Row {
    pub e: Entry,
    pub at: String,
    pub before: String,
    pub after: String,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    chrome: Chrome,
    q: Filters,
    rows: Vec<Row>,
    next: String,
}

fn some(s: &str) -> Option<String> {
    (!s.trim().is_empty()).then(|| s.trim().to_string())
}

#[utoipa::path(get, path = "/audit", tag = "web", security(("session" = [])),
    responses((status = 200, description = "The audit log, filtered", content_type = "text/html"), (status = 303, description = "Not signed in: to /login")))]
pub async fn list(signed: Signed, State(state): State<AppState>, Query(q): Query<Filters>) -> WebResult {
    let query = AuditQuery {
        actor: some(&q.actor),
        action: some(&q.action),
        target: some(&q.target),
        after: some(&q.after),
        limit: Some(50),
    };
    let page = api::list(signed.viewer(), State(state), ApiQuery(query)).await?.0;
    let json = |v: &Option<serde_json::Value>| {
        v.as_ref().map(|v| serde_json::to_string_pretty(v).unwrap_or_default()).unwrap_or_default()
    };
    let rows = page
        .entries
        .into_iter()
        .map(|e| Row { at: when(&e.at), before: json(&e.before), after: json(&e.after), e })
        .collect();
    let next = page
        .next
        .map(|n| link("/audit", &[("actor", &q.actor), ("action", &q.action), ("target", &q.target), ("after", &n)]))
        .unwrap_or_default();
    let page = AuditPage { chrome: Chrome::of(&signed, "audit"), q, rows, next };
    Ok(Html(page.render()?).into_response())
}

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage {
    chrome: Chrome,
    toml: String,
    instance: String,
    database: String,
}

#[utoipa::path(get, path = "/settings", tag = "web", security(("session" = [])),
    responses((status = 200, description = "The effective configuration, secrets masked", content_type = "text/html"), (status = 303, description = "Not signed in: to /login")))]
pub async fn settings(signed: Signed, State(state): State<AppState>) -> WebResult {
    let page = SettingsPage {
        chrome: Chrome::of(&signed, "settings"),
        toml: state.config.to_masked_toml(),
        instance: state.instance_id.clone(),
        database: state.db.describe().to_string(),
    };
    Ok(Html(page.render()?).into_response())
}
