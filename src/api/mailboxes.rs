//! `/api/v1/mailboxes`: list, get, create, update, delete, enable and disable.
//!
//! Takes a token and the keys of a `[[mailbox]]` entry as JSON (`password` allowed in place
//! of `password_env`/`password_file`, `oauth2_client_secret` and `oauth2_refresh_token` in
//! place of theirs); gives mailboxes as `rebound mailbox list` shows them
//! ([`crate::mailbox::Overview`]: source, settings, `password_set`, status with the last
//! error's stage). Writes go through [`crate::mailbox::write`] (validated as the config
//! file is, audited, followed by every `serve` within seconds). It never returns, logs or
//! echoes a password or an OAuth2 secret, and never writes a config-file mailbox (409 `read_only`).
//! Verify, poll and bulk actions are in [`super::mailbox_actions`].

use super::mailbox_actions::MailboxOps;
use super::{Admin, ApiJson, ApiPath, ApiResult, AppState, ErrorBody, Viewer};
use crate::mailbox::{self, Overview, repo, write};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The keys of a `[[mailbox]]` entry (see config.example.toml), with `password` allowed in
/// place of `password_env`/`password_file`, and for `auth = "oauth2"` `oauth2_client_secret`
/// and `oauth2_refresh_token` in place of their `*_env`/`*_file` (all stored sealed; they
/// need a `[secrets]` key).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(value_type = Object, example = json!({
    "name": "bounces-main", "protocol": "imap", "host": "mail.example.com", "username": "bounces",
    "password": "…", "after_processing": "move:Processed", "schedule": "*/5 * * * *"}))]
pub struct MailboxBody(pub Map<String, Value>);

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MailboxList {
    pub mailboxes: Vec<Overview>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Deleted {
    pub id: i64,
    pub name: String,
    pub deleted_at: Option<NaiveDateTime>,
}

/// The mailbox entry of a request body, or a 422 listing every problem.
pub(super) fn entry_of(body: MailboxBody) -> ApiResult<write::Entry> {
    write::Entry::from_json(body.0).map_err(|p| mailbox::MailboxError::Invalid(p).into())
}

/// Every mailbox, config-file and API-managed, with its status.
#[utoipa::path(get, path = "/api/v1/mailboxes", tag = "mailboxes",
    responses((status = 200, body = MailboxList), (status = 401, body = ErrorBody)))]
pub async fn list(_: Viewer, State(state): State<AppState>) -> ApiResult<Json<MailboxList>> {
    let file = state.config.mailbox.clone();
    let mailboxes = state.db.run(move |c| mailbox::overview(c, &file, None)).await?;
    Ok(Json(MailboxList { mailboxes }))
}

/// One mailbox with its settings and status.
#[utoipa::path(get, path = "/api/v1/mailboxes/{name}", tag = "mailboxes", params(("name" = String, Path)),
    responses((status = 200, body = Overview), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get(
    _: Viewer,
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<Overview>> {
    let file = state.config.mailbox.clone();
    Ok(Json(state.db.run(move |c| mailbox::listing::one(c, &file, None, &name)).await?))
}

/// Creates an API-managed mailbox; every `serve` polls it within seconds.
#[utoipa::path(post, path = "/api/v1/mailboxes", tag = "mailboxes", request_body = MailboxBody,
    responses((status = 201, body = Overview), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 409, description = "The name is taken", body = ErrorBody),
              (status = 422, description = "Every problem, by field", body = ErrorBody)))]
pub async fn create(
    Admin(p): Admin,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<MailboxBody>,
) -> ApiResult<(StatusCode, Json<Overview>)> {
    let entry = entry_of(body)?;
    let MailboxOps { key, .. } = state.mailboxes.clone();
    let view = state
        .db
        .run(move |c| {
            let m = write::create(c, &p.actor(), &entry, key.as_ref())?;
            mailbox::listing::one(c, &[], None, &m.name)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// Replaces an API mailbox's settings (a full entry; without `password`, and without
/// `password_env`/`password_file`, the stored password is kept).
#[utoipa::path(put, path = "/api/v1/mailboxes/{name}", tag = "mailboxes", params(("name" = String, Path)),
    request_body = MailboxBody,
    responses((status = 200, body = Overview), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody),
              (status = 409, description = "A config-file mailbox (`read_only`), or the new name is taken", body = ErrorBody),
              (status = 422, description = "Every problem, by field", body = ErrorBody)))]
pub async fn update(
    Admin(p): Admin,
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
    ApiJson(body): ApiJson<MailboxBody>,
) -> ApiResult<Json<Overview>> {
    let mut entry = entry_of(body)?;
    // The path names the mailbox; a body without `name` keeps it, one with another renames.
    entry.settings.entry("name").or_insert_with(|| toml::Value::String(name.clone()));
    let key = state.mailboxes.key.clone();
    let view = state
        .db
        .run(move |c| {
            let id = repo::by_name(c, &name)?.id;
            let m = write::update(c, &p.actor(), id, &entry, key.as_ref())?;
            mailbox::listing::one(c, &[], None, &m.name)
        })
        .await?;
    Ok(Json(view))
}

/// Deletes an API mailbox: no longer polled anywhere; its status, events and ledger stay.
#[utoipa::path(delete, path = "/api/v1/mailboxes/{name}", tag = "mailboxes", params(("name" = String, Path)),
    responses((status = 200, body = Deleted), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, description = "A config-file mailbox", body = ErrorBody)))]
pub async fn delete(
    Admin(p): Admin,
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<Deleted>> {
    let m = state
        .db
        .run(move |c| {
            let id = repo::by_name(c, &name)?.id;
            write::delete(c, &p.actor(), id)
        })
        .await?;
    Ok(Json(Deleted { id: m.id, name: m.name, deleted_at: m.deleted_at }))
}

/// Sets `enabled` on the API mailbox `name`; the view after.
pub(super) async fn set_enabled(
    state: &AppState,
    p: &crate::access::Principal,
    name: String,
    on: bool,
) -> ApiResult<Overview> {
    let actor = p.actor();
    Ok(state
        .db
        .run(move |c| {
            let id = repo::by_name(c, &name)?.id;
            let m = write::set_enabled(c, &actor, id, on)?;
            mailbox::listing::one(c, &[], None, &m.name)
        })
        .await?)
}

/// Enables an API mailbox: polled again on its schedule.
#[utoipa::path(post, path = "/api/v1/mailboxes/{name}/enable", tag = "mailboxes", params(("name" = String, Path)),
    responses((status = 200, body = Overview), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, description = "A config-file mailbox", body = ErrorBody)))]
pub async fn enable(
    Admin(p): Admin,
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<Overview>> {
    Ok(Json(set_enabled(&state, &p, name, true).await?))
}

/// Disables an API mailbox: kept, not polled.
#[utoipa::path(post, path = "/api/v1/mailboxes/{name}/disable", tag = "mailboxes", params(("name" = String, Path)),
    responses((status = 200, body = Overview), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, description = "A config-file mailbox", body = ErrorBody)))]
pub async fn disable(
    Admin(p): Admin,
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<Overview>> {
    Ok(Json(set_enabled(&state, &p, name, false).await?))
}
