//! The evidence of an event beyond the one that made it: a bounce seen both in an MTA's log
//! and in a mailbox is one event (the first to arrive), and each later sighting from the
//! other input is a row here — a message's record, or a log line.
//!
//! Takes the events a batch is about to write (their recipients, times and origins) and the
//! sightings `ingest` decided are the same event; gives the stored events a sighting may be
//! matched with, and an event's evidence for the views. Written inside the caller's
//! transaction. It never decides what is the same event (`ingest::same` does) and never
//! touches counters or suppression.

use crate::store::schema::{event_evidence, events};
use crate::store::{AnyConnection, StoreError};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use std::collections::HashSet;

/// A stored event a new sighting may be matched with.
#[derive(Debug, Clone, Queryable)]
pub struct Stored {
    pub id: i64,
    pub recipient: Option<String>,
    pub kind: String,
    pub status: Option<String>,
    pub campaign_id: Option<String>,
    pub origin: String,
    pub occurred_at: NaiveDateTime,
}

/// The events of `recipients` from any of `origins` that occurred within `[from, to]`, each
/// with the origins that corroborated it already (an event takes one sighting per input).
pub fn candidates(
    c: &mut AnyConnection,
    recipients: &[&str],
    origins: &[&str],
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> Result<Vec<(Stored, HashSet<String>)>, StoreError> {
    let mut found: Vec<Stored> = Vec::new();
    for chunk in recipients.chunks(super::ledger::CHUNK) {
        let rows: Vec<Stored> = events::table
            .filter(events::recipient.eq_any(chunk))
            .filter(events::occurred_at.ge(from))
            .filter(events::occurred_at.le(to))
            .filter(events::origin.eq_any(origins))
            .select((
                events::id,
                events::recipient,
                events::kind,
                events::status,
                events::campaign_id,
                events::origin,
                events::occurred_at,
            ))
            .load(c)?;
        found.extend(rows);
    }
    let ids: Vec<i64> = found.iter().map(|s| s.id).collect();
    let mut taken: std::collections::HashMap<i64, HashSet<String>> = Default::default();
    for chunk in ids.chunks(super::ledger::CHUNK) {
        let rows: Vec<(i64, String)> = event_evidence::table
            .filter(event_evidence::event_id.eq_any(chunk))
            .select((event_evidence::event_id, event_evidence::origin))
            .load(c)?;
        for (id, origin) in rows {
            taken.entry(id).or_default().insert(origin);
        }
    }
    Ok(found
        .into_iter()
        .map(|s| {
            let t = taken.remove(&s.id).unwrap_or_default();
            (s, t)
        })
        .collect())
}

/// One later sighting of an event.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = event_evidence)]
pub struct NewEvidence<'a> {
    pub event_id: i64,
    /// `mail` or `log`: the input this sighting came from.
    pub origin: &'a str,
    pub source: &'a str,
    /// The stored message of a mailed sighting, with the record's index in it.
    pub message_id: Option<i64>,
    pub idx: i32,
    /// The origin ref of a logged sighting.
    pub origin_ref: Option<&'a str>,
    pub status: Option<&'a str>,
    pub diagnostic: Option<&'a str>,
    pub occurred_at: NaiveDateTime,
    pub recorded_at: NaiveDateTime,
}

pub fn add(c: &mut AnyConnection, rows: &[NewEvidence]) -> Result<(), StoreError> {
    // 10 columns.
    crate::insert_rows!(c, event_evidence::table, rows, super::ledger::CHUNK / 2);
    Ok(())
}

/// The origin refs of `refs` kept as evidence of an event (log lines that corroborated a
/// mailed bounce): recorded, so reading them again records nothing.
pub fn recorded_refs(c: &mut AnyConnection, refs: &[&str]) -> Result<HashSet<String>, StoreError> {
    let mut out = HashSet::new();
    for chunk in refs.chunks(super::ledger::CHUNK) {
        let found: Vec<Option<String>> = event_evidence::table
            .filter(event_evidence::origin_ref.eq_any(chunk))
            .select(event_evidence::origin_ref)
            .load(c)?;
        out.extend(found.into_iter().flatten());
    }
    Ok(out)
}

/// Record indexes of a message kept as evidence of another event (reprocessing skips them).
pub fn indexes_of(c: &mut AnyConnection, message: i64) -> Result<Vec<i32>, StoreError> {
    Ok(event_evidence::table
        .filter(event_evidence::message_id.eq(Some(message)))
        .select(event_evidence::idx)
        .load(c)?)
}

/// A sighting as the views show it.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, serde::Serialize, utoipa::ToSchema)]
pub struct Evidence {
    pub event_id: i64,
    /// `mail` or `log`.
    pub origin: String,
    pub source: String,
    /// The stored message (`GET /api/v1/review/{id}/raw` while its bytes are kept).
    pub message_id: Option<i64>,
    pub status: Option<String>,
    pub diagnostic: Option<String>,
    #[schema(value_type = String)]
    pub occurred_at: NaiveDateTime,
    #[schema(value_type = String)]
    pub recorded_at: NaiveDateTime,
}

/// The further evidence of `events`, oldest first.
pub fn of_events(c: &mut AnyConnection, ids: &[i64]) -> Result<Vec<Evidence>, StoreError> {
    let mut out = Vec::new();
    for chunk in ids.chunks(super::ledger::CHUNK) {
        let rows: Vec<Evidence> = event_evidence::table
            .filter(event_evidence::event_id.eq_any(chunk))
            .order(event_evidence::id.asc())
            .select((
                event_evidence::event_id,
                event_evidence::origin,
                event_evidence::source,
                event_evidence::message_id,
                event_evidence::status,
                event_evidence::diagnostic,
                event_evidence::occurred_at,
                event_evidence::recorded_at,
            ))
            .load(c)?;
        out.extend(rows);
    }
    Ok(out)
}
