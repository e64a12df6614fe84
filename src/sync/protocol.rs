//! The pull protocol a node agent speaks, server side: which node a caller may pull, the
//! changes since a cursor in the node's scopes, and the check of what the agent reports.
//!
//! Takes the caller's bound node (a node token's) or the node it names, a cursor, a report;
//! gives the node, a page of changes with the next cursor, or why the agent must take a
//! fresh snapshot instead ([`ProtocolError::Gone`]: the cursor is below the compacted floor;
//! [`ProtocolError::Rebuild`]: its last report did not match the list). The snapshot itself
//! is [`super::snapshot`]. It never changes the suppression list; it writes only node status.
//!
//! A report is verified when the agent says it is current to the head: the expected set is
//! read then, and the head read again; when the head moved meanwhile (or the agent is behind)
//! the report is recorded unverified and the next one is checked. A mismatch marks the node
//! for rebuild: `changes` answers 410 with code `rebuild` until the agent takes a snapshot.

use super::status::{self, Report};
use super::{Node, set};
use crate::store::schema::suppression_changes;
use crate::store::{AnyConnection, StoreError};
use crate::suppress::changes::{Feed, ListChange};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    #[error(
        "name the node: `node=NAME`, or use a node token bound to one (`rebound token create --role node --node NAME`)"
    )]
    NoNode,
    #[error("this token is bound to node `{bound}`; it may not pull node `{asked}`")]
    OtherNode { bound: String, asked: String },
    #[error("no node named `{0}`; `rebound node list` shows them (add it as a [[node]] or through /api/v1/nodes)")]
    UnknownNode(String),
    #[error("node `{0}` is disabled; enable it to sync it")]
    Disabled(String),
    #[error(
        "cursor {after} is older than the retained change log (changes up to {floor} were compacted); take a fresh snapshot (GET /api/v1/sync/snapshot)"
    )]
    Gone { after: i64, floor: i64 },
    #[error(
        "node `{0}` reported a list that differs from the one it should hold; take a fresh snapshot (GET /api/v1/sync/snapshot)"
    )]
    Rebuild(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<diesel::result::Error> for ProtocolError {
    fn from(e: diesel::result::Error) -> Self {
        ProtocolError::Store(StoreError::Query(e))
    }
}

/// The node a caller bound to `bound` (a node token's node, or None) may pull when it asks
/// for `asked`; notes the contact.
pub fn resolve(
    c: &mut AnyConnection,
    bound: Option<&str>,
    asked: Option<&str>,
    now: NaiveDateTime,
) -> Result<Node, ProtocolError> {
    let name = match (bound, asked) {
        (Some(b), Some(a)) if a != b => {
            return Err(ProtocolError::OtherNode { bound: b.to_string(), asked: a.to_string() });
        }
        (Some(n), _) | (None, Some(n)) => n,
        (None, None) => return Err(ProtocolError::NoNode),
    };
    let node = status::find(c, name)?.ok_or_else(|| ProtocolError::UnknownNode(name.to_string()))?;
    if !node.config.enabled {
        return Err(ProtocolError::Disabled(name.to_string()));
    }
    status::touch(c, node.id, now)?;
    Ok(node)
}

/// The snapshot's entity tag: the seq it is current to and the scopes it covers (so a
/// change of the node's scopes is a new snapshot too).
pub fn etag(node: &Node, seq: i64) -> String {
    use sha2::{Digest, Sha256};
    let scopes = Sha256::digest(node.config.scopes.join(",").as_bytes());
    let short: String = scopes[..6].iter().map(|b| format!("{b:02x}")).collect();
    format!("\"{seq}-{short}\"")
}

/// At most `limit` changes after `after` in the node's scopes. When no more are waiting,
/// `next` is the head (changes of other scopes are passed over, never re-read); `more` says
/// to read again at once.
pub fn changes(c: &mut AnyConnection, node: &Node, after: i64, limit: i64) -> Result<Feed, ProtocolError> {
    if status::get(c, node.id)?.is_some_and(|s| s.rebuild != 0) {
        return Err(ProtocolError::Rebuild(node.config.name.clone()));
    }
    // The head first: every change at or below it has committed (seq order is commit order).
    let head = set::head(c)?;
    let mut q = suppression_changes::table.filter(suppression_changes::seq.gt(after)).into_boxed();
    if let Some(scopes) = set::scope_filter(&node.config) {
        q = q.filter(suppression_changes::scope.eq_any(scopes));
    }
    let mut page: Vec<ListChange> = q.order(suppression_changes::seq.asc()).limit(limit + 1).load(c)?;
    // The floor after the read: a compaction that ran meanwhile is seen, never missed.
    let floor = super::retention::floor(c)?;
    if after < floor {
        return Err(ProtocolError::Gone { after, floor });
    }
    let more = page.len() as i64 > limit;
    page.truncate(usize::try_from(limit).unwrap_or(0));
    let last = page.last().map_or(after, |ch| ch.seq);
    let next = if more { last } else { last.max(head) };
    Ok(Feed { changes: page, next, more, head: head.max(next) })
}

/// What an agent says after an apply.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentReport {
    /// The node (optional with a token bound to one).
    pub node: Option<String>,
    /// The change-log seq the installed list is current to.
    pub seq: i64,
    /// Entries ((address, scope) pairs) in the installed list.
    pub count: i64,
    /// Their checksum (see the checksum definition in the README).
    pub checksum: String,
    /// When the agent installed it (UTC); the server's time when absent.
    pub applied_at: Option<NaiveDateTime>,
    /// Set when the apply failed: the previous list stays in force on the node.
    pub error: Option<String>,
}

/// The server's answer to a report.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct ReportReply {
    /// true: the node holds exactly the list it should; false: it does not (see `rebuild`);
    /// null: not checked (the list moved on since `seq`, or the report was of a failure).
    pub verified: Option<bool>,
    /// Take a fresh snapshot before reading more changes.
    pub rebuild: bool,
    /// The head of the change log when the report was checked.
    pub head: i64,
}

/// Records `r` for `node` and checks it against the list when it claims to be current.
pub fn report(
    c: &mut AnyConnection,
    node: &Node,
    r: &AgentReport,
    now: NaiveDateTime,
) -> Result<ReportReply, ProtocolError> {
    let head = set::head(c)?;
    if let Some(e) = &r.error {
        let msg: String = format!("agent: {e}").chars().take(2000).collect();
        status::record_failure(c, node.id, &msg, now)?;
        return Ok(ReportReply { verified: None, rebuild: false, head });
    }
    let verified = if r.seq == head {
        let expected = super::expected(c, &node.config, now)?;
        (set::head(c)? == head)
            .then(|| expected.count() as i64 == r.count && expected.hex() == r.checksum.to_ascii_lowercase())
    } else {
        None
    };
    let rep = Report {
        seq: r.seq,
        entries: r.count,
        checksum: &r.checksum,
        verified,
        applied_at: r.applied_at.unwrap_or(now),
    };
    status::record_report(c, node.id, &rep, now)?;
    if verified == Some(false) {
        tracing::warn!(node = %node.config.name, seq = r.seq, count = r.count,
            "a node agent's list differs from the one it should hold; it will re-snapshot");
    }
    Ok(ReportReply { verified, rebuild: verified == Some(false), head })
}
