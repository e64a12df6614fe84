//! `/suppression`: search the list, an address's page (suppressions with their evidence,
//! history, audit trail), add and remove with a note, the allowlist, export.
//!
//! Every read and change is the admin API's handler (`api::suppression`, `api::addresses`,
//! `api::audit`): the same normalisation, refusals and audit entries.

use super::error::{WebError, WebResult};
use super::form::Problems;
use super::layout::{Chrome, link, when, when_opt};
use super::session::{Signed, Write};
use crate::api::addresses::{self, AddressQuery};
use crate::api::audit::{self as audit_api, AuditQuery};
use crate::api::suppression::{self as api, AddBody, AllowBody, DisallowQuery, ExportQuery, RemoveQuery, SearchQuery};
use crate::api::{ApiJson, ApiPath, ApiQuery, AppState};
use crate::audit::Entry;
use crate::record::address::AddressReport;
use crate::suppress::Suppression;
use crate::suppress::manual::Allowed;
use askama::Template;
use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

#[derive(Deserialize, Default, Clone, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    #[serde(default)]
    prefix: String,
    #[serde(default)]
    domain: String,
    #[serde(default)]
    source: String,
    #[serde(default)]
    order: String,
    #[serde(default)]
    after: String,
    done: Option<String>,
}

pub struct Row {
    pub s: Suppression,
    pub created: String,
    pub expires: String,
    pub href: String,
}

#[derive(Template)]
#[template(path = "suppression.html")]
struct ListPage {
    chrome: Chrome,
    q: ListQuery,
    rows: Vec<Row>,
    next: String,
    allowed: Vec<Allowed>,
    configured: Vec<String>,
    problems: Problems,
}

fn some(s: &str) -> Option<String> {
    (!s.trim().is_empty()).then(|| s.trim().to_string())
}

pub fn address_href(address: &str) -> String {
    link("/suppression/address", &[("email", address)])
}

#[utoipa::path(get, path = "/suppression", tag = "web", security(("session" = [])),
    responses((status = 200, description = "The suppression list, search, add form and the allowlist", content_type = "text/html"), (status = 303, description = "Not signed in: to /login")))]
pub async fn list(signed: Signed, State(state): State<AppState>, Query(q): Query<ListQuery>) -> WebResult {
    let search = SearchQuery {
        prefix: some(&q.prefix),
        domain: some(&q.domain),
        source: some(&q.source),
        scope: None,
        // Address order by default: one index range; newest first walks the whole list on SQLite.
        order: Some(if q.order == "newest" { "newest" } else { "address" }.into()),
        after: some(&q.after),
        limit: Some(50),
    };
    let allow = api::allowlist(signed.viewer(), State(state.clone())).await?.0;
    let mut page = ListPage {
        chrome: Chrome::of(&signed, "suppression").with_notice(q.done.clone()),
        q: q.clone(),
        rows: Vec::new(),
        next: String::new(),
        allowed: allow.entries,
        configured: allow.configured,
        problems: Problems::default(),
    };
    match api::list(signed.viewer(), State(state), ApiQuery(search)).await {
        Ok(found) => {
            let found = found.0;
            page.rows = found
                .entries
                .into_iter()
                .map(|s| Row {
                    created: when(&s.created_at),
                    expires: when_opt(&s.expires_at),
                    href: address_href(&s.address),
                    s,
                })
                .collect();
            if let Some(n) = found.next {
                page.next = link(
                    "/suppression",
                    &[("prefix", &q.prefix), ("domain", &q.domain), ("source", &q.source), ("after", &n)],
                );
            }
        }
        Err(e) => page.problems = Problems::of(&e),
    }
    Ok(Html(page.render()?).into_response())
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AddressParam {
    email: String,
    after: Option<String>,
    done: Option<String>,
}

pub struct EventRow {
    pub e: crate::record::address::AddressEvent,
    pub date: String,
}

pub struct AuditRow {
    pub e: Entry,
    pub at: String,
}

#[derive(Template)]
#[template(path = "address.html")]
struct AddressPage {
    chrome: Chrome,
    r: AddressReport,
    events: Vec<EventRow>,
    audit: Vec<AuditRow>,
    next: String,
}

#[utoipa::path(get, path = "/suppression/address", tag = "web", security(("session" = [])),
    responses((status = 200, description = "One address: its entries, evidence, history and audit trail", content_type = "text/html"), (status = 303, description = "Not signed in: to /login")))]
pub async fn address(signed: Signed, State(state): State<AppState>, Query(p): Query<AddressParam>) -> WebResult {
    let q = AddressQuery { after: p.after.clone(), limit: Some(50) };
    let r = addresses::get(signed.viewer(), State(state.clone()), ApiPath(p.email.clone()), ApiQuery(q)).await?.0;
    let trail = AuditQuery {
        actor: None,
        action: None,
        target: Some(format!("suppression:{}/", r.address)),
        after: None,
        limit: Some(50),
    };
    let audit = audit_api::list(signed.viewer(), State(state), ApiQuery(trail)).await?.0.entries;
    let next = r
        .next
        .as_ref()
        .map(|n| link("/suppression/address", &[("email", &r.address), ("after", n)]))
        .unwrap_or_default();
    let events = r.events.iter().cloned().map(|e| EventRow { date: when(&e.date), e }).collect();
    let page = AddressPage {
        chrome: Chrome::of(&signed, "suppression").with_notice(p.done),
        audit: audit.into_iter().map(|e| AuditRow { at: when(&e.at), e }).collect(),
        events,
        next,
        r,
    };
    Ok(Html(page.render()?).into_response())
}

#[derive(Deserialize)]
pub struct ChangeForm {
    address: String,
    #[serde(default)]
    scope: String,
    #[serde(default)]
    note: String,
    /// Where to go back to (`address`: the address page).
    #[serde(default)]
    back: String,
}

fn back_to(form: &ChangeForm, done: &str) -> Response {
    let to = if form.back == "address" {
        link("/suppression/address", &[("email", &form.address), ("done", done)])
    } else {
        link("/suppression", &[("done", done)])
    };
    Redirect::to(&to).into_response()
}

#[utoipa::path(post, path = "/suppression/add", tag = "web", security(("session" = [])), request_body(content_type = "application/x-www-form-urlencoded", description = "`address`, optional `scope` and `note`"),
    responses((status = 303, description = "Suppressed: to the address page"), (status = 403, description = "Without the session's CSRF token, or from a viewer"), (status = 422, description = "The API refused it: the form again with its problems", content_type = "text/html")))]
pub async fn add(State(state): State<AppState>, Write { signed, form }: Write<ChangeForm>) -> WebResult {
    let body = AddBody { address: form.address.clone(), scope: some(&form.scope), note: some(&form.note) };
    let added = api::add(signed.as_admin()?, State(state), ApiJson(body)).await?.1.0;
    let done = if added.added {
        format!("suppressed {} ({})", added.entry.address, added.entry.scope)
    } else {
        format!("{} was already suppressed ({})", added.entry.address, added.entry.scope)
    };
    Ok(back_to(&ChangeForm { address: added.entry.address.clone(), ..form }, &done))
}

#[utoipa::path(post, path = "/suppression/remove", tag = "web", security(("session" = [])), request_body(content_type = "application/x-www-form-urlencoded", description = "`address`, `scope` and a `note`"),
    responses((status = 303, description = "Released: to the address page"), (status = 403, description = "Without the session's CSRF token, or from a viewer"), (status = 422, description = "The API refused it: the form again with its problems", content_type = "text/html")))]
pub async fn remove(State(state): State<AppState>, Write { signed, form }: Write<ChangeForm>) -> WebResult {
    let q = RemoveQuery { scope: some(&form.scope), note: some(&form.note) };
    let gone = api::remove(signed.as_admin()?, State(state), ApiPath(form.address.clone()), ApiQuery(q)).await?.0;
    Ok(back_to(&form, &format!("released {} ({})", gone.address, gone.scope)))
}

#[derive(Deserialize)]
pub struct AllowForm {
    entry: String,
    #[serde(default)]
    note: String,
}

#[utoipa::path(post, path = "/allowlist/add", tag = "web", security(("session" = [])), request_body(content_type = "application/x-www-form-urlencoded", description = "`entry` (an address or @domain) and a `note`"),
    responses((status = 303, description = "Allowlisted: to the suppression page"), (status = 403, description = "Without the session's CSRF token, or from a viewer"), (status = 422, description = "The API refused it: the form again with its problems", content_type = "text/html")))]
pub async fn allow(State(state): State<AppState>, Write { signed, form }: Write<AllowForm>) -> WebResult {
    let body = AllowBody { entry: form.entry, note: some(&form.note) };
    let now = api::allow(signed.as_admin()?, State(state), ApiJson(body)).await?.1.0;
    let done = format!("allowlisted {}; {} suppression(s) released", now.allowed.entry, now.released.len());
    Ok(Redirect::to(&link("/suppression", &[("done", &done)])).into_response())
}

#[utoipa::path(post, path = "/allowlist/remove", tag = "web", security(("session" = [])), request_body(content_type = "application/x-www-form-urlencoded", description = "`entry`"),
    responses((status = 303, description = "Removed from the allowlist: to the suppression page"), (status = 403, description = "Without the session's CSRF token, or from a viewer"), (status = 422, description = "The API refused it: the form again with its problems", content_type = "text/html")))]
pub async fn disallow(State(state): State<AppState>, Write { signed, form }: Write<AllowForm>) -> WebResult {
    let q = DisallowQuery { note: some(&form.note) };
    let gone = api::disallow(signed.as_admin()?, State(state), ApiPath(form.entry), ApiQuery(q)).await?.0;
    Ok(Redirect::to(&link("/suppression", &[("done", &format!("{} is off the allowlist", gone.entry))]))
        .into_response())
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportParam {
    format: Option<String>,
}

/// The whole list in force, streamed: the API's export.
#[utoipa::path(get, path = "/suppression/export", tag = "web", security(("session" = [])),
    responses((status = 200, description = "The whole list in force (plain, csv or json)"), (status = 303, description = "Not signed in: to /login")))]
pub async fn export(
    signed: Signed,
    State(state): State<AppState>,
    Query(p): Query<ExportParam>,
) -> WebResult<Response> {
    let format = match p.format.as_deref() {
        None | Some("plain") => None,
        Some(f) => Some(
            serde_json::from_value(serde_json::json!(f))
                .map_err(|_| WebError::bad_request(format!("`{f}`: export as plain, csv or json")))?,
        ),
    };
    api::export(signed.viewer(), State(state), ApiQuery(ExportQuery { format })).await.map_err(WebError::from)
}
