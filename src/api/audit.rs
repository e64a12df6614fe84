//! `GET /api/v1/audit`: every write made through the API or the CLI, newest first.

use super::{ApiQuery, ApiResult, AppState, Viewer, page_of};
use crate::audit::{self, Entry, Filter};
use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only this actor (`token:NAME`, `cli:USER`).
    pub actor: Option<String>,
    /// Only this action (`suppress`, `release`, `mailbox.create`, …).
    pub action: Option<String>,
    /// Only targets starting with this (`mailbox:`, `rule:`).
    pub target: Option<String>,
    /// The `next` cursor of the previous page.
    pub after: Option<String>,
    /// Entries per page (1–1000, default 100).
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuditPage {
    pub entries: Vec<Entry>,
    /// Pass as `after` for the next page; null on the last.
    pub next: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(AuditQuery),
    responses((status = 200, body = AuditPage), (status = 401, body = super::ErrorBody)))]
pub async fn list(
    _: Viewer,
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> ApiResult<Json<AuditPage>> {
    let page = page_of(q.limit, q.after, 100, 1000)?;
    let filter = Filter { actor: q.actor, action: q.action, target_prefix: q.target };
    let paged = state.db.run(move |c| audit::list(c, &filter, &page)).await?;
    Ok(Json(AuditPage { entries: paged.rows, next: paged.next.map(|c| c.0) }))
}
