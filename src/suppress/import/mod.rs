//! Bulk import of a suppression list a team already has (another platform's export, a
//! hosted gateway's suppression download), in batches that each commit on their own.
//!
//! Takes a reader of the file ([`rows`] reads plain lists and CSV exports), the options (a
//! default scope and reason, the source to record, dry run) and who is importing; gives a
//! [`Report`]: rows read, added, already present, duplicates in the file, allowlisted (listed,
//! never imported), invalid (listed with their line and why). Entries already present keep
//! their original evidence; every addition goes to the change log (so the sending nodes get
//! it at their next sync) through the chunked insert the policy uses, so no statement
//! exceeds a backend's parameter limit; each batch is one transaction with its own audit
//! entry, so an interrupted import keeps what it committed and running it again changes
//! nothing. It never removes or changes an entry that is in force.

pub mod rows;

pub use rows::{Format, Invalid, Row, RowsError, checked_address};

use super::Allowlist;
use super::list::{self, GLOBAL, Source, Suppression};
use crate::audit::Actor;
use crate::store::schema::suppressions;
use crate::store::{AnyConnection, StoreError};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use std::collections::HashMap;
use std::io::Read;

/// Rows per transaction. Imported addresses come in no key order, so each row lands on a
/// different page of every index, and a commit writes each page it touched: at 5,000 rows a
/// commit rewrote about a page per row and index, at 50,000 neighbours share pages (SQLite
/// 81k → 96k rows/s, PostgreSQL similar). Still small enough that a batch's lookups and
/// inserts stay well inside one statement timeout, and memory at a few megabytes a batch.
pub const BATCH: usize = 50_000;
/// How many invalid lines and allowlisted addresses a report lists (all are counted).
pub const LISTED: usize = 1_000;

#[derive(Debug, Clone)]
pub struct Options {
    pub format: Format,
    /// The address column of a CSV whose header rebound does not recognise.
    pub column: Option<String>,
    /// `import` (default) or `manual`: evidence-backed sources are the policy's alone.
    pub source: Source,
    /// For rows without a reason column value.
    pub reason: Option<String>,
    /// For rows without a scope column value.
    pub scope: String,
    pub dry_run: bool,
    /// What the audit log calls the input (a file name, `upload`).
    pub label: String,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            format: Format::Auto,
            column: None,
            source: Source::Import,
            reason: None,
            scope: GLOBAL.into(),
            dry_run: false,
            label: "import".into(),
        }
    }
}

/// What an import did (or, dry, would do).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Report {
    pub dry_run: bool,
    /// Data rows read (blank lines and comments not counted).
    pub rows: u64,
    pub added: u64,
    /// Already suppressed in that scope: left as they were, original evidence kept.
    pub already_present: u64,
    /// Repeats of an address and scope within one batch of [`BATCH`] rows (a repeat further
    /// apart is found stored, and counted in `already_present`; a dry run counts it as added).
    /// Memory stays flat: nothing is kept of the rows of earlier batches.
    pub duplicates: u64,
    /// On the allowlist: reported, never imported.
    pub allowlisted: u64,
    pub invalid: u64,
    /// Rows whose created-at could not be read (the import time was used).
    pub dates_unread: u64,
    /// The first [`LISTED`] invalid rows.
    pub invalid_rows: Vec<Invalid>,
    /// The first [`LISTED`] allowlisted addresses.
    pub allowlisted_addresses: Vec<String>,
}

impl Report {
    /// Adds another file's counts (the listed rows stay each file's own).
    pub fn add(&mut self, other: &Report) {
        self.rows += other.rows;
        self.added += other.added;
        self.already_present += other.already_present;
        self.duplicates += other.duplicates;
        self.allowlisted += other.allowlisted;
        self.invalid += other.invalid;
        self.dates_unread += other.dates_unread;
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    Rows(#[from] RowsError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("source `{0}` cannot be imported: use import or manual (the others are the policy's, backed by events)")]
    Source(String),
}

impl From<diesel::result::Error> for ImportError {
    fn from(e: diesel::result::Error) -> Self {
        ImportError::Store(StoreError::Query(e))
    }
}

/// What the reading thread hands over: a batch's rows, [`BATCH`] good ones at most, with
/// the invalid lines met on the way.
type Chunk = Result<Vec<Result<Row, Invalid>>, RowsError>;

/// Imports `input`; `progress` sees the report after each batch.
///
/// The file is read and checked on a thread of its own, a batch ahead of the one being
/// written: reading costs about a tenth of writing, and on two cores that tenth (and, on
/// PostgreSQL, the server's share) no longer waits for the other.
pub fn run<R: Read + Send>(
    c: &mut AnyConnection,
    actor: &Actor,
    input: R,
    opts: &Options,
    allowlist: &Allowlist,
    now: NaiveDateTime,
    progress: &mut dyn FnMut(&Report),
) -> Result<Report, ImportError> {
    if !matches!(opts.source, Source::Import | Source::Manual) {
        return Err(ImportError::Source(opts.source.as_str().into()));
    }
    let rows = rows::Rows::open(input, opts.format, opts.column.as_deref())?;
    let mut report = Report { dry_run: opts.dry_run, ..Report::default() };
    std::thread::scope(|s| {
        // One batch waiting while one is written: memory stays at a few batches.
        let (tx, rx) = std::sync::mpsc::sync_channel::<Chunk>(1);
        s.spawn(move || read_batches(rows, &tx));
        for chunk in rx {
            let mut batch = Vec::with_capacity(BATCH);
            for item in chunk? {
                match item {
                    Ok(row) => batch.push(row),
                    Err(bad) => {
                        report.rows += 1;
                        report.invalid += 1;
                        if report.invalid_rows.len() < LISTED {
                            report.invalid_rows.push(bad);
                        }
                    }
                }
            }
            apply(c, actor, &mut batch, opts, allowlist, now, &mut report)?;
            progress(&report);
        }
        Ok::<_, ImportError>(())
    })?;
    Ok(report)
}

/// Reads `rows` into chunks of [`BATCH`] good rows until the end or the first error; stops
/// early when the writer has gone (it failed).
fn read_batches<R: Read>(rows: rows::Rows<R>, tx: &std::sync::mpsc::SyncSender<Chunk>) {
    let mut chunk = Vec::with_capacity(BATCH);
    let mut good = 0;
    for item in rows {
        match item {
            Ok(row) => {
                good += usize::from(row.is_ok());
                chunk.push(row);
            }
            Err(e) => {
                let _ = tx.send(Err(e));
                return;
            }
        }
        if good == BATCH {
            if tx.send(Ok(std::mem::replace(&mut chunk, Vec::with_capacity(BATCH)))).is_err() {
                return;
            }
            good = 0;
        }
    }
    // The last chunk, even empty: the writer then reports progress once at the end.
    let _ = tx.send(Ok(chunk));
}

#[allow(clippy::too_many_arguments)]
fn apply(
    c: &mut AnyConnection,
    actor: &Actor,
    batch: &mut Vec<Row>,
    opts: &Options,
    allowlist: &Allowlist,
    now: NaiveDateTime,
    report: &mut Report,
) -> Result<(), ImportError> {
    if batch.is_empty() {
        return Ok(());
    }
    let rows = std::mem::take(batch);
    let (first, last) = (rows[0].line, rows[rows.len() - 1].line);
    let before = report.clone();
    let mut wanted: Vec<Suppression> = Vec::with_capacity(rows.len());
    for row in rows {
        report.rows += 1;
        report.dates_unread += u64::from(row.unread_date);
        if allowlist.allows(&row.address) {
            report.allowlisted += 1;
            if report.allowlisted_addresses.len() < LISTED {
                report.allowlisted_addresses.push(row.address);
            }
            continue;
        }
        let entry = Suppression {
            address: row.address,
            scope: row.scope.unwrap_or_else(|| opts.scope.clone()),
            source: opts.source.as_str().into(),
            event_id: None,
            reason: row.reason.or_else(|| opts.reason.clone()),
            note: Some(format!("imported from {}", opts.label)),
            created_at: row.created_at.map_or(now, |t| t.min(now)),
            expires_at: None,
        };
        wanted.push(entry);
    }
    // In key order (stable: a repeat's first row wins): repeats are then neighbours, and each
    // index is written page after page instead of at random.
    wanted.sort_by(|a, b| (&a.address, &a.scope).cmp(&(&b.address, &b.scope)));
    let read = wanted.len();
    wanted.dedup_by(|later, first| later.address == first.address && later.scope == first.scope);
    report.duplicates += (read - wanted.len()) as u64;
    let write = |c: &mut AnyConnection, report: &mut Report| -> Result<(), ImportError> {
        let stored = stored(c, wanted.iter())?;
        let mut lapsed: Vec<(&str, &str)> = Vec::new();
        let mut new: Vec<Suppression> = Vec::with_capacity(wanted.len());
        for e in &wanted {
            match stored.get(&(e.address.clone(), e.scope.clone())) {
                Some(expires) if expires.is_none_or(|t| t > now) => report.already_present += 1,
                Some(_) => {
                    lapsed.push((&e.address, &e.scope));
                    new.push(e.clone());
                }
                None => new.push(e.clone()),
            }
        }
        report.added += new.len() as u64;
        if opts.dry_run {
            return Ok(());
        }
        for (a, s) in lapsed {
            diesel::delete(suppressions::table.find((a, s))).execute(c)?;
        }
        list::insert_many_logged(c, &new, Some(now))?;
        let note = format!("lines {first}-{last} of {}: {} added", opts.label, new.len());
        let counts = serde_json::json!({
            "added": report.added - before.added,
            "already_present": report.already_present - before.already_present,
            "duplicates": report.duplicates - before.duplicates,
            "allowlisted": report.allowlisted - before.allowlisted,
            "invalid": report.invalid - before.invalid,
            "source": opts.source.as_str(),
        });
        let change = crate::audit::Change {
            action: "import",
            target: "suppression",
            note: Some(&note),
            before: None,
            after: Some(counts),
        };
        crate::audit::record(c, actor.as_str(), change, now)?;
        Ok(())
    };
    if opts.dry_run { write(c, report) } else { crate::store::transaction(c, |c| write(c, report)) }
}

/// The stored entries (with their expiry) among `wanted`, by address and scope.
fn stored<'a>(
    c: &mut AnyConnection,
    wanted: impl Iterator<Item = &'a Suppression>,
) -> Result<HashMap<(String, String), Option<NaiveDateTime>>, StoreError> {
    let addresses: Vec<&str> = wanted.map(|e| e.address.as_str()).collect();
    let mut found = HashMap::new();
    // 1,000 addresses per lookup: well under SQLite's bound-parameter limit.
    for chunk in addresses.chunks(1_000) {
        let rows: Vec<(String, String, Option<NaiveDateTime>)> = suppressions::table
            .filter(suppressions::address.eq_any(chunk))
            .select((suppressions::address, suppressions::scope, suppressions::expires_at))
            .load(c)?;
        found.extend(rows.into_iter().map(|(a, s, x)| ((a, s), x)));
    }
    Ok(found)
}
