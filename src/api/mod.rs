//! The admin HTTP server (axum): `/healthz`, `/metrics` and the admin API under `/api/v1`.
//!
//! Takes the shared [`AppState`]; gives the router, built in [`router`], the one function that
//! lists every route, and the OpenAPI 3.1 document generated from the same handler attributes
//! (utoipa), so a route cannot exist without being documented. One file per resource, each a
//! thin face over the stage operations: handlers authenticate, decode, call a stage function
//! through `Db::run` (blocking work off the runtime; no connection is held across an await)
//! and encode. No business logic and no table access live here.

pub(crate) mod audit;
mod auth;
mod error;
mod extract;
mod health;
mod openapi;
pub mod serve;
// Campaigns, addresses and the review queue (with the CSV stream their views share).
pub(crate) mod addresses;
pub(crate) mod campaigns;
pub(crate) mod review;
pub(crate) mod stats;
mod stream;
// rules
pub(crate) mod rules;
pub(crate) mod rules_list;
// Suppression, allowlist, status and metrics (helper supp).
mod metrics;
pub(crate) mod status;
pub(crate) mod suppression;
mod suppression_import;
// Mailboxes: list/get/create/update/delete/enable/disable, verify, poll, bulk.
pub(crate) mod mailbox_actions;
pub(crate) mod mailboxes;
pub use mailbox_actions::MailboxOps;
// Nodes and the node agents' pull protocol.
mod nodes;
mod sync;
// Webhook endpoints and alerts (events out).
pub mod alert_rules;
pub mod alerts;
pub mod webhooks;
// MTA log sources.
mod logs;

pub use auth::{Admin, SyncCaller, TokenCache, Viewer};

/// How long a revoked token may still be accepted (the verified-token cache's lifetime).
pub fn auth_cache_ttl() -> std::time::Duration {
    auth::CACHE_TTL
}
pub use error::{ApiError, ApiResult, ErrorBody, FieldProblem};
pub use extract::{ApiJson, ApiPath, ApiQuery, page_of};

use crate::config::Config;
use crate::ingest::Pipeline;
use crate::store::Db;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use std::sync::Arc;
use utoipa::OpenApi;
use utoipa_axum::{router::OpenApiRouter, routes};

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub instance_id: String,
    /// The configuration the server started with.
    pub config: Arc<Config>,
    /// The ingest pipeline the scheduled polls use (for polls started over the API, review
    /// reprocessing and rule tests).
    pub pipeline: Arc<Pipeline>,
    pub tokens: TokenCache,
    pub limits: Limits,
    /// The runs of this process's scheduled jobs (empty until `App::run` sets it).
    pub jobs: crate::scheduler::JobBook,
    /// Mailboxes: the `[secrets]` key, verify slots per token, where API polls run.
    pub mailboxes: MailboxOps,
    /// Cancelled when the service shuts down: long-polls answer at once then.
    pub stop: tokio_util::sync::CancellationToken,
}

impl AppState {
    pub fn new(db: Db, instance_id: String, config: Arc<Config>, pipeline: Arc<Pipeline>) -> AppState {
        let limits = Limits { max_body_bytes: config.server.max_body_bytes };
        AppState {
            db,
            instance_id,
            config,
            pipeline,
            tokens: TokenCache::default(),
            limits,
            jobs: Default::default(),
            mailboxes: MailboxOps::default(),
            stop: Default::default(),
        }
    }
}

/// Request limits, from `[server]`.
#[derive(Clone, Debug)]
pub struct Limits {
    pub max_body_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_body_bytes: crate::config::ServerConfig::default().max_body_bytes }
    }
}

/// Every route, and the OpenAPI document that describes exactly these.
pub fn routes() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(openapi::Doc::openapi())
        .routes(routes!(health::healthz))
        .routes(routes!(openapi::document))
        .routes(routes!(audit::list))
        // Campaigns, addresses, review.
        .routes(routes!(campaigns::list))
        .routes(routes!(stats::get))
        .routes(routes!(campaigns::get))
        .routes(routes!(campaigns::bounced))
        .routes(routes!(campaigns::complaints))
        .routes(routes!(addresses::get))
        .routes(routes!(review::list))
        .routes(routes!(review::get))
        .routes(routes!(review::raw))
        .routes(routes!(review::reprocess))
        .routes(routes!(review::reprocess_all))
        .routes(routes!(review::discard))
        // rules (the static paths before `{key}`)
        .routes(routes!(rules::list, rules::create))
        .routes(routes!(rules_list::test))
        .routes(routes!(rules_list::resync))
        .routes(routes!(rules_list::reset))
        .routes(routes!(rules_list::export))
        .routes(routes!(rules_list::import))
        .routes(routes!(rules::get, rules::update, rules::delete))
        .routes(routes!(rules::move_rule))
        .routes(routes!(rules::enable))
        .routes(routes!(rules::disable))
        // Suppression and the allowlist; status and metrics.
        .routes(routes!(suppression::list, suppression::add))
        .routes(routes!(suppression::get, suppression::remove))
        .routes(routes!(suppression::export))
        .routes(routes!(suppression_import::import))
        .routes(routes!(suppression::changes))
        .routes(routes!(suppression::allowlist, suppression::allow))
        .routes(routes!(suppression::disallow))
        .routes(routes!(status::status))
        .routes(routes!(metrics::metrics))
        // Mailboxes.
        .routes(routes!(mailboxes::list, mailboxes::create))
        .routes(routes!(mailboxes::get, mailboxes::update, mailboxes::delete))
        .routes(routes!(mailboxes::enable))
        .routes(routes!(mailboxes::disable))
        .routes(routes!(mailbox_actions::verify))
        .routes(routes!(mailbox_actions::verify_saved))
        .routes(routes!(mailbox_actions::poll))
        .routes(routes!(mailbox_actions::bulk))
        // Nodes and the node agents' pull protocol.
        .routes(routes!(nodes::list, nodes::create))
        .routes(routes!(nodes::get, nodes::update, nodes::delete))
        .routes(routes!(nodes::enable))
        .routes(routes!(nodes::disable))
        .routes(routes!(nodes::sync))
        .routes(routes!(sync::snapshot))
        .routes(routes!(sync::changes))
        .routes(routes!(sync::report))
        // Webhook endpoints.
        .routes(routes!(webhooks::list, webhooks::create))
        .routes(routes!(webhooks::get, webhooks::update, webhooks::delete))
        .routes(routes!(webhooks::enable))
        .routes(routes!(webhooks::disable))
        .routes(routes!(webhooks::attempts))
        .routes(routes!(webhooks::test))
        .routes(routes!(alerts::list))
        .routes(routes!(alerts::history))
        .routes(routes!(alert_rules::list, alert_rules::create))
        .routes(routes!(alert_rules::get, alert_rules::update, alert_rules::delete))
        .routes(routes!(alert_rules::enable))
        .routes(routes!(alert_rules::disable))
        .routes(routes!(logs::list, logs::create))
        .routes(routes!(logs::get, logs::update, logs::delete))
        .routes(routes!(logs::enable))
        .routes(routes!(logs::disable))
        .split_for_parts()
}

pub fn router(state: AppState) -> Router {
    let (routes, mut doc) = routes();
    let (web, web_doc) = crate::web::routes();
    doc.merge(web_doc);
    let limit = state.limits.max_body_bytes;
    routes
        .route_layer(axum::middleware::from_fn(metrics::track))
        .layer(axum::Extension(Arc::new(doc)))
        .merge(web)
        .fallback(openapi::no_route)
        .method_not_allowed_fallback(openapi::no_method)
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}
