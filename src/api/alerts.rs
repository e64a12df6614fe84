//! `/api/v1/alerts`: the alert rules with their active episodes, and every past episode.
//!
//! Takes a token; gives the alert rules the evaluator runs (config file and admin API, see
//! [`super::alert_rules`] for writing them) and the episodes from
//! [`crate::notify::alert::episodes`].

use super::{ApiQuery, ApiResult, AppState, ErrorBody, Viewer, page_of};
use crate::notify::alert::episodes::{self, Episode};
use crate::notify::alert::rules::{self, AlertRule};
use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Alerts {
    /// Every rule, from the config file (`source` `config`) and the admin API (`api`).
    pub rules: Vec<AlertRule>,
    /// Episodes firing now, oldest first.
    pub active: Vec<Episode>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// The `next` cursor of the previous page.
    pub after: Option<String>,
    /// Episodes per page (1–1000, default 100).
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct History {
    /// Newest first.
    pub episodes: Vec<Episode>,
    pub next: Option<String>,
}

/// The rules and the episodes firing now.
#[utoipa::path(get, path = "/api/v1/alerts", tag = "alerts",
    responses((status = 200, body = Alerts), (status = 401, body = ErrorBody)))]
pub async fn list(_: Viewer, State(state): State<AppState>) -> ApiResult<Json<Alerts>> {
    let (rules, active) =
        state.db.run(|c| Ok::<_, crate::store::StoreError>((rules::list(c)?, episodes::active(c)?))).await?;
    Ok(Json(Alerts { rules, active }))
}

/// Every episode, active and past, newest first.
#[utoipa::path(get, path = "/api/v1/alerts/history", tag = "alerts", params(HistoryQuery),
    responses((status = 200, body = History), (status = 422, description = "A cursor this view did not hand out", body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn history(
    _: Viewer,
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<HistoryQuery>,
) -> ApiResult<Json<History>> {
    let page = page_of(q.limit, q.after, 100, 1000)?;
    let paged = state.db.run(move |c| episodes::history(c, &page)).await?;
    Ok(Json(History { episodes: paged.rows, next: paged.next.map(|c| c.0) }))
}
