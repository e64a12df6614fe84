//! `rebound import PATH...`: files, directories, Maildirs and mbox files through the same
//! pipeline as mailboxes, in batches, with a progress bar on a terminal.

use super::Failure;
use crate::fetch::files;
use crate::ingest::{Item, Pipeline, Stats};
use crate::store::Db;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::PathBuf;

/// Messages per transaction: large enough to amortise the commit, small enough that a
/// failed batch is cheap to redo.
const BATCH: usize = 256;

pub fn run(db: &Db, pipeline: &Pipeline, paths: &[PathBuf]) -> Result<Stats, Failure> {
    let bar = if std::io::stderr().is_terminal() {
        let b = ProgressBar::new_spinner();
        b.set_style(
            ProgressStyle::with_template("{spinner} {pos} messages {per_sec} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        b
    } else {
        ProgressBar::hidden()
    };
    let mut conn = db.conn().map_err(|e| Failure::Run(e.into()))?;
    let mut total = Stats::default();
    let mut batch: Vec<(String, Vec<u8>)> = Vec::with_capacity(BATCH);
    let mut unreadable = 0usize;
    let mut flush = |batch: &mut Vec<(String, Vec<u8>)>, total: &mut Stats| -> std::io::Result<()> {
        let items: Vec<Item> = batch.iter().map(|(n, raw)| Item { source: "file", source_id: n, raw }).collect();
        let (_, stats) = pipeline.ingest(&mut conn, &items).map_err(std::io::Error::other)?;
        total.add(&stats);
        bar.inc(batch.len() as u64);
        bar.set_message(format!(
            "{} events, {} suppressed, {} for review",
            total.events, total.suppressed, total.review
        ));
        batch.clear();
        Ok(())
    };
    files::walk(
        paths,
        &mut |name, part, raw| {
            // Source identity: the absolute path (and position inside an mbox), so importing
            // from another directory is still recognised (the content digest catches moved files).
            let path = std::fs::canonicalize(name).map_or_else(|_| name.to_string(), |p| p.display().to_string());
            let id = part.map_or(path.clone(), |k| format!("{path}#{k}"));
            batch.push((id, raw));
            if batch.len() >= BATCH {
                flush(&mut batch, &mut total)?;
            }
            Ok(())
        },
        &mut |name, e| {
            unreadable += 1;
            bar.suspend(|| eprintln!("error: cannot read {name}: {e}"));
        },
    )
    .map_err(|e| {
        Failure::Run(anyhow::anyhow!("import stopped: {e}; what was committed before stays, run again to continue"))
    })?;
    if !batch.is_empty() {
        flush(&mut batch, &mut total)
            .map_err(|e| Failure::Run(anyhow::anyhow!("import stopped: {e}; run again to continue")))?;
    }
    bar.finish_and_clear();
    if unreadable > 0 {
        eprintln!("warning: {unreadable} path(s) could not be read");
    }
    Ok(total)
}

pub fn print_summary(s: &Stats) {
    println!("{} new messages ({} already imported, {} duplicates of other sources)", s.messages, s.seen, s.duplicates);
    let kinds: Vec<String> = s.by_kind.iter().map(|(k, v)| format!("{k} {v}")).collect();
    println!("  by kind: {}", if kinds.is_empty() { "-".into() } else { kinds.join(", ") });
    let classes: Vec<String> = s.by_classification.iter().map(|(k, v)| format!("{k} {v}")).collect();
    println!("  {} records: {}", s.events, if classes.is_empty() { "-".into() } else { classes.join(", ") });
    println!("  {} suppressions added, {} messages in the review queue", s.suppressed, s.review);
}
