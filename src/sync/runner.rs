//! The local renderer inside `rebound serve`: one task per enabled node with a `path`.
//!
//! Each task renders once at start (so a node is current as soon as the service is up),
//! then at each time of its cron `schedule`; a `push` node also reads the change log's head
//! every [`PUSH_EVERY`] and, when it moved, waits [`BATCH`] for the rest of a burst and
//! renders once for all of it. Renders go through [`super::sync_node`] and its lease, so
//! among instances sharing a database one renders a node at a time (the other's tick finds
//! the lease held and skips). Shutdown stops the tasks between renders; a render in flight
//! completes (it is tracked) or, if the process dies, leaves the previous files in place.
//! The node list is followed at run time: every [`RELOAD_EVERY`] the [`super::nodes::VERSION`]
//! counter is read, and when it moved the tasks of removed, disabled or changed nodes are
//! stopped (between renders) and the new or changed ones started.

use super::{Node, SyncError, set};
use crate::config::NodeConfig;
use crate::store::Db;
use chrono::Utc;
use std::collections::HashMap;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How often the node list's version is read.
pub const RELOAD_EVERY: Duration = Duration::from_secs(2);

/// How often a push node looks at the change log's head.
pub const PUSH_EVERY: Duration = Duration::from_secs(1);
/// How long a push node lets a burst of changes gather before it renders.
pub const BATCH: Duration = Duration::from_millis(300);

/// Starts the task that keeps one render task per enabled node with a path, following the
/// node list until `stop`.
pub fn start(db: &Db, owner: &str, tracker: &TaskTracker, stop: &CancellationToken) {
    tracker.spawn(follow(db.clone(), owner.to_string(), tracker.clone(), stop.clone()));
}

async fn follow(db: Db, owner: String, tracker: TaskTracker, stop: CancellationToken) {
    let mut running: Running = HashMap::new();
    let mut seen = None;
    loop {
        let version = db.run(|c| crate::store::counter::read(c, super::nodes::VERSION)).await;
        if let Ok(v) = version
            && seen != Some(v)
        {
            match db.run(super::status::list).await {
                Ok(nodes) => {
                    seen = Some(v);
                    reconcile(&db, &owner, &tracker, &stop, &mut running, nodes);
                }
                Err(e) => tracing::warn!(error = %e, "cannot read the node list; will retry"),
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(RELOAD_EVERY) => {}
            _ = stop.cancelled() => return,
        }
    }
}

/// The render task of each node id: the settings it runs with, its stop, its handle.
type Running = HashMap<i64, (NodeConfig, CancellationToken, tokio::task::JoinHandle<()>)>;

fn reconcile(
    db: &Db,
    owner: &str,
    tracker: &TaskTracker,
    stop: &CancellationToken,
    running: &mut Running,
    nodes: Vec<Node>,
) {
    let wanted: HashMap<i64, Node> =
        nodes.into_iter().filter(|n| n.config.enabled && n.config.path.is_some()).map(|n| (n.id, n)).collect();
    let mut stopping = HashMap::new();
    running.retain(|id, (cfg, task, handle)| {
        let keep = wanted.get(id).is_some_and(|n| &n.config == cfg);
        if !keep {
            tracing::info!(node = %cfg.name, "node removed, disabled or changed; its render task stops");
            task.cancel();
            stopping.insert(*id, std::mem::replace(handle, tokio::spawn(async {})));
        }
        keep
    });
    for (id, node) in wanted {
        if running.contains_key(&id) {
            continue;
        }
        tracing::info!(node = %node.config.name, target = %node.config.target, schedule = %node.config.schedule,
            push = node.config.push, "rendering the suppression list for this node");
        let task = stop.child_token();
        // A changed node's old task may be mid-render (same files, same lease owner): the
        // new one starts when it has finished.
        let before = stopping.remove(&id);
        let (db, owner, t, cfg) = (db.clone(), owner.to_string(), task.clone(), node.config.clone());
        let handle = tracker.spawn(async move {
            if let Some(b) = before {
                let _ = b.await;
            }
            job(db, node, owner, t).await
        });
        running.insert(id, (cfg, task, handle));
    }
}

/// Renders `node` now on the blocking pool (a render runs postmap and may take seconds).
pub async fn render_now(db: &Db, node: &Node, owner: &str) -> Result<super::Applied, SyncError> {
    let (db, node, owner) = (db.clone(), node.clone(), owner.to_string());
    tokio::task::spawn_blocking(move || {
        let mut c = db.conn()?;
        super::sync_node(&mut c, &node, &owner, Utc::now().naive_utc())
    })
    .await
    .map_err(|e| SyncError::Store(crate::store::StoreError::Task(e.to_string())))?
}

async fn head(db: &Db) -> Option<i64> {
    db.run(set::head).await.ok()
}

async fn render_logged(db: &Db, node: &Node, owner: &str, why: &str) -> Option<i64> {
    let name = &node.config.name;
    match render_now(db, node, owner).await {
        Ok(a) => {
            tracing::info!(node = %name, why, seq = a.seq, entries = a.checksum.count(), written = a.written,
                skipped = a.skipped, checksum = %a.checksum, "node list applied");
            Some(a.seq)
        }
        Err(e @ SyncError::Busy { .. }) => {
            tracing::debug!(node = %name, "{e}");
            None
        }
        Err(e) => {
            tracing::warn!(node = %name, why, error = %e, "node list NOT applied; the previous list stays in force");
            None
        }
    }
}

async fn job(db: Db, node: Node, owner: String, stop: CancellationToken) {
    let name = node.config.name.clone();
    let cron = match crate::scheduler::parse_cron(&node.config.schedule) {
        Ok(c) => c,
        Err(e) => return tracing::warn!(node = %name, error = %e, "bad schedule; not rendering"),
    };
    let mut seen = head(&db).await.unwrap_or(0);
    if let Some(seq) = render_logged(&db, &node, &owner, "start").await {
        seen = seen.max(seq);
    }
    loop {
        let now = Utc::now();
        let Ok(next) = cron.find_next_occurrence(&now, false) else {
            return tracing::warn!(node = %name, "schedule has no next time; not rendering");
        };
        // Until the next scheduled time, a push node watches the head.
        loop {
            let left = (next - Utc::now()).to_std().unwrap_or_default();
            if left.is_zero() {
                break;
            }
            let nap = if node.config.push { left.min(PUSH_EVERY) } else { left };
            tokio::select! {
                _ = tokio::time::sleep(nap) => {}
                _ = stop.cancelled() => return,
            }
            if node.config.push
                && let Some(h) = head(&db).await
                && h > seen
            {
                tokio::select! {
                    _ = tokio::time::sleep(BATCH) => {}
                    _ = stop.cancelled() => return,
                }
                // A failed render waits for the schedule (or the next change), not a hot loop.
                seen = h;
                if let Some(seq) = render_logged(&db, &node, &owner, "push").await {
                    seen = seen.max(seq);
                }
            }
        }
        if stop.is_cancelled() {
            return;
        }
        if let Some(seq) = render_logged(&db, &node, &owner, "schedule").await {
            seen = seen.max(seq);
        }
    }
}
