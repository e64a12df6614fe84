//! Unreadable log lines into the review queue: each kept whole, with its file, line number,
//! byte offset and why it could not be read, never dropped.
//!
//! Takes the unreadable lines of a [`LogBatch`] inside its transaction; gives how many new
//! review items it made. A line is known by its source, file and offset, so reading the same
//! part of a file again adds no second item. It never reads a file.

use super::IngestError;
use super::log::LogBatch;
use crate::record::ledger;
use crate::store::AnyConnection;
use chrono::NaiveDateTime;

/// The ledger kind of a review item that is a log line, not a message.
pub const LOG_LINE: &str = "log_line";

pub(super) fn queue(c: &mut AnyConnection, batch: &LogBatch, now: NaiveDateTime) -> Result<usize, IngestError> {
    if batch.unreadable.is_empty() {
        return Ok(0);
    }
    let format = batch.checkpoint.format.as_str();
    struct Line {
        id: String,
        digest: String,
        reason: String,
        raw: Vec<u8>,
    }
    let lines: Vec<Line> = batch
        .unreadable
        .iter()
        .map(|u| {
            let id = format!("{}@{}", batch.file_key, u.position.offset);
            Line {
                digest: ledger::digest(format!("{}\n{id}\n{}", batch.source, u.text).as_bytes()),
                // Bounded: the line's own text is in the item's raw bytes.
                reason: super::bounded(
                    format!(
                        "unreadable {format} log line {} (byte {}) of {}: {}",
                        u.position.line, u.position.offset, batch.path, u.reason
                    ),
                    500,
                ),
                raw: u.text.as_bytes().to_vec(),
                id,
            }
        })
        .collect();
    let digests: Vec<&str> = lines.iter().map(|l| l.digest.as_str()).collect();
    let known = ledger::by_digests(c, &digests)?;
    let new: Vec<&Line> = lines.iter().filter(|l| !known.contains_key(&l.digest)).collect();
    let rows: Vec<ledger::NewMessage> = new
        .iter()
        .map(|l| ledger::NewMessage {
            digest: &l.digest,
            kind: LOG_LINE,
            dialect: format,
            state: ledger::MessageState::Review.as_str(),
            review_reason: Some(&l.reason),
            subject: None,
            from_addr: None,
            message_id: None,
            size: l.raw.len() as i64,
            raw: Some(&l.raw),
            records: 0,
            received_at: now,
            purge_after: None,
        })
        .collect();
    let ids = ledger::insert_many(c, &rows)?;
    let sightings: Vec<(&str, &str, i64)> =
        new.iter().zip(&ids).map(|(l, id)| (batch.source, l.id.as_str(), *id)).collect();
    ledger::add_sources(c, &sightings, now)?;
    crate::notify::emit(c, |wanted| {
        if !wanted.wants("review.added") {
            return Vec::new();
        }
        new.iter()
            .zip(&ids)
            .map(|(l, id)| {
                let data = crate::notify::event::ReviewData {
                    message_id: *id,
                    reason: l.reason.clone(),
                    kind: LOG_LINE.to_string(),
                    subject: None,
                    from: None,
                    source: batch.source.to_string(),
                };
                crate::notify::Outgoing::new("review.added", now, crate::notify::EventData::Review(data))
            })
            .collect()
    })?;
    Ok(new.len())
}
