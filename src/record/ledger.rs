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

/// Hex SHA-256 of the raw bytes.
pub fn digest(raw: &[u8]) -> String {
    Sha256::digest(raw).iter().map(|b| format!("{b:02x}")).collect()
}

/// Has this source identity been committed already?
pub fn seen(c: &mut AnyConnection, source: &str, source_id: &str) -> Result<bool, StoreError> {
    Ok(message_sources::table.find((source, source_id)).count().get_result::<i64>(c)? > 0)
}

/// The message with this digest, if ingested before.
pub fn by_digest(c: &mut AnyConnection, digest: &str) -> Result<Option<i64>, StoreError> {
    Ok(messages::table.filter(messages::digest.eq(digest)).select(messages::id).first(c).optional()?)
}

pub fn add_source(
    c: &mut AnyConnection,
    source: &str,
    source_id: &str,
    message: i64,
    at: NaiveDateTime,
) -> Result<(), StoreError> {
    diesel::insert_into(message_sources::table)
        .values((
            message_sources::source.eq(source),
            message_sources::source_id.eq(source_id),
            message_sources::message_id.eq(message),
            message_sources::seen_at.eq(at),
        ))
        .execute(c)?;
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

pub fn insert(c: &mut AnyConnection, m: &NewMessage) -> Result<i64, StoreError> {
    Ok(diesel::insert_into(messages::table).values(m).returning(messages::id).get_result(c)?)
}

/// Drops the raw bytes of processed messages past their retention; returns how many.
pub fn purge_raw(c: &mut AnyConnection, now: NaiveDateTime) -> Result<usize, StoreError> {
    Ok(diesel::update(
        messages::table
            .filter(messages::state.eq("processed"))
            .filter(messages::raw.is_not_null())
            .filter(messages::purge_after.le(now)),
    )
    .set((messages::raw.eq(None::<Vec<u8>>), messages::purge_after.eq(None::<NaiveDateTime>)))
    .execute(c)?)
}
