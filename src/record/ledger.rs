//! The message ledger: what has been ingested, from where, so nothing counts twice.
//!
//! A message is known by its content digest and by every source identity it was seen
//! under (mailbox + UIDVALIDITY:UID or UIDL, or a file path). Unique constraints on both
//! make two instances racing on one message fail one transaction instead of counting twice.

use crate::store::schema::{message_sources, messages};
use crate::store::{AnyConnection, StoreError};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};

/// Hex SHA-256 of the raw bytes.
pub fn digest(raw: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(64);
    for b in Sha256::digest(raw) {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 15)]));
    }
    out
}

/// Where a stored message stands: the one mapping of the `messages.state` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageState {
    /// Its records are written; nothing waits for a person.
    Processed,
    /// In the review queue (nothing could be made of it, or a record lacks a recipient…).
    Review,
    /// Taken out of the review queue by a person; its raw bytes stay until retention.
    Discarded,
}

impl MessageState {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageState::Processed => "processed",
            MessageState::Review => "review",
            MessageState::Discarded => "discarded",
        }
    }

    pub fn of(review: bool) -> MessageState {
        if review { MessageState::Review } else { MessageState::Processed }
    }
}

/// Rows per multi-row statement: well under PostgreSQL's 65,535 bind parameters.
pub const CHUNK: usize = 500;

/// Which of these source identities of `source` were committed already.
pub fn seen_ids(c: &mut AnyConnection, source: &str, ids: &[&str]) -> Result<HashSet<String>, StoreError> {
    let mut out = HashSet::new();
    for chunk in ids.chunks(CHUNK) {
        let found: Vec<String> = message_sources::table
            .filter(message_sources::source.eq(source))
            .filter(message_sources::source_id.eq_any(chunk))
            .select(message_sources::source_id)
            .load(c)?;
        out.extend(found);
    }
    Ok(out)
}

/// The messages already ingested with any of these digests.
pub fn by_digests(c: &mut AnyConnection, digests: &[&str]) -> Result<HashMap<String, i64>, StoreError> {
    let mut out = HashMap::new();
    for chunk in digests.chunks(CHUNK) {
        let found: Vec<(String, i64)> =
            messages::table.filter(messages::digest.eq_any(chunk)).select((messages::digest, messages::id)).load(c)?;
        out.extend(found);
    }
    Ok(out)
}

/// Records sightings: (source, source id, message).
pub fn add_sources(c: &mut AnyConnection, rows: &[(&str, &str, i64)], at: NaiveDateTime) -> Result<(), StoreError> {
    let values: Vec<_> = rows
        .iter()
        .map(|(s, id, m)| {
            (
                message_sources::source.eq(*s),
                message_sources::source_id.eq(*id),
                message_sources::message_id.eq(*m),
                message_sources::seen_at.eq(at),
            )
        })
        .collect();
    crate::insert_rows!(c, message_sources::table, values, CHUNK);
    Ok(())
}

/// A new ledger row.
#[derive(Debug, Insertable)]
#[diesel(table_name = messages)]
pub struct NewMessage<'a> {
    pub digest: &'a str,
    pub kind: &'a str,
    pub dialect: &'a str,
    pub state: &'a str,
    pub review_reason: Option<&'a str>,
    pub subject: Option<&'a str>,
    pub from_addr: Option<&'a str>,
    pub message_id: Option<&'a str>,
    pub size: i64,
    pub raw: Option<&'a [u8]>,
    pub records: i32,
    pub received_at: NaiveDateTime,
    pub purge_after: Option<NaiveDateTime>,
}

/// Inserts messages (distinct digests); returns their ids in the same order.
pub fn insert_many(c: &mut AnyConnection, rows: &[NewMessage]) -> Result<Vec<i64>, StoreError> {
    // 13 columns: a quarter of CHUNK rows per statement.
    Ok(crate::insert_rows_returning_ids!(
        c,
        messages::table,
        rows,
        CHUNK / 4,
        messages::digest => String,
        messages::id,
        |r: &NewMessage| r.digest.to_string()
    ))
}

/// Drops the raw bytes of processed (and discarded) messages past their retention; returns
/// how many. The review queue keeps its bytes: a person has yet to look at them.
pub fn purge_raw(c: &mut AnyConnection, now: NaiveDateTime) -> Result<usize, StoreError> {
    Ok(diesel::update(
        messages::table
            .filter(messages::state.ne(MessageState::Review.as_str()))
            .filter(messages::raw.is_not_null())
            .filter(messages::purge_after.le(now)),
    )
    .set((messages::raw.eq(None::<Vec<u8>>), messages::purge_after.eq(None::<NaiveDateTime>)))
    .execute(c)?)
}

/// How the review reason of a message too large to download ends.
pub const UNFETCHED: &str = "left in the mailbox";

/// Puts a message that was listed but not downloaded (too large) in the review queue,
/// once: it stays in the mailbox and is never marked done. Its header block, when the server
/// gave one, is kept as its raw bytes and fills subject, from and Message-ID.
pub fn record_unfetched(
    c: &mut AnyConnection,
    source: &str,
    source_id: &str,
    why: &str,
    headers: Option<&[u8]>,
) -> Result<(), StoreError> {
    let key = digest(format!("unfetched:{source}:{source_id}").as_bytes());
    if !by_digests(c, &[&key])?.is_empty() {
        return Ok(());
    }
    let reason = format!("{source} {source_id}: {why}; {UNFETCHED}");
    // PostgreSQL text cannot hold NUL characters.
    let no_nul = |s: Option<String>| s.map(|v| v.replace('\0', ""));
    let (subject, from, message_id) = headers.map(crate::parse::header_fields).unwrap_or_default();
    let (subject, from, message_id) = (no_nul(subject), no_nul(from), no_nul(message_id));
    insert_many(
        c,
        &[NewMessage {
            digest: &key,
            kind: "unknown",
            dialect: "none",
            state: MessageState::Review.as_str(),
            review_reason: Some(&reason),
            subject: subject.as_deref(),
            from_addr: from.as_deref(),
            message_id: message_id.as_deref(),
            size: headers.map_or(0, |h| h.len() as i64),
            raw: headers,
            records: 0,
            received_at: chrono::Utc::now().naive_utc(),
            purge_after: None,
        }],
    )?;
    Ok(())
}
