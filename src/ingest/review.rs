//! The review queue: messages nothing could be made of, bounces without a recipient, and
//! refused VERP signatures, kept with their raw bytes and the reason until a person (or a
//! better parser or rule) deals with them.

use super::write::Entry;
use super::{IngestError, Pipeline, Stats};
use crate::record::events;
use crate::record::ledger::MessageState;
use crate::store::schema::{message_sources, messages};
use crate::store::{AnyConnection, Cursor, Page, Paged};
use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use std::collections::HashMap;

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = messages)]
pub struct ReviewItem {
    pub id: i64,
    pub kind: String,
    pub dialect: String,
    #[diesel(column_name = review_reason)]
    pub reason: Option<String>,
    pub subject: Option<String>,
    #[diesel(column_name = from_addr)]
    pub from: Option<String>,
    pub size: i64,
    pub received_at: NaiveDateTime,
}

/// The queue, oldest first, in keyset pages (cursor: the last id).
pub fn list(c: &mut AnyConnection, page: &Page) -> Result<Paged<ReviewItem>, IngestError> {
    let after = page.after.as_ref().map(Cursor::to_id).transpose().map_err(IngestError::Cursor)?.unwrap_or(0);
    let rows = messages::table
        .filter(messages::state.eq(MessageState::Review.as_str()))
        .filter(messages::id.gt(after))
        .order(messages::id.asc())
        .select(ReviewItem::as_select())
        .limit(page.limit + 1)
        .load(c)?;
    Ok(Paged::of(rows, page, |r: &ReviewItem| Cursor::id(r.id)))
}

/// How many messages wait in the queue.
pub fn count(c: &mut AnyConnection) -> Result<i64, crate::store::StoreError> {
    Ok(messages::table.filter(messages::state.eq(MessageState::Review.as_str())).count().get_result(c)?)
}

/// A review item in full: the row, its raw bytes (unless purged) and where it was seen.
pub type Detail = (ReviewItem, Option<Vec<u8>>, Vec<String>);

/// One item with its raw bytes and where it was seen.
pub fn show(c: &mut AnyConnection, id: i64) -> Result<Option<Detail>, IngestError> {
    let item: Option<ReviewItem> = messages::table.find(id).select(ReviewItem::as_select()).first(c).optional()?;
    let Some(item) = item else { return Ok(None) };
    let raw: Option<Vec<u8>> = messages::table.find(id).select(messages::raw).first(c)?;
    let sources: Vec<(String, String)> = message_sources::table
        .filter(message_sources::message_id.eq(id))
        .select((message_sources::source, message_sources::source_id))
        .load(c)?;
    Ok(Some((item, raw, sources.into_iter().map(|(s, i)| format!("{s}:{i}")).collect())))
}

/// Runs a review item through today's parser and rules again. Records that already have
/// events are skipped, so nothing counts twice; when nothing is left to review the item
/// leaves the queue. Returns (still under review?, stats).
pub fn reprocess(c: &mut AnyConnection, pipeline: &Pipeline, id: i64) -> Result<(bool, Stats), IngestError> {
    let engine = pipeline.engine(c)?;
    let mut hits = HashMap::new();
    let done = crate::store::transaction(c, |c| -> Result<_, IngestError> {
        let row: Option<(String, Option<Vec<u8>>, Option<String>)> = messages::table
            .find(id)
            .select((messages::state, messages::raw, messages::review_reason))
            .first(c)
            .optional()?;
        let Some((state, Some(raw), reason)) = row else {
            return Err(IngestError::ReviewNotFound(id));
        };
        if state != MessageState::Review.as_str() {
            return Ok((false, Stats::default()));
        }
        // Only the headers of a message too large to download: parsing them would replace
        // that reason with a meaningless one. It stays until someone deals with the message.
        if reason.as_deref().is_some_and(|r| r.ends_with(super::ledger::UNFETCHED)) {
            return Ok((true, Stats::default()));
        }
        let p = pipeline.prepare(&engine, &raw);
        let now: NaiveDateTime = Utc::now().naive_utc();
        let done = events::indexes_of(c, id)?;
        let source: String = message_sources::table
            .filter(message_sources::message_id.eq(id))
            .select(message_sources::source)
            .first(c)
            .optional()?
            .unwrap_or_else(|| "review".into());
        let mut stats = Stats::default();
        let entry = Entry { message: id, source: &source, evidence: &p, skip: &done };
        pipeline.write_events(c, &[entry], now, &mut stats, &mut hits)?;
        let still = super::mail::review_reason(&p);
        diesel::update(messages::table.find(id))
            .set((
                messages::state.eq(MessageState::of(still.is_some()).as_str()),
                messages::review_reason.eq(still.as_deref()),
                messages::kind.eq(p.report.kind.as_str()),
                messages::dialect.eq(p.report.dialect),
                messages::records.eq(p.report.records.len() as i32),
                messages::purge_after.eq(still.is_none().then(|| pipeline.purge_after(now)).flatten()),
            ))
            .execute(c)?;
        Ok((still.is_some(), stats))
    })?;
    pipeline.count_hits(hits);
    pipeline.flush_hits(c);
    Ok(done)
}

/// Ids of every item in the queue.
pub fn all_ids(c: &mut AnyConnection) -> Result<Vec<i64>, IngestError> {
    Ok(messages::table
        .filter(messages::state.eq(MessageState::Review.as_str()))
        .order(messages::id.asc())
        .select(messages::id)
        .load(c)?)
}
