//! Alert matchers: hourly counts of the events one text-testing count criterion matches.
//!
//! Takes the count criteria of a day or more that test the server's words (`text`), which
//! the shared counters ([`super::counts`]) cannot answer since they do not keep the words.
//! Each such criterion (with its scope and window: its [`spec`]) gets a row of
//! `alert_matchers` and its own counts in `alert_matches`, per hour and group. Gives the
//! groups at or over a threshold from those counts ([`totals`]: at most one row per hour and
//! group, however many events a week holds).
//!
//! Every event is counted exactly once:
//! - the write path tests each new event against every matcher in the events' transaction
//!   ([`record`]; only the new batch is tested, with regexes compiled once per process);
//! - the events stored before a matcher existed (ids up to its `until_id`) are read once by
//!   a back-fill in chunks ([`backfill`], run by the evaluator), each chunk committed with
//!   the cursor `next_id`; the rule waits until it is done ([`ready`]);
//! - on PostgreSQL the id bound is exact: event writers hold a shared advisory lock from
//!   before their ids are drawn ([`writing`]) and a new matcher takes it exclusively, so no
//!   writer is in flight when `until_id` is read, and every later event has a greater id;
//! - a reclassification moves an event's count when the event is already counted
//!   ([`event`]), reading the cursors under a share lock the back-fill's chunks conflict with.
//!
//! It never evaluates a rule and never writes an event.

use super::counts::{Counted, HOUR, scope_of};
use super::window::CountTest;
use crate::config::alert::{Criterion, Per};
use crate::record::events::{Facts, NewEvent};
use crate::store::{AnyConnection, StoreError};
use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text, Timestamp};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

/// Advisory lock key of event writers (shared) against new matchers (exclusive).
const WRITERS: i64 = 0x7265626f_616c7274;

/// Events read per back-fill chunk (one transaction each).
const CHUNK: i64 = 20_000;

/// The spec of a criterion that needs a matcher (a count of a day or more with `text`).
pub fn spec(per: Per, c: &Criterion) -> Option<String> {
    match c {
        Criterion::Count { window_minutes, status, reason, rule, text: Some(text), .. } if super::window::stored(c) => {
            Some(
                serde_json::json!({
                    "scope": scope_of(per), "window_minutes": window_minutes, "status": status,
                    "reason": reason, "rule": rule, "text": text,
                })
                .to_string(),
            )
        }
        _ => None,
    }
}

/// A matcher's compiled spec.
struct Compiled {
    scope: String,
    window_minutes: i64,
    test: CountTest,
}

fn compile(spec: &str) -> Compiled {
    let v: serde_json::Value = serde_json::from_str(spec).unwrap_or_default();
    let s = |k: &str| v[k].as_str();
    Compiled {
        scope: s("scope").unwrap_or("all").to_string(),
        window_minutes: v["window_minutes"].as_i64().unwrap_or(0),
        // A spec without text (never written) would match everything: match nothing then.
        test: CountTest::new(s("status"), s("reason"), s("rule"), Some(s("text").unwrap_or("$^"))),
    }
}

/// Compiled specs by matcher id (a matcher's spec never changes), for the write path.
static COMPILED: Mutex<Option<HashMap<i64, Arc<Compiled>>>> = Mutex::new(None);

fn compiled(id: i64, spec: &str) -> Arc<Compiled> {
    let mut cache = COMPILED.lock().unwrap_or_else(|p| p.into_inner());
    cache.get_or_insert_with(HashMap::new).entry(id).or_insert_with(|| Arc::new(compile(spec))).clone()
}

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    spec: String,
    #[diesel(sql_type = BigInt)]
    until_id: i64,
    #[diesel(sql_type = BigInt)]
    next_id: i64,
}

/// Every matcher; on PostgreSQL with `share`, locked against a back-fill chunk until commit.
fn all(c: &mut AnyConnection, share: bool) -> Result<Vec<Row>, StoreError> {
    let lock = if share && matches!(c, AnyConnection::Postgresql(_)) { " FOR SHARE" } else { "" };
    Ok(diesel::sql_query(format!("SELECT id, spec, until_id, next_id FROM alert_matchers ORDER BY id{lock}"))
        .load(c)?)
}

/// Called by the write path before it inserts events (inside its transaction): on
/// PostgreSQL, the shared side of the lock a new matcher takes to read its id bound.
pub fn writing(c: &mut AnyConnection) -> Result<(), StoreError> {
    if let AnyConnection::Postgresql(pg) = c {
        diesel::sql_query(format!("SELECT pg_advisory_xact_lock_shared({WRITERS})")).execute(pg)?;
    }
    Ok(())
}

/// (matcher, hour, group) → events.
type Cells = BTreeMap<(i64, i64, String), i64>;

fn put(cells: &mut Cells, m: i64, hit: &Compiled, e: &Counted, diagnostic: Option<&str>, delta: i64) {
    if hit.test.hit(e.status, e.reason, e.rule_key, diagnostic) {
        let hour = e.occurred_at.and_utc().timestamp().div_euclid(HOUR);
        *cells.entry((m, hour, e.key(&hit.scope).to_string())).or_default() += delta;
    }
}

/// Counts the events just written against every matcher (the write path's hook; inside its
/// transaction, after [`writing`]). One read of the small matcher table when there is none.
pub fn record(c: &mut AnyConnection, rows: &[NewEvent]) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    let matchers = all(c, false)?;
    let mut cells = Cells::new();
    for m in &matchers {
        let hit = compiled(m.id, &m.spec);
        for r in rows {
            put(&mut cells, m.id, &hit, &Counted::from(r), r.diagnostic, 1);
        }
    }
    add(c, cells)
}

/// Adds `delta` for the stored event `id` (as `e` says it is now) under every matcher that
/// has counted it: a reclassification calls it with -1 before changing the event and with 1
/// after.
pub fn event(
    c: &mut AnyConnection,
    id: i64,
    e: &Counted,
    diagnostic: Option<&str>,
    delta: i64,
) -> Result<(), StoreError> {
    let mut cells = Cells::new();
    for m in all(c, true)? {
        // Written after the matcher, or already read by its back-fill.
        if id > m.until_id || id < m.next_id {
            put(&mut cells, m.id, &compiled(m.id, &m.spec), e, diagnostic, delta);
        }
    }
    add(c, cells)
}

fn add(c: &mut AnyConnection, mut cells: Cells) -> Result<(), StoreError> {
    cells.retain(|_, n| *n != 0);
    if cells.is_empty() {
        return Ok(());
    }
    // In key order: two transactions touching the same cells lock them in one order.
    match c {
        AnyConnection::Sqlite(lite) => {
            let rows: Vec<_> = cells.iter().map(|((m, h, k), n)| (m, h, k, n)).collect();
            let json = serde_json::to_string(&rows)
                .map_err(|e| StoreError::Task(format!("encoding the alert matches of a batch: {e}")))?;
            diesel::sql_query(
                "INSERT INTO alert_matches (matcher_id, hour, scope_key, n) \
                 SELECT value->>0, value->>1, value->>2, value->>3 FROM json_each(?1) WHERE true ORDER BY key \
                 ON CONFLICT (matcher_id, hour, scope_key) DO UPDATE SET n = n + excluded.n",
            )
            .bind::<Text, _>(&json)
            .execute(lite)?;
        }
        AnyConnection::Postgresql(pg) => {
            use diesel::sql_types::Array;
            diesel::sql_query(
                "INSERT INTO alert_matches (matcher_id, hour, scope_key, n) \
                 SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::bigint[]) \
                 ON CONFLICT (matcher_id, hour, scope_key) DO UPDATE SET n = alert_matches.n + excluded.n",
            )
            .bind::<Array<BigInt>, _>(cells.keys().map(|k| k.0).collect::<Vec<_>>())
            .bind::<Array<BigInt>, _>(cells.keys().map(|k| k.1).collect::<Vec<_>>())
            .bind::<Array<Text>, _>(cells.keys().map(|k| k.2.as_str()).collect::<Vec<_>>())
            .bind::<Array<BigInt>, _>(cells.values().copied().collect::<Vec<_>>())
            .execute(pg)?;
        }
    }
    Ok(())
}

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = diesel::sql_types::Nullable<BigInt>)]
    id: Option<i64>,
}

/// The matcher of `spec`, made when missing: its back-fill starts at the first event
/// ingested within its window and ends at the newest event stored now.
pub fn ensure(c: &mut AnyConnection, spec: &str, now: NaiveDateTime) -> Result<i64, StoreError> {
    let find = |c: &mut AnyConnection| -> Result<Option<i64>, StoreError> {
        Ok(diesel::sql_query("SELECT id FROM alert_matchers WHERE spec = $1")
            .bind::<Text, _>(spec)
            .get_result::<Id>(c)
            .optional()?
            .and_then(|r| r.id))
    };
    if let Some(id) = find(c)? {
        return Ok(id);
    }
    let window = compile(spec).window_minutes;
    crate::store::transaction(c, |c| {
        if let AnyConnection::Postgresql(pg) = c {
            diesel::sql_query(format!("SELECT pg_advisory_xact_lock({WRITERS})")).execute(pg)?;
        }
        let until = diesel::sql_query("SELECT MAX(id) AS id FROM events").get_result::<Id>(c)?.id.unwrap_or(0);
        // Events happen before they are ingested: none ingested before the window counts.
        // The smallest id, not the earliest ingested one: ids need not follow ingest times.
        let first = diesel::sql_query("SELECT MIN(id) AS id FROM events WHERE ingested_at >= $1")
            .bind::<Timestamp, _>(now - Duration::minutes(window))
            .get_result::<Id>(c)?
            .id
            .unwrap_or(until + 1);
        diesel::sql_query(
            "INSERT INTO alert_matchers (spec, until_id, next_id, used_at, created_at) VALUES ($1, $2, $3, $4, $4) \
             ON CONFLICT (spec) DO NOTHING",
        )
        .bind::<Text, _>(spec)
        .bind::<BigInt, _>(until)
        .bind::<BigInt, _>(first)
        .bind::<Timestamp, _>(now)
        .execute(c)?;
        Ok::<_, StoreError>(())
    })?;
    find(c)?.ok_or_else(|| StoreError::Task(format!("alert matcher {spec} vanished")))
}

/// Has matcher `id` read every event stored before it?
pub fn ready(c: &mut AnyConnection, id: i64) -> Result<bool, StoreError> {
    Ok(all(c, false)?.iter().any(|m| m.id == id && m.next_id > m.until_id))
}

/// Back-fills matcher `id` until done (a chunk per transaction, the cursor committed with
/// its counts, so a crash resumes where it stopped); gives the events read.
pub fn backfill(c: &mut AnyConnection, id: i64) -> Result<usize, StoreError> {
    let mut n = 0;
    loop {
        let (read, done) = crate::store::transaction(c, |c| {
            // The row lock first: a reclassification reading the cursor waits for this chunk.
            diesel::sql_query("UPDATE alert_matchers SET next_id = next_id WHERE id = $1")
                .bind::<BigInt, _>(id)
                .execute(c)?;
            let Some(m) = all(c, false)?.into_iter().find(|m| m.id == id) else { return Ok((0, true)) };
            if m.next_id > m.until_id {
                return Ok((0, true));
            }
            let hit = compiled(m.id, &m.spec);
            let mut batch = crate::record::events::facts_after(c, m.next_id - 1, epoch(), CHUNK)?;
            batch.retain(|e| e.id <= m.until_id);
            let next = if (batch.len() as i64) < CHUNK { m.until_id + 1 } else { batch.last().map_or(0, |e| e.id) + 1 };
            let mut cells = Cells::new();
            for e in &batch {
                put(&mut cells, m.id, &hit, &counted(e), e.diagnostic.as_deref(), 1);
            }
            add(c, cells)?;
            // SQLite numbers `$N` by first appearance: the binds follow the text's order.
            diesel::sql_query("UPDATE alert_matchers SET next_id = $1 WHERE id = $2")
                .bind::<BigInt, _>(next)
                .bind::<BigInt, _>(id)
                .execute(c)?;
            Ok::<_, StoreError>((batch.len(), next > m.until_id))
        })?;
        n += read;
        if done {
            return Ok(n);
        }
    }
}

fn counted(e: &Facts) -> Counted<'_> {
    Counted {
        kind: &e.kind,
        classification: &e.classification,
        status: e.status.as_deref(),
        reason: &e.reason,
        rule_key: e.rule_key.as_deref(),
        campaign_id: e.campaign_id.as_deref(),
        sending_domain: e.sending_domain.as_deref(),
        // `Counted` takes the recipient and keeps what follows its `@`: the domain alone does.
        recipient: e.recipient_domain.as_deref(),
        remote_mta: e.remote_mta.as_deref(),
        source: &e.source,
        occurred_at: e.occurred_at,
    }
}

/// The groups with at least `at_least` matches of matcher `id` from hour `from` on.
pub fn totals(c: &mut AnyConnection, id: i64, from: i64, at_least: u64) -> Result<Vec<(String, u64)>, StoreError> {
    #[derive(QueryableByName)]
    struct Total {
        #[diesel(sql_type = Text)]
        scope_key: String,
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let rows: Vec<Total> = diesel::sql_query(
        "SELECT scope_key, CAST(SUM(n) AS BIGINT) AS n FROM alert_matches WHERE matcher_id = $1 AND hour >= $2 \
         GROUP BY scope_key HAVING SUM(n) >= $3",
    )
    .bind::<BigInt, _>(id)
    .bind::<BigInt, _>(from)
    .bind::<BigInt, _>(i64::try_from(at_least).unwrap_or(i64::MAX))
    .load(c)?;
    Ok(rows.into_iter().map(|r| (r.scope_key, r.n.max(0) as u64)).collect())
}

/// Housekeeping, about hourly: marks the matchers `used` as in use, drops those no rule has
/// used for two days (every write pays for each matcher), and counts older than each
/// matcher's window.
pub fn tidy(c: &mut AnyConnection, used: &[i64], now: NaiveDateTime) -> Result<(), StoreError> {
    crate::store::transaction(c, |c| {
        for id in used {
            diesel::sql_query("UPDATE alert_matchers SET used_at = $1 WHERE id = $2")
                .bind::<Timestamp, _>(now)
                .bind::<BigInt, _>(id)
                .execute(c)?;
        }
        let stale = now - Duration::days(2);
        diesel::sql_query(
            "DELETE FROM alert_matches WHERE matcher_id IN (SELECT id FROM alert_matchers WHERE used_at < $1)",
        )
        .bind::<Timestamp, _>(stale)
        .execute(c)?;
        diesel::sql_query("DELETE FROM alert_matchers WHERE used_at < $1").bind::<Timestamp, _>(stale).execute(c)?;
        for m in all(c, false)? {
            let first = (now.and_utc().timestamp() - compile(&m.spec).window_minutes * 60).div_euclid(HOUR);
            diesel::sql_query("DELETE FROM alert_matches WHERE matcher_id = $1 AND hour < $2")
                .bind::<BigInt, _>(m.id)
                .bind::<BigInt, _>(first - 1)
                .execute(c)?;
        }
        Ok(())
    })
}

fn epoch() -> NaiveDateTime {
    chrono::DateTime::UNIX_EPOCH.naive_utc()
}
