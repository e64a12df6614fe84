//! The local renderer inside `rebound serve`: one task per enabled node with a `path`.
//!
//! Each task renders once at start (so a node is current as soon as the service is up),
//! then at each time of its cron `schedule`; a `push` node also reads the change log's head
//! every [`PUSH_EVERY`] and, when it moved, waits [`BATCH`] for the rest of a burst and
//! renders once for all of it. Renders go through [`super::sync_node`] and its lease, so
//! among instances sharing a database one renders a node at a time (the other's tick finds
//! the lease held and skips). Shutdown stops the tasks between renders; a render in flight
//! completes (it is tracked) or, if the process dies, leaves the previous files in place.
//! The node list is read at start; nodes added through the admin API come with slice 2.

use super::{Node, SyncError, set};
use crate::store::Db;
use chrono::Utc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How often a push node looks at the change log's head.
pub const PUSH_EVERY: Duration = Duration::from_secs(1);
/// How long a push node lets a burst of changes gather before it renders.
pub const BATCH: Duration = Duration::from_millis(300);

/// Starts one task per enabled node that has a path; returns how many.
pub fn start(db: &Db, nodes: Vec<Node>, owner: &str, tracker: &TaskTracker, stop: &CancellationToken) -> usize {
    let mut n = 0;
    for node in nodes.into_iter().filter(|n| n.config.enabled && n.config.path.is_some()) {
        tracing::info!(node = %node.config.name, target = %node.config.target, schedule = %node.config.schedule,
            push = node.config.push, "rendering the suppression list for this node");
        tracker.spawn(job(db.clone(), node, owner.to_string(), stop.clone()));
        n += 1;
    }
    n
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
