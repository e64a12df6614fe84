//! `GET /api/v1/status`: the service at a glance — instances and their heartbeats, this
//! instance's scheduled jobs, mailbox and webhook endpoint health, and the sizes of the list and the queue.
//!
//! Jobs are this process's (the scheduler keeps their runs in memory: every instance runs
//! its own); instances, mailboxes and sizes come from the database, shared by all.

use super::{ApiResult, AppState, ErrorBody, Viewer};
use crate::classify::repo::{self as rules, RulesError};
use crate::instance::{self, Instance};
use crate::mailbox::MailboxError;
use crate::mailbox::listing::{self, Health};
use crate::scheduler::JobStatus;
use crate::store::{AnyConnection, StoreError};
use axum::Json;
use axum::extract::State;
use chrono::{NaiveDateTime, Utc};
use serde::Serialize;

/// What the database holds, in numbers (also the gauges of `/metrics`).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Sizes {
    /// Entries of the suppression list.
    pub suppression: i64,
    /// Messages waiting in the review queue.
    pub review_queue: i64,
    /// The version of the rule list (bumped by every rule change).
    pub rules_version: i64,
}

/// Reads [`Sizes`] (three counts; the suppression count walks an index, a few ms per
/// million entries).
pub(crate) fn sizes(c: &mut AnyConnection) -> Result<Sizes, StoreError> {
    let rules_version = rules::version(c).map_err(|e| match e {
        RulesError::Store(s) => s,
        other => StoreError::Task(other.to_string()),
    })?;
    Ok(Sizes {
        suppression: crate::suppress::search::size(c)?,
        review_queue: crate::ingest::review::count(c)?,
        rules_version,
    })
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InstanceStatus {
    #[serde(flatten)]
    pub instance: Instance,
    /// Its heartbeat is at most 90 s old.
    pub alive: bool,
    /// The instance answering this request.
    pub this: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Status {
    /// The instance answering.
    pub instance: String,
    pub version: String,
    /// `sqlite` or `postgresql`.
    pub backend: String,
    pub now: NaiveDateTime,
    pub instances: Vec<InstanceStatus>,
    /// This instance's scheduled jobs (mailbox polls are under `mailboxes`).
    pub jobs: Vec<JobStatus>,
    pub mailboxes: Health,
    /// Webhook endpoints: a failing one (no success for `[notify] failing_after_seconds`)
    /// or one a 410 disabled is listed under `failing`, as a failing mailbox is.
    pub webhooks: crate::notify::endpoints::WebhookHealth,
    pub sizes: Sizes,
}

/// Instances, jobs, mailbox health and sizes.
#[utoipa::path(get, path = "/api/v1/status", tag = "status",
    responses((status = 200, body = Status), (status = 401, body = ErrorBody)))]
pub async fn status(_: Viewer, State(state): State<AppState>) -> ApiResult<Json<Status>> {
    let now = Utc::now().naive_utc();
    let file = state.config.mailbox.clone();
    let (instances, mailboxes, webhooks, sizes) = state
        .db
        .run(move |c| -> Result<_, MailboxError> {
            let webhooks = crate::notify::endpoints::health(c)?;
            Ok((instance::list(c)?, listing::health(c, &file)?, webhooks, sizes(c)?))
        })
        .await?;
    let instances = instances
        .into_iter()
        .map(|i| InstanceStatus { alive: i.alive(now), this: i.id == state.instance_id, instance: i })
        .collect();
    Ok(Json(Status {
        instance: state.instance_id.clone(),
        version: env!("CARGO_PKG_VERSION").into(),
        backend: format!("{:?}", state.db.backend()).to_lowercase(),
        now,
        instances,
        jobs: state.jobs.snapshot(),
        mailboxes,
        webhooks,
        sizes,
    }))
}
