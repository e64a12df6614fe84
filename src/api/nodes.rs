//! `/api/v1/nodes`: list, get, create, update, delete, enable, disable, and sync now.
//!
//! Takes a token and the keys of a `[[node]]` entry as JSON; gives nodes as `rebound node
//! list` shows them ([`NodeView`]: settings in brief and status: last contact, applied seq,
//! changes and seconds behind, entries, checksum verified, last error). Writes go through
//! [`crate::sync::nodes`] (validated as the config file is, audited, followed by every
//! `serve` within seconds); config-file nodes are read-only here (409 `read_only` naming the
//! file). Sync now renders a node rebound writes itself, through [`crate::sync::runner`].

use super::{Admin, ApiError, ApiJson, ApiPath, ApiResult, AppState, ErrorBody, Viewer};
use crate::sync::nodes::{self, NodeError};
use crate::sync::view::{self, NodeView};
use crate::sync::{Node, SyncError, runner, status};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The keys of a `[[node]]` entry (see config.example.toml).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(value_type = Object, example = json!({
    "name": "mta-1", "target": "postfix", "path": "/etc/postfix/rebound_suppressed", "push": true}))]
pub struct NodeBody(pub Map<String, Value>);

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NodeList {
    pub nodes: Vec<NodeView>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeletedNode {
    pub name: String,
    pub deleted: bool,
}

/// What a sync now installed.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Synced {
    pub seq: i64,
    pub entries: u64,
    pub checksum: String,
    pub written: u64,
    pub skipped: u64,
    pub node: NodeView,
}

fn settings_of(body: NodeBody) -> ApiResult<toml::Table> {
    nodes::table_of(body.0).map_err(|p| NodeError::Invalid(p).into())
}

fn view_of(c: &mut crate::store::AnyConnection, node: &Node) -> Result<NodeView, NodeError> {
    Ok(view::one(c, node, Utc::now().naive_utc())?)
}

fn find(c: &mut crate::store::AnyConnection, name: &str) -> Result<Node, NodeError> {
    status::find(c, name)?.ok_or_else(|| NodeError::NotFound(name.to_string()))
}

/// Every node, config-file and API-managed, with its status.
#[utoipa::path(get, path = "/api/v1/nodes", tag = "nodes",
    responses((status = 200, body = NodeList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list(_: Viewer, State(state): State<AppState>) -> ApiResult<Json<NodeList>> {
    let nodes = state.db.run(|c| view::all(c, Utc::now().naive_utc())).await?;
    Ok(Json(NodeList { nodes }))
}

/// One node with its status.
#[utoipa::path(get, path = "/api/v1/nodes/{name}", tag = "nodes", params(("name" = String, Path)),
    responses((status = 200, body = NodeView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get(
    _: Viewer,
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<NodeView>> {
    Ok(Json(
        state
            .db
            .run(move |c| {
                let n = find(c, &name)?;
                view_of(c, &n)
            })
            .await?,
    ))
}

/// Creates an API-managed node; every `serve` renders it (or serves its agent) within seconds.
#[utoipa::path(post, path = "/api/v1/nodes", tag = "nodes", request_body = NodeBody,
    responses((status = 201, body = NodeView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 409, description = "The name is taken", body = ErrorBody),
              (status = 422, description = "Every problem, by field", body = ErrorBody)))]
pub async fn create(
    Admin(p): Admin,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<NodeBody>,
) -> ApiResult<(StatusCode, Json<NodeView>)> {
    let settings = settings_of(body)?;
    let v = state
        .db
        .run(move |c| {
            let n = nodes::create(c, &p.actor(), settings)?;
            view_of(c, &n)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(v)))
}

/// Replaces an API node's settings (a full entry; a body without `name` keeps it).
#[utoipa::path(put, path = "/api/v1/nodes/{name}", tag = "nodes", params(("name" = String, Path)),
    request_body = NodeBody,
    responses((status = 200, body = NodeView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody),
              (status = 409, description = "A config-file node (`read_only`), or the new name is taken", body = ErrorBody),
              (status = 422, description = "Every problem, by field", body = ErrorBody)))]
pub async fn update(
    Admin(p): Admin,
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
    ApiJson(body): ApiJson<NodeBody>,
) -> ApiResult<Json<NodeView>> {
    let mut settings = settings_of(body)?;
    settings.entry("name").or_insert_with(|| toml::Value::String(name.clone()));
    Ok(Json(
        state
            .db
            .run(move |c| {
                let n = nodes::update(c, &p.actor(), &name, settings)?;
                view_of(c, &n)
            })
            .await?,
    ))
}

/// Deletes an API node: no longer rendered, and its agent is refused.
#[utoipa::path(delete, path = "/api/v1/nodes/{name}", tag = "nodes", params(("name" = String, Path)),
    responses((status = 200, body = DeletedNode), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, description = "A config-file node", body = ErrorBody)))]
pub async fn delete(
    Admin(p): Admin,
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<DeletedNode>> {
    let n = state.db.run(move |c| nodes::delete(c, &p.actor(), &name)).await?;
    Ok(Json(DeletedNode { name: n.config.name, deleted: true }))
}

async fn set_enabled(state: &AppState, p: &crate::access::Principal, name: String, on: bool) -> ApiResult<NodeView> {
    let actor = p.actor();
    Ok(state
        .db
        .run(move |c| {
            let n = nodes::set_enabled(c, &actor, &name, on)?;
            view_of(c, &n)
        })
        .await?)
}

/// Enables an API node.
#[utoipa::path(post, path = "/api/v1/nodes/{name}/enable", tag = "nodes", params(("name" = String, Path)),
    responses((status = 200, body = NodeView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, description = "A config-file node", body = ErrorBody)))]
pub async fn enable(
    Admin(p): Admin,
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<NodeView>> {
    Ok(Json(set_enabled(&state, &p, name, true).await?))
}

/// Disables an API node: kept, neither rendered nor served.
#[utoipa::path(post, path = "/api/v1/nodes/{name}/disable", tag = "nodes", params(("name" = String, Path)),
    responses((status = 200, body = NodeView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, description = "A config-file node", body = ErrorBody)))]
pub async fn disable(
    Admin(p): Admin,
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<NodeView>> {
    Ok(Json(set_enabled(&state, &p, name, false).await?))
}

/// Renders a node rebound writes itself (one with a `path`) now; answers when it is
/// installed. A node whose agent pulls has nothing to render here (409).
#[utoipa::path(post, path = "/api/v1/nodes/{name}/sync", tag = "nodes", params(("name" = String, Path)),
    responses((status = 200, body = Synced), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody),
              (status = 409, description = "No path (an agent pulls it), or another instance is rendering it", body = ErrorBody),
              (status = 502, description = "The apply failed; the previous list stays in force", body = ErrorBody)))]
pub async fn sync(
    Admin(_who): Admin,
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<Synced>> {
    let node = state.db.run(move |c| find(c, &name)).await?;
    let a = runner::render_now(&state.db, &node, &state.instance_id).await.map_err(sync_error)?;
    let v = state.db.run(move |c| view_of(c, &node)).await?;
    Ok(Json(Synced {
        seq: a.seq,
        entries: a.checksum.count(),
        checksum: a.checksum.hex(),
        written: a.written,
        skipped: a.skipped,
        node: v,
    }))
}

fn sync_error(e: SyncError) -> ApiError {
    match e {
        SyncError::Store(s) => s.into(),
        SyncError::NoPath { .. } => ApiError::conflict(e.to_string()),
        SyncError::Busy { .. } => ApiError::new(StatusCode::CONFLICT, "busy", e.to_string()),
        SyncError::Apply(_) => ApiError::new(StatusCode::BAD_GATEWAY, "apply_failed", e.to_string()),
    }
}
