//! `/api/v1/logs`: the MTA log sources (`[[mta_log]]`, and what `rebound import-log` read)
//! with their files, checkpoints (offset, line, records, unreadable lines) and lag.
//!
//! Takes a viewer token; gives [`SourceStatus`] rows from [`crate::ingest::log_status`]. Read
//! only: sources are defined in the config file.

use super::{ApiError, ApiPath, ApiResult, AppState, ErrorBody, Viewer};
use crate::ingest::log_status::{self, SourceStatus};
use axum::Json;
use axum::extract::State;
use serde::Serialize;

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
