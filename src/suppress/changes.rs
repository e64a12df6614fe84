//! The ordered change log the sending nodes follow: every add and remove of a suppression,
//! read by cursor (`seq`).
//!
//! Takes the appends of `list` (always inside the transaction that changes the list); gives
//! the changes after a cursor in order. A cursor reader must never skip a change, so `seq`
//! has to follow commit order: on PostgreSQL a `BIGSERIAL` is handed out at insert, and with
//! two instances writing, seq 11 can commit (and be read, and passed) before seq 10 does.
//! Every transaction that appends first takes a transaction-scoped advisory lock, held to its
//! commit, so the next writer draws its numbers only after the previous one committed: seq
//! order is commit order, and whatever a reader sees below the highest seq it sees is final
//! (a rolled-back writer leaves a gap, never a late arrival). Writers queue only for the
//! short tail of their transactions; SQLite has a single writer anyway. It never deletes
//! changes (retention is the sync stage's).

use crate::store::schema::suppression_changes;
use crate::store::{AnyConnection, StoreError};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

/// What a change does: the one mapping of the `suppression_changes.op` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Op {
    Add,
    Remove,
}

impl Op {
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Add => "add",
            Op::Remove => "remove",
        }
    }
}

/// Advisory lock key of the change log ("suppchg" in ASCII).
const PG_CHANGE_LOG_LOCK: i64 = 0x73757070636867;

/// Orders this transaction's appends after every earlier writer's commit. Idempotent within
/// a transaction; a no-op on SQLite, whose write lock already serialises writers.
pub(super) fn hold_order(c: &mut AnyConnection) -> Result<(), StoreError> {
    if let AnyConnection::Postgresql(pg) = c {
        diesel::sql_query(format!("SELECT pg_advisory_xact_lock({PG_CHANGE_LOG_LOCK})")).execute(pg)?;
    }
    Ok(())
}

/// One change of the ordered log that sync ships.
#[derive(Debug, Clone, Queryable, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct ListChange {
    /// The change's place in commit order: strictly increasing, never reused.
    pub seq: i64,
    pub address: String,
    /// `global` or a sending domain.
    pub scope: String,
    /// `add` or `remove`.
    pub op: String,
    /// Why: the entry's source for an add (`hard_bounce`, `manual`, …); for a remove,
    /// `manual`, `expiry`, `reclassify` or `allowlist`.
    pub source: String,
    pub at: NaiveDateTime,
}

/// Changes after `seq`, in order.
pub fn since(c: &mut AnyConnection, seq: i64, limit: i64) -> Result<Vec<ListChange>, StoreError> {
    Ok(suppression_changes::table
        .filter(suppression_changes::seq.gt(seq))
        .order(suppression_changes::seq.asc())
        .limit(limit)
        .load(c)?)
}

/// A page of the change log for a cursor reader.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Feed {
    /// The changes after the cursor, in `seq` order.
    pub changes: Vec<ListChange>,
    /// The cursor to pass as `after` next: the last change's `seq`, or the cursor given
    /// when there was none.
    pub next: i64,
    /// More changes are waiting past this page: read again at once.
    pub more: bool,
    /// The highest `seq` committed when this page was read (0: none yet). A new node takes
    /// `head`, then the export, then follows from `head`; changes it sees twice are
    /// idempotent (an add of what is there, a remove of what is not).
    pub head: i64,
}

/// At most `limit` changes after `after`. Exact: every change commits in `seq` order (see
/// the module docs), so following `next` never skips or repeats one.
pub fn feed(c: &mut AnyConnection, after: i64, limit: i64) -> Result<Feed, StoreError> {
    // The head first: a change committed between the two reads is then in the page, never
    // below a head that claims to cover it.
    let head: Option<i64> = suppression_changes::table.select(diesel::dsl::max(suppression_changes::seq)).first(c)?;
    let mut changes = since(c, after, limit + 1)?;
    let more = changes.len() as i64 > limit;
    changes.truncate(usize::try_from(limit).unwrap_or(0));
    let next = changes.last().map_or(after, |ch| ch.seq);
    let head = head.unwrap_or(0).max(next);
    Ok(Feed { changes, next, more, head })
}
