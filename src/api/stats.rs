//! `GET /api/v1/stats`: delivery statistics (counts and rates of delivered, deferred,
//! bounced and complained) for a range and optionally one campaign, in total or grouped by
//! time or by one dimension. The reading and its validation are `record::stats_query`'s.

use super::{ApiError, ApiQuery, ApiResult, AppState, ErrorBody, FieldProblem, Viewer};
use crate::record::stats_query::{self, Asked, Stats};
use axum::Json;
use axum::extract::State;
use serde::Deserialize;

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatsQuery {
    /// From this day (`2026-11-01`, in the offset's time) or RFC 3339 time, rounded down to
    /// the hour (default: 30 days before `to`).
    pub from: Option<String>,
    /// Up to this day (included) or RFC 3339 time (excluded); default: the current hour's end.
    pub to: Option<String>,
    /// Only this campaign's events.
    pub campaign: Option<String>,
    /// `total` (default), `month`, `day`, `day_of_month`, `day_of_week`, `hour`, `domain`,
    /// `provider` (the recipient domain's mailbox provider: Microsoft for hotmail.com, outlook.fr…),
    /// `remote_host`, `sender` (sending domain), `node`, `vmta`, `source_ip`, `status`,
    /// `reason`, or `why` (bounces by status × domain × node × source IP).
    pub by: Option<String>,
    /// Whole hours east of UTC for dates and time groupings (-12 to 14; default 0, UTC).
    pub offset: Option<String>,
    /// Most groups of a dimension, largest first (1–1000, default 50).
    pub top: Option<i64>,
}

impl StatsQuery {
    pub(crate) fn asked(&self) -> Asked<'_> {
        Asked {
            from: self.from.as_deref(),
            to: self.to.as_deref(),
            campaign: self.campaign.as_deref(),
            by: self.by.as_deref(),
            offset: self.offset.as_deref(),
            top: self.top,
        }
    }
}

#[utoipa::path(get, path = "/api/v1/stats", tag = "stats", params(StatsQuery),
    responses((status = 200, body = Stats), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn get(
    _: Viewer,
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<StatsQuery>,
) -> ApiResult<Json<Stats>> {
    Ok(Json(read(&state, &q).await?))
}

/// The statistics asked for (the web page's reading too).
pub(crate) async fn read(state: &AppState, q: &StatsQuery) -> ApiResult<Stats> {
    let query = q.asked().query(chrono::Utc::now().naive_utc()).map_err(|problems| {
        let problems: Vec<FieldProblem> =
            problems.into_iter().map(|(field, message)| FieldProblem { field: field.into(), message }).collect();
        let message = problems.iter().map(|p| format!("{}: {}", p.field, p.message)).collect::<Vec<_>>().join("; ");
        ApiError::invalid(message, problems)
    })?;
    Ok(state.db.run(move |c| stats_query::query(c, &query)).await?)
}
