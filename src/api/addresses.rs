//! `GET /api/v1/addresses/{email}`: everything rebound knows about one address — its events
//! across campaigns, its suppression entries with their evidence, and the allowlist.

use super::{ApiError, ApiPath, ApiQuery, ApiResult, AppState, ErrorBody, Viewer, page_of};
use crate::record::address::{self, AddressReport};
use axum::Json;
use axum::extract::State;
use serde::Deserialize;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AddressQuery {
    /// The `next` cursor of the previous page of events.
    pub after: Option<String>,
    /// Events per page (1–1000, default 100).
    pub limit: Option<i64>,
}

#[utoipa::path(get, path = "/api/v1/addresses/{email}", tag = "addresses",
    params(("email" = String, Path, description = "The address (any case; brackets ignored)"), AddressQuery),
    responses((status = 200, body = AddressReport), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn get(
    _: Viewer,
    State(state): State<AppState>,
    ApiPath(email): ApiPath<String>,
    ApiQuery(q): ApiQuery<AddressQuery>,
) -> ApiResult<Json<AddressReport>> {
    let page = page_of(q.limit, q.after, 100, 1000)?;
    let normalized = crate::suppress::normalize(&email);
    if !normalized.split_once('@').is_some_and(|(l, d)| !l.is_empty() && !d.is_empty()) {
        return Err(ApiError::field("email", format!("`{email}` is not an email address")));
    }
    let configured = state.config.suppression.allowlist.clone();
    let now = chrono::Utc::now().naive_utc();
    let report = state.db.run(move |c| address::report(c, &normalized, &configured, &page, now)).await?;
    Ok(Json(report))
}
