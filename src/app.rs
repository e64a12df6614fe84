//! The running service: admin HTTP server plus scheduler, sharing one database pool.
//!
//! Takes a validated [`Config`]; `build` connects, migrates and binds (port 0 picks a free
//! port, which tests use), `run` serves until the shutdown future resolves, then stops
//! accepting work, lets in-flight jobs and requests finish within the grace period, and
//! deregisters. It never leaves half-written work: every unit of work commits in one
//! transaction, so an interrupted one simply did not happen.

use crate::api::{self, AppState};
use crate::config::Config;
use crate::config::MailboxConfig;
use crate::fetch::Source;
use crate::ingest::Pipeline;
use crate::mailbox::{self, PollError, state};
use crate::scheduler::Scheduler;
use crate::{instance, store::Db};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// How often this instance proves it is alive.
const HEARTBEAT: &str = "*/30 * * * * *";
/// How often lapsed suppressions (`expire_after_days`) are removed: a minute late at most.
const EXPIRE: &str = "15 * * * * *";

pub struct App {
    pub config: Config,
    pub db: Db,
    pub instance_id: String,
    listener: TcpListener,
}

impl App {
    pub async fn build(config: Config) -> anyhow::Result<App> {
        let db_cfg = config.database.clone();
        let db = tokio::task::spawn_blocking(move || Db::connect(&db_cfg)).await??;
        let seeded = db.run(crate::classify::repo::seed_if_empty).await?;
        if seeded > 0 {
            tracing::info!(rules = seeded, "seeded the default rule library");
        }
        let listener = TcpListener::bind(&config.server.listen).await.map_err(|e| {
            anyhow::anyhow!(
                "cannot listen on {} (server.listen): {e}; pick a free port or stop what uses it",
                config.server.listen
            )
        })?;
        let instance_id = instance::new_id();
        instance::heartbeat(&db, &instance_id).await?;
        Ok(App { config, db, instance_id, listener })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("a bound listener has an address")
    }

    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let App { config, db, instance_id, listener } = self;
        let scheduler = Scheduler::new().await?;
        let (hb_db, hb_id) = (db.clone(), instance_id.clone());
        scheduler
            .add("heartbeat", HEARTBEAT, move |_| {
                let (db, id) = (hb_db.clone(), hb_id.clone());
                async move {
                    if let Err(e) = instance::heartbeat(&db, &id).await {
                        tracing::warn!(error = %e, "heartbeat failed");
                    }
                }
            })
            .await?;
        let purge_db = db.clone();
        scheduler
            .add("purge-raw-messages", &config.retention.purge_schedule, move |_| {
                let db = purge_db.clone();
                async move {
                    let now = chrono::Utc::now().naive_utc();
                    match db.run(move |c| crate::record::ledger::purge_raw(c, now)).await {
                        Ok(n) => tracing::info!(messages = n, "purged raw messages past retention"),
                        Err(e) => tracing::warn!(error = %e, "purging raw messages failed; will retry at the next run"),
                    }
                }
            })
            .await?;
        // Lapsed suppressions leave the list with a `remove` change, so the nodes drop them too.
        let expire_db = db.clone();
        scheduler
            .add("expire-suppressions", EXPIRE, move |_| {
                let db = expire_db.clone();
                async move {
                    let now = chrono::Utc::now().naive_utc();
                    match db.run(move |c| crate::suppress::list::expire(c, now)).await {
                        Ok(0) => {}
                        Ok(n) => tracing::info!(entries = n, "expired suppressions removed"),
                        Err(e) => {
                            tracing::warn!(error = %e, "expiring suppressions failed; will retry at the next run")
                        }
                    }
                }
            })
            .await?;
        let pipeline = Arc::new(Pipeline::new(&config)?);
        for m in &config.mailbox {
            if !m.enabled {
                let (db, name) = (db.clone(), m.name.clone());
                db.run(move |c| state::mark_disabled(c, &name)).await?;
                continue;
            }
            let guard = Arc::new(tokio::sync::Mutex::new(()));
            let job = PollJob {
                db: db.clone(),
                pipeline: pipeline.clone(),
                mailbox: m.clone(),
                owner: instance_id.clone(),
                guard,
            };
            if m.idle {
                let (job, cancel) = (job.clone(), scheduler.cancel_token());
                scheduler.spawn(async move { job.idle(cancel).await });
            }
            scheduler
                .add(&format!("poll:{}", m.name), &m.schedule, move |cancel| job.clone().scheduled(cancel))
                .await?;
        }
        scheduler.start().await?;

        let addr = listener.local_addr()?;
        tracing::info!(%addr, database = db.describe(), instance = %instance_id, "rebound serving");
        let router = api::router(AppState { db: db.clone(), instance_id: instance_id.clone() });
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let server = tokio::spawn(
            axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    let mut rx = stop_rx;
                    let _ = rx.wait_for(|stop| *stop).await;
                })
                .into_future(),
        );

        shutdown.await;
        tracing::info!("shutdown requested: finishing in-flight work");
        let grace = Duration::from_secs(config.server.shutdown_grace_seconds);
        let _ = stop_tx.send(true);
        if !scheduler.shutdown(grace).await {
            tracing::warn!(?grace, "some jobs were still running at the end of the grace period");
        }
        match tokio::time::timeout(grace, server).await {
            Ok(joined) => joined??,
            Err(_) => tracing::warn!(?grace, "HTTP requests still open at the end of the grace period"),
        }
        instance::deregister(&db, &instance_id).await?;
        tracing::info!("rebound stopped");
        Ok(())
    }
}

/// Everything one mailbox's polls need; cloned into its scheduled job and IDLE task.
#[derive(Clone)]
struct PollJob {
    db: Db,
    pipeline: Arc<Pipeline>,
    mailbox: MailboxConfig,
    owner: String,
    /// Keeps this instance's scheduled poll and IDLE-triggered poll from overlapping.
    guard: Arc<tokio::sync::Mutex<()>>,
}

impl PollJob {
    async fn scheduled(self, cancel: CancellationToken) {
        let (db, name) = (self.db.clone(), self.mailbox.name.clone());
        if let Ok(Some(status)) = db.run(move |c| state::get(c, &name)).await
            && let Some(next) = mailbox::next_attempt(&status)
            && chrono::Utc::now().naive_utc() < next
        {
            tracing::debug!(mailbox = %self.mailbox.name, %next, "backing off after repeated failures");
            return;
        }
        self.poll(&cancel).await;
    }

    async fn poll(&self, cancel: &CancellationToken) {
        let Ok(_running) = self.guard.try_lock() else { return };
        let m = &self.mailbox;
        match mailbox::poll_once(&self.db, self.pipeline.clone(), m, &self.owner, cancel).await {
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
    /// arrives; the schedule still runs as the fallback. Reconnects after errors.
    async fn idle(self, cancel: CancellationToken) {
        let m = &self.mailbox;
        let mut pause = std::time::Duration::from_secs(5);
        while !cancel.is_cancelled() {
            let password = match m.password().resolve(&m.name) {
                Ok(Some(p)) => p,
                _ => return tracing::warn!(mailbox = %m.name, "IDLE disabled: no password available"),
            };
            let session = tokio::select! {
                s = Source::open(m, &password) => s,
                _ = cancel.cancelled() => return,
            };
            let mut src = match session {
                Ok(s) if s.can_idle() => s,
                Ok(_) => {
                    return tracing::warn!(mailbox = %m.name, "server does not offer IDLE; polling on the schedule only");
                }
                Err(e) => {
                    tracing::warn!(mailbox = %m.name, error = %e, "IDLE connection failed; retrying");
                    tokio::select! { _ = tokio::time::sleep(pause) => {}, _ = cancel.cancelled() => return }
                    pause = (pause * 2).min(std::time::Duration::from_secs(300));
                    continue;
                }
            };
            pause = std::time::Duration::from_secs(5);
            loop {
                // RFC 2177: re-issue IDLE at least every 29 minutes.
                let waited = tokio::select! {
                    w = src.wait_for_mail(std::time::Duration::from_secs(25 * 60)) => w,
                    _ = cancel.cancelled() => return,
                };
                match waited {
                    Ok(true) => self.poll(&cancel).await,
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

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
