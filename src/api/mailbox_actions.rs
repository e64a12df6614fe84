//! `/api/v1/mailboxes/…`: verify (unsaved or saved), poll now, and bulk verify/enable/disable.
//!
//! Takes an admin token and mailbox settings or names; gives the staged verify report of
//! `rebound verify --json` ([`crate::fetch::verify`], bounded by the mailbox's timeout; at
//! most `[server] verify_concurrency_per_token` at once per token, else 429 `busy`), a poll
//! started on this instance (answered at once with how to follow it), or one result per
//! name. A poll started here runs [`crate::mailbox::poll_once`] under its own lease owner
//! (`INSTANCE/api`), so it never overlaps the scheduled poll of this or any instance. It
//! never changes a mailbox's messages while verifying, and never shows a password.

use super::mailboxes::{MailboxBody, entry_of, set_enabled};
use super::{Admin, ApiError, ApiJson, ApiPath, ApiResult, AppState, ErrorBody};
use crate::config::MailboxConfig;
use crate::fetch::{Credentials, VerifyReport};
use crate::mailbox::{self, MailboxError, PollError, repo, state};
use crate::secrets::SealKey;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{NaiveDateTime, Utc};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// What the mailbox routes share: the `[secrets]` key, verify slots per token, and where
/// polls started over the API run (the service's tracker, so shutdown waits for them).
#[derive(Clone, Default)]
pub struct MailboxOps {
    pub key: Option<SealKey>,
    verifying: Arc<Mutex<HashMap<i64, usize>>>,
    tasks: Option<(TaskTracker, CancellationToken)>,
}

impl MailboxOps {
    pub fn new(key: Option<SealKey>, tracker: TaskTracker, shutdown: CancellationToken) -> MailboxOps {
        MailboxOps { key, verifying: Arc::default(), tasks: Some((tracker, shutdown)) }
    }

    /// Up to `want` verify slots of token `id` (at least one, else 429 `busy`).
    fn slots(&self, id: i64, want: usize, cap: usize) -> ApiResult<Slots> {
        let mut held = self.verifying.lock().expect("verify slots lock");
        let used = held.entry(id).or_default();
        let n = want.min(cap.saturating_sub(*used));
        if n == 0 {
            return Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "busy",
                format!(
                    "this token already has {used} verify call(s) running (server.verify_concurrency_per_token = \
                     {cap}); wait for one to finish"
                ),
            ));
        }
        *used += n;
        Ok(Slots { ops: self.verifying.clone(), id, n })
    }
}

/// Verify slots held by one request, given back when it ends (even if the client leaves).
struct Slots {
    ops: Arc<Mutex<HashMap<i64, usize>>>,
    id: i64,
    n: usize,
}

impl Drop for Slots {
    fn drop(&mut self) {
        let mut held = self.ops.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(used) = held.get_mut(&self.id) {
            *used = used.saturating_sub(self.n);
        }
    }
}

/// A saved mailbox's settings with its password opened, ready to connect.
async fn saved(state: &AppState, name: String) -> ApiResult<(i64, MailboxConfig)> {
    let key = state.mailboxes.key.clone();
    state
        .db
        .run(move |c| {
            let m = repo::by_name(c, &name)?;
            let cfg = m.config_with(key.as_ref()).map_err(MailboxError::Invalid)?;
            Ok::<_, MailboxError>((m.id, cfg))
        })
        .await
        .map_err(ApiError::from)
}

/// The staged check, with the password resolved (an unreadable reference is a 422).
async fn run_verify(cfg: &MailboxConfig) -> ApiResult<VerifyReport> {
    let login = Credentials::of(cfg, &format!("{}.password", repo::PROBLEM_KEY)).map_err(|e| {
        let (field, msg) =
            e.split_once(": ").map_or(("password", e.as_str()), |(k, m)| (k.rsplit('.').next().unwrap_or(k), m));
        ApiError::field(field, msg.to_string())
    })?;
    Ok(crate::fetch::verify(cfg, &login).await)
}

/// Checks settings not saved yet, stage by stage (DNS, TCP, TLS, greeting, capabilities,
/// login, folders, delete/move), changing nothing: the report of `rebound verify --json`.
#[utoipa::path(post, path = "/api/v1/mailboxes/verify", tag = "mailboxes", request_body = MailboxBody,
    responses((status = 200, description = "The staged report (`ok` false names the failed stage and quotes the server)",
               body = serde_json::Value),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 422, description = "Every problem of the settings", body = ErrorBody),
              (status = 429, description = "Too many verify calls running for this token", body = ErrorBody)))]
pub async fn verify(
    Admin(p): Admin,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<MailboxBody>,
) -> ApiResult<Json<VerifyReport>> {
    let cfg = entry_of(body)?.to_verify()?;
    let _slot = state.mailboxes.slots(p.id, 1, state.config.server.verify_concurrency_per_token)?;
    Ok(Json(run_verify(&cfg).await?))
}

/// Checks a saved mailbox (config-file or API) stage by stage, changing nothing.
#[utoipa::path(post, path = "/api/v1/mailboxes/{name}/verify", tag = "mailboxes", params(("name" = String, Path)),
    responses((status = 200, description = "The staged report", body = serde_json::Value),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, description = "The stored settings do not pass here", body = ErrorBody),
              (status = 429, description = "Too many verify calls running for this token", body = ErrorBody)))]
pub async fn verify_saved(
    Admin(p): Admin,
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<VerifyReport>> {
    let (_, cfg) = saved(&state, name).await?;
    let _slot = state.mailboxes.slots(p.id, 1, state.config.server.verify_concurrency_per_token)?;
    Ok(Json(run_verify(&cfg).await?))
}

/// A poll started over the API, and how to follow it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PollStarted {
    pub mailbox: String,
    pub started_at: NaiveDateTime,
    /// The lease owner the poll runs as (the mailbox's `status.lease_owner` while it runs).
    pub poller: String,
    /// GET this to follow the poll.
    pub status_url: String,
    /// What to watch there.
    pub watch: String,
}

/// Starts one poll of the mailbox now on this instance (at most max_messages_per_poll
/// messages); answers at once. 409 `busy` when a poll holds its lease.
#[utoipa::path(post, path = "/api/v1/mailboxes/{name}/poll", tag = "mailboxes", params(("name" = String, Path)),
    responses((status = 202, body = PollStarted), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody),
              (status = 409, description = "Being polled now (`busy`: who holds the lease, until when)", body = ErrorBody),
              (status = 422, description = "The stored settings do not pass here", body = ErrorBody)))]
pub async fn poll(
    _: Admin,
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<(StatusCode, Json<PollStarted>)> {
    let (id, cfg) = saved(&state, name).await?;
    let now = Utc::now().naive_utc();
    if let Some((owner, until)) = state.db.run(move |c| state::lease_holder(c, id, now)).await? {
        let busy = PollError::Busy { name: cfg.name.clone(), owner, until };
        return Err(ApiError::new(StatusCode::CONFLICT, "busy", busy.to_string()));
    }
    // Its own lease owner: the lease, not this process, keeps it apart from scheduled polls.
    let poller = format!("{}/api", state.instance_id);
    let (db, pipeline, who, m) = (state.db.clone(), state.pipeline.clone(), poller.clone(), cfg.clone());
    let (tracker, stop) = state.mailboxes.tasks.clone().unwrap_or_default();
    tracker.spawn(async move {
        match mailbox::poll_once(&db, pipeline, id, &m, &who, &stop).await {
            Ok(o) => tracing::info!(mailbox = %m.name, listed = o.listed, new = o.stats.messages,
                records = o.stats.events, more = o.more, "polled (started over the API)"),
            Err(e) => {
                tracing::warn!(mailbox = %m.name, stage = %e.stage(), error = %e, "poll started over the API failed")
            }
        }
    });
    let status_url = format!("/api/v1/mailboxes/{}", cfg.name);
    let watch = format!(
        "status.lease_owner is {poller} while it runs; when it ends status.last_poll_at is after {} and \
         status.state is ok (messages_processed grew) or failing (last_error, last_error_stage)",
        now.format("%Y-%m-%dT%H:%M:%S")
    );
    Ok((StatusCode::ACCEPTED, Json(PollStarted { mailbox: cfg.name, started_at: now, poller, status_url, watch })))
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum BulkAction {
    Verify,
    Enable,
    Disable,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct BulkRequest {
    pub action: BulkAction,
    /// Mailbox names (at most 100).
    pub names: Vec<String>,
}

/// One name's result: `ok` with the mailbox or the report, or the error it would have had alone.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BulkItem {
    pub name: String,
    pub ok: bool,
    /// enable/disable: the mailbox after; verify: the staged report.
    #[schema(value_type = Object)]
    pub result: Option<serde_json::Value>,
    pub error: Option<super::error::ErrorDetail>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BulkReply {
    pub action: BulkAction,
    /// Names whose item is `ok`.
    pub succeeded: usize,
    pub failed: usize,
    pub results: Vec<BulkItem>,
}

const BULK_MAX: usize = 100;

/// Verify, enable or disable several mailboxes: one result per name, in order; an unknown
/// name or a config-file mailbox is that item's error, not the call's.
#[utoipa::path(post, path = "/api/v1/mailboxes/bulk", tag = "mailboxes", request_body = BulkRequest,
    responses((status = 200, body = BulkReply), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 422, body = ErrorBody),
              (status = 429, description = "verify: no verify slot free for this token", body = ErrorBody)))]
pub async fn bulk(
    Admin(p): Admin,
    State(state): State<AppState>,
    ApiJson(req): ApiJson<BulkRequest>,
) -> ApiResult<Json<BulkReply>> {
    if req.names.is_empty() || req.names.len() > BULK_MAX {
        return Err(ApiError::field("names", format!("give between 1 and {BULK_MAX} mailbox names")));
    }
    let item = |name: String, r: ApiResult<serde_json::Value>| match r {
        Ok(v) => BulkItem { name, ok: true, result: Some(v), error: None },
        Err(e) => BulkItem { name, ok: false, result: None, error: Some(e.detail()) },
    };
    let results: Vec<BulkItem> = match req.action {
        BulkAction::Verify => {
            let cap = state.config.server.verify_concurrency_per_token;
            let slots = state.mailboxes.slots(p.id, req.names.len(), cap)?;
            let state = &state;
            futures_util::stream::iter(req.names)
                .map(|name| async move {
                    let asked = name.clone();
                    let r = async move {
                        let (_, cfg) = saved(state, asked).await?;
                        Ok(serde_json::to_value(run_verify(&cfg).await?).unwrap_or_default())
                    };
                    item(name, r.await)
                })
                .buffered(slots.n)
                .collect()
                .await
        }
        action => {
            let mut out = Vec::with_capacity(req.names.len());
            for name in req.names {
                let r = set_enabled(&state, &p, name.clone(), action == BulkAction::Enable).await;
                out.push(item(name, r.map(|v| serde_json::to_value(v).unwrap_or_default())));
            }
            out
        }
    };
    let succeeded = results.iter().filter(|r| r.ok).count();
    Ok(Json(BulkReply { action: req.action, succeeded, failed: results.len() - succeeded, results }))
}
