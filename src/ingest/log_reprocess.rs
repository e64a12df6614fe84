//! A log line from the review queue read again: after a reader fix or a rule change, the
//! line kept whole is parsed by its format's own reader and written by the same path as
//! when it was first read ([`Pipeline::write_log`]: rules, attribution, suppression, its
//! provenance), inside the caller's transaction.
//!
//! Takes the review item's id, its raw line, its format (the item's dialect), where it was
//! seen (`source`, `FILE_KEY@OFFSET`) and its review reason (which names its line number);
//! gives what became of it. A line that still cannot be read stays in the queue with the new
//! reason; one that gives nothing to record (a line of no delivery) leaves it. What the line
//! did not say itself comes from the join state its file's checkpoint holds now (the PowerMTA
//! header; a Postfix queue id closed since gives no sender), and these are not known: the `[[mta_log]]` entry's `node` and
//! `campaign_from`; the year of a classic syslog timestamp is that of when it was queued.
//! It never touches a checkpoint.

use super::log::{LogBatch, LogStats, origin_ref};
use super::log_review::LOG_LINE;
use super::{IngestError, Pipeline};
use crate::classify::Engine;
use crate::logs::{Checkpoint, Format, JoinState, Options, Position, Reader};
use chrono::{Datelike, NaiveDateTime};
use std::collections::HashMap;

/// What reading a log line again gave.
#[derive(Debug)]
pub(super) enum Again {
    /// Written (or recorded before): the item leaves the queue.
    Read(LogStats),
    /// Still unreadable: the item's new review reason.
    Unreadable(String),
}

/// The review item's line as it was seen.
pub(super) struct Line<'a> {
    pub raw: &'a [u8],
    /// The item's dialect: the format the line was read as.
    pub format: &'a str,
    pub source: &'a str,
    /// `FILE_KEY@OFFSET`, as the item was queued.
    pub seen_as: &'a str,
    pub reason: Option<&'a str>,
    pub received_at: NaiveDateTime,
}

/// Whether a review item is a log line rather than a message.
pub(super) fn is_log_line(kind: &str) -> bool {
    kind == LOG_LINE
}

impl Pipeline {
    pub(super) fn reread_log_line(
        &self,
        c: &mut crate::store::AnyConnection,
        engine: &Engine,
        line: &Line,
        now: NaiveDateTime,
        hits: &mut HashMap<String, i64>,
    ) -> Result<Again, IngestError> {
        let format: Format =
            line.format.parse().map_err(|message| IngestError::Config { key: "review item dialect", message })?;
        let (file_key, offset) = match line.seen_as.rsplit_once('@') {
            Some((k, o)) => (k, o.parse::<u64>().unwrap_or(0)),
            None => (line.seen_as, 0),
        };
        let number = line_number(line.reason.unwrap_or(""));
        let options = Options { year: line.received_at.year(), ..Default::default() };
        let start = Position { offset, line: number.saturating_sub(1) };
        // The join state the file's checkpoint holds now: a PowerMTA file's header (a line
        // read alone has none), a Postfix queue id still open.
        let state: JoinState = crate::record::logged::get(c, line.source, file_key)?
            .and_then(|cp| serde_json::from_str(&cp.join_state).ok())
            .unwrap_or_default();
        let mut reader = Reader::resume(options, Checkpoint { format, offset: start.offset, line: start.line, state });
        let mut entries = Vec::new();
        let used = reader.feed(line.raw, &mut entries);
        reader.finish(&line.raw[used..], &mut entries);
        let mut records = Vec::new();
        for e in entries {
            match e {
                Ok(r) => records.push((r, origin_ref(format, trim(line.raw)))),
                Err(u) => {
                    let why = format!(
                        "unreadable {} log line {number} (byte {offset}) read again: {}",
                        format.as_str(),
                        u.reason
                    );
                    return Ok(Again::Unreadable(why));
                }
            }
        }
        let batch = LogBatch {
            source: line.source,
            file_key,
            path: "",
            size: 0,
            records,
            unreadable: Vec::new(),
            checkpoint: reader.checkpoint(),
            tail: String::new(),
        };
        let evidence: Vec<_> =
            batch.records.iter().map(|(r, _)| self.log_evidence(engine, format, r, &Default::default())).collect();
        Ok(Again::Read(self.write_log(c, &batch, &evidence, now, hits)?))
    }
}

/// The line's text as its origin ref was taken when first read (without its line end).
fn trim(raw: &[u8]) -> &[u8] {
    let raw = raw.strip_suffix(b"\n").unwrap_or(raw);
    raw.strip_suffix(b"\r").unwrap_or(raw)
}

/// The line number a review reason names (`unreadable powermta log line 6 (byte 812) of …`).
fn line_number(reason: &str) -> u64 {
    reason
        .split_once(" log line ")
        .and_then(|(_, rest)| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(1)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_line_number_comes_from_the_reason() {
        assert_eq!(super::line_number("unreadable powermta log line 6 (byte 812) of /x.csv: bad"), 6);
        assert_eq!(super::line_number("something else"), 1);
    }
}
