//! The running service: admin HTTP server, scheduler, mailbox supervisor, node renderer and
//! webhook delivery worker, sharing one pool.
//!
//! Takes a validated [`Config`]; `build` connects, migrates, mirrors the config file's
//! mailboxes into the database and binds (port 0 picks a free port, which tests use), `run`
//! serves until the shutdown future resolves, then stops
//! accepting work, lets in-flight jobs and requests finish within the grace period, and
//! deregisters. It never leaves half-written work: every unit of work commits in one
//! transaction, so an interrupted one simply did not happen.

use crate::api::{self, AppState};
use crate::config::Config;
use crate::ingest::Pipeline;
use crate::mailbox::{self, Supervisor};
use crate::scheduler::Scheduler;
use crate::{instance, store::Db};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// How often this instance proves it is alive.
const HEARTBEAT: &str = "*/30 * * * * *";
/// How often lapsed suppressions (`expire_after_days`) are removed: a minute late at most.
const EXPIRE: &str = "15 * * * * *";
/// How often the suppression change log is compacted to `[sync] change_retention_days`.
const COMPACT: &str = "0 41 * * * *";

pub struct App {
    pub config: Config,
    pub db: Db,
    pub instance_id: String,
    listener: TcpListener,
    tls: Option<axum_server::tls_rustls::RustlsConfig>,
}

impl App {
    pub async fn build(config: Config) -> anyhow::Result<App> {
        Self::build_from(config, None).await
    }

    /// Like [`App::build`], naming the config file the `[[mailbox]]` entries came from (an
    /// API write to one of them is refused with that name).
    pub async fn build_from(config: Config, file: Option<&std::path::Path>) -> anyhow::Result<App> {
        crate::observe::install();
        let db_cfg = config.database.clone();
        let db = tokio::task::spawn_blocking(move || Db::connect(&db_cfg)).await??;
        let seeded = db.run(crate::classify::repo::seed_if_empty).await?;
        if seeded > 0 {
            tracing::info!(rules = seeded, "seeded the default rule library");
        }
        let file = file.map(|f| f.display().to_string());
        let (entries, node_file) = (config.mailbox.clone(), file.clone());
        let synced = db.run(move |c| mailbox::repo::sync_config(c, &entries, file.as_deref())).await?;
        if !synced.is_empty() {
            tracing::info!(added = ?synced.added, updated = ?synced.updated, deleted = ?synced.deleted,
                "mailboxes of the config file registered");
        }
        let (nodes, hooks, rules) = (config.node.clone(), config.webhook.clone(), config.alert.clone());
        db.run(move |c| {
            let now = chrono::Utc::now().naive_utc();
            crate::sync::status::sync_config(c, &nodes, node_file.as_deref(), now)?;
            crate::notify::endpoints::sync_config(c, &hooks, node_file.as_deref(), now)?;
            crate::notify::alert::rules::sync_config(c, &rules, node_file.as_deref(), now)
        })
        .await?;
        let listener = TcpListener::bind(&config.server.listen).await.map_err(|e| {
            anyhow::anyhow!(
                "cannot listen on {} (server.listen): {e}; pick a free port or stop what uses it",
                config.server.listen
            )
        })?;
        let tls = api::serve::tls_config(&config.server).await?;
        let instance_id = instance::new_id();
        instance::heartbeat(&db, &instance_id).await?;
        Ok(App { config, db, instance_id, listener, tls })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("a bound listener has an address")
    }

    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let App { config, db, instance_id, listener, tls } = self;
        let scheduler = Scheduler::new().await?;
        let (hb_db, hb_id) = (db.clone(), instance_id.clone());
        scheduler
            .add("heartbeat", HEARTBEAT, move |_| {
                let (db, id) = (hb_db.clone(), hb_id.clone());
                async move {
                    instance::heartbeat(&db, &id).await.inspect_err(|e| tracing::warn!(error = %e, "heartbeat failed"))
                }
            })
            .await?;
        let purge_db = db.clone();
        scheduler
            .add("purge-raw-messages", &config.retention.purge_schedule, move |_| {
                let db = purge_db.clone();
                async move {
                    let now = chrono::Utc::now().naive_utc();
                    let purged = db.run(move |c| crate::record::ledger::purge_raw(c, now)).await;
                    match &purged {
                        Ok(n) => tracing::info!(messages = n, "purged raw messages past retention"),
                        Err(e) => tracing::warn!(error = %e, "purging raw messages failed; will retry at the next run"),
                    }
                    purged
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
                    let expired = db.run(move |c| crate::suppress::list::expire(c, now)).await;
                    match &expired {
                        Ok(0) => {}
                        Ok(n) => tracing::info!(entries = n, "expired suppressions removed"),
                        Err(e) => {
                            tracing::warn!(error = %e, "expiring suppressions failed; will retry at the next run")
                        }
                    }
                    expired
                }
            })
            .await?;
        // Changes past retention leave the log (never the list): a lagging node re-snapshots.
        let (compact_db, days) = (db.clone(), config.sync.change_retention_days);
        scheduler
            .add("compact-suppression-changes", COMPACT, move |_| {
                let db = compact_db.clone();
                async move {
                    let now = chrono::Utc::now().naive_utc();
                    match db.run(move |c| crate::sync::retention::compact(c, days, now)).await {
                        Ok(0) => {}
                        Ok(n) => tracing::info!(changes = n, days, "compacted the suppression change log"),
                        Err(e) => {
                            tracing::warn!(error = %e, "compacting the change log failed; will retry at the next run")
                        }
                    }
                }
            })
            .await?;
        let pipeline = Arc::new(Pipeline::new(&config)?);
        // Validated with the config; read once here for the pollers and the API alike.
        let key = config.secrets.load().map_err(|(k, m)| anyhow::anyhow!("{k}: {m}"))?;
        let supervisor = Supervisor::new(
            db.clone(),
            pipeline.clone(),
            instance_id.clone(),
            scheduler.tracker(),
            scheduler.cancel_token(),
        )
        .with_key(key.clone());
        scheduler.spawn(supervisor.run());
        crate::sync::runner::start(&db, &instance_id, &scheduler.tracker(), &scheduler.cancel_token());
        crate::notify::worker::start(
            &db,
            &config.notify,
            &instance_id,
            &scheduler.tracker(),
            &scheduler.cancel_token(),
        );
        let (tracker, stop) = (scheduler.tracker(), scheduler.cancel_token());
        crate::ingest::log_follow::start(&db, pipeline.clone(), &config.mta_log, &tracker, &stop);
        let mut alerts = config.alerts.clone();
        if alerts.web_url.is_none() {
            let scheme = if tls.is_some() { "https" } else { "http" };
            alerts.web_url = Some(format!("{scheme}://{}", config.server.listen));
        }
        crate::notify::alert::start(&db, &alerts, &instance_id, &tracker, &stop);
        scheduler.start().await?;

        let addr = listener.local_addr()?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        tracing::info!(%addr, scheme, database = db.describe(), instance = %instance_id, "rebound serving");
        let mut state = AppState::new(db.clone(), instance_id.clone(), Arc::new(config.clone()), pipeline);
        state.jobs = scheduler.book();
        state.stop = scheduler.cancel_token();
        state.mailboxes = api::MailboxOps::new(key, scheduler.tracker(), scheduler.cancel_token());
        let router = api::router(state);
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let server = api::serve::spawn(listener, router, tls, stop_rx)?;

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
