//! The whole suppression list for the sending nodes or a spreadsheet: plain, CSV or JSON,
//! written page by page.
//!
//! Takes a connection per page (an [`Export`] remembers where it stopped, so a slow reader
//! holds no connection between pages) and the entries in force at one instant; gives the
//! bytes of each page in the chosen format, the header before the first and the closing
//! after the last. Memory holds one page, however long the list. The CLI writes the pages
//! to stdout, the admin API streams them as a chunked body. It never writes the database.

use super::list::{self, Suppression};
use crate::store::{AnyConnection, StoreError};
use chrono::NaiveDateTime;
use serde::Deserialize;

/// Entries per page: a few MB of text at most.
pub const PAGE: i64 = 10_000;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// One address per line (an address suppressed in several scopes appears once per scope).
    #[default]
    Plain,
    /// `address,scope,source,reason,event_id,note,created,expires` with a header line.
    Csv,
    /// One JSON array of entries.
    Json,
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Plain => "text/plain; charset=utf-8",
            Format::Csv => "text/csv; charset=utf-8",
            Format::Json => "application/json",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::Plain => "txt",
            Format::Csv => "csv",
            Format::Json => "json",
        }
    }
}

/// The columns of a CSV export (and of `suppression list`).
pub const HEADERS: &[&str] = &["address", "scope", "source", "reason", "event_id", "note", "created", "expires"];

/// Times as operators read them: UTC, to the second.
fn time(t: &NaiveDateTime) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// One entry as the CSV columns of [`HEADERS`].
pub fn cells(r: &Suppression) -> Vec<String> {
    vec![
        r.address.clone(),
        r.scope.clone(),
        r.source.clone(),
        r.reason.clone().unwrap_or_default(),
        r.event_id.map(|e| e.to_string()).unwrap_or_default(),
        r.note.clone().unwrap_or_default(),
        time(&r.created_at),
        r.expires_at.as_ref().map(time).unwrap_or_default(),
    ]
}

/// An export under way: where it stopped, and what it wrote so far.
#[derive(Debug)]
pub struct Export {
    format: Format,
    now: NaiveDateTime,
    after: Option<(String, String)>,
    started: bool,
    done: bool,
    rows: u64,
}

impl Export {
    /// An export of the entries in force at `now`.
    pub fn new(format: Format, now: NaiveDateTime) -> Export {
        Export { format, now, after: None, started: false, done: false, rows: 0 }
    }

    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Entries written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// The bytes of the next page (with the header before the first page and the closing
    /// after the last); None once everything was written.
    pub fn next_chunk(&mut self, c: &mut AnyConnection) -> Result<Option<Vec<u8>>, StoreError> {
        if self.done {
            return Ok(None);
        }
        let after = self.after.as_ref().map(|(a, s)| (a.as_str(), s.as_str()));
        let page = list::in_force(c, after, PAGE, self.now)?;
        let mut out = Vec::with_capacity(page.len() * 80 + 64);
        let first = !self.started;
        self.started = true;
        match self.format {
            Format::Plain => {
                for r in &page {
                    out.extend_from_slice(r.address.as_bytes());
                    out.push(b'\n');
                }
            }
            Format::Csv => {
                let mut w = csv::WriterBuilder::new().terminator(csv::Terminator::Any(b'\n')).from_writer(&mut out);
                let failed = |e: csv::Error| StoreError::Task(format!("writing the CSV export: {e}"));
                if first {
                    w.write_record(HEADERS).map_err(failed)?;
                }
                for r in &page {
                    w.write_record(cells(r)).map_err(failed)?;
                }
                w.flush().map_err(|e| StoreError::Task(format!("writing the CSV export: {e}")))?;
            }
            Format::Json => {
                if first {
                    out.push(b'[');
                }
                for (i, r) in page.iter().enumerate() {
                    if self.rows > 0 || i > 0 {
                        out.push(b',');
                    }
                    out.push(b'\n');
                    serde_json::to_writer(&mut out, r).map_err(|e| StoreError::Task(e.to_string()))?;
                }
            }
        }
        self.rows += page.len() as u64;
        if (page.len() as i64) < PAGE {
            self.done = true;
            if self.format == Format::Json {
                out.extend_from_slice(b"\n]\n");
            }
        }
        self.after = page.last().map(|r| (r.address.clone(), r.scope.clone()));
        Ok(Some(out))
    }
}
