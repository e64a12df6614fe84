//! `/api/v1/campaigns`: the campaign list with counts and rates, one campaign's report, and
//! its BOUNCED and COMPLAINTS views (filtered, keyset pages, or the whole view as CSV).

use super::{ApiError, ApiPath, ApiQuery, ApiResult, AppState, ErrorBody, FieldProblem, Viewer, page_of, stream};
use crate::record::report::{BounceGroup, Day};
use crate::record::views::{self, Bounced, CampaignSummary, Complaint, Filter};
use crate::store::Db;
use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CampaignList {
    /// Latest activity first.
    pub campaigns: Vec<CampaignSummary>,
}

#[utoipa::path(get, path = "/api/v1/campaigns", tag = "campaigns",
    responses((status = 200, body = CampaignList), (status = 401, body = ErrorBody)))]
pub async fn list(_: Viewer, State(state): State<AppState>) -> ApiResult<Json<CampaignList>> {
    let campaigns = state.db.run(views::campaigns).await?;
    Ok(Json(CampaignList { campaigns }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// How many bounce groups (status × domain × remote MTA), largest first (1–1000, default 20).
    pub top: Option<i64>,
}

/// One campaign: its counts and rates, its events per day, and where its bounces come from.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CampaignReport {
    pub campaign: CampaignSummary,
    /// Oldest first, one entry per day (UTC) with events.
    pub days: Vec<Day>,
    /// Bounces by status code × receiving domain × remote MTA, largest first.
    pub bounce_groups: Vec<BounceGroup>,
}

#[utoipa::path(get, path = "/api/v1/campaigns/{id}", tag = "campaigns", params(("id" = String, Path), ReportQuery),
    responses((status = 200, body = CampaignReport), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn get(
    _: Viewer,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<ReportQuery>,
) -> ApiResult<Json<CampaignReport>> {
    let top = q.top.unwrap_or(20);
    if !(1..=1000).contains(&top) {
        return Err(ApiError::field("top", "must be between 1 and 1000"));
    }
    let report = state
        .db
        .run(move |c| {
            let Some(campaign) = views::campaign(c, &id)? else { return Ok(Err(id)) };
            let days = crate::record::counters::days(c, &campaign.id)?;
            let bounce_groups = crate::record::counters::bounce_groups(c, &campaign.id, top)?;
            Ok::<_, crate::store::StoreError>(Ok(CampaignReport { campaign, days, bounce_groups }))
        })
        .await?;
    report.map(Json).map_err(|id| no_campaign(&id))
}

fn no_campaign(id: &str) -> ApiError {
    ApiError::not_found(format!("no campaign `{id}` has any event; GET /api/v1/campaigns lists those that do"))
}

/// The filters and pages of the BOUNCED and COMPLAINTS views.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ViewQuery {
    /// BOUNCED only: `hard` (the server said permanent) or `soft` (temporary).
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub kind: Option<String>,
    /// Only this reason (`user_unknown`, `mailbox_full`, …).
    pub reason: Option<String>,
    /// Only events decided by this rule (its key).
    pub rule: Option<String>,
    /// COMPLAINTS only: the Feedback-Type (`abuse`, `not-spam`, …).
    pub feedback_type: Option<String>,
    /// Only recipients at this domain.
    pub domain: Option<String>,
    /// BOUNCED only: only this status code (`5.7.1`), as the report's bounce groups give it.
    pub status: Option<String>,
    /// From this day (`2026-11-10`, included) or RFC 3339 time.
    pub from: Option<String>,
    /// Up to this day (included) or RFC 3339 time (excluded).
    pub to: Option<String>,
    /// `json` (default: one page) or `csv` (the whole filtered view, streamed; no pages).
    pub format: Option<String>,
    /// The `next` cursor of the previous page.
    pub after: Option<String>,
    /// Rows per page (1–1000, default 100).
    pub limit: Option<i64>,
}

#[derive(Clone, Copy, PartialEq)]
pub(crate) enum ViewKind {
    Bounced,
    Complaints,
}

impl ViewQuery {
    /// The filter, or every mistake at once.
    pub(crate) fn filter(&self, view: ViewKind) -> ApiResult<Filter> {
        let mut problems = Vec::new();
        let mut problem = |field: &str, message: String| problems.push(FieldProblem { field: field.into(), message });
        let permanent = match (self.kind.as_deref(), view) {
            (None, _) => None,
            (Some(_), ViewKind::Complaints) => {
                problem("type", "applies to the bounced view; complaints take feedback_type".into());
                None
            }
            (Some("hard"), _) => Some(true),
            (Some("soft"), _) => Some(false),
            (Some(other), _) => {
                problem("type", format!("`{other}`: must be hard or soft"));
                None
            }
        };
        if self.feedback_type.is_some() && view == ViewKind::Bounced {
            problem("feedback_type", "applies to the complaints view".into());
        }
        if self.status.is_some() && view == ViewKind::Complaints {
            problem("status", "applies to the bounced view".into());
        }
        let domain = self.domain.as_deref().and_then(|d| {
            let parsed = Filter::parse_domain(d);
            if parsed.is_none() {
                problem("domain", format!("`{d}` is not a domain name"));
            }
            parsed
        });
        let mut bound = |field: &str, text: &Option<String>, end: bool| {
            text.as_deref().and_then(|t| Filter::bound(t, end).map_err(|e| problem(field, e)).ok())
        };
        let (from, to) = (bound("from", &self.from, false), bound("to", &self.to, true));
        if let (Some(f), Some(t)) = (from, to)
            && f >= t
        {
            problems.push(FieldProblem { field: "to".into(), message: "must be after from".into() });
        }
        if !matches!(self.format.as_deref(), None | Some("json" | "csv")) {
            problems.push(FieldProblem { field: "format".into(), message: "must be json or csv".into() });
        }
        if !problems.is_empty() {
            return Err(ApiError::invalid("the view's parameters are invalid", problems));
        }
        Ok(Filter {
            permanent,
            reason: self.reason.clone(),
            rule: self.rule.clone(),
            feedback_type: self.feedback_type.clone(),
            domain,
            status: self.status.clone(),
            from,
            to,
        })
    }

    fn csv(&self) -> bool {
        self.format.as_deref() == Some("csv")
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BouncedPage {
    /// Newest first.
    pub rows: Vec<Bounced>,
    /// Pass as `after` for the next page; null on the last.
    pub next: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ComplaintsPage {
    /// Newest first.
    pub rows: Vec<Complaint>,
    pub next: Option<String>,
}

/// The CSV columns: `Bounced`'s fields in order.
const BOUNCED_CSV: &[&str] =
    &["id", "email", "type", "classification", "action", "rule", "reason", "status", "diagnostic", "date"];
/// `Complaint`'s fields in order.
const COMPLAINTS_CSV: &[&str] =
    &["id", "email", "feedback_type", "reporting_isp", "mailbox", "classification", "timestamp"];

/// 404 unless the campaign has events.
pub(crate) async fn known(db: &Db, id: &str) -> ApiResult<()> {
    let probe = id.to_string();
    match db.run(move |c| views::campaign(c, &probe)).await? {
        Some(_) => Ok(()),
        None => Err(no_campaign(id)),
    }
}

/// A download name made of the campaign id's safe characters.
fn filename(id: &str, view: &str) -> String {
    let safe: String =
        id.chars().map(|ch| if ch.is_ascii_alphanumeric() || "-_.".contains(ch) { ch } else { '_' }).collect();
    format!("{safe}-{view}.csv")
}

#[utoipa::path(get, path = "/api/v1/campaigns/{id}/bounced", tag = "campaigns", params(("id" = String, Path), ViewQuery),
    responses((status = 200, description = "A page (JSON) or the whole view (`format=csv`)",
            content((BouncedPage = "application/json"), (String = "text/csv"))),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn bounced(
    _: Viewer,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<ViewQuery>,
) -> ApiResult<Response> {
    let filter = q.filter(ViewKind::Bounced)?;
    let page = page_of(q.limit, q.after.clone(), 100, 1000)?;
    known(&state.db, &id).await?;
    let uncounted = state.config.suppression.soft_uncounted_reasons.clone();
    if q.csv() {
        let name = filename(&id, "bounced");
        return Ok(stream::csv_pages(state.db.clone(), BOUNCED_CSV, name, move |c, p| {
            views::bounced(c, &id, &filter, p, &uncounted)
        }));
    }
    let paged = state.db.run(move |c| views::bounced(c, &id, &filter, &page, &uncounted)).await?;
    Ok(Json(BouncedPage { rows: paged.rows, next: paged.next.map(|c| c.0) }).into_response())
}

#[utoipa::path(get, path = "/api/v1/campaigns/{id}/complaints", tag = "campaigns",
    params(("id" = String, Path), ViewQuery),
    responses((status = 200, description = "A page (JSON) or the whole view (`format=csv`)",
            content((ComplaintsPage = "application/json"), (String = "text/csv"))),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn complaints(
    _: Viewer,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<ViewQuery>,
) -> ApiResult<Response> {
    let filter = q.filter(ViewKind::Complaints)?;
    let page = page_of(q.limit, q.after.clone(), 100, 1000)?;
    known(&state.db, &id).await?;
    if q.csv() {
        let name = filename(&id, "complaints");
        return Ok(stream::csv_pages(state.db.clone(), COMPLAINTS_CSV, name, move |c, p| {
            views::complaints(c, &id, &filter, p)
        }));
    }
    let paged = state.db.run(move |c| views::complaints(c, &id, &filter, &page)).await?;
    Ok(Json(ComplaintsPage { rows: paged.rows, next: paged.next.map(|c| c.0) }).into_response())
}
