//! PostgreSQL's import writer: one batch of new entries in one transaction, written so that
//! two of them can run at once on two connections.
//!
//! Takes a connection, a batch (sorted by key, no repeats) and the time; gives which entries
//! it added. A single PostgreSQL backend inserting a million imported rows with the list's
//! indexes tops out near 90,000 rows/s (measured with psql, no client in the way), so the
//! import's 100,000/s needs two backends. That rules out the read-then-insert of the other
//! backend: a key repeated in two batches in flight would be "absent" to both lookups and the
//! second insert would fail. Here the insert itself decides (`ON CONFLICT DO NOTHING`): a key
//! stored and in force is left as it is (original evidence kept), a lapsed one is renewed by
//! an update of just the conflicting keys, and a key the other writer holds uncommitted waits
//! for it and is then seen stored. The change-log
//! lock (`changes::hold_order`) is taken only after that insert, so the two writers overlap
//! on the costly part and queue only for the change log and the commit; it never waits on a
//! suppression row while holding that lock, and both writers insert in key order, so they
//! cannot deadlock on each other. It never writes on SQLite (one writer there anyway).
//!
//! Where the time goes (2026-12-02, 1M rows in 50,000-row batches, CPU seconds of the
//! backend, psql alone at load 0.1–3): the insert 36–39 s, of which the four secondary
//! indexes 22 (`suppressions_domain` 7.5, `_source` 5.8, `_scope` 5.2, `_created` 3.7; the
//! PK's INCLUDE columns under 2), heap and PK 14; the `unnest` arrays and `RETURNING` about 5
//! more; the change log 6 (its `at` index 1). The client costs 2.8 CPU-s in all. So the import
//! is bound by the server's CPU: neither COPY, a third writer on two cores, larger batches
//! (200,000 or one of 1M: 36.4 and 31.9 s), nor `synchronous_commit` (20 commits in all; full
//! page images are 36 MB of the 950 MB of WAL) buys the last tenth; an index less would.

use crate::store::{AnyConnection, StoreError};
use crate::suppress::changes::hold_order;
use crate::suppress::list::{ADDED, Suppression, added};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Nullable, Text, Timestamp};

#[derive(QueryableByName)]
struct Key {
    #[diesel(sql_type = Text)]
    address: String,
    #[diesel(sql_type = Text)]
    scope: String,
}

/// Inserts the entries of `batch` that are absent or lapsed at `now` (in the caller's
/// transaction), with their change-log rows and `suppression.added` events dated `now`; gives
/// their indexes in `batch`, in order.
pub fn write_batch(c: &mut AnyConnection, batch: &[Suppression], now: NaiveDateTime) -> Result<Vec<usize>, StoreError> {
    let all: Vec<usize> = (0..batch.len()).collect();
    let inserted = insert_absent(c, batch)?;
    let mut written = positions(batch, &inserted);
    // Keys already stored: most often in force (kept as they are), now and then lapsed but
    // not yet swept by `list::expire`, which are renewed here as a fresh add would be.
    if written.len() < batch.len() {
        let stored: Vec<usize> = all.into_iter().filter(|i| written.binary_search(i).is_err()).collect();
        let renewed = renew_lapsed(c, batch, &stored, now)?;
        written.extend(positions(batch, &renewed));
        written.sort_unstable();
    }
    if written.is_empty() {
        return Ok(written);
    }
    // Only now, with the costly inserts done, queue behind the other writers for the log.
    hold_order(c)?;
    {
        let pg = postgres(c)?;
        let col = |f: fn(&Suppression) -> &str| written.iter().map(|&i| f(&batch[i])).collect::<Vec<&str>>();
        diesel::sql_query(
            "INSERT INTO suppression_changes (address, scope, op, source, at) \
             SELECT a, s, 'add', src, $4 FROM unnest($1::text[], $2::text[], $3::text[]) \
             WITH ORDINALITY AS r(a, s, src, n) ORDER BY n",
        )
        .bind::<Array<Text>, _>(col(|e| &e.address))
        .bind::<Array<Text>, _>(col(|e| &e.scope))
        .bind::<Array<Text>, _>(col(|e| &e.source))
        .bind::<Timestamp, _>(now)
        .execute(pg)?;
    }
    crate::notify::emit(c, |wanted| {
        if !wanted.wants(ADDED) {
            return Vec::new();
        }
        written.iter().map(|&i| added(&batch[i], None, now)).collect()
    })?;
    Ok(written)
}

/// `INSERT … ON CONFLICT DO NOTHING`: a conflict costs one probe of the primary key and
/// takes no row lock, so a rerun of a whole file writes nothing at all.
fn insert_absent(c: &mut AnyConnection, batch: &[Suppression]) -> Result<Vec<Key>, StoreError> {
    let pg = postgres(c)?;
    let text = |f: fn(&Suppression) -> &str| batch.iter().map(f).collect::<Vec<&str>>();
    let opt = |f: fn(&Suppression) -> Option<&str>| batch.iter().map(f).collect::<Vec<Option<&str>>>();
    Ok(diesel::sql_query(
        "INSERT INTO suppressions (address, scope, source, event_id, reason, note, created_at, expires_at) \
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[], \
         $7::timestamp[], $8::timestamp[]) \
         ON CONFLICT (address, scope) DO NOTHING RETURNING address, scope",
    )
    .bind::<Array<Text>, _>(text(|e| &e.address))
    .bind::<Array<Text>, _>(text(|e| &e.scope))
    .bind::<Array<Text>, _>(text(|e| &e.source))
    .bind::<Array<Nullable<BigInt>>, _>(batch.iter().map(|e| e.event_id).collect::<Vec<_>>())
    .bind::<Array<Nullable<Text>>, _>(opt(|e| e.reason.as_deref()))
    .bind::<Array<Nullable<Text>>, _>(opt(|e| e.note.as_deref()))
    .bind::<Array<Timestamp>, _>(batch.iter().map(|e| e.created_at).collect::<Vec<_>>())
    .bind::<Array<Nullable<Timestamp>>, _>(batch.iter().map(|e| e.expires_at).collect::<Vec<_>>())
    .load(pg)?)
}

/// Replaces the stored entries among `batch[stored]` that lapsed at `now` with the batch's.
fn renew_lapsed(
    c: &mut AnyConnection,
    batch: &[Suppression],
    stored: &[usize],
    now: NaiveDateTime,
) -> Result<Vec<Key>, StoreError> {
    let pg = postgres(c)?;
    let text = |f: fn(&Suppression) -> &str| stored.iter().map(|&i| f(&batch[i])).collect::<Vec<&str>>();
    let opt = |f: fn(&Suppression) -> Option<&str>| stored.iter().map(|&i| f(&batch[i])).collect::<Vec<Option<&str>>>();
    Ok(diesel::sql_query(
        "UPDATE suppressions s SET source = u.source, event_id = u.event_id, reason = u.reason, note = u.note, \
         created_at = u.created_at, expires_at = u.expires_at \
         FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[], \
         $7::timestamp[], $8::timestamp[]) AS u(address, scope, source, event_id, reason, note, created_at, expires_at) \
         WHERE s.address = u.address AND s.scope = u.scope AND s.expires_at IS NOT NULL AND s.expires_at <= $9 \
         RETURNING s.address, s.scope",
    )
    .bind::<Array<Text>, _>(text(|e| &e.address))
    .bind::<Array<Text>, _>(text(|e| &e.scope))
    .bind::<Array<Text>, _>(text(|e| &e.source))
    .bind::<Array<Nullable<BigInt>>, _>(stored.iter().map(|&i| batch[i].event_id).collect::<Vec<_>>())
    .bind::<Array<Nullable<Text>>, _>(opt(|e| e.reason.as_deref()))
    .bind::<Array<Nullable<Text>>, _>(opt(|e| e.note.as_deref()))
    .bind::<Array<Timestamp>, _>(stored.iter().map(|&i| batch[i].created_at).collect::<Vec<_>>())
    .bind::<Array<Nullable<Timestamp>>, _>(stored.iter().map(|&i| batch[i].expires_at).collect::<Vec<_>>())
    .bind::<Timestamp, _>(now)
    .load(pg)?)
}

/// Where each of `keys` is in `batch` (in key order, no repeats: found by bisection), sorted.
fn positions(batch: &[Suppression], keys: &[Key]) -> Vec<usize> {
    let mut found: Vec<usize> = keys
        .iter()
        .filter_map(|k| {
            batch.binary_search_by(|e| (e.address.as_str(), e.scope.as_str()).cmp(&(&k.address, &k.scope))).ok()
        })
        .collect();
    found.sort_unstable();
    found
}

fn postgres(c: &mut AnyConnection) -> Result<&mut diesel::PgConnection, StoreError> {
    match c {
        AnyConnection::Postgresql(pg) => Ok(pg),
        AnyConnection::Sqlite(_) => Err(StoreError::Task("the PostgreSQL import writer was given SQLite".into())),
    }
}
