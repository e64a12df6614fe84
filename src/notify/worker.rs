//! The delivery worker inside `rebound serve`: fan-out, then POSTs to every endpoint whose
//! lease this instance holds.
//!
//! Each round fans the outbox out, then for each enabled endpoint takes (or renews) its lease
//! and sends what is due: a `batch` endpoint gets up to `[notify] batch_max` events per POST;
//! an `ordered` one gets one POST at a time, in event order, and a failure holds the rest
//! back; the others get up to `[notify] concurrency` POSTs at once. A round starts after any
//! transaction this process commits (an event is on its way within milliseconds) and at least
//! every [`IDLE`]. Shutdown stops it between rounds; a round in flight finishes (tracked).

use super::deliver::{self, Due, Outcome};
use super::endpoints::Webhook;
use super::sign;
use crate::config::NotifyConfig;
use crate::store::Db;
use chrono::Utc;
use futures_util::StreamExt;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The longest pause between two rounds.
pub const IDLE: Duration = Duration::from_millis(500);
/// The shortest: a burst of commits makes one round, not one per commit.
const SPACING: Duration = Duration::from_millis(20);
/// POSTs per concurrency slot a round prepares (an ordered endpoint: per round in all).
const ROUND_POSTS_PER_SLOT: usize = 8;
/// How much of a receiver's answer is kept with the attempt.
const EXCERPT: usize = 512;

/// Starts the worker until `stop`.
pub fn start(db: &Db, cfg: &NotifyConfig, owner: &str, tracker: &TaskTracker, stop: &CancellationToken) {
    let worker = Worker::new(db.clone(), cfg.clone(), owner.to_string());
    let stop = stop.clone();
    tracker.spawn(async move { worker.run(stop).await });
}

/// One instance's sender.
pub struct Worker {
    db: Db,
    cfg: NotifyConfig,
    owner: String,
    http: reqwest::Client,
}

impl Worker {
    pub fn new(db: Db, cfg: NotifyConfig, owner: String) -> Worker {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(cfg.timeout_seconds))
            .user_agent(concat!("rebound/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("a client with a timeout and a user agent builds");
        Worker { db, cfg, owner, http }
    }

    /// Runs rounds until `stop`.
    pub async fn run(&self, stop: CancellationToken) {
        let mut next_prune = Instant::now();
        loop {
            let wake = crate::store::COMMITTED.notified();
            if let Err(e) = self.round().await {
                tracing::warn!(error = %e, "webhook delivery round failed; will retry");
            }
            if Instant::now() >= next_prune {
                next_prune = Instant::now() + Duration::from_secs(600);
                let before = Utc::now().naive_utc() - chrono::Duration::days(i64::from(self.cfg.keep_days));
                if let Err(e) = self.db.run(move |c| deliver::prune(c, before)).await {
                    tracing::warn!(error = %e, "pruning old webhook deliveries failed; will retry");
                }
            }
            tokio::select! {
                _ = wake => tokio::time::sleep(SPACING).await,
                _ = tokio::time::sleep(IDLE) => {}
                _ = stop.cancelled() => return,
            }
        }
    }

    /// Fans out, then delivers to every endpoint this instance can lease; gives how many POSTs.
    pub async fn round(&self) -> Result<usize, crate::store::StoreError> {
        loop {
            let now = Utc::now().naive_utc();
            if self.db.run(move |c| deliver::fan_out(c, now)).await? == 0 {
                break;
            }
        }
        let endpoints = self.db.run(super::endpoints::list).await?;
        let mut posts = 0;
        for w in endpoints.into_iter().filter(|w| w.config.enabled && w.pending > 0) {
            posts += self.deliver(&w).await?;
        }
        Ok(posts)
    }

    fn lease(&self) -> chrono::Duration {
        chrono::Duration::seconds(self.cfg.lease_seconds as i64)
    }

    async fn deliver(&self, w: &Webhook) -> Result<usize, crate::store::StoreError> {
        let (id, owner, ttl) = (w.id, self.owner.clone(), self.lease());
        let now = Utc::now().naive_utc();
        if !self.db.run(move |c| deliver::claim(c, id, &owner, now, ttl)).await? {
            return Ok(0);
        }
        let per_post = if w.config.batch { self.cfg.batch_max } else { 1 };
        let posts_at_once = self.cfg.concurrency;
        let ordered = w.config.ordered;
        // Several POSTs per slot and round: the round's queries are paid once for all of them.
        let limit = (per_post * posts_at_once * ROUND_POSTS_PER_SLOT) as i64;
        let due = self.db.run(move |c| deliver::due(c, id, ordered, now, limit)).await?;
        if due.is_empty() {
            return Ok(0);
        }
        let keys = match w
            .config
            .secret()
            .resolve(&format!("webhook {}", w.config.name))
            .map(|s| s.map(|s| sign::keys(s.expose())))
        {
            Ok(Some(Ok(keys))) => keys,
            Ok(Some(Err(e))) | Err(e) => return self.refuse(w, &due, e).await,
            Ok(None) => return self.refuse(w, &due, "no secret is configured".into()).await,
        };
        let groups: Vec<Vec<Due>> = due.chunks(per_post).map(<[Due]>::to_vec).collect();
        if ordered {
            // One POST at a time, each its own attempt; a failure holds back the events after it.
            let mut n = 0;
            for g in groups {
                let Some(o) = self.send_round(w, &keys, vec![g], 1).await? else { break };
                n += 1;
                if !o.iter().all(|o| o.status.is_some_and(|s| (200..300).contains(&s))) {
                    break;
                }
            }
            return Ok(n);
        }
        Ok(self.send_round(w, &keys, groups, posts_at_once).await?.map_or(0, |o| o.len()))
    }

    /// Begins one attempt per group (None: the lease was lost, nothing is sent), POSTs them
    /// `at_once` at a time, and records the outcomes.
    async fn send_round(
        &self,
        w: &Webhook,
        keys: &[Vec<u8>],
        groups: Vec<Vec<Due>>,
        at_once: usize,
    ) -> Result<Option<Vec<Outcome>>, crate::store::StoreError> {
        let (id, owner, ttl, now) = (w.id, self.owner.clone(), self.lease(), Utc::now().naive_utc());
        let owned = groups.clone();
        let attempts = self
            .db
            .run(move |c| {
                let groups: Vec<Vec<&Due>> = owned.iter().map(|g| g.iter().collect()).collect();
                deliver::begin(c, id, &owner, &groups, now, ttl)
            })
            .await?;
        let Some(attempts) = attempts else { return Ok(None) };
        let mut sends = Vec::with_capacity(groups.len());
        for (g, attempt) in groups.into_iter().zip(attempts.iter().copied()) {
            sends.push(self.post(w, keys, g, attempt, w.config.batch));
        }
        let outcomes: Vec<Outcome> = futures_util::stream::iter(sends).buffer_unordered(at_once).collect().await;
        let (cfg, end, done) = (self.cfg.clone(), Utc::now().naive_utc(), outcomes.clone());
        self.db.run(move |c| deliver::finish(c, id, &done, &cfg, end)).await?;
        Ok(Some(outcomes))
    }

    /// Counts a round that could not be signed as a failed attempt per event, so the endpoint
    /// shows why (the secret's name, never its value).
    async fn refuse(&self, w: &Webhook, due: &[Due], why: String) -> Result<usize, crate::store::StoreError> {
        let (id, owner, ttl, now) = (w.id, self.owner.clone(), self.lease(), Utc::now().naive_utc());
        let due: Vec<Due> = due.iter().take(1).cloned().collect();
        let cfg = self.cfg.clone();
        self.db
            .run(move |c| {
                let group: Vec<&Due> = due.iter().collect();
                let Some(ids) = deliver::begin(c, id, &owner, &[group], now, ttl)? else { return Ok(()) };
                let o = Outcome {
                    attempt_id: ids[0],
                    deliveries: due.iter().map(|d| (d.delivery_id, d.attempts)).collect(),
                    status: None,
                    latency_ms: 0,
                    excerpt: None,
                    error: Some(format!("cannot sign: {why}")),
                };
                deliver::finish(c, id, &[o], &cfg, now)
            })
            .await?;
        Ok(0)
    }

    async fn post(&self, w: &Webhook, keys: &[Vec<u8>], group: Vec<Due>, attempt: i64, batch: bool) -> Outcome {
        let body = if batch {
            format!("[{}]", group.iter().map(|d| d.payload.as_str()).collect::<Vec<_>>().join(","))
        } else {
            group[0].payload.clone()
        };
        // A batch's id is its first event's, marked: stable for the same group on a retry.
        let msg_id =
            if batch { format!("{}+{}", group[0].event_id, group.len() - 1) } else { group[0].event_id.clone() };
        let ts = Utc::now().timestamp();
        let signature = sign::signature(keys, &msg_id, ts, body.as_bytes());
        let started = Instant::now();
        let sent = self
            .http
            .post(&w.config.url)
            .header("content-type", "application/json")
            .header("webhook-id", &msg_id)
            .header("webhook-timestamp", ts.to_string())
            .header("webhook-signature", signature)
            .header("rebound-attempt-id", attempt.to_string())
            .body(body)
            .send()
            .await;
        let deliveries = group.iter().map(|d| (d.delivery_id, d.attempts)).collect();
        let (status, excerpt, error) = match sent {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let text = resp.text().await.unwrap_or_default();
                (Some(status), Some(crate::fetch::error::clip(&text, EXCERPT)).filter(|t| !t.is_empty()), None)
            }
            Err(e) => (None, None, Some(describe(&e))),
        };
        let latency_ms = started.elapsed().as_millis() as i64;
        Outcome { attempt_id: attempt, deliveries, status, latency_ms, excerpt, error }
    }
}

/// A reqwest error with its causes, in words (the URL is the endpoint's, no secret in it).
fn describe(e: &reqwest::Error) -> String {
    let mut out = if e.is_timeout() { "timed out".to_string() } else { e.to_string() };
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
