//! One poll of one mailbox: list → fetch in small batches → pipeline → mark done.
//!
//! A message is deleted, moved or flagged only after the pipeline has committed it, and a
//! message committed by an earlier poll that died before marking it is marked now. The
//! lease keeps other instances off the mailbox while this runs; the checkpoint (IMAP) and
//! the ledger (both protocols) keep anything from being processed twice. Memory holds one
//! batch of bodies at a time, however large the mailbox. Lease, status, checkpoints and the
//! ledger source (`mailbox:<id>`) all go by the mailbox's id, so a rename changes none of them.

use super::state;
use crate::config::{AfterProcessing, MailboxConfig, Protocol};
use crate::fetch::{Batch, Credentials, FetchError, FolderCheckpoint, MessageRef, Session, SkipReason, SourceId};
use crate::ingest::{Disposition, IngestError, Item, Pipeline, Stats};
use crate::record::ledger;
use crate::store::{Db, StoreError};
use chrono::{Duration, Utc};
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Bodies fetched per round trip, at most this many and this many bytes: memory stays
/// flat, and a slow server or a crash costs little.
const FETCH_BATCH: usize = 50;
const FETCH_BATCH_BYTES: u64 = 4 * 1024 * 1024;
/// Committed messages are deleted/moved in groups this large: servers rewrite their index
/// on every expunge, so one expunge per fetch batch makes draining quadratic.
const MARK_BATCH: usize = 5000;

#[derive(Debug, thiserror::Error)]
pub enum PollError {
    #[error("mailbox {name} is being polled by {owner} (it holds the lease until {until} UTC); try again after that")]
    Busy { name: String, owner: String, until: chrono::NaiveDateTime },
    #[error("{0}")]
    Fetch(#[from] FetchError),
    #[error("{0}")]
    Pipeline(#[from] IngestError),
    #[error("database: {0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Config(String),
}

impl PollError {
    /// The stage for the status row: the fetch stage, or "pipeline"/"database"/"config".
    pub fn stage(&self) -> String {
        match self {
            PollError::Fetch(e) => e.stage.to_string(),
            PollError::Pipeline(IngestError::Store(_)) => "database".into(),
            PollError::Pipeline(_) => "pipeline".into(),
            PollError::Store(_) => "database".into(),
            PollError::Config(_) => "config".into(),
            PollError::Busy { .. } => "lease".into(),
        }
    }
}

/// What one poll did.
#[derive(Debug, Default, Serialize)]
pub struct PollOutcome {
    pub listed: usize,
    pub fetched: usize,
    /// Committed by an earlier poll and only marked done now.
    pub recovered: usize,
    pub marked_done: usize,
    pub skipped: Vec<(String, String)>,
    /// The poll stopped at max_messages_per_poll: more is waiting.
    pub more: bool,
    pub stats: Stats,
}

/// Polls mailbox `id` (whose settings are `cfg`) once as `owner` (this instance's id).
pub async fn poll_once(
    db: &Db,
    pipeline: Arc<Pipeline>,
    id: i64,
    cfg: &MailboxConfig,
    owner: &str,
    cancel: &CancellationToken,
) -> Result<PollOutcome, PollError> {
    // Short, and renewed while the poll runs (every third of it, and after every batch): a
    // poller that was killed blocks the mailbox for at most `lease_seconds`.
    let lease = Duration::seconds(i64::try_from(cfg.lease_seconds).unwrap_or(30));
    let who = owner.to_string();
    let got = db
        .run(move |c| -> Result<_, StoreError> {
            let now = Utc::now().naive_utc();
            if state::acquire_lease(c, id, &who, now, lease)? {
                return Ok(None);
            }
            // Held: say by whom and until when (it may lapse between the two reads).
            Ok(Some(state::lease_holder(c, id, now)?.unwrap_or_else(|| ("another poller".into(), now))))
        })
        .await
        .inspect_err(|e| remember_unwritten(id, "database", &e.to_string(), 1))?;
    if let Some((holder, until)) = got {
        return Err(PollError::Busy { name: cfg.name.clone(), owner: holder, until });
    }
    let renewal = tokio::spawn(renew_lease(db.clone(), id, cfg.name.clone(), owner.to_string(), lease));
    let mut outcome = PollOutcome::default();
    let target = Target { id, cfg, source: super::repo::ledger_source(id) };
    let started = std::time::Instant::now();
    let result = run(db, pipeline, &target, owner, lease, cancel, &mut outcome).await;
    renewal.abort();
    crate::observe::polled(&cfg.name, started.elapsed(), result.as_ref().err().map(PollError::stage).as_deref());
    let (name, who) = (cfg.name.clone(), owner.to_string());
    let processed = outcome.stats.messages as i64;
    let now = Utc::now().naive_utc();
    let this = match &result {
        Ok(()) => None,
        Err(e) => Some(Unwritten { failures: 1, stage: e.stage(), error: e.to_string(), at: now }),
    };
    let earlier = unwritten().remove(&id);
    let (n, mine, before) = (id, this.clone(), earlier.clone());
    let record = db
        .run(move |c| {
            crate::store::transaction(c, |c| {
                if let Some(u) = &before {
                    state::record_failure(c, n, &u.stage, &u.error, u.failures, 0, u.at)?;
                }
                match &mine {
                    None => state::record_success(c, n, processed, now),
                    Some(u) => state::record_failure(c, n, &u.stage, &u.error, 1, processed, now),
                }
            })
        })
        .await;
    if let Err(e) = &record {
        // The status row is what could not be written (the database is the failure): keep
        // what happened and write it with the next status update, so the outage shows.
        tracing::warn!(mailbox = %name, error = %e, "could not record the poll's status; kept until the database is back");
        let (stage, error) = match this {
            Some(u) => (u.stage, u.error),
            None => ("database".into(), e.to_string()),
        };
        remember_unwritten(id, &stage, &error, 1 + earlier.map_or(0, |u| u.failures));
    }
    let released = db.run(move |c| state::release_lease(c, id, &who)).await;
    result?;
    record?;
    released?;
    Ok(outcome)
}

/// Polls until the mailbox is drained: again while a poll stopped at
/// `max_messages_per_poll` with more waiting (or once, with `once`). `each` sees every
/// poll's outcome as it ends. Stops at the first failure, a lease held elsewhere included.
#[allow(clippy::too_many_arguments)]
pub async fn drain(
    db: &Db,
    pipeline: Arc<Pipeline>,
    id: i64,
    cfg: &MailboxConfig,
    owner: &str,
    cancel: &CancellationToken,
    once: bool,
    mut each: impl FnMut(&PollOutcome),
) -> Result<(), PollError> {
    loop {
        let o = poll_once(db, pipeline.clone(), id, cfg, owner, cancel).await?;
        each(&o);
        if once || !o.more || cancel.is_cancelled() {
            return Ok(());
        }
    }
}

/// A failed poll whose status row could not be written.
#[derive(Debug, Clone)]
struct Unwritten {
    failures: i32,
    stage: String,
    error: String,
    at: chrono::NaiveDateTime,
}

/// Per mailbox id, the failures not written yet. Process-wide because the CLI and the server
/// both poll through [`poll_once`], and the memory must outlive the poll that failed.
fn unwritten() -> std::sync::MutexGuard<'static, BTreeMap<i64, Unwritten>> {
    static PENDING: std::sync::Mutex<BTreeMap<i64, Unwritten>> = std::sync::Mutex::new(BTreeMap::new());
    PENDING.lock().unwrap_or_else(|p| p.into_inner())
}

/// Keeps a failed poll (or `failures` of them) to be written with the next status update.
fn remember_unwritten(id: i64, stage: &str, error: &str, failures: i32) {
    let mut pending = unwritten();
    let at = Utc::now().naive_utc();
    let entry = pending.entry(id).or_insert_with(|| Unwritten {
        failures: 0,
        stage: stage.to_string(),
        error: error.to_string(),
        at,
    });
    entry.failures += failures;
    (entry.stage, entry.error, entry.at) = (stage.to_string(), error.to_string(), at);
}

/// Keeps the lease while the poll runs: a poll waiting on a slow server or a long commit
/// must not lose it, and one that died stops renewing, so its lease lapses soon.
async fn renew_lease(db: Db, id: i64, name: String, owner: String, lease: Duration) {
    let every = std::time::Duration::from_millis(u64::try_from(lease.num_milliseconds() / 3).unwrap_or(10_000));
    loop {
        tokio::time::sleep(every).await;
        let o = owner.clone();
        match db.run(move |c| state::acquire_lease(c, id, &o, Utc::now().naive_utc(), lease)).await {
            Ok(true) => {}
            Ok(false) => tracing::warn!(mailbox = %name, "lost the mailbox lease to another poller"),
            Err(e) => tracing::warn!(mailbox = %name, error = %e, "could not renew the mailbox lease"),
        }
    }
}

/// The mailbox being polled: its id, settings, and the ledger source its messages go under.
struct Target<'a> {
    id: i64,
    cfg: &'a MailboxConfig,
    source: String,
}

async fn run(
    db: &Db,
    pipeline: Arc<Pipeline>,
    target: &Target<'_>,
    owner: &str,
    lease: Duration,
    cancel: &CancellationToken,
    out: &mut PollOutcome,
) -> Result<(), PollError> {
    let (id, cfg) = (target.id, target.cfg);
    let login = Credentials::of(cfg, &format!("mailbox {}", cfg.name)).map_err(PollError::Config)?;
    let checkpoints = db.run(move |c| state::checkpoints(c, id)).await?;
    let mut src = Session::open(cfg, &login).await?;
    // Checkpoints skip what keep mode leaves behind. Any other mode empties (or flags)
    // the folder as it goes, so listing everything is cheap, and it also catches mail
    // committed before the mode was switched; the ledger still keeps it from counting twice.
    let refs = match (cfg.protocol, &cfg.after_processing) {
        (Protocol::Imap, AfterProcessing::Keep) => src.list_since(&checkpoints).await?,
        _ => src.list().await?,
    };
    out.listed = refs.len();

    // What an earlier poll already committed: mark it now (it may have died before), never
    // process it again.
    let ids: Vec<String> = refs.iter().map(|r| r.id.to_string()).collect();
    let source = target.source.clone();
    let done_before: HashSet<String> = db
        .run(move |c| {
            let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
            ledger::seen_ids(c, &source, &refs)
        })
        .await?;
    let recovered: Vec<SourceId> =
        refs.iter().filter(|r| done_before.contains(&r.id.to_string())).map(|r| r.id.clone()).collect();
    if !recovered.is_empty() && cfg.after_processing != AfterProcessing::Keep {
        src.mark_done(&recovered).await?;
        out.recovered = recovered.len();
        out.marked_done += recovered.len();
    }
    let todo: Vec<MessageRef> = refs.into_iter().filter(|r| !done_before.contains(&r.id.to_string())).collect();
    let cap = cfg.max_messages_per_poll as usize;
    out.more = todo.len() > cap;

    // While one batch commits (on a blocking thread), the session marks what is already
    // committed and fetches the next batch: server and database work overlap instead of
    // taking turns. At most two batches are in memory.
    let mut chunks = batches(todo.into_iter().take(cap).collect()).into_iter();
    let mut pending: Vec<SourceId> = Vec::new();
    let mut next = match chunks.next() {
        Some(chunk) => Some(src.fetch(&chunk).await?),
        None => None,
    };
    while let Some(batch) = next.take() {
        if cancel.is_cancelled() {
            break;
        }
        out.fetched += batch.fetched.len();
        crate::observe::fetched(&cfg.name, batch.fetched.len());
        out.skipped.extend(batch.skipped.iter().map(|s| (s.id.to_string(), s.reason.to_string())));
        let to_mark = if pending.len() >= MARK_BATCH { std::mem::take(&mut pending) } else { Vec::new() };
        let following = if cancel.is_cancelled() { None } else { chunks.next() };
        let server_side = async {
            if !to_mark.is_empty() {
                src.mark_done(&to_mark).await?;
            }
            match following {
                Some(chunk) => src.fetch(&chunk).await.map(Some),
                None => Ok(None),
            }
        };
        let (committed, fetched) = tokio::join!(commit(db, pipeline.clone(), target, owner, lease, batch), server_side);
        let (committed, stats) = committed?;
        out.stats.add(&stats);
        if cfg.after_processing != AfterProcessing::Keep {
            pending.extend(committed);
        }
        next = fetched?;
        out.marked_done += to_mark.len();
    }
    if !pending.is_empty() {
        src.mark_done(&pending).await?;
        out.marked_done += pending.len();
    }
    src.close().await?;
    Ok(())
}

/// Commits one fetched batch through the pipeline, then advances the folder checkpoints and
/// renews the lease. Returns the messages whose results are committed (safe to mark done).
async fn commit(
    db: &Db,
    pipeline: Arc<Pipeline>,
    target: &Target<'_>,
    owner: &str,
    lease: Duration,
    batch: Batch,
) -> Result<(Vec<SourceId>, Stats), PollError> {
    let mut advance: BTreeMap<String, FolderCheckpoint> = BTreeMap::new();
    let mut unfetched = Vec::new();
    for s in &batch.skipped {
        match &s.reason {
            SkipReason::TooLarge { headers, .. } => {
                unfetched.push((s.id.to_string(), s.reason.to_string(), headers.clone()));
                note(&mut advance, &s.id);
            }
            SkipReason::Gone(_) => note(&mut advance, &s.id),
            // Neither recorded nor passed by a checkpoint nor marked done: it is fetched again
            // at the next poll.
            SkipReason::Stale | SkipReason::Damaged(_) => {}
        }
    }
    let fetched = batch.fetched;
    let (id, source, who) = (target.id, target.source.clone(), owner.to_string());
    db.run(move |c| -> Result<_, PollError> {
        let ids: Vec<String> = fetched.iter().map(|f| f.id.to_string()).collect();
        let items: Vec<Item> =
            fetched.iter().zip(&ids).map(|(f, sid)| Item { source: &source, source_id: sid, raw: &f.raw }).collect();
        let (dispositions, stats) = pipeline.ingest(c, &items)?;
        for (sid, why, headers) in &unfetched {
            ledger::record_unfetched(c, &source, sid, why, headers.as_deref())?;
        }
        let committed: Vec<SourceId> = fetched
            .iter()
            .zip(&dispositions)
            .filter(|(_, d)| matches!(d, Disposition::New { .. } | Disposition::Seen | Disposition::Duplicate { .. }))
            .map(|(f, _)| f.id.clone())
            .collect();
        for sid in &committed {
            note(&mut advance, sid);
        }
        for cp in advance.values() {
            state::advance(c, id, cp)?;
        }
        // Renew the lease between batches: a long drain must not lose it.
        state::acquire_lease(c, id, &who, Utc::now().naive_utc(), lease)?;
        Ok((committed, stats))
    })
    .await
}

/// Moves a folder's checkpoint up to an IMAP message that is done with.
fn note(advance: &mut BTreeMap<String, FolderCheckpoint>, id: &SourceId) {
    if let SourceId::Imap { folder, uidvalidity, uid } = id {
        let cp = advance.entry(folder.clone()).or_insert(FolderCheckpoint {
            folder: folder.clone(),
            uidvalidity: *uidvalidity,
            last_uid: 0,
        });
        cp.last_uid = cp.last_uid.max(*uid);
    }
}

/// Splits the listing into fetch batches bounded by count and by declared size.
fn batches(refs: Vec<MessageRef>) -> Vec<Vec<MessageRef>> {
    let mut out: Vec<Vec<MessageRef>> = Vec::new();
    let mut bytes = 0u64;
    for r in refs {
        let full = out.last().is_none_or(|b| b.len() >= FETCH_BATCH || bytes + r.size > FETCH_BATCH_BYTES);
        if full {
            out.push(Vec::new());
            bytes = 0;
        }
        bytes += r.size;
        if let Some(b) = out.last_mut() {
            b.push(r);
        }
    }
    out
}
