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

mod pg;
mod report;
pub mod rows;

pub use report::Report;

pub use rows::{Format, Invalid, Row, RowsError, checked_address};

use super::Allowlist;
use super::list::{self, GLOBAL, Source, Suppression};
use crate::audit::Actor;
use crate::store::schema::suppressions;
use crate::store::{AnyConnection, Backend, Db, StoreError};
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

/// A batch ready to write: its entries in key order without repeats, where it lies in the
/// file, and what reading it found (for its audit entry).
struct Prepared {
    entries: Vec<Suppression>,
    lines: (u64, u64),
    found: Report,
}

/// What writing one batch did.
type Written = Result<(u64, u64), ImportError>;

/// Imports `input`; `progress` sees the report after each batch.
///
/// Three stages overlap: the file is read and checked on a thread of its own, a batch ahead;
/// this thread sorts and filters each batch; writer threads commit them. On PostgreSQL there
/// are two writers, each on its own connection when the pool has one to spare (see [`pg`]):
/// one backend alone cannot insert a million rows with the list's indexes in ten seconds, two
/// on two cores can. SQLite has a single writer anyway, so it gets one.
pub fn run<R: Read + Send>(
    db: &Db,
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
    let mut writers = vec![db.conn()?];
    if db.backend() == Backend::Postgres
        && !opts.dry_run
        && let Some(spare) = db.spare_conn()
    {
        writers.push(spare);
    }
    let mut report = Report { dry_run: opts.dry_run, ..Report::default() };
    let mut failure: Option<ImportError> = None;
    // A batch is handed to a writer only when one is free (a rendezvous channel): memory
    // stays at a few batches, read ahead, being prepared and being written.
    let (work, jobs) = std::sync::mpsc::sync_channel::<Prepared>(0);
    let jobs = std::sync::Mutex::new(jobs);
    let (done_tx, done) = std::sync::mpsc::channel::<Written>();
    std::thread::scope(|s| {
        // One batch waiting while one is prepared.
        let (tx, rx) = std::sync::mpsc::sync_channel::<Chunk>(1);
        s.spawn(move || read_batches(rows, &tx));
        for mut conn in writers {
            let (jobs, done_tx) = (&jobs, done_tx.clone());
            s.spawn(move || {
                // The lock is held only while waiting for the next batch, never while writing.
                while let Ok(batch) = jobs.lock().map_err(|_| ()).and_then(|j| j.recv().map_err(|_| ())) {
                    let written = write(&mut conn, actor, &batch, opts, now);
                    let failed = written.is_err();
                    if done_tx.send(written).is_err() || failed {
                        return;
                    }
                }
            });
        }
        drop(done_tx);
        for chunk in rx {
            let chunk = match chunk {
                Ok(chunk) => chunk,
                Err(e) => {
                    failure.get_or_insert(e.into());
                    break;
                }
            };
            let batch = prepare(chunk, opts, allowlist, now, &mut report);
            if let Some(batch) = batch
                && work.send(batch).is_err()
            {
                break; // every writer has stopped: its error is in `done`
            }
            for written in done.try_iter() {
                tally(written, &mut report, &mut failure);
            }
            if failure.is_some() {
                break;
            }
            progress(&report);
        }
        drop(work);
        for written in done.iter() {
            tally(written, &mut report, &mut failure);
        }
    });
    match failure {
        Some(e) => Err(e),
        None => {
            progress(&report);
            Ok(report)
        }
    }
}

/// Counts a written batch into `report`, or keeps the first failure.
fn tally(written: Written, report: &mut Report, failure: &mut Option<ImportError>) {
    match written {
        Ok((added, present)) => {
            report.added += added;
            report.already_present += present;
        }
        Err(e) => {
            failure.get_or_insert(e);
        }
    }
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
    let _ = tx.send(Ok(chunk));
}

/// Counts a chunk into `report` (rows, invalid, allowlisted, repeats) and gives its entries
/// to write, in key order without repeats; None when it has no valid row.
fn prepare(
    chunk: Vec<Result<Row, Invalid>>,
    opts: &Options,
    allowlist: &Allowlist,
    now: NaiveDateTime,
    report: &mut Report,
) -> Option<Prepared> {
    let before = report.clone();
    let mut lines: Option<(u64, u64)> = None;
    let mut wanted: Vec<Suppression> = Vec::with_capacity(chunk.len());
    for item in chunk {
        report.rows += 1;
        let row = match item {
            Ok(row) => row,
            Err(bad) => {
                report.invalid += 1;
                if report.invalid_rows.len() < LISTED {
                    report.invalid_rows.push(bad);
                }
                continue;
            }
        };
        lines = Some((lines.map_or(row.line, |l| l.0), row.line));
        report.dates_unread += u64::from(row.unread_date);
        if allowlist.allows(&row.address) {
            report.allowlisted += 1;
            if report.allowlisted_addresses.len() < LISTED {
                report.allowlisted_addresses.push(row.address);
            }
            continue;
        }
        wanted.push(Suppression {
            address: row.address,
            scope: row.scope.unwrap_or_else(|| opts.scope.clone()),
            source: opts.source.as_str().into(),
            event_id: None,
            reason: row.reason.or_else(|| opts.reason.clone()),
            note: Some(format!("imported from {}", opts.label)),
            created_at: row.created_at.map_or(now, |t| t.min(now)),
            expires_at: None,
        });
    }
    // In key order (stable: a repeat's first row wins): repeats are then neighbours, and each
    // index is written page after page instead of at random.
    wanted.sort_by(|a, b| (&a.address, &a.scope).cmp(&(&b.address, &b.scope)));
    let read = wanted.len();
    wanted.dedup_by(|later, first| later.address == first.address && later.scope == first.scope);
    report.duplicates += (read - wanted.len()) as u64;
    let found = Report {
        invalid: report.invalid - before.invalid,
        allowlisted: report.allowlisted - before.allowlisted,
        duplicates: report.duplicates - before.duplicates,
        ..Report::default()
    };
    lines.map(|lines| Prepared { entries: wanted, lines, found })
}

/// Writes one batch in its own transaction with its audit entry (a dry run only looks);
/// gives how many entries it added and how many were already in force.
fn write(c: &mut AnyConnection, actor: &Actor, batch: &Prepared, opts: &Options, now: NaiveDateTime) -> Written {
    let wanted = &batch.entries;
    if opts.dry_run {
        let present = in_force(&stored(c, wanted.iter())?, wanted, now).len() as u64;
        return Ok((wanted.len() as u64 - present, present));
    }
    // PostgreSQL breaks a lock cycle by failing one of its transactions. Two import writers
    // cannot form one (see [`pg`]), but an ingest adding one of the same addresses can; the
    // failed batch was rolled back whole, so it is simply written again.
    let mut attempt = 0;
    loop {
        attempt += 1;
        match write_once(c, actor, batch, opts, now) {
            Err(ImportError::Store(e)) if attempt < 3 && is_deadlock(&e) => continue,
            done => return done,
        }
    }
}

fn is_deadlock(e: &StoreError) -> bool {
    matches!(e, StoreError::Query(diesel::result::Error::DatabaseError(_, info)) if info.message().contains("deadlock detected"))
}

fn write_once(c: &mut AnyConnection, actor: &Actor, batch: &Prepared, opts: &Options, now: NaiveDateTime) -> Written {
    let wanted = &batch.entries;
    crate::store::transaction(c, |c| {
        let added = match c.backend() {
            Backend::Postgres => pg::write_batch(c, wanted, now)?.len(),
            Backend::Sqlite => {
                let stored = stored(c, wanted.iter())?;
                let kept = in_force(&stored, wanted, now);
                let mut new: Vec<Suppression> = Vec::with_capacity(wanted.len() - kept.len());
                for (i, e) in wanted.iter().enumerate() {
                    if kept.binary_search(&i).is_ok() {
                        continue;
                    }
                    if stored.contains_key(&(e.address.clone(), e.scope.clone())) {
                        // Lapsed, not yet swept by `list::expire`: renewed as a fresh add.
                        diesel::delete(suppressions::table.find((&e.address, &e.scope))).execute(c)?;
                    }
                    new.push(e.clone());
                }
                list::insert_many_logged(c, &new, Some(now))?;
                new.len()
            }
        } as u64;
        let present = wanted.len() as u64 - added;
        let (first, last) = batch.lines;
        let note = format!("lines {first}-{last} of {}: {added} added", opts.label);
        let counts = serde_json::json!({
            "added": added,
            "already_present": present,
            "duplicates": batch.found.duplicates,
            "allowlisted": batch.found.allowlisted,
            "invalid": batch.found.invalid,
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
        Ok((added, present))
    })
}

/// The positions in `wanted` of the entries stored and in force at `now`, in order.
fn in_force(
    stored: &HashMap<(String, String), Option<NaiveDateTime>>,
    wanted: &[Suppression],
    now: NaiveDateTime,
) -> Vec<usize> {
    wanted
        .iter()
        .enumerate()
        .filter(|(_, e)| stored.get(&(e.address.clone(), e.scope.clone())).is_some_and(|x| x.is_none_or(|t| t > now)))
        .map(|(i, _)| i)
        .collect()
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
