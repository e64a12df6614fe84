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
#[derive(Debug, Clone, Queryable, Serialize, PartialEq, Eq)]
pub struct ListChange {
    pub seq: i64,
    pub address: String,
    pub scope: String,
    pub op: String,
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
