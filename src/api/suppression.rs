//! `/api/v1/suppression` and `/api/v1/allowlist`: search, one address with its evidence,
//! manual add and remove (audited), the streamed export, the change feed the sending nodes
//! follow, and the allowlist.
//!
//! A face over `suppress::{search, manual, export, changes}`; the CLI's `rebound suppression`
//! calls the same functions. Reads need any token, writes an admin one.

use super::{Admin, ApiError, ApiJson, ApiPath, ApiQuery, ApiResult, AppState, ErrorBody, Viewer, page_of};
use crate::record::events::History;
use crate::suppress::changes::{self, Feed};
use crate::suppress::export::{Export, Format};
use crate::suppress::manual::{self, Allowed, ManualError};
use crate::suppress::search::{self, Held, Order, Search};
use crate::suppress::{GLOBAL, Source, Suppression, normalize};
use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// Addresses starting with this.
    pub prefix: Option<String>,
    /// Addresses at exactly this domain (`example.com`).
    pub domain: Option<String>,
    /// `hard_bounce`, `fbl_complaint`, `soft_threshold`, `manual` or `import`.
    pub source: Option<String>,
    /// `global` or a sending domain.
    pub scope: Option<String>,
    /// `address` (default) or `newest`.
    pub order: Option<String>,
    /// The `next` cursor of the previous page.
    pub after: Option<String>,
    /// Entries per page (1–1000, default 100).
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SuppressionPage {
    pub entries: Vec<Suppression>,
    /// Pass as `after` for the next page; null on the last.
    pub next: Option<String>,
}

/// Search the list: every filter given must hold; keyset pages in address order (or newest
/// first with `order=newest`).
#[utoipa::path(get, path = "/api/v1/suppression", tag = "suppression", params(SearchQuery),
    responses((status = 200, body = SuppressionPage), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn list(
    _: Viewer,
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<SearchQuery>,
) -> ApiResult<Json<SuppressionPage>> {
    let page = page_of(q.limit, q.after, 100, 1000)?;
    let mut problems = Vec::new();
    let source = q.source.as_deref().and_then(|s| {
        let parsed = Source::parse(s);
        if parsed.is_none() {
            problems.push(super::FieldProblem {
                field: "source".into(),
                message: format!(
                    "`{s}` is not a source; use hard_bounce, fbl_complaint, soft_threshold, manual or import"
                ),
            });
        }
        parsed
    });
    let order = match q.order.as_deref() {
        None | Some("address") => Order::Address,
        Some("newest") => Order::Newest,
        Some(o) => {
            problems.push(super::FieldProblem {
                field: "order".into(),
                message: format!("`{o}` is not an order; use address or newest"),
            });
            Order::Address
        }
    };
    if !problems.is_empty() {
        return Err(ApiError::invalid("the search is invalid", problems));
    }
    let filter = Search { prefix: q.prefix, domain: q.domain, source, scope: q.scope, order };
    let paged = state.db.run(move |c| search::search(c, &filter, &page)).await?;
    Ok(Json(SuppressionPage { entries: paged.rows, next: paged.next.map(|c| c.0) }))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AddressEntries {
    pub address: String,
    /// Its entries in every scope, each with the event that made it.
    pub entries: Vec<Held>,
}

/// One address: its entries in every scope with their evidence (404 when it has none).
#[utoipa::path(get, path = "/api/v1/suppression/{address}", tag = "suppression",
    params(("address" = String, Path, description = "An email address")),
    responses((status = 200, body = AddressEntries), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get(
    _: Viewer,
    State(state): State<AppState>,
    ApiPath(address): ApiPath<String>,
) -> ApiResult<Json<AddressEntries>> {
    let address = normalize(&address);
    let now = Utc::now().naive_utc();
    let who = address.clone();
    let entries = state.db.run(move |c| search::entries_of(c, &History, &who, now)).await?;
    if entries.is_empty() {
        return Err(ApiError::not_found(format!("{address} is not suppressed in any scope")));
    }
    Ok(Json(AddressEntries { address, entries }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddBody {
    pub address: String,
    /// A sending domain, or `global` (the default).
    pub scope: Option<String>,
    /// Why (kept with the entry and in the audit log).
    pub note: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Added {
    /// False when the address already was suppressed in that scope (`entry` is that one).
    pub added: bool,
    pub entry: Suppression,
}

/// Suppress an address by hand (audited; the sending nodes learn of it from the change feed).
#[utoipa::path(post, path = "/api/v1/suppression", tag = "suppression", request_body = AddBody,
    responses((status = 201, body = Added), (status = 200, description = "Already suppressed", body = Added),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn add(
    Admin(who): Admin,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<AddBody>,
) -> ApiResult<(StatusCode, Json<Added>)> {
    let now = Utc::now().naive_utc();
    let actor = who.actor();
    let scope = body.scope.unwrap_or_else(|| GLOBAL.into());
    let (added, entry) =
        state.db.run(move |c| manual::suppress(c, &actor, &body.address, &scope, body.note.as_deref(), now)).await?;
    let code = if added { StatusCode::CREATED } else { StatusCode::OK };
    Ok((code, Json(Added { added, entry })))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RemoveQuery {
    /// The scope to release it from: `global` (the default) or a sending domain.
    pub scope: Option<String>,
    /// Why (kept in the audit log).
    pub note: Option<String>,
}

/// Release an address in one scope (audited; a `remove` in the change feed). Gives the
/// entry as it was.
#[utoipa::path(delete, path = "/api/v1/suppression/{address}", tag = "suppression",
    params(("address" = String, Path, description = "An email address"), RemoveQuery),
    responses((status = 200, body = Suppression), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub async fn remove(
    Admin(who): Admin,
    State(state): State<AppState>,
    ApiPath(address): ApiPath<String>,
    ApiQuery(q): ApiQuery<RemoveQuery>,
) -> ApiResult<Json<Suppression>> {
    let now = Utc::now().naive_utc();
    let actor = who.actor();
    let scope = q.scope.unwrap_or_else(|| GLOBAL.into());
    let gone = state.db.run(move |c| manual::release(c, &actor, &address, &scope, q.note.as_deref(), now)).await?;
    Ok(Json(gone))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// `plain` (one address per line, the default), `csv` or `json`.
    pub format: Option<Format>,
}

/// The whole list in force now, streamed (chunked) page by page: memory stays flat however
/// long it is. A failure mid-way cuts the body short rather than ending it cleanly.
#[utoipa::path(get, path = "/api/v1/suppression/export", tag = "suppression", params(ExportQuery),
    responses((status = 200, description = "The list (text/plain, text/csv or application/json)"),
              (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn export(
    _: Viewer,
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<ExportQuery>,
) -> ApiResult<Response> {
    let format = q.format.unwrap_or_default();
    let export = Export::new(format, Utc::now().naive_utc());
    // The first page before the answer: a database that does not answer is a proper error.
    let (export, first) = state
        .db
        .run(move |c| {
            let mut e = export;
            e.next_chunk(c).map(|chunk| (e, chunk.unwrap_or_default()))
        })
        .await?;
    // The later pages are read ahead of the client, each with a connection of its own.
    let (mut pages, mut render) = export.split();
    let rest = super::stream::ahead(state.db.clone(), move |c| pages.next(c), move |page| render.page(&page));
    let body = Body::from_stream(
        futures_util::stream::once(async move { Ok::<_, std::io::Error>(Bytes::from(first)) }).chain(rest),
    );
    let disposition = format!("attachment; filename=\"suppression.{}\"", format.extension());
    Ok(([(header::CONTENT_TYPE, format.content_type().to_string()), (header::CONTENT_DISPOSITION, disposition)], body)
        .into_response())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ChangesQuery {
    /// The `next` of the previous page (0, the default: from the start).
    pub after: Option<i64>,
    /// Changes per page (1–10000, default 1000).
    pub limit: Option<i64>,
}

/// The change log in commit order, as a cursor feed: every add and remove after `after`.
/// Following `next` never skips or repeats a change, however many instances write.
#[utoipa::path(get, path = "/api/v1/suppression/changes", tag = "suppression", params(ChangesQuery),
    responses((status = 200, body = Feed), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn changes(
    _: Viewer,
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<ChangesQuery>,
) -> ApiResult<Json<Feed>> {
    let limit = q.limit.unwrap_or(1000);
    if !(1..=10_000).contains(&limit) {
        return Err(ApiError::field("limit", "must be between 1 and 10000"));
    }
    let after = q.after.unwrap_or(0);
    if after < 0 {
        return Err(ApiError::field("after", "must be 0 or the `next` of an earlier page"));
    }
    Ok(Json(state.db.run(move |c| changes::feed(c, after, limit)).await?))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Allowlist {
    /// Entries added through the API or the CLI (removable).
    pub entries: Vec<Allowed>,
    /// The config file's `[suppression] allowlist` (changed in the file only).
    pub configured: Vec<String>,
}

/// The allowlist: addresses and domains never suppressed.
#[utoipa::path(get, path = "/api/v1/allowlist", tag = "suppression",
    responses((status = 200, body = Allowlist), (status = 401, body = ErrorBody)))]
pub async fn allowlist(_: Viewer, State(state): State<AppState>) -> ApiResult<Json<Allowlist>> {
    let entries = state.db.run(manual::allowlist).await?;
    Ok(Json(Allowlist { entries, configured: state.config.suppression.allowlist.clone() }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AllowBody {
    /// An address, or a domain (`example.com` or `@example.com`; its subdomains too).
    pub entry: String,
    pub note: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AllowedNow {
    #[serde(flatten)]
    pub allowed: Allowed,
    /// The suppressions the entry covered, released (audited; the nodes drop them at their
    /// next sync).
    pub released: Vec<Suppression>,
}

/// Never suppress this address or domain from now on (audited), and release the
/// suppressions it covers, so the sending nodes stop refusing them.
#[utoipa::path(post, path = "/api/v1/allowlist", tag = "suppression", request_body = AllowBody,
    responses((status = 201, body = AllowedNow), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn allow(
    Admin(who): Admin,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<AllowBody>,
) -> ApiResult<(StatusCode, Json<AllowedNow>)> {
    let now = Utc::now().naive_utc();
    let actor = who.actor();
    let (allowed, released) =
        state.db.run(move |c| manual::allow(c, &actor, &body.entry, body.note.as_deref(), now)).await?;
    Ok((StatusCode::CREATED, Json(AllowedNow { allowed, released })))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DisallowQuery {
    /// Why (kept in the audit log).
    pub note: Option<String>,
}

/// Take an address or domain off the allowlist (audited). Gives the entry as it was.
#[utoipa::path(delete, path = "/api/v1/allowlist/{entry}", tag = "suppression",
    params(("entry" = String, Path, description = "An address or a domain"), DisallowQuery),
    responses((status = 200, body = Allowed), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, description = "In the config file", body = ErrorBody)))]
pub async fn disallow(
    Admin(who): Admin,
    State(state): State<AppState>,
    ApiPath(entry): ApiPath<String>,
    ApiQuery(q): ApiQuery<DisallowQuery>,
) -> ApiResult<Json<Allowed>> {
    let now = Utc::now().naive_utc();
    let actor = who.actor();
    let asked = entry.clone();
    match state.db.run(move |c| manual::disallow(c, &actor, &asked, q.note.as_deref(), now)).await {
        Ok(gone) => Ok(Json(gone)),
        Err(ManualError::NotAllowlisted(e)) if in_config(&state, &e) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "read_only",
            format!("{e} is in the config file's [suppression] allowlist; remove it there and restart"),
        )),
        Err(e) => Err(e.into()),
    }
}

fn in_config(state: &AppState, entry: &str) -> bool {
    state.config.suppression.allowlist.iter().any(|a| a.trim().trim_start_matches('@').eq_ignore_ascii_case(entry))
}
