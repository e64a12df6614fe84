//! What `rebound node list` and `/api/v1/nodes` show per node: its
//! settings in brief, what it holds, how far behind the change log it is, the last error.

use super::{Node, set, status};
use crate::store::{AnyConnection, StoreError};
use chrono::NaiveDateTime;
use serde::Serialize;

#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct NodeView {
    pub name: String,
    /// `config` (a `[[node]]` of the config file: read-only through the API) or `api`.
    pub source: String,
    pub target: String,
    pub path: Option<String>,
    pub enabled: bool,
    pub push: bool,
    pub schedule: String,
    pub scopes: Vec<String>,
    /// When a node agent last called (snapshot, changes or report); None for local renders.
    pub last_contact_at: Option<NaiveDateTime>,
    pub last_apply_at: Option<NaiveDateTime>,
    pub last_success_at: Option<NaiveDateTime>,
    pub applied_seq: Option<i64>,
    /// Changes in the node's scopes after `applied_seq` (all of them when it never applied).
    pub changes_behind: i64,
    /// Seconds since the oldest change it has not applied; 0 when current.
    pub seconds_behind: i64,
    pub entries: Option<i64>,
    pub checksum: Option<String>,
    pub verified: Option<bool>,
    pub last_error: Option<String>,
    pub last_error_at: Option<NaiveDateTime>,
}

/// Every live node with its status, by name.
pub fn all(c: &mut AnyConnection, now: NaiveDateTime) -> Result<Vec<NodeView>, StoreError> {
    let nodes = status::list(c)?;
    nodes.iter().map(|n| one(c, n, now)).collect()
}

pub fn one(c: &mut AnyConnection, node: &Node, now: NaiveDateTime) -> Result<NodeView, StoreError> {
    let s = status::get(c, node.id)?.unwrap_or_default();
    let n = &node.config;
    let seq = s.applied_seq.unwrap_or(0);
    let changes_behind = set::behind(c, n, seq)?;
    let seconds_behind = match set::oldest_after(c, n, seq)? {
        Some(at) if changes_behind > 0 => (now - at).num_seconds().max(0),
        _ => 0,
    };
    Ok(NodeView {
        name: n.name.clone(),
        source: node.source.clone(),
        target: n.target.to_string(),
        path: n.path.clone(),
        enabled: n.enabled,
        push: n.push,
        schedule: n.schedule.clone(),
        scopes: n.scopes.clone(),
        last_contact_at: s.last_contact_at,
        last_apply_at: s.last_apply_at,
        last_success_at: s.last_success_at,
        applied_seq: s.applied_seq,
        changes_behind,
        seconds_behind,
        entries: s.entries,
        checksum: s.checksum,
        verified: s.verified.map(|v| v != 0),
        last_error: s.last_error,
        last_error_at: s.last_error_at,
    })
}
