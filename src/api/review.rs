//! `/api/v1/review`: the review queue — list, one item with why it is there, its raw
//! message as a download, reprocess one or all, discard (admin; every change audited).

use super::{Admin, ApiError, ApiPath, ApiQuery, ApiResult, AppState, ErrorBody, Viewer, page_of};
use crate::ingest::IngestError;
use crate::ingest::review::{self, Reprocessed, ReviewItem};
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

/// The API's answer to a review operation that failed.
fn refused(e: IngestError) -> ApiError {
    match e {
        IngestError::Store(s) => s.into(),
        IngestError::Cursor(c) => c.into(),
        IngestError::ReviewNotFound(_) => ApiError::not_found(e.to_string()),
        IngestError::NotInReview { .. } => ApiError::conflict(e.to_string()),
        IngestError::Rules(_) | IngestError::Config { .. } => {
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string())
        }
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReviewQuery {
    /// The `next` cursor of the previous page.
    pub after: Option<String>,
    /// Items per page (1–1000, default 100).
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReviewPage {
    /// Oldest first.
    pub items: Vec<ReviewItem>,
    /// Pass as `after` for the next page; null on the last.
    pub next: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/review", tag = "review", params(ReviewQuery),
    responses((status = 200, body = ReviewPage), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn list(
    _: Viewer,
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<ReviewQuery>,
) -> ApiResult<Json<ReviewPage>> {
    let page = page_of(q.limit, q.after, 100, 1000)?;
    let paged = state.db.run(move |c| review::list(c, &page)).await.map_err(refused)?;
    Ok(Json(ReviewPage { items: paged.rows, next: paged.next.map(|c| c.0) }))
}

/// One stored message: why it is (or was) in the queue and where it was seen.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReviewDetail {
    pub item: ReviewItem,
    /// Every place it was seen: `mailbox:<id>:<uidvalidity>:<uid>`, `file:<path>`.
    pub seen_at: Vec<String>,
    /// Whether the raw bytes are still stored (the retention purge drops them once it left
    /// the queue).
    pub raw_available: bool,
    /// Where to download them.
    pub raw_url: String,
}

#[utoipa::path(get, path = "/api/v1/review/{id}", tag = "review", params(("id" = i64, Path)),
    responses((status = 200, body = ReviewDetail), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get(_: Viewer, State(state): State<AppState>, ApiPath(id): ApiPath<i64>) -> ApiResult<Json<ReviewDetail>> {
    let found = state.db.run(move |c| review::show(c, id)).await.map_err(refused)?;
    let (item, raw, seen_at) = found.ok_or_else(|| refused(IngestError::ReviewNotFound(id)))?;
    Ok(Json(ReviewDetail { item, seen_at, raw_available: raw.is_some(), raw_url: format!("/api/v1/review/{id}/raw") }))
}

#[utoipa::path(get, path = "/api/v1/review/{id}/raw", tag = "review", params(("id" = i64, Path)),
    responses((status = 200, description = "The message as received", content_type = "message/rfc822", body = Vec<u8>),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn raw(_: Viewer, State(state): State<AppState>, ApiPath(id): ApiPath<i64>) -> ApiResult<Response> {
    let found = state.db.run(move |c| review::raw(c, id)).await.map_err(refused)?;
    let bytes = match found {
        None => return Err(refused(IngestError::ReviewNotFound(id))),
        Some(None) => {
            return Err(ApiError::not_found(format!(
                "the raw bytes of message {id} were purged (retention.raw_message_days); its record stays"
            )));
        }
        Some(Some(bytes)) => bytes,
    };
    let disposition = format!("attachment; filename=\"message-{id}.eml\"");
    Ok(([(header::CONTENT_TYPE, "message/rfc822".to_string()), (header::CONTENT_DISPOSITION, disposition)], bytes)
        .into_response())
}

#[utoipa::path(post, path = "/api/v1/review/{id}/reprocess", tag = "review", params(("id" = i64, Path)),
    responses((status = 200, body = Reprocessed), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn reprocess(
    Admin(who): Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Reprocessed>> {
    let pipeline = state.pipeline.clone();
    let done = state.db.run(move |c| review::reprocess(c, &pipeline, &who.actor(), id)).await.map_err(refused)?;
    Ok(Json(done))
}

/// What reprocessing the whole queue did.
#[derive(Debug, Default, Serialize, utoipa::ToSchema)]
pub struct ReprocessedAll {
    /// Items run through the parser and rules again.
    pub reprocessed: usize,
    /// Of these, how many left the queue.
    pub resolved: usize,
    pub events: usize,
    pub suppressed: usize,
    /// Items that could not be reprocessed, with why (they stay in the queue).
    pub failed: Vec<ReprocessFailure>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReprocessFailure {
    pub id: i64,
    pub message: String,
}

#[utoipa::path(post, path = "/api/v1/review/reprocess", tag = "review",
    responses((status = 200, body = ReprocessedAll), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn reprocess_all(Admin(who): Admin, State(state): State<AppState>) -> ApiResult<Json<ReprocessedAll>> {
    let ids = state.db.run(review::all_ids).await.map_err(refused)?;
    let mut out = ReprocessedAll::default();
    // One item per database call: a long queue never holds a connection (or a transaction)
    // for its whole length, and one bad item does not stop the others.
    for id in ids {
        let (pipeline, actor) = (state.pipeline.clone(), who.actor());
        match state.db.run(move |c| review::reprocess(c, &pipeline, &actor, id)).await {
            Ok(done) => {
                out.reprocessed += 1;
                out.resolved += usize::from(done.state != "review");
                out.events += done.events;
                out.suppressed += done.suppressed;
            }
            // Gone from the queue since it was listed (another instance, a person).
            Err(IngestError::NotInReview { .. }) => {}
            Err(IngestError::Store(e)) if e.is_transient() => return Err(e.into()),
            Err(e) => out.failed.push(ReprocessFailure { id, message: refused(e).message }),
        }
    }
    Ok(Json(out))
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct DiscardRequest {
    /// Why (kept in the audit log).
    pub note: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/review/{id}/discard", tag = "review", params(("id" = i64, Path)),
    request_body(content = DiscardRequest, description = "Optional"),
    responses((status = 200, body = ReviewItem), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn discard(
    Admin(who): Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    body: axum::body::Bytes,
) -> ApiResult<Json<ReviewItem>> {
    // The body is optional: no body, no note.
    let note = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        serde_json::from_slice::<DiscardRequest>(&body).map_err(|e| ApiError::field("note", e.to_string()))?.note
    };
    let pipeline = state.pipeline.clone();
    let now = chrono::Utc::now().naive_utc();
    let done = state
        .db
        .run(move |c| review::discard(c, &pipeline, &who.actor(), id, note.as_deref(), now))
        .await
        .map_err(refused)?;
    Ok(Json(done))
}
