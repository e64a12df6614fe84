//! The bookkeeping of MTA log input: per-file checkpoints, the provenance of logged events,
//! and which log lines were recorded already.
//!
//! Takes rows from `ingest::log`; gives checkpoints back (to resume a file) and their list
//! (for `rebound log list` and the admin API). Checkpoints are written inside the caller's
//! transaction, with the events they account for. It never reads a log file nor decides
//! anything about a record.

use crate::store::schema::{event_provenance, events, log_checkpoints};
use crate::store::{AnyConnection, StoreError};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use std::collections::HashSet;

/// Where reading of one file of one source stopped.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Insertable, AsChangeset, serde::Serialize, utoipa::ToSchema)]
#[diesel(table_name = log_checkpoints)]
pub struct Checkpoint {
    pub source: String,
    /// The file's identity: `dev:inode` for a plain file, `sha256:…` of its first bytes for a
    /// compressed segment (a copy under another name is the same file).
    pub file_key: String,
    pub path: String,
    pub format: String,
    /// The next byte to read (of the decompressed stream for a compressed segment).
    pub read_offset: i64,
    pub line_no: i64,
    /// The join state of messages not finished yet (JSON of `logs::JoinState`).
    #[serde(skip)]
    pub join_state: String,
    /// Digest of the bytes just before `read_offset` (empty for pipes and compressed
    /// segments), to tell a file rewritten in place from one that grew.
    #[serde(skip)]
    pub tail: String,
    /// The file's length when it was last read.
    pub size: i64,
    pub records: i64,
    pub unreadable: i64,
    #[schema(value_type = String)]
    pub updated_at: NaiveDateTime,
}

impl Checkpoint {
    /// Bytes written to the file that are not read yet, as of the last read.
    pub fn lag_bytes(&self) -> i64 {
        (self.size - self.read_offset).max(0)
    }
}

/// The checkpoint of one file of one source, if it was read before.
pub fn get(c: &mut AnyConnection, source: &str, file_key: &str) -> Result<Option<Checkpoint>, StoreError> {
    Ok(log_checkpoints::table.find((source, file_key)).first(c).optional()?)
}

/// The join state of the file of `source` read last, other than `except`: what a file
/// rotated in after it starts from. Its format's own reader ignores a state of another format.
pub fn latest_join_state(c: &mut AnyConnection, source: &str, except: &str) -> Result<Option<String>, StoreError> {
    Ok(log_checkpoints::table
        .filter(log_checkpoints::source.eq(source))
        .filter(log_checkpoints::file_key.ne(except))
        .order((log_checkpoints::updated_at.desc(), log_checkpoints::file_key.desc()))
        .select(log_checkpoints::join_state)
        .first(c)
        .optional()?)
}

/// Every checkpoint, of one source or all, newest first.
pub fn list(c: &mut AnyConnection, source: Option<&str>) -> Result<Vec<Checkpoint>, StoreError> {
    let mut q = log_checkpoints::table.into_boxed();
    if let Some(s) = source {
        q = q.filter(log_checkpoints::source.eq(s.to_string()));
    }
    Ok(q.order((log_checkpoints::updated_at.desc(), log_checkpoints::file_key.asc())).load(c)?)
}

/// Writes a checkpoint, adding `records` and `unreadable` to what it counted before.
pub fn put(c: &mut AnyConnection, cp: &Checkpoint) -> Result<(), StoreError> {
    let updated = diesel::update(log_checkpoints::table.find((&cp.source, &cp.file_key)))
        .set((
            log_checkpoints::path.eq(&cp.path),
            log_checkpoints::read_offset.eq(cp.read_offset),
            log_checkpoints::line_no.eq(cp.line_no),
            log_checkpoints::join_state.eq(&cp.join_state),
            log_checkpoints::tail.eq(&cp.tail),
            log_checkpoints::size.eq(cp.size),
            log_checkpoints::records.eq(log_checkpoints::records + cp.records),
            log_checkpoints::unreadable.eq(log_checkpoints::unreadable + cp.unreadable),
            log_checkpoints::updated_at.eq(cp.updated_at),
        ))
        .execute(c)?;
    if updated == 0 {
        diesel::insert_into(log_checkpoints::table).values(cp).execute(c)?;
    }
    Ok(())
}

/// The origin refs of `refs` already recorded (a line read again under another name, from a
/// compressed copy, or by an import after serve read it).
pub fn recorded(c: &mut AnyConnection, refs: &[&str]) -> Result<HashSet<String>, StoreError> {
    let mut out = HashSet::new();
    for chunk in refs.chunks(super::ledger::CHUNK) {
        let found: Vec<Option<String>> =
            events::table.filter(events::origin_ref.eq_any(chunk)).select(events::origin_ref).load(c)?;
        out.extend(found.into_iter().flatten());
    }
    // A line kept as evidence of a mailed event is recorded too.
    out.extend(super::evidence::recorded_refs(c, refs)?);
    Ok(out)
}

/// Which of `events` have a provenance row.
pub fn with_provenance(c: &mut AnyConnection, ids: &[i64]) -> Result<HashSet<i64>, StoreError> {
    let mut out = HashSet::new();
    for chunk in ids.chunks(super::ledger::CHUNK) {
        let found: Vec<i64> = event_provenance::table
            .filter(event_provenance::event_id.eq_any(chunk))
            .select(event_provenance::event_id)
            .load(c)?;
        out.extend(found);
    }
    Ok(out)
}

/// What a logged event carries beyond the event's own columns.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = event_provenance)]
pub struct NewProvenance<'a> {
    pub event_id: i64,
    pub log_kind: &'a str,
    pub mta_category: Option<&'a str>,
    pub node: Option<&'a str>,
    pub vmta: Option<&'a str>,
    pub vmta_pool: Option<&'a str>,
    pub source_ip: Option<&'a str>,
    pub remote_host: Option<&'a str>,
    pub remote_ip: Option<&'a str>,
    pub queue_id: Option<&'a str>,
    pub job_id: Option<&'a str>,
    pub envelope_id: Option<&'a str>,
    pub message_id: Option<&'a str>,
    pub sender: Option<&'a str>,
    pub file_key: &'a str,
    pub line_no: i64,
    pub byte_offset: i64,
}

pub fn add_provenance(c: &mut AnyConnection, rows: &[NewProvenance]) -> Result<(), StoreError> {
    if let AnyConnection::Sqlite(lite) = c {
        return add_provenance_sqlite(lite, rows);
    }
    // 17 columns.
    crate::insert_rows!(c, event_provenance::table, rows, super::ledger::CHUNK / 2);
    Ok(())
}

/// SQLite: the batch in one statement (`jsonb_each`) instead of one per row.
fn add_provenance_sqlite(lite: &mut diesel::SqliteConnection, rows: &[NewProvenance]) -> Result<(), StoreError> {
    use crate::store::json_rows::{JsonRows, insert_sql};
    const COLUMNS: [&str; 17] = [
        "event_id",
        "log_kind",
        "mta_category",
        "node",
        "vmta",
        "vmta_pool",
        "source_ip",
        "remote_host",
        "remote_ip",
        "queue_id",
        "job_id",
        "envelope_id",
        "message_id",
        "sender",
        "file_key",
        "line_no",
        "byte_offset",
    ];
    if rows.is_empty() {
        return Ok(());
    }
    let mut json = JsonRows::with_capacity(rows.len() * 320);
    for r in rows {
        json.row()
            .int(Some(r.event_id))
            .text(Some(r.log_kind))
            .text(r.mta_category)
            .text(r.node)
            .text(r.vmta)
            .text(r.vmta_pool)
            .text(r.source_ip)
            .text(r.remote_host)
            .text(r.remote_ip)
            .text(r.queue_id)
            .text(r.job_id)
            .text(r.envelope_id)
            .text(r.message_id)
            .text(r.sender)
            .text(Some(r.file_key))
            .int(Some(r.line_no))
            .int(Some(r.byte_offset));
    }
    diesel::sql_query(insert_sql("event_provenance", &COLUMNS))
        .bind::<diesel::sql_types::Text, _>(json.finish())
        .execute(lite)?;
    Ok(())
}

/// The provenance of one event, as stored.
#[derive(Debug, Clone, Queryable, serde::Serialize, utoipa::ToSchema)]
pub struct Provenance {
    pub event_id: i64,
    pub log_kind: String,
    pub mta_category: Option<String>,
    pub node: Option<String>,
    pub vmta: Option<String>,
    pub vmta_pool: Option<String>,
    pub source_ip: Option<String>,
    pub remote_host: Option<String>,
    pub remote_ip: Option<String>,
    pub queue_id: Option<String>,
    pub job_id: Option<String>,
    pub envelope_id: Option<String>,
    pub message_id: Option<String>,
    pub sender: Option<String>,
    pub file_key: String,
    pub line_no: i64,
    pub byte_offset: i64,
}

pub fn provenance_of(c: &mut AnyConnection, event: i64) -> Result<Option<Provenance>, StoreError> {
    Ok(event_provenance::table.find(event).first(c).optional()?)
}
