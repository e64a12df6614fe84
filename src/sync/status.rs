//! The nodes in the database and where each stands.
//!
//! `nodes` rows mirror the `[[node]]` entries of the config file (source `config`, upserted
//! by name, marked deleted when the file drops them; API-managed rows, source `api`, are
//! written by [`super::nodes`]). `node_status` says, per node id: the change-log seq its list
//! is current to, its entry count and checksum, whether that was verified, the last error
//! and the last success; and holds the lease that keeps two instances from rendering one node
//! at once (one conditional UPDATE, atomic on both backends).

use crate::config::NodeConfig;
use crate::store::schema::{node_status, nodes};
use crate::store::{AnyConnection, StoreError};
use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use serde::Serialize;

/// A live node: its stable id and settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub id: i64,
    pub source: String,
    pub config: NodeConfig,
}

/// A node's status row.
#[derive(Debug, Clone, Default, Queryable, Selectable, Serialize, PartialEq, Eq)]
#[diesel(table_name = node_status)]
pub struct Status {
    pub node_id: i64,
    pub last_contact_at: Option<NaiveDateTime>,
    pub last_apply_at: Option<NaiveDateTime>,
    pub last_success_at: Option<NaiveDateTime>,
    pub applied_seq: Option<i64>,
    pub entries: Option<i64>,
    pub checksum: Option<String>,
    pub verified: Option<i32>,
    pub last_error: Option<String>,
    pub last_error_at: Option<NaiveDateTime>,
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<NaiveDateTime>,
    /// 1: the node's last report did not match; its next sync call is told to re-snapshot.
    pub rebuild: i32,
}

fn settings(n: &NodeConfig) -> String {
    serde_json::to_string(n).unwrap_or_default()
}

/// Mirrors the config file's nodes into `nodes`: new names are added, changed ones updated,
/// config rows the file no longer has are marked deleted (their status stays).
pub fn sync_config(
    c: &mut AnyConnection,
    entries: &[NodeConfig],
    file: Option<&str>,
    now: NaiveDateTime,
) -> Result<(), StoreError> {
    crate::store::transaction(c, |c| {
        let mut changed = false;
        let live: Vec<(i64, String, String, String, i32)> = nodes::table
            .filter(nodes::deleted_at.is_null())
            .select((nodes::id, nodes::name, nodes::source, nodes::settings, nodes::enabled))
            .load(c)?;
        for n in entries {
            let (s, enabled) = (settings(n), i32::from(n.enabled));
            match live.iter().find(|(_, name, ..)| name == &n.name) {
                Some((id, _, source, old, was)) if source == "config" => {
                    if *old != s || *was != enabled {
                        changed = true;
                        diesel::update(nodes::table.find(id))
                            .set((
                                nodes::settings.eq(&s),
                                nodes::enabled.eq(enabled),
                                nodes::config_file.eq(file),
                                nodes::updated_at.eq(now),
                            ))
                            .execute(c)?;
                    }
                }
                // An API node of that name: the config file's entry takes its place.
                Some((id, ..)) => {
                    changed = true;
                    diesel::update(nodes::table.find(id)).set(nodes::deleted_at.eq(now)).execute(c)?;
                    insert(c, n, &s, file, now)?;
                }
                None => {
                    changed = true;
                    insert(c, n, &s, file, now)?;
                }
            }
        }
        for (id, name, source, ..) in &live {
            if source == "config" && !entries.iter().any(|n| &n.name == name) {
                changed = true;
                diesel::update(nodes::table.find(id)).set(nodes::deleted_at.eq(now)).execute(c)?;
            }
        }
        // Running `serve`s follow the node list by this counter.
        if changed {
            crate::store::counter::bump(c, super::nodes::VERSION)?;
        }
        Ok(())
    })
}

fn insert(
    c: &mut AnyConnection,
    n: &NodeConfig,
    s: &str,
    file: Option<&str>,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::insert_into(nodes::table)
        .values((
            nodes::name.eq(&n.name),
            nodes::source.eq("config"),
            nodes::config_file.eq(file),
            nodes::settings.eq(s),
            nodes::enabled.eq(i32::from(n.enabled)),
            nodes::created_at.eq(now),
            nodes::updated_at.eq(now),
        ))
        .execute(c)
}

/// Every live node, by name; a row whose settings this version cannot read is skipped with a warning.
pub fn list(c: &mut AnyConnection) -> Result<Vec<Node>, StoreError> {
    let rows: Vec<(i64, String, String, String)> = nodes::table
        .filter(nodes::deleted_at.is_null())
        .order(nodes::name.asc())
        .select((nodes::id, nodes::name, nodes::source, nodes::settings))
        .load(c)?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, name, source, s)| match serde_json::from_str::<NodeConfig>(&s) {
            Ok(config) => Some(Node { id, source, config }),
            Err(e) => {
                tracing::warn!(node = %name, error = %e, "unreadable node settings; skipped");
                None
            }
        })
        .collect())
}

fn ensure_row(c: &mut AnyConnection, id: i64) -> Result<(), StoreError> {
    if node_status::table.find(id).count().get_result::<i64>(c)? == 0 {
        let inserted = diesel::insert_into(node_status::table).values(node_status::node_id.eq(id)).execute(c);
        // Another instance may have created it between the check and the insert.
        if let Err(e) = inserted
            && node_status::table.find(id).count().get_result::<i64>(c)? == 0
        {
            return Err(e.into());
        }
    }
    Ok(())
}

pub fn get(c: &mut AnyConnection, id: i64) -> Result<Option<Status>, StoreError> {
    Ok(node_status::table.find(id).select(Status::as_select()).first(c).optional()?)
}

/// Takes (or renews) the lease on node `id` for `owner` until `now + ttl`, unless another
/// live holder has it.
pub fn acquire_lease(
    c: &mut AnyConnection,
    id: i64,
    owner: &str,
    now: NaiveDateTime,
    ttl: Duration,
) -> Result<bool, StoreError> {
    ensure_row(c, id)?;
    Ok(crate::take_lease!(c, node_status, id, owner, now, ttl)?)
}

pub fn release_lease(c: &mut AnyConnection, id: i64, owner: &str) -> Result<(), StoreError> {
    Ok(crate::drop_lease!(c, node_status, id, owner)?)
}

/// After a successful apply: the node holds `entries` pairs with `checksum`, current to `seq`.
pub fn record_success(
    c: &mut AnyConnection,
    id: i64,
    seq: i64,
    entries: i64,
    checksum: &str,
    verified: bool,
    now: NaiveDateTime,
) -> Result<(), StoreError> {
    ensure_row(c, id)?;
    crate::store::transaction(c, |c| {
        let was = last_error(c, id)?;
        diesel::update(node_status::table.find(id))
            .set((
                node_status::last_contact_at.eq(now),
                node_status::last_apply_at.eq(now),
                node_status::last_success_at.eq(now),
                node_status::applied_seq.eq(seq),
                node_status::entries.eq(entries),
                node_status::checksum.eq(checksum),
                node_status::verified.eq(i32::from(verified)),
                node_status::last_error.eq(None::<String>),
            ))
            .execute(c)?;
        announce(c, id, was.is_some(), false, now)
    })
}

fn last_error(c: &mut AnyConnection, id: i64) -> Result<Option<String>, StoreError> {
    Ok(node_status::table.find(id).select(node_status::last_error).first(c)?)
}

/// Enqueues `node.lagging` when the node went from current (`was_failing` false) to an
/// error, `node.recovered` the other way; nothing when its state did not change.
fn announce(
    c: &mut AnyConnection,
    id: i64,
    was_failing: bool,
    is_failing: bool,
    now: NaiveDateTime,
) -> Result<(), StoreError> {
    let kind = match (was_failing, is_failing) {
        (false, true) => "node.lagging",
        (true, false) => "node.recovered",
        _ => return Ok(()),
    };
    if !crate::notify::Wanted::load(c)?.wants(kind) {
        return Ok(());
    }
    let name: Option<String> = nodes::table.find(id).select(nodes::name).first(c).optional()?;
    let Some(s) = get(c, id)? else { return Ok(()) };
    let data = crate::notify::event::NodeData {
        node_id: id,
        name: name.unwrap_or_else(|| id.to_string()),
        error: s.last_error,
        applied_seq: s.applied_seq,
        last_success_at: s.last_success_at,
    };
    crate::notify::outbox::enqueue(c, &[crate::notify::Outgoing::new(kind, now, crate::notify::EventData::Node(data))])
}

/// The live node named `name`.
pub fn find(c: &mut AnyConnection, name: &str) -> Result<Option<Node>, StoreError> {
    Ok(list(c)?.into_iter().find(|n| n.config.name == name))
}

/// A node agent called (snapshot, changes or report).
pub fn touch(c: &mut AnyConnection, id: i64, now: NaiveDateTime) -> Result<(), StoreError> {
    ensure_row(c, id)?;
    diesel::update(node_status::table.find(id)).set(node_status::last_contact_at.eq(now)).execute(c)?;
    Ok(())
}

/// Marks (or clears) the node for a fresh snapshot.
pub fn set_rebuild(c: &mut AnyConnection, id: i64, rebuild: bool) -> Result<(), StoreError> {
    ensure_row(c, id)?;
    diesel::update(node_status::table.find(id)).set(node_status::rebuild.eq(i32::from(rebuild))).execute(c)?;
    Ok(())
}

/// What a node agent said it installed, and whether that was checked against the list
/// (None: the list moved on, so it could not be checked yet).
pub struct Report<'a> {
    pub seq: i64,
    pub entries: i64,
    pub checksum: &'a str,
    pub verified: Option<bool>,
    pub applied_at: NaiveDateTime,
}

/// After an agent's successful apply; a failed check is also the node's last error.
pub fn record_report(c: &mut AnyConnection, id: i64, r: &Report, now: NaiveDateTime) -> Result<(), StoreError> {
    ensure_row(c, id)?;
    crate::store::transaction(c, |c| {
        let was = last_error(c, id)?;
        let mismatch = (r.verified == Some(false)).then(|| {
        format!(
            "checksum mismatch: the node reported {} entries with checksum {} at seq {}; it is told to take a fresh snapshot",
            r.entries, r.checksum, r.seq
        )
    });
        diesel::update(node_status::table.find(id))
            .set((
                node_status::last_contact_at.eq(now),
                node_status::last_apply_at.eq(r.applied_at),
                node_status::last_success_at.eq(r.applied_at),
                node_status::applied_seq.eq(r.seq),
                node_status::entries.eq(r.entries),
                node_status::checksum.eq(r.checksum),
                node_status::verified.eq(r.verified.map(i32::from)),
                node_status::last_error.eq(&mismatch),
            ))
            .execute(c)?;
        // Only a check decides a rebuild: an unchecked report leaves a pending one pending.
        if let Some(ok) = r.verified {
            set_rebuild(c, id, !ok)?;
        }
        if mismatch.is_some() {
            diesel::update(node_status::table.find(id)).set(node_status::last_error_at.eq(now)).execute(c)?;
        }
        announce(c, id, was.is_some(), mismatch.is_some(), now)
    })
}

/// After a failed apply: the previous list stays in force, and so does what it said of it.
pub fn record_failure(c: &mut AnyConnection, id: i64, error: &str, now: NaiveDateTime) -> Result<(), StoreError> {
    ensure_row(c, id)?;
    crate::store::transaction(c, |c| {
        let was = last_error(c, id)?;
        diesel::update(node_status::table.find(id))
            .set((
                node_status::last_contact_at.eq(now),
                node_status::last_apply_at.eq(now),
                node_status::last_error.eq(error),
                node_status::last_error_at.eq(now),
            ))
            .execute(c)?;
        announce(c, id, was.is_some(), true, now)
    })
}
