//! `rebound node-agent`: runs on a sending node, pulls its list from a central rebound and
//! installs it with the same renderers and atomic install as `rebound serve`.
//!
//! Takes the server URL, a node token, the target and its options; gives the MTA's file,
//! kept current. The loop: a snapshot when it holds nothing (or is told to: 410), else the
//! changes after its cursor, long-polling `wait` seconds; each batch is applied to the held
//! set, rendered whole, installed atomically ([`crate::sync::atomic`]), and only then is
//! the state file ([`state`]) written and the apply reported (with the checksum of exactly
//! the installed set, computed as the server does). A failed apply keeps the old list in
//! force, is reported with its error, and is retried after a back-off. It never writes to
//! the server's database except through the report route.

pub mod client;
pub mod state;

use crate::config::NodeConfig;
use crate::sync::atomic::ApplyError;
use client::{Client, ReportBody};
use state::{Held, Owner};
use std::path::PathBuf;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Changes per request.
const PAGE: i64 = 10_000;
/// The longest long-poll (the server's limit too).
pub const MAX_WAIT: u64 = 300;
/// The longest pause after a failure.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("{0}; is the server URL right and the server up?")]
    Http(String),
    #[error("{what} answered {status}: {message}")]
    Server { what: String, status: u16, message: String },
    /// The server says: take a fresh snapshot.
    #[error("the server asks for a fresh snapshot: {message}")]
    Gone { rebuild: bool, message: String },
    #[error("{0}")]
    Protocol(String),
    #[error("the list was NOT applied, the previous one stays in force: {0}")]
    Apply(#[from] ApplyError),
}

/// What the agent was told to do.
pub struct Options {
    pub server: String,
    pub token: String,
    pub node: Option<String>,
    /// The target and its options, with `path` = the output file.
    pub render: NodeConfig,
    pub state: PathBuf,
    pub once: bool,
    pub wait: u64,
}

/// One agent: what it holds and whom it talks to.
pub struct Agent {
    opts: Options,
    client: Client,
    held: Option<Held>,
    /// Told to take a fresh snapshot (410, or a report that did not match).
    rebuild: bool,
    /// An install the server has not heard of yet (the report failed): sent again first.
    unreported: Option<Unreported>,
}

struct Unreported {
    seq: i64,
    checksum: crate::sync::Checksum,
    at: chrono::NaiveDateTime,
}

impl Agent {
    pub fn new(opts: Options) -> Result<Agent, AgentError> {
        let client = Client::new(&opts.server, opts.token.clone(), opts.node.clone())?;
        let mut a = Agent { opts, client, held: None, rebuild: false, unreported: None };
        a.held = state::load(&a.opts.state, &a.owner());
        if let Some(h) = &a.held {
            tracing::info!(seq = h.seq, entries = h.set.len(), "resuming from the state file");
        }
        Ok(a)
    }

    fn owner(&self) -> Owner<'_> {
        Owner {
            server: &self.opts.server,
            node: self.opts.node.as_deref(),
            out: self.opts.render.path.as_deref().unwrap_or_default(),
        }
    }

    /// Runs until `stop` (or, with `once`, until current); with `once` the first failure is
    /// the result.
    pub async fn run(mut self, stop: CancellationToken) -> Result<(), AgentError> {
        let mut backoff = Duration::from_secs(1);
        loop {
            let round = tokio::select! {
                r = self.round() => r,
                _ = stop.cancelled() => return Ok(()),
            };
            match round {
                Ok(current) => {
                    backoff = Duration::from_secs(1);
                    if self.opts.once && current {
                        return Ok(());
                    }
                }
                Err(AgentError::Gone { rebuild, message }) => {
                    tracing::info!(rebuild, %message, "taking a fresh snapshot");
                    self.rebuild = true;
                }
                Err(e) if self.opts.once => return Err(e),
                Err(e) => {
                    tracing::warn!(error = %e, retry_in = ?backoff, "sync round failed");
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = stop.cancelled() => return Ok(()),
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }

    /// One snapshot, or one batch of changes; true when the agent is current afterwards.
    async fn round(&mut self) -> Result<bool, AgentError> {
        if let Some(u) = self.unreported.take() {
            self.report(u).await?;
        }
        let Some(held) = self.held.as_ref().filter(|_| !self.rebuild) else {
            let snap = self.client.snapshot().await?;
            let next = Held { seq: snap.seq, set: snap.set };
            tracing::info!(seq = next.seq, entries = next.set.len(), "snapshot received");
            self.install(next).await?;
            return Ok(true);
        };
        let (mut seq, mut working, mut changed) = (held.seq, None::<Held>, 0usize);
        let mut wait = if self.opts.once { 0 } else { self.opts.wait };
        loop {
            let page = self.client.changes(seq, PAGE, wait).await?;
            wait = 0;
            if !page.changes.is_empty() {
                // Applied to a copy: the held set stays what is installed until the install.
                let w = working.get_or_insert_with(|| self.held.clone().unwrap_or_default());
                for ch in &page.changes {
                    let pair = (ch.address.clone(), ch.scope.clone());
                    match ch.op.as_str() {
                        "add" => w.set.insert(pair),
                        "remove" => w.set.remove(&pair),
                        other => {
                            return Err(AgentError::Protocol(format!("change {} has unknown op `{other}`", ch.seq)));
                        }
                    };
                }
                changed += page.changes.len();
            }
            seq = page.next;
            if !page.more {
                break;
            }
        }
        match working {
            Some(mut w) => {
                w.seq = seq;
                tracing::info!(seq, changes = changed, entries = w.set.len(), "changes received");
                self.install(w).await?;
            }
            // Changes of other scopes only: the cursor moves, the file and state stay.
            None => {
                if let Some(h) = self.held.as_mut() {
                    h.seq = seq;
                }
            }
        }
        Ok(true)
    }

    /// Renders and installs `next`, then saves the state and reports; on failure reports
    /// the error and keeps what was held.
    async fn install(&mut self, next: Held) -> Result<(), AgentError> {
        let node = self.opts.render.clone();
        let (next, applied) = tokio::task::spawn_blocking(move || {
            let r = render(&node, &next);
            (next, r)
        })
        .await
        .map_err(|e| AgentError::Protocol(format!("the render task failed: {e}")))?;
        let now = chrono::Utc::now().naive_utc();
        let applied = match applied {
            Ok(sum) => sum,
            Err(e) => {
                let body = ReportBody {
                    node: self.client.node(),
                    seq: self.held.as_ref().map_or(0, |h| h.seq),
                    count: 0,
                    checksum: String::new(),
                    applied_at: now,
                    error: Some(e.to_string()),
                };
                if let Err(r) = self.client.report(&body).await {
                    tracing::warn!(error = %r, "could not report the failed apply");
                }
                return Err(e.into());
            }
        };
        state::save(&self.opts.state, &self.owner(), &next).map_err(|e| {
            AgentError::Protocol(format!(
                "the list was installed but the state file could not be written ({e}); it will be installed again"
            ))
        })?;
        let seq = next.seq;
        self.held = Some(next);
        self.rebuild = false;
        self.report(Unreported { seq, checksum: applied, at: now }).await
    }

    /// Tells the server what is installed; kept to be sent again when that fails.
    async fn report(&mut self, u: Unreported) -> Result<(), AgentError> {
        let body = ReportBody {
            node: self.client.node(),
            seq: u.seq,
            count: u.checksum.count() as i64,
            checksum: u.checksum.hex(),
            applied_at: u.at,
            error: None,
        };
        let reply = match self.client.report(&body).await {
            Ok(r) => r,
            Err(e) => {
                self.unreported = Some(u);
                return Err(e);
            }
        };
        tracing::info!(seq = u.seq, entries = u.checksum.count(), checksum = %u.checksum, verified = ?reply.verified,
            "node list applied");
        if reply.rebuild {
            self.rebuild = true;
        }
        Ok(())
    }
}

/// Renders the whole of `held` for `node` and installs it; gives the installed set's checksum.
pub fn render(node: &NodeConfig, held: &Held) -> Result<crate::sync::Checksum, ApplyError> {
    let path = node.path.as_deref().unwrap_or_default();
    let mut pairs = held.set.iter().cloned();
    let (staged, rendered) = crate::sync::render::stage(node, std::path::Path::new(path), &mut pairs)?;
    let env = [("REBOUND_NODE", node.name.as_str()), ("REBOUND_PATH", path)];
    staged.install(node.after_command.as_deref(), &env)?;
    Ok(rendered.checksum)
}
