//! `/api/v1/logs`: the MTA log sources (`[[mta_log]]`, and what `rebound import-log` read)
//! with their files, checkpoints (offset, line, records, unreadable lines) and lag.
//!
//! Takes a viewer token (an admin's for writes) and the keys of a `[[mta_log]]` entry as
//! JSON; gives [`SourceStatus`] rows from [`crate::ingest::log_status`]. Writes (create,
//! update, delete, enable, disable) go through [`crate::ingest::log_sources`] (validated as
//! the config file is, audited, followed by every `serve` within seconds); config-file
//! sources are read-only here (409 `read_only`).

use super::{Admin, ApiError, ApiJson, ApiPath, ApiResult, AppState, ErrorBody, Viewer};
use crate::ingest::log_sources::{self, Limits, LogSourceError};
use crate::ingest::log_status::{self, SourceStatus};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The keys of a `[[mta_log]]` entry (see config.example.toml); `path` must be under one of
/// `[server] log_source_dirs`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(value_type = Object, example = json!({
    "name": "pmta-1-acct", "format": "powermta", "path": "/var/log/pmta/acct-*.csv", "node": "pmta-1"}))]
pub struct LogSourceBody(pub Map<String, Value>);

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeletedLogSource {
    pub name: String,
    pub deleted: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LogSourceList {
    pub sources: Vec<SourceStatus>,
}

/// Every MTA log source with its files, checkpoints and lag.
#[utoipa::path(get, path = "/api/v1/logs", tag = "logs",
    responses((status = 200, body = LogSourceList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list(_: Viewer, State(state): State<AppState>) -> ApiResult<Json<LogSourceList>> {
    let cfg = state.config.clone();
    let sources = state.db.run(move |c| log_status::all(c, &cfg.mta_log)).await?;
    Ok(Json(LogSourceList { sources }))
}

/// One MTA log source (by its `[[mta_log]]` name, or `import:FORMAT`'s name `FORMAT`).
#[utoipa::path(get, path = "/api/v1/logs/{name}", tag = "logs", params(("name" = String, Path)),
    responses((status = 200, body = SourceStatus), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get(
    _: Viewer,
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<SourceStatus>> {
    let cfg = state.config.clone();
    let sources = state.db.run(move |c| log_status::all(c, &cfg.mta_log)).await?;
    sources
        .into_iter()
        .find(|s| s.name == name)
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no log source {name}; GET /api/v1/logs lists them")))
}

fn settings_of(body: LogSourceBody) -> ApiResult<toml::Table> {
    log_sources::table_of(body.0).map_err(|p| LogSourceError::Invalid(p).into())
}

/// The status of source `name` after a write.
fn status_of(
    c: &mut crate::store::AnyConnection,
    file: &[crate::config::MtaLogConfig],
    name: &str,
) -> Result<SourceStatus, LogSourceError> {
    log_status::all(c, file)?
        .into_iter()
        .find(|s| s.name == name && s.defined_in != "checkpoints")
        .ok_or_else(|| LogSourceError::NotFound(name.to_string()))
}

/// Creates an API-managed log source; every `serve` follows it within seconds.
#[utoipa::path(post, path = "/api/v1/logs", tag = "logs", request_body = LogSourceBody,
    responses((status = 201, body = SourceStatus), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 409, description = "The name is taken", body = ErrorBody),
              (status = 422, description = "Every problem, by field", body = ErrorBody)))]
pub async fn create(
    Admin(p): Admin,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<LogSourceBody>,
) -> ApiResult<(StatusCode, Json<SourceStatus>)> {
    let settings = settings_of(body)?;
    let cfg = state.config.clone();
    let view = state
        .db
        .run(move |c| {
            let limits = Limits { file: &cfg.mta_log, dirs: &cfg.server.log_source_dirs };
            let l = log_sources::create(c, &p.actor(), limits, settings)?;
            status_of(c, &cfg.mta_log, &l.name)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// Replaces an API log source's settings (a full entry; a body without `name` keeps it).
#[utoipa::path(put, path = "/api/v1/logs/{name}", tag = "logs", params(("name" = String, Path)),
    request_body = LogSourceBody,
    responses((status = 200, body = SourceStatus), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody),
              (status = 409, description = "A config-file source (`read_only`), or the new name is taken", body = ErrorBody),
              (status = 422, description = "Every problem, by field", body = ErrorBody)))]
pub async fn update(
    Admin(p): Admin,
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
    ApiJson(body): ApiJson<LogSourceBody>,
) -> ApiResult<Json<SourceStatus>> {
    let mut settings = settings_of(body)?;
    settings.entry("name").or_insert_with(|| toml::Value::String(name.clone()));
    let cfg = state.config.clone();
    let view = state
        .db
        .run(move |c| {
            let limits = Limits { file: &cfg.mta_log, dirs: &cfg.server.log_source_dirs };
            let l = log_sources::update(c, &p.actor(), limits, &name, settings)?;
            status_of(c, &cfg.mta_log, &l.name)
        })
        .await?;
    Ok(Json(view))
}

/// Deletes an API log source: no longer followed; its checkpoints and events stay.
#[utoipa::path(delete, path = "/api/v1/logs/{name}", tag = "logs", params(("name" = String, Path)),
    responses((status = 200, body = DeletedLogSource), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, description = "A config-file source", body = ErrorBody)))]
pub async fn delete(
    Admin(p): Admin,
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<DeletedLogSource>> {
    let cfg = state.config.clone();
    let l = state
        .db
        .run(move |c| {
            let limits = Limits { file: &cfg.mta_log, dirs: &cfg.server.log_source_dirs };
            log_sources::delete(c, &p.actor(), limits, &name)
        })
        .await?;
    Ok(Json(DeletedLogSource { name: l.name, deleted: true }))
}

async fn set_enabled(state: AppState, p: crate::access::Principal, name: String, on: bool) -> ApiResult<SourceStatus> {
    let cfg = state.config.clone();
    Ok(state
        .db
        .run(move |c| {
            let limits = Limits { file: &cfg.mta_log, dirs: &cfg.server.log_source_dirs };
            let l = log_sources::set_enabled(c, &p.actor(), limits, &name, on)?;
            status_of(c, &cfg.mta_log, &l.name)
        })
        .await?)
}

/// Enables an API log source: followed again.
#[utoipa::path(post, path = "/api/v1/logs/{name}/enable", tag = "logs", params(("name" = String, Path)),
    responses((status = 200, body = SourceStatus), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, description = "A config-file source", body = ErrorBody)))]
pub async fn enable(
    Admin(p): Admin,
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<SourceStatus>> {
    Ok(Json(set_enabled(state, p, name, true).await?))
}

/// Disables an API log source: kept (with its checkpoints), not followed.
#[utoipa::path(post, path = "/api/v1/logs/{name}/disable", tag = "logs", params(("name" = String, Path)),
    responses((status = 200, body = SourceStatus), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, description = "A config-file source", body = ErrorBody)))]
pub async fn disable(
    Admin(p): Admin,
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<SourceStatus>> {
    Ok(Json(set_enabled(state, p, name, false).await?))
}
