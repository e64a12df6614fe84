//! The suppression list and the audit trail, in the database; every add and remove appends
//! to the change log (`changes`) in the same transaction.

use super::changes::Op;
use crate::store::schema::{suppression_changes, suppressions};
use crate::store::{AnyConnection, StoreError};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

/// Why an address is suppressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    HardBounce,
    FblComplaint,
    SoftThreshold,
    Manual,
    Import,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::HardBounce => "hard_bounce",
            Source::FblComplaint => "fbl_complaint",
            Source::SoftThreshold => "soft_threshold",
            Source::Manual => "manual",
            Source::Import => "import",
        }
    }

    /// The classification of the recorded event that is this source's evidence (None: not
    /// one from a recorded event).
    pub fn evidence_class(self) -> Option<&'static str> {
        match self {
            Source::HardBounce => Some("hard"),
            Source::FblComplaint => Some("complaint"),
            Source::SoftThreshold => Some("soft"),
            Source::Manual | Source::Import => None,
        }
    }

    /// [`Source::evidence_class`] back.
    pub fn of_evidence(class: &str) -> Option<Source> {
        [Source::HardBounce, Source::FblComplaint, Source::SoftThreshold]
            .into_iter()
            .find(|v| v.evidence_class() == Some(class))
    }

    /// The column value back (None for a value no version of rebound writes).
    pub fn parse(s: &str) -> Option<Source> {
        [Source::HardBounce, Source::FblComplaint, Source::SoftThreshold, Source::Manual, Source::Import]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

pub const GLOBAL: &str = "global";

/// Rows or list items per statement: 500 × 8 columns stays far below the bind-parameter
/// limits (65,535 on PostgreSQL, 32,766 on SQLite), however many recipients a batch names.
pub const CHUNK: usize = 500;

/// One entry of the list.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable, Serialize, utoipa::ToSchema)]
#[diesel(table_name = suppressions)]
pub struct Suppression {
    pub address: String,
    pub scope: String,
    pub source: String,
    pub event_id: Option<i64>,
    pub reason: Option<String>,
    pub note: Option<String>,
    pub created_at: NaiveDateTime,
    pub expires_at: Option<NaiveDateTime>,
}

/// The address as every table keys it: trimmed, brackets removed, lower-cased.
pub fn normalize(address: &str) -> String {
    address.trim().trim_start_matches('<').trim_end_matches('>').trim().to_lowercase()
}

/// The entry for `address` in `scope`, if any (expired ones included).
pub fn get(c: &mut AnyConnection, address: &str, scope: &str) -> Result<Option<Suppression>, StoreError> {
    Ok(suppressions::table.find((address, scope)).select(Suppression::as_select()).first(c).optional()?)
}

/// Is `address` suppressed now in `scope` or globally?
pub fn is_suppressed(
    c: &mut AnyConnection,
    address: &str,
    scope: &str,
    now: NaiveDateTime,
) -> Result<bool, StoreError> {
    let scopes = [GLOBAL, scope];
    let n: i64 = suppressions::table
        .filter(suppressions::address.eq(address))
        .filter(suppressions::scope.eq_any(scopes))
        .filter(suppressions::expires_at.is_null().or(suppressions::expires_at.gt(now)))
        .count()
        .get_result(c)?;
    Ok(n > 0)
}

/// Adds (or renews an expired) suppression and logs the change (and its `suppression.added`
/// event, naming `who` made it); false when it already held.
pub fn add(c: &mut AnyConnection, entry: &Suppression, who: Option<&str>) -> Result<bool, StoreError> {
    if let Some(existing) = get(c, &entry.address, &entry.scope)? {
        if existing.expires_at.is_none_or(|t| t > entry.created_at) {
            return Ok(false);
        }
        diesel::delete(suppressions::table.find((&entry.address, &entry.scope))).execute(c)?;
    }
    diesel::insert_into(suppressions::table).values(entry).execute(c)?;
    log_change(c, &entry.address, &entry.scope, Op::Add, &entry.source, entry.created_at)?;
    crate::notify::emit(c, |_| vec![added(entry, who, entry.created_at)])?;
    Ok(true)
}

pub(crate) const ADDED: &str = "suppression.added";
const REMOVED: &str = "suppression.removed";

pub(super) fn added(e: &Suppression, who: Option<&str>, at: NaiveDateTime) -> crate::notify::Outgoing {
    let data = crate::notify::event::SuppressionData {
        address: e.address.clone(),
        scope: e.scope.clone(),
        source: e.source.clone(),
        event_id: e.event_id,
        reason: e.reason.clone(),
        note: e.note.clone(),
        who: who.map(str::to_string),
    };
    scoped(crate::notify::Outgoing::new(ADDED, at, crate::notify::EventData::Suppression(data)), &e.scope)
}

/// What rebuilds the `suppression.added` of `e`, made from a recorded event, at delivery.
fn by_record(e: &Suppression) -> Option<crate::notify::event::Recorded> {
    if e.note.is_some() {
        return None;
    }
    let class = Source::parse(&e.source)?.evidence_class()?;
    Some(crate::notify::event::Recorded {
        event_id: e.event_id?,
        classification: class.to_string(),
        rule_key: None,
        reason: e.reason.clone()?,
    })
}

/// A suppression event passes a `sending_domains` filter by its scope (a sending domain).
fn scoped(mut out: crate::notify::Outgoing, scope: &str) -> crate::notify::Outgoing {
    out.sending_domain = (scope != GLOBAL).then(|| scope.to_string());
    out
}

/// Inserts new suppressions (known not to exist) and their change-log entries, a few
/// hundred rows per statement on PostgreSQL.
pub fn insert_many(c: &mut AnyConnection, entries: &[Suppression]) -> Result<(), StoreError> {
    insert_many_as(c, entries, None, None)
}

/// [`insert_many`] of entries the policy made from just-recorded events: each one's
/// address is its event's recipient, `event_id` that event, `reason` its reason and its
/// source the one of the event's classification, so its `suppression.added` is rebuilt
/// from the events row at delivery instead of being stored (`notify::rebuild`); it joins
/// `bundle`, the caller's other hot events.
pub fn insert_many_recorded(
    c: &mut AnyConnection,
    entries: &[Suppression],
    bundle: &mut crate::notify::bundle::Bundle,
) -> Result<(), StoreError> {
    insert_many_as(c, entries, None, Some(bundle))
}

/// [`insert_many`] with the change log dated `logged_at` instead of each entry's
/// `created_at` (an imported entry keeps its original date, but its change happens now:
/// retention must not compact it away as old).
pub fn insert_many_logged(
    c: &mut AnyConnection,
    entries: &[Suppression],
    logged_at: Option<NaiveDateTime>,
) -> Result<(), StoreError> {
    insert_many_as(c, entries, logged_at, None)
}

fn insert_many_as(
    c: &mut AnyConnection,
    entries: &[Suppression],
    logged_at: Option<NaiveDateTime>,
    recorded: Option<&mut crate::notify::bundle::Bundle>,
) -> Result<(), StoreError> {
    if entries.is_empty() {
        return Ok(());
    }
    super::changes::hold_order(c)?;
    let at = |e: &Suppression| logged_at.unwrap_or(e.created_at);
    match recorded {
        // Those made from a recorded event are rebuilt from it at delivery: they join the
        // caller's bundle; any other carries its JSON.
        Some(bundle) if bundle.wants(ADDED) => {
            let mut full = Vec::new();
            for e in entries {
                match by_record(e) {
                    Some(record) => bundle.extend([crate::notify::bundle::Hot {
                        kind: ADDED,
                        at: at(e),
                        campaign_id: None,
                        sending_domain: (e.scope != GLOBAL).then(|| e.scope.clone()),
                        record,
                    }]),
                    None => full.push(added(e, None, at(e))),
                }
            }
            crate::notify::outbox::enqueue(c, &full)?;
        }
        Some(_) => {}
        None => {
            if crate::notify::Wanted::load(c)?.wants(ADDED) {
                crate::notify::outbox::enqueue(c, &entries.iter().map(|e| added(e, None, at(e))).collect::<Vec<_>>())?;
            }
        }
    }
    match c {
        AnyConnection::Postgresql(pg) => insert_many_pg(pg, entries, logged_at),
        AnyConnection::Sqlite(lite) => insert_many_sqlite(lite, entries, logged_at),
    }
}

/// SQLite: multi-row `VALUES` of bound parameters, [`SQLITE_ROWS`] rows per statement. Row
/// by row through diesel cost more than SQLite's own insert work (13.7 s for a million
/// imported entries); one statement over a JSON array (`json_each`) cost less (12.4 s), but
/// SQLite turns each row's array back into text and re-reads it for every column, and the
/// batch's whole JSON text is held besides. Measured on 2026-12-02 (1M rows, idle): the same
/// speed (73,000–75,600 rows/s against 75,800), a third less memory (+63 MiB against +100).
fn insert_many_sqlite(
    lite: &mut diesel::SqliteConnection,
    entries: &[Suppression],
    logged_at: Option<NaiveDateTime>,
) -> Result<(), StoreError> {
    use diesel::sql_types::{BigInt, Nullable, Text};
    let stamp = crate::store::sqlite_time::Stamp::new();
    for chunk in entries.chunks(SQLITE_ROWS) {
        let head = "INSERT INTO suppressions (address, scope, source, event_id, reason, note, created_at, expires_at)";
        insert_rows(lite, head, "(?, ?, ?, ?, ?, ?, ?, ?)", chunk, |q, e| {
            q.bind::<Text, _>(&e.address)
                .bind::<Text, _>(&e.scope)
                .bind::<Text, _>(&e.source)
                .bind::<Nullable<BigInt>, _>(e.event_id)
                .bind::<Nullable<Text>, _>(&e.reason)
                .bind::<Nullable<Text>, _>(&e.note)
                .bind::<Text, _>(stamp.format(e.created_at))
                .bind::<Nullable<Text>, _>(e.expires_at.map(|t| stamp.format(t)))
        })?;
        let head = "INSERT INTO suppression_changes (address, scope, op, source, at)";
        insert_rows(lite, head, "(?, ?, 'add', ?, ?)", chunk, |q, e| {
            q.bind::<Text, _>(&e.address)
                .bind::<Text, _>(&e.scope)
                .bind::<Text, _>(&e.source)
                .bind::<Text, _>(stamp.format(logged_at.unwrap_or(e.created_at)))
        })?;
    }
    Ok(())
}

type SqliteInsert<'a> =
    diesel::query_builder::BoxedSqlQuery<'a, diesel::sqlite::Sqlite, diesel::query_builder::SqlQuery>;

/// `head VALUES row, row, …`: one `row` of placeholders per entry of `chunk`, bound by `bind`.
fn insert_rows<'a>(
    lite: &mut diesel::SqliteConnection,
    head: &str,
    row: &str,
    chunk: &'a [Suppression],
    bind: impl Fn(SqliteInsert<'a>, &'a Suppression) -> SqliteInsert<'a>,
) -> Result<(), StoreError> {
    let mut sql = String::with_capacity(head.len() + 8 + chunk.len() * (row.len() + 2));
    sql.push_str(head);
    sql.push_str(" VALUES ");
    for i in 0..chunk.len() {
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push_str(row);
    }
    let q = chunk.iter().fold(diesel::sql_query(sql).into_boxed::<diesel::sqlite::Sqlite>(), bind);
    q.execute(lite)?;
    Ok(())
}

/// Rows per SQLite insert: 8,000 bound values, well under SQLite's limit of 32,766.
const SQLITE_ROWS: usize = 1_000;

/// PostgreSQL: each table's rows in one statement of column arrays (`unnest`), whatever
/// their number: a handful of bind parameters however many rows (the multi-row VALUES form
/// is parsed and planned afresh for every chunk of a few hundred, which made bulk imports
/// several times slower). `WITH ORDINALITY` keeps the change log in the entries' order.
fn insert_many_pg(
    pg: &mut diesel::PgConnection,
    entries: &[Suppression],
    logged_at: Option<NaiveDateTime>,
) -> Result<(), StoreError> {
    use diesel::sql_types::{Array, BigInt, Nullable, Text, Timestamp};
    let col = |f: fn(&Suppression) -> String| entries.iter().map(f).collect::<Vec<String>>();
    let opt = |f: fn(&Suppression) -> Option<String>| entries.iter().map(f).collect::<Vec<Option<String>>>();
    let (addresses, scopes, sources) =
        (col(|e| e.address.clone()), col(|e| e.scope.clone()), col(|e| e.source.clone()));
    let created: Vec<NaiveDateTime> = entries.iter().map(|e| e.created_at).collect();
    let logged: Vec<NaiveDateTime> = entries.iter().map(|e| logged_at.unwrap_or(e.created_at)).collect();
    diesel::sql_query(
        "INSERT INTO suppressions (address, scope, source, event_id, reason, note, created_at, expires_at) \
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[], \
         $7::timestamp[], $8::timestamp[])",
    )
    .bind::<Array<Text>, _>(&addresses)
    .bind::<Array<Text>, _>(&scopes)
    .bind::<Array<Text>, _>(&sources)
    .bind::<Array<Nullable<BigInt>>, _>(entries.iter().map(|e| e.event_id).collect::<Vec<_>>())
    .bind::<Array<Nullable<Text>>, _>(opt(|e| e.reason.clone()))
    .bind::<Array<Nullable<Text>>, _>(opt(|e| e.note.clone()))
    .bind::<Array<Timestamp>, _>(&created)
    .bind::<Array<Nullable<Timestamp>>, _>(entries.iter().map(|e| e.expires_at).collect::<Vec<_>>())
    .execute(pg)?;
    diesel::sql_query(
        "INSERT INTO suppression_changes (address, scope, op, source, at) \
         SELECT a, s, 'add', src, t FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamp[]) \
         WITH ORDINALITY AS r(a, s, src, t, n) ORDER BY n",
    )
    .bind::<Array<Text>, _>(&addresses)
    .bind::<Array<Text>, _>(&scopes)
    .bind::<Array<Text>, _>(&sources)
    .bind::<Array<Timestamp>, _>(&logged)
    .execute(pg)?;
    Ok(())
}

/// Removes a suppression and logs the change (and its `suppression.removed` event, naming
/// `who` made it); false when there was none.
pub fn remove(
    c: &mut AnyConnection,
    address: &str,
    scope: &str,
    source: &str,
    at: NaiveDateTime,
    who: Option<&str>,
) -> Result<bool, StoreError> {
    let Some(gone) = get(c, address, scope)? else { return Ok(false) };
    diesel::delete(suppressions::table.find((address, scope))).execute(c)?;
    log_change(c, address, scope, Op::Remove, source, at)?;
    crate::notify::emit(c, |_| {
        let data = crate::notify::event::SuppressionData {
            address: gone.address.clone(),
            scope: gone.scope.clone(),
            source: source.to_string(),
            event_id: gone.event_id,
            reason: gone.reason.clone(),
            note: gone.note.clone(),
            who: who.map(str::to_string),
        };
        vec![scoped(crate::notify::Outgoing::new(REMOVED, at, crate::notify::EventData::Suppression(data)), scope)]
    })?;
    Ok(true)
}

fn log_change(
    c: &mut AnyConnection,
    address: &str,
    scope: &str,
    op: Op,
    source: &str,
    at: NaiveDateTime,
) -> Result<(), StoreError> {
    super::changes::hold_order(c)?;
    diesel::insert_into(suppression_changes::table)
        .values((
            suppression_changes::address.eq(address),
            suppression_changes::scope.eq(scope),
            suppression_changes::op.eq(op.as_str()),
            suppression_changes::source.eq(source),
            suppression_changes::at.eq(at),
        ))
        .execute(c)?;
    Ok(())
}

/// The audit-log target of an entry: `suppression:ADDRESS/SCOPE`.
pub fn target(address: &str, scope: &str) -> String {
    format!("suppression:{address}/{scope}")
}

/// Appends `action` on the entry `address`/`scope` to the audit log, with the entry as it
/// was and as it is (None: absent), in the caller's transaction.
pub fn audit(
    c: &mut AnyConnection,
    actor: &str,
    action: &str,
    note: Option<&str>,
    before: Option<&Suppression>,
    after: Option<&Suppression>,
    at: NaiveDateTime,
) -> Result<(), StoreError> {
    let entry = before.or(after).map(|e| target(&e.address, &e.scope)).unwrap_or_default();
    let state = |e: Option<&Suppression>| e.and_then(|e| serde_json::to_value(e).ok());
    crate::audit::record(
        c,
        actor,
        crate::audit::Change { action, target: &entry, note, before: state(before), after: state(after) },
        at,
    )
}

/// Removes every entry whose `expires_at` has passed, each with a `remove` change (source
/// `expiry`) so the sending nodes drop it too; returns how many.
pub fn expire(c: &mut AnyConnection, now: NaiveDateTime) -> Result<usize, StoreError> {
    crate::store::transaction(c, |c| {
        let lapsed: Vec<(String, String)> = suppressions::table
            .filter(suppressions::expires_at.le(now))
            .select((suppressions::address, suppressions::scope))
            .load(c)?;
        for (address, scope) in &lapsed {
            remove(c, address, scope, EXPIRY, now, None)?;
        }
        Ok(lapsed.len())
    })
}

/// The change-log source of entries removed because they lapsed.
pub const EXPIRY: &str = "expiry";

/// The entries in force at `now` after the key `after` (address, scope), in key order: the
/// keyset pages an export or a node snapshot streams, never listing a lapsed entry.
pub fn in_force(
    c: &mut AnyConnection,
    after: Option<(&str, &str)>,
    limit: i64,
    now: NaiveDateTime,
) -> Result<Vec<Suppression>, StoreError> {
    let mut q = suppressions::table
        .select(Suppression::as_select())
        .filter(suppressions::expires_at.is_null().or(suppressions::expires_at.gt(now)))
        .into_boxed();
    if let Some((a, s)) = after {
        // `address >= a` first: a bound both backends seek to, so every page starts where
        // the last one stopped instead of scanning from the top.
        q = q
            .filter(suppressions::address.ge(a))
            .filter(suppressions::address.gt(a).or(suppressions::address.eq(a).and(suppressions::scope.gt(s))));
    }
    Ok(q.order((suppressions::address.asc(), suppressions::scope.asc())).limit(limit).load(c)?)
}

/// The keys (address, scope) in force at `now` after the key `after`, in key order, of the
/// `scopes` given (None: every scope): the keyset pages a node's set is read in, two columns
/// only, so a million entries stream without loading whole rows.
pub fn in_force_keys(
    c: &mut AnyConnection,
    after: Option<(&str, &str)>,
    limit: i64,
    now: NaiveDateTime,
    scopes: Option<&[String]>,
) -> Result<Vec<(String, String)>, StoreError> {
    let mut q = suppressions::table
        .select((suppressions::address, suppressions::scope))
        .filter(suppressions::expires_at.is_null().or(suppressions::expires_at.gt(now)))
        .into_boxed();
    if let Some(scopes) = scopes {
        q = q.filter(suppressions::scope.eq_any(scopes));
    }
    if let Some((a, s)) = after {
        // A row value, not `address > a OR (address = a AND scope > s)`: SQLite turns that OR
        // into two scans and a sort of everything after the cursor on every page (about 5 s
        // for a million keys), while the row value is one range scan of the primary key on
        // both backends.
        use diesel::sql_types::{Bool, Text};
        q = q.filter(
            diesel::dsl::sql::<Bool>("(address, scope) > (")
                .bind::<Text, _>(a.to_string())
                .sql(", ")
                .bind::<Text, _>(s.to_string())
                .sql(")"),
        );
    }
    Ok(q.order((suppressions::address.asc(), suppressions::scope.asc())).limit(limit).load(c)?)
}
