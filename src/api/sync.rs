//! `/api/v1/sync`: the pull protocol of `rebound node-agent` — snapshot, changes, report.
//!
//! A face over `sync::{protocol, snapshot}`. Every route takes a node token (bound to its
//! node, or naming one with `node=`) or an admin token; viewers are refused. An agent takes a
//! snapshot, applies it, reports, then follows `changes` from the snapshot's seq, long-polling
//! with `wait`; a 410 (code `gone`: cursor compacted away; code `rebuild`: its last report did
//! not match) tells it to take a fresh snapshot. The report's reply says `rebuild` too.

use super::{ApiError, ApiJson, ApiQuery, ApiResult, AppState, ErrorBody, SyncCaller};
use crate::access::Principal;
use crate::suppress::changes::Feed;
use crate::sync::protocol::{self, AgentReport, ReportReply};
use crate::sync::snapshot::Snapshot;
use crate::sync::{Node, set, status};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde::Deserialize;
use std::time::Duration;

/// Longest long-poll a caller may ask for.
pub const MAX_WAIT_SECONDS: u64 = 300;
/// How often a long-poll looks at the database besides this process's commits (another
/// instance's changes reach it this late at most).
const POLL: Duration = Duration::from_millis(500);

async fn node_of(state: &AppState, who: &Principal, asked: Option<String>) -> ApiResult<Node> {
    let bound = who.node.clone();
    let now = Utc::now().naive_utc();
    Ok(state.db.run(move |c| protocol::resolve(c, bound.as_deref(), asked.as_deref(), now)).await?)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SnapshotQuery {
    /// The node (optional with a token bound to one).
    pub node: Option<String>,
}

/// The node's whole set, streamed as NDJSON: a header line `{"node","seq","scopes"}`, one
/// `["address","scope"]` line per entry, and an end line `{"end":true,"count","checksum"}`
/// (a body without it was cut short). `ETag` names the seq and scopes; `If-None-Match` with
/// it answers 304 while nothing changed. Clears a pending rebuild.
#[utoipa::path(get, path = "/api/v1/sync/snapshot", tag = "sync", params(SnapshotQuery),
    responses((status = 200, description = "The set (application/x-ndjson); headers ETag and X-Rebound-Seq"),
              (status = 304, description = "Unchanged since the ETag given in If-None-Match"),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
pub async fn snapshot(
    SyncCaller(who): SyncCaller,
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<SnapshotQuery>,
) -> ApiResult<Response> {
    let node = node_of(&state, &who, q.node).await?;
    let id = node.id;
    let seq = state.db.run(set::head).await?;
    let etag = protocol::etag(&node, seq);
    let unchanged = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let pending = state.db.run(move |c| status::get(c, id)).await?.is_some_and(|s| s.rebuild != 0);
    if unchanged && !pending {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response());
    }
    state.db.run(move |c| status::set_rebuild(c, id, false)).await?;
    let snap = Snapshot::new(&node, seq, Utc::now().naive_utc());
    let body = super::stream::chunked_body(&state.db, snap, "snapshot").await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/x-ndjson".to_string()),
            (header::ETAG, etag),
            (header::HeaderName::from_static("x-rebound-seq"), seq.to_string()),
        ],
        body,
    )
        .into_response())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SyncChangesQuery {
    /// The node (optional with a token bound to one).
    pub node: Option<String>,
    /// The seq of the snapshot, or the `next` of the previous page.
    pub after: i64,
    /// Changes per page (1–10000, default 1000).
    pub limit: Option<i64>,
    /// When nothing is new, wait up to this many seconds (0–300, default 0) for a change.
    pub wait: Option<u64>,
}

/// The changes after `after` in the node's scopes, in commit order, with the cursor to pass
/// next. With `wait`, an empty answer waits until a change commits (or the time is up). 410
/// when the agent must take a fresh snapshot: code `gone` (the cursor is older than the
/// retained log) or `rebuild` (its last report did not match).
#[utoipa::path(get, path = "/api/v1/sync/changes", tag = "sync", params(SyncChangesQuery),
    responses((status = 200, body = Feed), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 410, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn changes(
    SyncCaller(who): SyncCaller,
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<SyncChangesQuery>,
) -> ApiResult<Json<Feed>> {
    let limit = q.limit.unwrap_or(1000);
    if !(1..=10_000).contains(&limit) {
        return Err(ApiError::field("limit", "must be between 1 and 10000"));
    }
    if q.after < 0 {
        return Err(ApiError::field("after", "must be 0 or a seq the server gave"));
    }
    let wait = q.wait.unwrap_or(0);
    if wait > MAX_WAIT_SECONDS {
        return Err(ApiError::field("wait", format!("must be between 0 and {MAX_WAIT_SECONDS}")));
    }
    let node = node_of(&state, &who, q.node).await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(wait);
    loop {
        // Registered before the read, so a commit between the read and the wait still wakes it.
        let committed = crate::store::COMMITTED.notified();
        let (n, after) = (node.clone(), q.after);
        let feed = state.db.run(move |c| protocol::changes(c, &n, after, limit)).await?;
        if !feed.changes.is_empty() || tokio::time::Instant::now() >= deadline || state.stop.is_cancelled() {
            return Ok(Json(feed));
        }
        tokio::select! {
            // Shutting down: answer now (nothing new), so the agent is not left waiting.
            _ = state.stop.cancelled() => {}
            _ = committed => {}
            _ = tokio::time::sleep(POLL) => {}
            _ = tokio::time::sleep_until(deadline) => {}
        }
    }
}

/// After each apply (or failed apply) the agent says what it installed. The reply says
/// whether that was checked and matched, and `rebuild: true` when the agent must take a
/// fresh snapshot; the node's status (`rebound node list`) shows the outcome.
#[utoipa::path(post, path = "/api/v1/sync/report", tag = "sync", request_body = AgentReport,
    responses((status = 200, body = ReportReply), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn report(
    SyncCaller(who): SyncCaller,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<AgentReport>,
) -> ApiResult<Json<ReportReply>> {
    if body.seq < 0 || body.count < 0 {
        return Err(ApiError::field("seq", "seq and count must be 0 or more"));
    }
    if body.error.is_none() && (body.checksum.len() != 32 || !body.checksum.bytes().all(|b| b.is_ascii_hexdigit())) {
        return Err(ApiError::field("checksum", "must be the 32 hex digits of the list's checksum"));
    }
    let node = node_of(&state, &who, body.node.clone()).await?;
    let now = Utc::now().naive_utc();
    Ok(Json(state.db.run(move |c| protocol::report(c, &node, &body, now)).await?))
}
