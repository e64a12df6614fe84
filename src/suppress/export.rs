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

/// [`time`] into `buf` without allocating (an export writes two per entry, a million
/// entries per export: chrono's formatter parses its pattern at every call); a year
/// outside 0–9999 takes chrono's way.
fn time_into<'a>(t: &NaiveDateTime, buf: &'a mut [u8; 32]) -> &'a [u8] {
    use chrono::{Datelike, Timelike};
    if !(0..=9999).contains(&t.year()) {
        let text = time(t);
        let n = text.len().min(buf.len());
        buf[..n].copy_from_slice(&text.as_bytes()[..n]);
        return &buf[..n];
    }
    let digits = |buf: &mut [u8], mut v: u32| {
        for b in buf.iter_mut().rev() {
            *b = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    digits(&mut buf[0..4], t.year() as u32);
    digits(&mut buf[5..7], t.month());
    digits(&mut buf[8..10], t.day());
    digits(&mut buf[11..13], t.hour());
    digits(&mut buf[14..16], t.minute());
    digits(&mut buf[17..19], t.second());
    for (i, sep) in [(4, b'-'), (7, b'-'), (10, b' '), (13, b':'), (16, b':')] {
        buf[i] = sep;
    }
    &buf[..19]
}

/// One entry as the CSV record of [`HEADERS`], written without an allocation per entry.
fn write_csv<W: std::io::Write>(w: &mut csv::Writer<W>, r: &Suppression) -> csv::Result<()> {
    let (mut id, mut created, mut expires) = ([0u8; 20], [0u8; 32], [0u8; 32]);
    let id: &[u8] = match r.event_id {
        Some(e) => {
            let mut cursor = std::io::Cursor::new(&mut id[..]);
            std::io::Write::write_fmt(&mut cursor, format_args!("{e}"))?;
            let n = cursor.position() as usize;
            &id[..n]
        }
        None => b"",
    };
    let expires: &[u8] = match &r.expires_at {
        Some(t) => time_into(t, &mut expires),
        None => b"",
    };
    w.write_record([
        r.address.as_bytes(),
        r.scope.as_bytes(),
        r.source.as_bytes(),
        r.reason.as_deref().unwrap_or_default().as_bytes(),
        id,
        r.note.as_deref().unwrap_or_default().as_bytes(),
        time_into(&r.created_at, &mut created),
        expires,
    ])
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

/// An export under way: where it stopped, and what it wrote so far. Its two halves can
/// run apart ([`Export::split`]): reading the next page while the last one is written.
#[derive(Debug)]
pub struct Export {
    pages: Pages,
    render: Render,
}

/// The reading half of an export: where it stopped.
#[derive(Debug)]
pub struct Pages {
    now: NaiveDateTime,
    after: Option<(String, String)>,
    done: bool,
}

/// The writing half of an export: the format, and what was written so far.
#[derive(Debug)]
pub struct Render {
    format: Format,
    started: bool,
    rows: u64,
}

impl Export {
    /// An export of the entries in force at `now`.
    pub fn new(format: Format, now: NaiveDateTime) -> Export {
        Export { pages: Pages { now, after: None, done: false }, render: Render { format, started: false, rows: 0 } }
    }

    pub fn is_done(&self) -> bool {
        self.pages.done
    }

    /// Entries written so far.
    pub fn rows(&self) -> u64 {
        self.render.rows
    }

    /// The bytes of the next page (with the header before the first page and the closing
    /// after the last); None once everything was written.
    pub fn next_chunk(&mut self, c: &mut AnyConnection) -> Result<Option<Vec<u8>>, StoreError> {
        match self.pages.next(c)? {
            Some(page) => self.render.page(&page).map(Some),
            None => Ok(None),
        }
    }

    /// The reading half and the writing half.
    pub fn split(self) -> (Pages, Render) {
        (self.pages, self.render)
    }
}

impl Pages {
    /// The next page of entries (shorter than [`PAGE`]: the last); None after the last.
    pub fn next(&mut self, c: &mut AnyConnection) -> Result<Option<Vec<Suppression>>, StoreError> {
        if self.done {
            return Ok(None);
        }
        let after = self.after.as_ref().map(|(a, s)| (a.as_str(), s.as_str()));
        let page = list::in_force(c, after, PAGE, self.now)?;
        self.done = (page.len() as i64) < PAGE;
        self.after = page.last().map(|r| (r.address.clone(), r.scope.clone()));
        Ok(Some(page))
    }
}

impl Render {
    /// The bytes of one page as [`Pages::next`] gave it, in order: the header before the
    /// first page, the closing after the last (the one shorter than [`PAGE`]).
    pub fn page(&mut self, page: &[Suppression]) -> Result<Vec<u8>, StoreError> {
        let mut out = Vec::with_capacity(page.len() * 80 + 64);
        let first = !self.started;
        self.started = true;
        match self.format {
            Format::Plain => {
                for r in page {
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
                for r in page {
                    write_csv(&mut w, r).map_err(failed)?;
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
        if (page.len() as i64) < PAGE && self.format == Format::Json {
            out.extend_from_slice(b"\n]\n");
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csv_of(rows: &[Suppression], each: impl Fn(&mut csv::Writer<&mut Vec<u8>>, &Suppression)) -> String {
        let mut out = Vec::new();
        let mut w = csv::WriterBuilder::new().terminator(csv::Terminator::Any(b'\n')).from_writer(&mut out);
        for r in rows {
            each(&mut w, r);
        }
        drop(w);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn the_fast_record_is_the_cells_record() {
        let at = |y, s| chrono::NaiveDate::from_ymd_opt(y, 2, 3).unwrap().and_hms_micro_opt(4, 5, s, 678_901).unwrap();
        let entry = |address: &str, event_id, note: Option<&str>, created_at, expires_at| Suppression {
            address: address.into(),
            scope: "global".into(),
            source: "manual".into(),
            event_id,
            reason: None,
            note: note.map(Into::into),
            created_at,
            expires_at,
        };
        let rows = [
            entry("a@x.example", Some(1234567890123), None, at(2026, 6), None),
            entry("quote\"d,comma@x.example", None, Some("a \"note\",\nwith lines"), at(999, 59), Some(at(2027, 0))),
            entry("neg@x.example", Some(-5), Some(""), at(12345, 1), Some(at(-44, 2))),
        ];
        let fast = csv_of(&rows, |w, r| write_csv(w, r).unwrap());
        let slow = csv_of(&rows, |w, r| w.write_record(cells(r)).unwrap());
        assert_eq!(fast, slow);
        assert!(fast.starts_with("a@x.example,global,manual,,1234567890123,,2026-02-03 04:05:06,\n"), "{fast}");
    }
}
