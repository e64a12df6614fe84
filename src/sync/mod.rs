//! Sync: the suppression list onto the sending nodes, in each MTA's own format, never
//! half-applied, with proof of what each node holds.
//!
//! Takes the `[[node]]` entries (mirrored into the `nodes` table, [`status`]), the
//! suppression list and its ordered change log; gives, per node, the set it should hold
//! ([`set`]: the entries in force in its scopes, and the change-log seq they are current
//! to), rendered for its target ([`render`]: Postfix access table, Exim cdb, PowerMTA
//! address file, KumoMTA SQLite/text, Haraka blacklist, plain/CSV/JSON file) and installed
//! atomically ([`atomic`]: temporary file, index build, fsync, rename; a failing
//! `after_command` puts the previous files back), with the node's status written after each
//! apply: seq, entries, [`checksum`] (the one order-independent digest both sides compute),
//! last error. [`runner`] renders each node on its schedule inside `rebound serve`, and
//! within seconds of a committed change for `push` nodes; [`retention`] compacts the change
//! log. Node agents pull instead: [`protocol`] (which node a caller may pull, changes by
//! cursor, the check of their reports) and [`snapshot`] (the whole set as NDJSON) serve the
//! `/api/v1/sync` routes, and [`agent`] is `rebound node-agent`. It never changes the
//! suppression list.

pub mod agent;
pub mod atomic;
pub mod checksum;
pub mod key;
pub mod nodes;
pub mod protocol;
pub mod render;
pub mod retention;
pub mod runner;
pub mod set;
pub mod snapshot;
pub mod status;
pub mod view;

pub use atomic::ApplyError;
pub use checksum::Checksum;
pub use status::{Node, Status};

use crate::config::NodeConfig;
use crate::store::{AnyConnection, StoreError};
use chrono::{Duration, NaiveDateTime};
use std::path::Path;

/// How long a render's claim on a node lasts: longer than the slowest apply (two commands of
/// at most [`atomic::COMMAND_TIMEOUT`] each, plus the read).
pub const LEASE: Duration = Duration::minutes(10);

/// What one apply installed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// The change-log seq the installed list is current to.
    pub seq: i64,
    pub checksum: Checksum,
    /// Keys written to the file(s).
    pub written: u64,
    /// Entries that could not be written safely (or that the target cannot express).
    pub skipped: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Apply(#[from] ApplyError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("node {node} has no path: rebound writes nothing for it (a node agent pulls its list)")]
    NoPath { node: String },
    #[error("node {node} is being rendered by {owner} (lease until {until} UTC)")]
    Busy { node: String, owner: String, until: NaiveDateTime },
}

impl From<diesel::result::Error> for SyncError {
    fn from(e: diesel::result::Error) -> Self {
        SyncError::Store(StoreError::Query(e))
    }
}

/// Reads the node's set, renders it and installs it; writes no status. The old files stay
/// in force on any error.
pub fn render(c: &mut AnyConnection, node: &NodeConfig, now: NaiveDateTime) -> Result<Applied, SyncError> {
    let Some(path) = node.path.as_deref() else { return Err(SyncError::NoPath { node: node.name.clone() }) };
    let seq = set::head(c)?;
    let mut pages = set::Pages::new(c, node, now);
    let (staged, rendered) = render::stage(node, Path::new(path), &mut pages)?;
    if let Some(e) = pages.error.take() {
        // `staged` is dropped here: its temporary files go, the installed ones stay.
        return Err(ApplyError::new("read", format!("reading the suppression list: {e}")).into());
    }
    let env = [("REBOUND_NODE", node.name.as_str()), ("REBOUND_PATH", path)];
    staged.install(node.after_command.as_deref(), &env)?;
    Ok(Applied { seq, checksum: rendered.checksum, written: rendered.written, skipped: rendered.skipped })
}

/// Renders `node` under its lease and records the outcome in its status. `Busy` when
/// another instance holds the lease (it is rendering the node now).
pub fn sync_node(c: &mut AnyConnection, node: &Node, owner: &str, now: NaiveDateTime) -> Result<Applied, SyncError> {
    if !status::acquire_lease(c, node.id, owner, now, LEASE)? {
        let s = status::get(c, node.id)?.unwrap_or_default();
        return Err(SyncError::Busy {
            node: node.config.name.clone(),
            owner: s.lease_owner.unwrap_or_default(),
            until: s.lease_expires_at.unwrap_or(now),
        });
    }
    let result = render(c, &node.config, now);
    let done = chrono::Utc::now().naive_utc();
    let recorded = match &result {
        // Rendered from the set as read, so what the node holds is the set's digest by
        // construction; a node agent's report is what will need checking against it.
        Ok(a) => status::record_success(c, node.id, a.seq, a.checksum.count() as i64, &a.checksum.hex(), true, done),
        Err(e) => status::record_failure(c, node.id, &e.to_string(), done),
    };
    let released = status::release_lease(c, node.id, owner);
    recorded?;
    released?;
    result
}

/// The checksum and count of the set `node` should hold now, straight from the list.
pub fn expected(c: &mut AnyConnection, node: &NodeConfig, now: NaiveDateTime) -> Result<Checksum, StoreError> {
    let mut pages = set::Pages::new(c, node, now);
    let mut sum = Checksum::default();
    for (a, s) in pages.by_ref() {
        sum.add(&a, &s);
    }
    match pages.error {
        Some(e) => Err(e),
        None => Ok(sum),
    }
}
