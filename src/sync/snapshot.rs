//! The snapshot a node agent starts from: the node's whole set as NDJSON, chunk by chunk.
//!
//! Takes the node and the head read before the first page; gives chunks of lines, each
//! read with a connection of its own (the caller takes one per chunk), so a million entries
//! stream in flat memory and a slow reader holds no connection. The format, one JSON value
//! per line:
//!
//! 1. `{"node": NAME, "seq": SEQ, "scopes": [...]}`: the change-log seq the set is current
//!    to (at least: an entry changed while streaming shows its newer state, and the change
//!    comes again after SEQ, where applying it is idempotent);
//! 2. `["address", "scope"]` per entry, in (address, scope) order;
//! 3. `{"end": true, "count": N, "checksum": HEX}`: the [`super::checksum`] of every entry
//!    sent. A body without this line was cut short and must not be applied.

use super::checksum::Checksum;
use super::{Node, set};
use crate::store::{AnyConnection, StoreError};
use crate::suppress::list;
use chrono::NaiveDateTime;

/// Entries per chunk.
pub const CHUNK: i64 = 10_000;

pub struct Snapshot {
    scopes: Option<Vec<String>>,
    now: NaiveDateTime,
    after: Option<(String, String)>,
    header: Option<Vec<u8>>,
    sum: Checksum,
    done: bool,
}

impl Snapshot {
    pub fn new(node: &Node, seq: i64, now: NaiveDateTime) -> Snapshot {
        let head = serde_json::json!({"node": node.config.name, "seq": seq, "scopes": node.config.scopes});
        let mut header = serde_json::to_vec(&head).unwrap_or_default();
        header.push(b'\n');
        Snapshot {
            scopes: set::scope_filter(&node.config),
            now,
            after: None,
            header: Some(header),
            sum: Checksum::default(),
            done: false,
        }
    }

    pub fn is_done(&self) -> bool {
        self.done
    }

    /// The next chunk of lines (the header with the first, the end line with the last);
    /// None once the end line was given.
    pub fn next_chunk(&mut self, c: &mut AnyConnection) -> Result<Option<Vec<u8>>, StoreError> {
        if self.done {
            return Ok(None);
        }
        let mut out = self.header.take().unwrap_or_default();
        let after = self.after.as_ref().map(|(a, s)| (a.as_str(), s.as_str()));
        let rows = list::in_force_keys(c, after, CHUNK, self.now, self.scopes.as_deref())?;
        out.reserve(rows.len() * 40);
        for (a, s) in &rows {
            self.sum.add(a, s);
            // An array of two strings cannot fail to encode.
            let _ = serde_json::to_writer(&mut out, &[a, s]);
            out.push(b'\n');
        }
        if (rows.len() as i64) < CHUNK {
            let end = serde_json::json!({"end": true, "count": self.sum.count(), "checksum": self.sum.hex()});
            let _ = serde_json::to_writer(&mut out, &end);
            out.push(b'\n');
            self.done = true;
        }
        self.after = rows.into_iter().last();
        Ok(Some(out))
    }
}
