//! Running the evaluator: the schedule in `serve`, one round under the evaluator's lease,
//! and the notifications of what fired or resolved.
//!
//! Takes the database, the `[alerts]` settings and an [`Evaluator`]; gives the episodes that
//! changed, after notifying them (Pushover, email; the webhook channel is the `alert.*`
//! events the episodes write). It never decides whether a rule holds: [`Evaluator`] does.

use super::{Evaluator, channels, episodes};
use crate::config::AlertsConfig;
use crate::store::{Db, StoreError};
use chrono::{Duration, Utc};

/// Where the web admin shows episode `id` (its row on the alerts page).
pub fn episode_url(base: &str, id: i64) -> String {
    format!("{}/alerts#episode-{id}", base.trim_end_matches('/'))
}

/// Runs the evaluator in `serve`: every `[alerts] evaluate_every_seconds` and soon after
/// each committed batch, while this instance holds the evaluator's lease.
/// The rules are those of `alert_rules`, followed as they change.
pub fn start(
    db: &Db,
    cfg: &AlertsConfig,
    owner: &str,
    tracker: &tokio_util::task::TaskTracker,
    stop: &tokio_util::sync::CancellationToken,
) {
    let (db, cfg, owner, stop) = (db.clone(), cfg.clone(), owner.to_string(), stop.clone());
    let mut ev = Evaluator::following();
    tracker.spawn(async move {
        let every = std::time::Duration::from_secs(cfg.evaluate_every_seconds);
        let mut due = tokio::time::Instant::now() + every;
        loop {
            let wake = crate::store::COMMITTED.notified();
            if let Err(e) = round(&db, &mut ev, &cfg, &owner).await {
                tracing::warn!(error = %e, "alert evaluation failed; will retry");
            }
            tokio::select! {
                // After a batch, at most once a second; the schedule otherwise.
                _ = wake => tokio::time::sleep(std::time::Duration::from_secs(1)).await,
                _ = tokio::time::sleep_until(due) => due = tokio::time::Instant::now() + every,
                _ = stop.cancelled() => return,
            }
        }
    });
}

/// One evaluation with its notifications; gives what fired and what resolved.
pub async fn round(
    db: &Db,
    ev: &mut Evaluator,
    cfg: &AlertsConfig,
    owner: &str,
) -> Result<Vec<episodes::Episode>, StoreError> {
    let owned = std::mem::replace(ev, Evaluator::following());
    let owner_s = owner.to_string();
    let (back, changed) = db
        .run(move |c| {
            let mut ev = owned;
            let now = Utc::now().naive_utc();
            let ttl = Duration::seconds(120);
            use diesel::prelude::*;
            // No rule, no lease: nothing is written while there is nothing to evaluate.
            ev.refresh(c)?;
            if ev.rules.is_empty() {
                return Ok::<_, StoreError>((ev, Vec::new()));
            }
            let held = crate::take_lease!(c, notify_leases, "alerts", &owner_s, now, ttl).map_err(StoreError::Query)?;
            if !held {
                ev.reset();
                return Ok::<_, StoreError>((ev, Vec::new()));
            }
            ev.prepare(c, now)?;
            ev.feed(c, now)?;
            let holding = ev.holding(c, now)?;
            let mut changed = Vec::new();
            for (rule, h) in ev.rules().cloned().collect::<Vec<_>>().iter().zip(&holding) {
                let (fired, resolved) = episodes::apply(c, rule, h, now)?;
                changed.extend(fired.into_iter().chain(resolved).map(|e| (rule.clone(), e)));
            }
            Ok((ev, changed))
        })
        .await?;
    *ev = back;
    let mut out = Vec::new();
    for (rule, e) in changed {
        let what = if e.resolved_at.is_some() { "resolved" } else { "FIRING" };
        let title = format!("rebound alert {what}: {}", e.rule);
        let text = episodes::title(&e);
        tracing::warn!(rule = %e.rule, group = %e.group_key, state = what, summary = %e.summary, "alert");
        let mut notes = Vec::new();
        for ch in &rule.channels {
            let sent = match ch.as_str() {
                "pushover" => match &cfg.pushover {
                    Some(p) => {
                        let url = cfg.web_url.as_deref().map(|base| episode_url(base, e.id));
                        let link = url.as_deref().map(|url| channels::Link { url, title: "Open in rebound" });
                        Some(channels::pushover(p, &title, &text, link).await)
                    }
                    None => None,
                },
                "email" => match &cfg.email {
                    Some(m) => Some(channels::email(m, &title, &text).await),
                    None => None,
                },
                _ => None,
            };
            if let Some(r) = sent {
                if let Err(err) = &r {
                    tracing::warn!(rule = %e.rule, channel = %ch, error = %err, "alert notification failed");
                }
                notes.push(format!("{ch}: {}", r.err().unwrap_or_else(|| "ok".into())));
            }
        }
        if !notes.is_empty() {
            let (id, note) = (e.id, notes.join("; "));
            db.run(move |c| episodes::noted(c, id, &note)).await?;
        }
        out.push(e);
    }
    Ok(out)
}
