//! Writes to API-managed nodes: create, update, delete, enable/disable.
//!
//! Takes who writes and the keys of a `[[node]]` entry (as JSON); gives the stored
//! [`Node`]. Settings are checked with the config file's own validation, every problem at
//! once. Every write is one transaction holding the change, the [`VERSION`] bump (so every
//! `serve` follows within seconds, [`super::runner`]) and its audit entry. It never writes a
//! config-file node: those change in the file only ([`NodeError::ReadOnly`] names it).

use super::Node;
use super::status;
use crate::audit::{self, Actor};
use crate::config::{NodeConfig, Problem};
use crate::store::schema::nodes;
use crate::store::{AnyConnection, StoreError};
use chrono::Utc;
use diesel::prelude::*;

/// The `meta` counter bumped by every change to the node list.
pub const VERSION: &str = "nodes_version";

#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("no node named `{0}`; GET /api/v1/nodes lists them")]
    NotFound(String),
    #[error("a node named `{0}` exists; pick another name")]
    Exists(String),
    #[error("node `{name}` comes from the config file {file}: change it there (and restart or `rebound sync`)")]
    ReadOnly { name: String, file: String },
    #[error("the node settings are invalid")]
    Invalid(Vec<Problem>),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<diesel::result::Error> for NodeError {
    fn from(e: diesel::result::Error) -> Self {
        NodeError::Store(StoreError::Query(e))
    }
}

/// A JSON body as the keys of a `[[node]]` table (nulls are "not given").
pub fn table_of(body: serde_json::Map<String, serde_json::Value>) -> Result<toml::Table, Vec<Problem>> {
    crate::config::table_of_json(body, "node")
}

fn check(settings: toml::Table) -> Result<NodeConfig, NodeError> {
    crate::config::node::resolve_table(settings).map_err(NodeError::Invalid)
}

/// The live node `name`, with the config file it came from.
fn live(c: &mut AnyConnection, name: &str) -> Result<(Node, Option<String>), NodeError> {
    let node = status::find(c, name)?.ok_or_else(|| NodeError::NotFound(name.to_string()))?;
    let file: Option<String> = nodes::table.find(node.id).select(nodes::config_file).first(c)?;
    Ok((node, file))
}

fn writable(c: &mut AnyConnection, name: &str) -> Result<Node, NodeError> {
    let (node, file) = live(c, name)?;
    if node.source == "config" {
        return Err(NodeError::ReadOnly { name: name.to_string(), file: file.unwrap_or_else(|| "(unknown)".into()) });
    }
    Ok(node)
}

fn record(
    c: &mut AnyConnection,
    by: &Actor,
    action: &str,
    name: &str,
    before: Option<&NodeConfig>,
    after: Option<&NodeConfig>,
) -> Result<(), StoreError> {
    let now = Utc::now().naive_utc();
    crate::store::counter::bump(c, VERSION)?;
    let state = |n: Option<&NodeConfig>| n.and_then(|n| serde_json::to_value(n).ok());
    let target = format!("node:{name}");
    let change = audit::Change { action, target: &target, note: None, before: state(before), after: state(after) };
    audit::record(c, by.as_str(), change, now)
}

/// Creates an API-managed node.
pub fn create(c: &mut AnyConnection, by: &Actor, settings: toml::Table) -> Result<Node, NodeError> {
    let cfg = check(settings)?;
    crate::store::transaction(c, |c| {
        if status::find(c, &cfg.name)?.is_some() {
            return Err(NodeError::Exists(cfg.name.clone()));
        }
        let now = Utc::now().naive_utc();
        diesel::insert_into(nodes::table)
            .values((
                nodes::name.eq(&cfg.name),
                nodes::source.eq("api"),
                nodes::settings.eq(serde_json::to_string(&cfg).unwrap_or_default()),
                nodes::enabled.eq(i32::from(cfg.enabled)),
                nodes::created_at.eq(now),
                nodes::updated_at.eq(now),
            ))
            .execute(c)?;
        record(c, by, "node.create", &cfg.name, None, Some(&cfg))?;
        live(c, &cfg.name).map(|(n, _)| n)
    })
}

/// Replaces an API node's settings with a full entry (a rename keeps the id and its status).
pub fn update(c: &mut AnyConnection, by: &Actor, name: &str, settings: toml::Table) -> Result<Node, NodeError> {
    let cfg = check(settings)?;
    crate::store::transaction(c, |c| {
        let current = writable(c, name)?;
        if cfg.name != name && status::find(c, &cfg.name)?.is_some() {
            return Err(NodeError::Exists(cfg.name.clone()));
        }
        if current.config == cfg {
            return Ok(current);
        }
        write(c, current.id, &cfg)?;
        record(c, by, "node.update", name, Some(&current.config), Some(&cfg))?;
        live(c, &cfg.name).map(|(n, _)| n)
    })
}

fn write(c: &mut AnyConnection, id: i64, cfg: &NodeConfig) -> Result<(), NodeError> {
    diesel::update(nodes::table.find(id))
        .set((
            nodes::name.eq(&cfg.name),
            nodes::settings.eq(serde_json::to_string(cfg).unwrap_or_default()),
            nodes::enabled.eq(i32::from(cfg.enabled)),
            nodes::updated_at.eq(Utc::now().naive_utc()),
        ))
        .execute(c)?;
    Ok(())
}

/// Deletes an API node: no longer rendered or served; its status row stays.
pub fn delete(c: &mut AnyConnection, by: &Actor, name: &str) -> Result<Node, NodeError> {
    crate::store::transaction(c, |c| {
        let current = writable(c, name)?;
        diesel::update(nodes::table.find(current.id)).set(nodes::deleted_at.eq(Utc::now().naive_utc())).execute(c)?;
        record(c, by, "node.delete", name, Some(&current.config), None)?;
        Ok(current)
    })
}

/// Enables or disables an API node (a disabled one is neither rendered nor served).
pub fn set_enabled(c: &mut AnyConnection, by: &Actor, name: &str, enabled: bool) -> Result<Node, NodeError> {
    crate::store::transaction(c, |c| {
        let current = writable(c, name)?;
        if current.config.enabled == enabled {
            return Ok(current);
        }
        let cfg = NodeConfig { enabled, ..current.config.clone() };
        write(c, current.id, &cfg)?;
        let action = if enabled { "node.enable" } else { "node.disable" };
        record(c, by, action, name, Some(&current.config), Some(&cfg))?;
        live(c, name).map(|(n, _)| n)
    })
}
