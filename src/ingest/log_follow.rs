//! `rebound serve` following the `[[mta_log]]` sources and those created through the admin
//! API (listed again every [`RELIST`]): every poll, one pass over each file each enabled
//! source's path names (the current file and its rotated, possibly compressed,
//! segments).
//!
//! Takes the sources, the pipeline and the database; gives nothing but committed records.
//! Following is a pass from the checkpoint per file ([`Pipeline::log_pass`]), so a rename
//! keeps its place (same inode), a copy-truncate starts over at 0 (the file is shorter than
//! its checkpoint), a compressed segment is read once, and a restart goes on from the last
//! committed chunk. It holds no state of its own between polls.

use super::Pipeline;
use super::log::LogContext;
use super::log_read::{LogSource, PassError};
use crate::config::MtaLogConfig;
use crate::logs::{Options, file};
use crate::store::Db;
use std::sync::Arc;
use std::time::Duration;

/// How often each source's files are looked at, start to start: a line waits at most this
/// plus one pass (a sleep of a whole poll after each pass made a busy file's lines wait
/// a pass longer: 0.73 s median, 0.9–1.2 s worst at 5,000 lines/s on 2026-12-03's machine).
pub const POLL: Duration = Duration::from_millis(250);

/// How often the API-managed sources are listed again: a source created, changed, disabled or
/// deleted through the API is followed (or no longer) within this.
pub const RELIST: Duration = Duration::from_secs(2);

/// The source a `[[mta_log]]` entry reads as.
pub fn source_of(l: &MtaLogConfig) -> LogSource {
    LogSource {
        source: l.source(),
        format: l.format,
        options: Options { node: l.node.clone(), offset: l.offset(), ..Default::default() },
        context: LogContext { node: l.node.clone(), campaign_from: l.campaign_from },
    }
}

/// Starts following every enabled source with a path (not `-`): the config file's, and those
/// of the admin API.
pub fn start(
    db: &Db,
    pipeline: Arc<Pipeline>,
    sources: &[MtaLogConfig],
    tracker: &tokio_util::task::TaskTracker,
    stop: &tokio_util::sync::CancellationToken,
) {
    let file: Vec<MtaLogConfig> = sources.to_vec();
    let (db, stop) = (db.clone(), stop.clone());
    tracker.spawn(async move {
        let mut failing: std::collections::HashSet<String> = Default::default();
        let mut stored: Vec<MtaLogConfig> = Vec::new();
        let mut listed = std::time::Instant::now() - RELIST;
        loop {
            let round = std::time::Instant::now();
            // The API-managed sources, looked at again every RELIST (a small table).
            if listed.elapsed() >= RELIST {
                match db.run(super::log_sources::stored).await {
                    Ok(s) => stored = s,
                    Err(e) => tracing::debug!(error = %e, "API log sources not listed; keeping the last list"),
                }
                listed = std::time::Instant::now();
            }
            let followed: Vec<(String, LogSource)> = file
                .iter()
                .chain(stored.iter().filter(|s| !file.iter().any(|f| f.name == s.name)))
                .filter(|l| l.enabled && l.path != "-")
                .map(|l| (l.path.clone(), source_of(l)))
                .collect();
            for (pattern, src) in &followed {
                let name = src.source.clone();
                let (pattern, src, pipeline) = (pattern.clone(), src.clone(), pipeline.clone());
                let done = db.run(move |c| -> Result<Vec<String>, crate::store::StoreError> {
                    let mut errors = Vec::new();
                    let files = match file::expand(&pattern) {
                        Ok(f) => f,
                        Err(e) => return Ok(vec![e]),
                    };
                    for f in files {
                        match pipeline.log_pass(c, &src, &f, &mut |_, _| {}) {
                            Ok(_) => {}
                            // A file rotated away between listing and opening: the next poll sees it.
                            Err(PassError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {}
                            Err(e) => errors.push(e.to_string()),
                        }
                    }
                    Ok(errors)
                });
                let errors = match done.await {
                    Ok(e) => e,
                    Err(e) => vec![e.to_string()],
                };
                // Logged once when a source starts failing and once when it recovers.
                if let Some(first) = errors.first() {
                    if failing.insert(name.clone()) {
                        tracing::warn!(source = %name, error = %first, "reading an MTA log failed; retrying every poll");
                    }
                } else if failing.remove(&name) {
                    tracing::info!(source = %name, "reading the MTA log works again");
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(POLL.saturating_sub(round.elapsed())) => {}
                _ = stop.cancelled() => return,
            }
        }
    });
}
