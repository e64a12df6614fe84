//! The review queue: messages nothing could be made of, bounces without a recipient, and
//! refused VERP signatures, kept with their raw bytes and the reason until a person (or a
//! better parser or rule) deals with them.
//!
//! Takes a message id and, for the changes (reprocess, discard), the actor; gives the queue in
//! keyset pages, one item with where it was seen, its raw bytes, and what a change did. Every
//! change is audited in its own transaction. A discarded message leaves the queue but keeps
//! its raw bytes until the retention purge (`retention.raw_message_days`).

use super::write::Entry;
use super::{IngestError, Pipeline, Stats, log_reprocess};
use crate::audit::{self, Actor};
use crate::record::events;
use crate::record::ledger::MessageState;
use crate::store::schema::{message_sources, messages};
use crate::store::{AnyConnection, Cursor, Page, Paged};
use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use std::collections::HashMap;

#[derive(Debug, Clone, Queryable, Selectable, Serialize, utoipa::ToSchema)]
#[diesel(table_name = messages)]
pub struct ReviewItem {
    pub id: i64,
    /// `review` while in the queue; `processed` or `discarded` once it left.
    pub state: String,
    /// What the parser made of it: `bounce`, `complaint`, `unknown`, …
    pub kind: String,
    pub dialect: String,
    /// Why it is (or was) in the queue.
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

/// What reprocessing one item did.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Reprocessed {
    pub id: i64,
    /// `review` (still in the queue) or `processed` (it left).
    pub state: String,
    /// Why it is still in the queue (null once it left).
    pub reason: Option<String>,
    /// Records written now (those written before are never written again).
    pub events: usize,
    /// Addresses suppressed by those records.
    pub suppressed: usize,
}

/// Runs a review item through today's parser and rules again. Records that already have
/// events are skipped, so nothing counts twice; when nothing is left to review the item
/// leaves the queue. Audited as `review.reprocess`.
pub fn reprocess(
    c: &mut AnyConnection,
    pipeline: &Pipeline,
    actor: &Actor,
    id: i64,
) -> Result<Reprocessed, IngestError> {
    let engine = pipeline.engine(c)?;
    let mut hits = HashMap::new();
    let done = crate::store::transaction(c, |c| -> Result<_, IngestError> {
        type Row = (String, Option<Vec<u8>>, Option<String>, String, String, NaiveDateTime);
        let row: Option<Row> = messages::table
            .find(id)
            .select((
                messages::state,
                messages::raw,
                messages::review_reason,
                messages::kind,
                messages::dialect,
                messages::received_at,
            ))
            .first(c)
            .optional()?;
        let Some((state, raw, reason, kind, dialect, received_at)) = row else {
            return Err(IngestError::ReviewNotFound(id));
        };
        if state != MessageState::Review.as_str() {
            return Err(IngestError::NotInReview { id, state });
        }
        let Some(raw) = raw else { return Err(IngestError::ReviewNotFound(id)) };
        let unchanged = Reprocessed { id, state, reason: reason.clone(), ..Reprocessed::default() };
        // Only the headers of a message too large to download: parsing them would replace
        // that reason with a meaningless one. It stays until someone deals with the message.
        if reason.as_deref().is_some_and(|r| r.ends_with(super::ledger::UNFETCHED)) {
            return Ok(unchanged);
        }
        let now: NaiveDateTime = Utc::now().naive_utc();
        if log_reprocess::is_log_line(&kind) {
            let out = reread(c, pipeline, &engine, id, &raw, &dialect, reason.as_deref(), received_at, &mut hits)?;
            audit_reprocess(c, actor, id, reason, &out, now)?;
            return Ok(out);
        }
        let p = pipeline.prepare(&engine, &raw);
        let mut done = events::indexes_of(c, id)?;
        // Records kept as evidence of another input's event are done too.
        done.extend(crate::record::evidence::indexes_of(c, id)?);
        let source: String = message_sources::table
            .filter(message_sources::message_id.eq(id))
            .select(message_sources::source)
            .first(c)
            .optional()?
            .unwrap_or_else(|| "review".into());
        let mut stats = Stats::default();
        let entry = Entry::mail(id, &source, &p, &done);
        pipeline.write_events(c, &[entry], now, &mut stats, &mut hits)?;
        let still = super::mail::review_reason(&p);
        let state = MessageState::of(still.is_some()).as_str();
        diesel::update(messages::table.find(id))
            .set((
                messages::state.eq(state),
                messages::review_reason.eq(still.as_deref()),
                messages::kind.eq(p.report.kind.as_str()),
                messages::dialect.eq(p.report.dialect),
                messages::records.eq(p.report.records.len() as i32),
                messages::purge_after.eq(still.is_none().then(|| pipeline.purge_after(now)).flatten()),
            ))
            .execute(c)?;
        let out =
            Reprocessed { id, state: state.into(), reason: still, events: stats.events, suppressed: stats.suppressed };
        audit_reprocess(c, actor, id, reason, &out, now)?;
        Ok(out)
    })?;
    pipeline.count_hits(hits);
    pipeline.flush_hits(c);
    Ok(done)
}

fn audit_reprocess(
    c: &mut AnyConnection,
    actor: &Actor,
    id: i64,
    reason: Option<String>,
    out: &Reprocessed,
    now: NaiveDateTime,
) -> Result<(), IngestError> {
    let target = format!("review:{id}");
    let change = audit::Change {
        action: "review.reprocess",
        target: &target,
        note: None,
        before: Some(serde_json::json!({ "state": MessageState::Review.as_str(), "reason": reason })),
        after: Some(serde_json::json!(out)),
    };
    audit::record(c, actor.as_str(), change, now)?;
    Ok(())
}

/// A log line in the queue read again by its format's reader ([`log_reprocess`]).
#[allow(clippy::too_many_arguments)]
fn reread(
    c: &mut AnyConnection,
    pipeline: &Pipeline,
    engine: &crate::classify::Engine,
    id: i64,
    raw: &[u8],
    dialect: &str,
    reason: Option<&str>,
    received_at: NaiveDateTime,
    hits: &mut HashMap<String, i64>,
) -> Result<Reprocessed, IngestError> {
    let now = Utc::now().naive_utc();
    let (source, seen_as): (String, String) = message_sources::table
        .filter(message_sources::message_id.eq(id))
        .select((message_sources::source, message_sources::source_id))
        .first(c)
        .optional()?
        .unwrap_or_else(|| ("review".into(), String::new()));
    let line = log_reprocess::Line { raw, format: dialect, source: &source, seen_as: &seen_as, reason, received_at };
    let (state, still, events, suppressed) = match pipeline.reread_log_line(c, engine, &line, now, hits)? {
        log_reprocess::Again::Read(s) => (MessageState::of(false), None, s.records, s.suppressed),
        log_reprocess::Again::Unreadable(why) => (MessageState::Review, Some(super::bounded(why, 500)), 0, 0),
    };
    diesel::update(messages::table.find(id))
        .set((
            messages::state.eq(state.as_str()),
            messages::review_reason.eq(still.as_deref()),
            messages::purge_after.eq(still.is_none().then(|| pipeline.purge_after(now)).flatten()),
        ))
        .execute(c)?;
    Ok(Reprocessed { id, state: state.as_str().into(), reason: still, events, suppressed })
}

/// Takes an item out of the queue without processing it (spam, a message nobody needs);
/// its raw bytes stay until the retention purge. Audited as `review.discard`.
pub fn discard(
    c: &mut AnyConnection,
    pipeline: &Pipeline,
    actor: &Actor,
    id: i64,
    note: Option<&str>,
    now: NaiveDateTime,
) -> Result<ReviewItem, IngestError> {
    crate::store::transaction(c, |c| {
        let item: Option<ReviewItem> = messages::table.find(id).select(ReviewItem::as_select()).first(c).optional()?;
        let Some(item) = item else { return Err(IngestError::ReviewNotFound(id)) };
        if item.state != MessageState::Review.as_str() {
            return Err(IngestError::NotInReview { id, state: item.state });
        }
        // Retention 0 keeps no raw bytes of handled mail: the next purge drops them.
        let purge = pipeline.purge_after(now).unwrap_or(now);
        diesel::update(messages::table.find(id))
            .set((messages::state.eq(MessageState::Discarded.as_str()), messages::purge_after.eq(Some(purge))))
            .execute(c)?;
        let target = format!("review:{id}");
        let after = ReviewItem { state: MessageState::Discarded.as_str().into(), ..item.clone() };
        let change = audit::Change {
            action: "review.discard",
            target: &target,
            note,
            before: Some(serde_json::json!(item)),
            after: Some(serde_json::json!(after)),
        };
        audit::record(c, actor.as_str(), change, now)?;
        Ok(after)
    })
}

/// The raw bytes of a stored message: None when there is no such message, Some(None) when
/// the retention purge dropped them.
pub fn raw(c: &mut AnyConnection, id: i64) -> Result<Option<Option<Vec<u8>>>, IngestError> {
    Ok(messages::table.find(id).select(messages::raw).first(c).optional()?)
}

/// Ids of every item in the queue.
pub fn all_ids(c: &mut AnyConnection) -> Result<Vec<i64>, IngestError> {
    Ok(messages::table
        .filter(messages::state.eq(MessageState::Review.as_str()))
        .order(messages::id.asc())
        .select(messages::id)
        .load(c)?)
}
