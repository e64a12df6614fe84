//! Following the committed events in commit order, for the evaluator's short windows.
//!
//! Takes a [`Cursor`]; gives the events committed after it, each exactly once. On SQLite one
//! writer commits at a time (`BEGIN IMMEDIATE`), so ids are handed out in commit order and
//! the cursor is an id. On PostgreSQL a sequence hands an id out when the row is inserted,
//! and a transaction that drew a smaller id can commit after a reader passed it. There each
//! event carries its writing transaction (`events.tx_id`), and the cursor is the snapshot of
//! the last read: its `xmax` (every transaction from it on is new) and its in-flight list
//! (transactions that may still commit). A read, in one snapshot, takes the events of the
//! transactions in flight last time that have committed since (index lookups) and of those
//! from `xmax` on (an index range); a transaction's events become visible together, so each
//! is read once, and a long transaction delays nothing but its own events.
//! It never writes.

use crate::record::events::Facts;
use crate::store::{AnyConnection, StoreError};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text, Timestamp};

/// Where a reader stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cursor {
    /// SQLite: every event up to this id has been read.
    Id(i64),
    /// PostgreSQL: every event of a transaction before `xmax` and not in `inflight` has
    /// been read.
    Commit { xmax: u64, inflight: Vec<u64> },
}

const COLUMNS: &str = "id, kind, classification, reason, status, rule_key, diagnostic, campaign_id, sending_domain, \
                       recipient_domain, remote_mta, source, occurred_at";

#[derive(QueryableByName)]
struct Snapshot {
    #[diesel(sql_type = Text)]
    xmax: String,
    #[diesel(sql_type = diesel::sql_types::Array<Text>)]
    xip: Vec<String>,
}

#[derive(QueryableByName)]
struct Followed {
    #[diesel(embed)]
    facts: Facts,
    #[diesel(sql_type = Text)]
    tx: String,
}

fn parse(tx: &str) -> Result<u64, StoreError> {
    tx.parse().map_err(|e| StoreError::Task(format!("transaction id {tx:?}: {e}")))
}

/// The cursor just past everything the current snapshot holds (PostgreSQL: call it inside
/// a REPEATABLE READ transaction, then [`span`] in the same one).
pub fn head(c: &mut AnyConnection) -> Result<Cursor, StoreError> {
    Ok(match c {
        AnyConnection::Sqlite(_) => {
            use crate::store::schema::events;
            Cursor::Id(events::table.select(diesel::dsl::max(events::id)).first::<Option<i64>>(c)?.unwrap_or(0))
        }
        AnyConnection::Postgresql(pg) => {
            let s: Snapshot = diesel::sql_query(
                "SELECT pg_snapshot_xmax(s)::text AS xmax, \
                 ARRAY(SELECT x::text FROM pg_snapshot_xip(s) AS x) AS xip FROM pg_current_snapshot() AS s",
            )
            .get_result(pg)?;
            let inflight = s.xip.iter().map(|x| parse(x)).collect::<Result<Vec<_>, _>>()?;
            Cursor::Commit { xmax: parse(&s.xmax)?, inflight }
        }
    })
}

/// Events the snapshot `head` describes holds (as [`head`] gave it in this snapshot) with
/// id above `after`, ingested at or after `from`, in id order, at most `limit`.
pub fn span(
    c: &mut AnyConnection,
    head: &Cursor,
    after: i64,
    from: NaiveDateTime,
    limit: i64,
) -> Result<Vec<Facts>, StoreError> {
    match head {
        Cursor::Id(upto) => {
            let mut batch = crate::record::events::facts_after(c, after, from, limit)?;
            batch.retain(|e| e.id <= *upto);
            Ok(batch)
        }
        // What this snapshot sees is exactly what the cursor leaves out.
        Cursor::Commit { .. } => Ok(diesel::sql_query(format!(
            "SELECT {COLUMNS} FROM events WHERE id > $1 AND ingested_at >= $2 ORDER BY id LIMIT $3"
        ))
        .bind::<BigInt, _>(after)
        .bind::<Timestamp, _>(from)
        .bind::<BigInt, _>(limit)
        .load(c)?),
    }
}

/// The events committed after `cursor`, at most `limit` per query, and the cursor after
/// them.
pub fn read(c: &mut AnyConnection, cursor: &Cursor, limit: i64) -> Result<(Vec<Facts>, Cursor), StoreError> {
    match cursor {
        Cursor::Id(after) => {
            let mut out = Vec::new();
            let mut after = *after;
            let epoch = chrono::DateTime::UNIX_EPOCH.naive_utc();
            loop {
                let batch = crate::record::events::facts_after(c, after, epoch, limit)?;
                let full = batch.len() as i64 == limit;
                after = batch.last().map_or(after, |e| e.id);
                out.extend(batch);
                if !full {
                    return Ok((out, Cursor::Id(after)));
                }
            }
        }
        Cursor::Commit { xmax, inflight } => diesel::Connection::transaction::<_, StoreError, _>(c, |c| {
            diesel::sql_query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY").execute(c)?;
            let next = head(c)?;
            let ids: Vec<String> = inflight.iter().map(u64::to_string).collect();
            let AnyConnection::Postgresql(pg) = c else { unreachable!("a commit cursor is PostgreSQL's") };
            let mut out: Vec<Facts> = diesel::sql_query(format!(
                "SELECT {COLUMNS} FROM events WHERE tx_id = ANY($1::text[]::xid8[]) ORDER BY tx_id, id"
            ))
            .bind::<diesel::sql_types::Array<Text>, _>(&ids)
            .load(pg)?;
            let (mut tx, mut id) = (xmax.to_string(), -1);
            loop {
                let rows: Vec<Followed> = diesel::sql_query(format!(
                    "SELECT {COLUMNS}, tx_id::text AS tx FROM events WHERE (tx_id, id) > ($1::text::xid8, $2) \
                         ORDER BY tx_id, id LIMIT $3"
                ))
                .bind::<Text, _>(&tx)
                .bind::<BigInt, _>(id)
                .bind::<BigInt, _>(limit)
                .load(c)?;
                let full = rows.len() as i64 == limit;
                if let Some(last) = rows.last() {
                    (tx, id) = (last.tx.clone(), last.facts.id);
                }
                out.extend(rows.into_iter().map(|r| r.facts));
                if !full {
                    return Ok((out, next));
                }
            }
        }),
    }
}
