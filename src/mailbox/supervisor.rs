//! The mailbox supervisor: one job per enabled mailbox, kept in step with the `mailboxes` table.
//!
//! Takes the database, the pipeline, this instance's id and the service's task tracker and
//! shutdown token; gives scheduled polls (cron), IMAP IDLE with reconnects, and back-off after
//! repeated failures, for every live, enabled mailbox — config-file or API-managed. It watches
//! `mailboxes_version` every [`WATCH_EVERY`] and reconciles: a new mailbox starts, a changed
//! one restarts, a deleted or disabled one stops, so a change made through any instance is
//! picked up by every running `serve` within seconds. A mailbox's polls never overlap, not
//! even across a restart of its job; shutdown waits for in-flight polls through the tracker.
//! It never decides what a poll does (that is [`super::poll`], with its lease).

use super::repo::{self, Mailbox, MailboxError};
use super::{PollError, poll_once, state};
use crate::config::MailboxConfig;
use crate::fetch::{Credentials, Session};
use crate::ingest::Pipeline;
use crate::secrets::SealKey;
use crate::store::Db;
use chrono::{NaiveDateTime, Utc};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How often the version counter is read: the delay before a change made elsewhere applies.
pub const WATCH_EVERY: Duration = Duration::from_secs(2);

pub struct Supervisor {
    db: Db,
    pipeline: Arc<Pipeline>,
    owner: String,
    tracker: TaskTracker,
    shutdown: CancellationToken,
    running: HashMap<i64, Running>,
    /// Per mailbox id, held while one of its polls runs. Outlives the job, so a job restarted
    /// for new settings cannot poll beside the old one's last poll.
    guards: HashMap<i64, Arc<Mutex<()>>>,
    /// Rows whose settings do not pass validation, by the `updated_at` already reported.
    invalid: HashMap<i64, NaiveDateTime>,
    /// Opens the sealed passwords of API mailboxes.
    key: Option<SealKey>,
}

struct Running {
    config: MailboxConfig,
    stop: CancellationToken,
}

impl Supervisor {
    pub fn new(
        db: Db,
        pipeline: Arc<Pipeline>,
        owner: String,
        tracker: TaskTracker,
        shutdown: CancellationToken,
    ) -> Self {
        Self {
            db,
            pipeline,
            owner,
            tracker,
            shutdown,
            running: HashMap::new(),
            guards: HashMap::new(),
            invalid: HashMap::new(),
            key: None,
        }
    }

    /// Opens sealed passwords with `key` (the `[secrets]` key).
    pub fn with_key(mut self, key: Option<SealKey>) -> Self {
        self.key = key;
        self
    }

    /// Reconciles at once, then whenever the version moves, until shutdown.
    pub async fn run(mut self) {
        let mut seen: Option<i64> = None;
        let mut failing = false;
        loop {
            let known = seen;
            let loaded = self
                .db
                .run(move |c| -> Result<_, MailboxError> {
                    let v = repo::version(c)?;
                    // Version first, rows second: a change committed in between is seen now and
                    // again at the next tick, never missed.
                    if Some(v) == known { Ok((v, None)) } else { Ok((v, Some(repo::list(c)?))) }
                })
                .await;
            match loaded {
                Ok((v, rows)) => {
                    if failing {
                        tracing::info!("mailbox list readable again");
                        failing = false;
                    }
                    if let Some(rows) = rows {
                        self.reconcile(rows).await;
                        seen = Some(v);
                    }
                }
                // Running jobs go on as they are; one line per outage, not one per tick.
                Err(e) if !failing => {
                    tracing::warn!(error = %e, "cannot read the mailbox list; keeping the current jobs");
                    failing = true;
                }
                Err(_) => {}
            }
            tokio::select! {
                _ = tokio::time::sleep(WATCH_EVERY) => {}
                _ = self.shutdown.cancelled() => break,
            }
        }
        for (_, job) in self.running.drain() {
            job.stop.cancel();
        }
    }

    /// Starts, restarts and stops jobs so that exactly the live, enabled, valid rows run.
    async fn reconcile(&mut self, rows: Vec<Mailbox>) {
        let mut wanted: HashMap<i64, MailboxConfig> = HashMap::new();
        for m in rows {
            if !m.enabled {
                let (db, id) = (self.db.clone(), m.id);
                if let Err(e) = db.run(move |c| state::mark_disabled(c, id)).await {
                    tracing::warn!(mailbox = %m.name, error = %e, "could not mark the mailbox disabled");
                }
                continue;
            }
            match m.config_with(self.key.as_ref()) {
                Ok(cfg) => {
                    self.invalid.remove(&m.id);
                    wanted.insert(m.id, cfg);
                }
                Err(problems) => self.report_invalid(&m, problems).await,
            }
        }
        let stale: Vec<i64> = self
            .running
            .iter()
            .filter(|(id, job)| wanted.get(id).is_none_or(|cfg| *cfg != job.config))
            .map(|(id, _)| *id)
            .collect();
        for id in stale {
            if let Some(job) = self.running.remove(&id) {
                let why = if wanted.contains_key(&id) { "settings changed; restarting" } else { "stopped" };
                tracing::info!(mailbox = %job.config.name, id, "{why}");
                job.stop.cancel();
            }
        }
        for (id, cfg) in wanted {
            if !self.running.contains_key(&id) {
                self.start(id, cfg);
            }
        }
    }

    fn start(&mut self, id: i64, config: MailboxConfig) {
        let stop = self.shutdown.child_token();
        let guard = self.guards.entry(id).or_default().clone();
        let job =
            Job { db: self.db.clone(), pipeline: self.pipeline.clone(), id, config, owner: self.owner.clone(), guard };
        tracing::info!(mailbox = %job.config.name, id, schedule = %job.config.schedule, idle = job.config.idle, "polling");
        if job.config.idle {
            self.tracker.spawn(job.clone().idle(stop.clone()));
        }
        let config = job.config.clone();
        self.tracker.spawn(job.scheduled(stop.clone()));
        self.running.insert(id, Running { config, stop });
    }

    /// A stored mailbox that does not pass validation here (say, its `password_env` is not
    /// set in this process): not polled, and said once in the log and its status row.
    async fn report_invalid(&mut self, m: &Mailbox, problems: Vec<crate::config::Problem>) {
        if self.invalid.get(&m.id) == Some(&m.updated_at) {
            return;
        }
        self.invalid.insert(m.id, m.updated_at);
        let error = MailboxError::Invalid(problems).to_string();
        tracing::warn!(mailbox = %m.name, id = m.id, %error, "not polling this mailbox");
        let (db, id) = (self.db.clone(), m.id);
        let _ = db.run(move |c| state::record_failure(c, id, "config", &error, 1, 0, Utc::now().naive_utc())).await;
    }
}

/// Everything one mailbox's polls need; cloned into its schedule loop and IDLE task.
#[derive(Clone)]
struct Job {
    db: Db,
    pipeline: Arc<Pipeline>,
    id: i64,
    config: MailboxConfig,
    owner: String,
    guard: Arc<Mutex<()>>,
}

impl Job {
    /// Polls at each time of the cron schedule until stopped. A poll still going when the
    /// next time comes makes that time pass without a poll (the next is computed after it).
    async fn scheduled(self, stop: CancellationToken) {
        let cron = match crate::scheduler::parse_cron(&self.config.schedule) {
            Ok(c) => c,
            // Validation parses schedules the same way, so this only guards against drift.
            Err(e) => return tracing::warn!(mailbox = %self.config.name, error = %e, "bad schedule; not polling"),
        };
        loop {
            let now = Utc::now();
            let Ok(next) = cron.find_next_occurrence(&now, false) else {
                return tracing::warn!(mailbox = %self.config.name, "schedule has no next time; not polling");
            };
            let wait = (next - now).to_std().unwrap_or_default();
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = stop.cancelled() => return,
            }
            if self.backing_off().await {
                continue;
            }
            self.poll(&stop).await;
        }
    }

    /// After repeated failures, scheduled polls pause (see [`super::next_attempt`]).
    async fn backing_off(&self) -> bool {
        let (db, id) = (self.db.clone(), self.id);
        if let Ok(Some(status)) = db.run(move |c| state::get(c, id)).await
            && let Some(next) = super::next_attempt(&status)
            && Utc::now().naive_utc() < next
        {
            tracing::debug!(mailbox = %self.config.name, %next, "backing off after repeated failures");
            return true;
        }
        false
    }

    async fn poll(&self, stop: &CancellationToken) {
        let Ok(_running) = self.guard.try_lock() else { return };
        if stop.is_cancelled() {
            return;
        }
        let m = &self.config;
        match poll_once(&self.db, self.pipeline.clone(), self.id, m, &self.owner, stop).await {
            Ok(o) => tracing::info!(
                mailbox = %m.name, listed = o.listed, new = o.stats.messages, records = o.stats.events,
                suppressed = o.stats.suppressed, review = o.stats.review, marked_done = o.marked_done, more = o.more,
                "polled"
            ),
            Err(e @ PollError::Busy { .. }) => tracing::debug!(mailbox = %m.name, "{e}"),
            Err(e) => {
                let hint = match &e {
                    PollError::Fetch(f) => f.hint(),
                    _ => String::new(),
                };
                tracing::warn!(mailbox = %m.name, stage = %e.stage(), error = %e, %hint, "poll failed")
            }
        }
    }

    /// IMAP IDLE: wait for new mail on a session of its own and poll at once when it
    /// arrives; the schedule still runs as the fallback. Reconnects after errors, backing
    /// off from 5 s to 5 minutes.
    async fn idle(self, stop: CancellationToken) {
        let m = &self.config;
        let mut pause = Duration::from_secs(5);
        while !stop.is_cancelled() {
            let login = match Credentials::of(m, &m.name) {
                Ok(l) => l,
                Err(e) => {
                    return tracing::warn!(mailbox = %m.name, error = %e, "IDLE disabled: no credentials available");
                }
            };
            let session = tokio::select! {
                s = Session::open(m, &login) => s,
                _ = stop.cancelled() => return,
            };
            let mut src = match session {
                Ok(s) if s.can_idle() => s,
                Ok(_) => {
                    return tracing::warn!(mailbox = %m.name, "server does not offer IDLE; polling on the schedule only");
                }
                Err(e) => {
                    tracing::warn!(mailbox = %m.name, error = %e, "IDLE connection failed; retrying");
                    tokio::select! { _ = tokio::time::sleep(pause) => {}, _ = stop.cancelled() => return }
                    pause = (pause * 2).min(Duration::from_secs(300));
                    continue;
                }
            };
            pause = Duration::from_secs(5);
            loop {
                // RFC 2177: re-issue IDLE at least every 29 minutes.
                let waited = tokio::select! {
                    w = src.wait_for_mail(Duration::from_secs(25 * 60)) => w,
                    _ = stop.cancelled() => return,
                };
                match waited {
                    Ok(true) => self.poll(&stop).await,
                    Ok(false) => {}
                    Err(e) => {
                        tracing::debug!(mailbox = %m.name, error = %e, "IDLE session ended; reconnecting");
                        break;
                    }
                }
            }
        }
    }
}
