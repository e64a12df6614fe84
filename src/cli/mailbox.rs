//! `rebound poll` and `rebound mailbox list`: run polls by hand, and see each mailbox's status.
//!
//! Only a face: which mailboxes exist and their status come from [`crate::mailbox`].

use super::Failure;
use super::output::{Format, opt_time, print};
use crate::config::Config;
use crate::ingest::Pipeline;
use crate::mailbox::{self, MailboxError, PollError, state};
use crate::store::Db;
use std::path::Path;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

fn fail(e: impl Into<anyhow::Error>) -> Failure {
    Failure::Run(e.into())
}

/// Polls the named mailbox (config-file or API-managed), or every enabled one. Without
/// `once`, polls again while a poll stopped at max_messages_per_poll, so the mailbox is drained.
pub fn poll(cfg: &Config, file: &Path, db: &Db, name: Option<&str>, once: bool) -> Result<(), Failure> {
    let mut conn = db.conn().map_err(fail)?;
    let file = file.display().to_string();
    let key = cfg.secrets.load().map_err(|(k, m)| fail(anyhow::anyhow!("{k}: {m}")))?;
    let boxes = mailbox::targets(&mut conn, &cfg.mailbox, Some(&file), name, key.as_ref()).map_err(|e| match e {
        MailboxError::NotFound(_) => Failure::Usage(format!(
            "no mailbox named `{}` in the config file or the database; `rebound mailbox list` shows them",
            name.unwrap_or_default()
        )),
        e => fail(e),
    })?;
    drop(conn);
    if boxes.is_empty() {
        return Err(Failure::Usage("no enabled mailbox in the config file or the database".into()));
    }
    let pipeline = Arc::new(Pipeline::new(cfg).map_err(fail)?);
    let owner = crate::instance::poller_name();
    let rt = super::runtime()?;
    let mut failed = 0;
    for (name, target) in boxes {
        let target = match target {
            Ok(t) => t,
            Err(e) => {
                failed += 1;
                eprintln!("{name}: not polled: {e}");
                continue;
            }
        };
        let m = &target.config;
        let print = |o: &mailbox::PollOutcome| {
            println!(
                "{}: listed {}, fetched {}, {} new ({} records, {} suppressed, {} for review), {} marked done{}",
                m.name,
                o.listed,
                o.fetched,
                o.stats.messages,
                o.stats.events,
                o.stats.suppressed,
                o.stats.review,
                o.marked_done,
                if o.more { "; more waiting" } else { "" }
            );
            for (id, why) in &o.skipped {
                println!("  skipped {id}: {why}");
            }
        };
        let cancel = CancellationToken::new();
        match rt.block_on(mailbox::drain(db, pipeline.clone(), target.id, m, &owner, &cancel, once, print)) {
            Ok(()) => {}
            Err(PollError::Busy { owner, until, .. }) => {
                println!(
                    "{}: {owner} is polling it now (it holds the lease until {} UTC); nothing to do — \
                     try again after that",
                    m.name,
                    until.format("%Y-%m-%d %H:%M:%S")
                );
            }
            Err(e) => {
                failed += 1;
                let hint = match &e {
                    PollError::Fetch(f) => format!("; {}", f.hint()),
                    _ => String::new(),
                };
                eprintln!("{}: poll failed at {}: {e}{hint}", m.name, e.stage());
            }
        }
    }
    if failed > 0 { Err(Failure::Reported) } else { Ok(()) }
}

pub fn list(cfg: &Config, file: &Path, db: &Db, format: Format) -> Result<(), Failure> {
    let mut conn = db.conn().map_err(fail)?;
    let file = file.display().to_string();
    let rows = mailbox::overview(&mut conn, &cfg.mailbox, Some(&file)).map_err(fail)?;
    print(
        format,
        &[
            "name",
            "source",
            "purpose",
            "protocol",
            "server",
            "state",
            "last poll",
            "last success",
            "failures",
            "processed",
            "lease",
            "last error",
        ],
        &rows,
        |r| {
            let s = r.status.as_ref();
            let error = s
                .and_then(|s| {
                    s.last_error.as_ref().map(|e| format!("[{}] {e}", s.last_error_stage.as_deref().unwrap_or("?")))
                })
                .filter(|_| r.state == "failing")
                .unwrap_or_default();
            vec![
                r.name.clone(),
                r.source.as_str().to_string(),
                r.purpose.clone(),
                r.protocol.clone(),
                r.server.clone(),
                r.state.clone(),
                s.map(|s| opt_time(&s.last_poll_at)).unwrap_or_default(),
                s.map(|s| opt_time(&s.last_success_at)).unwrap_or_default(),
                s.map_or(0, |s| s.consecutive_failures).to_string(),
                s.map_or(0, |s| s.messages_processed).to_string(),
                lease(s),
                error,
            ]
        },
    )
    .map_err(fail)
}

/// "OWNER until TIME" while a lease is held, else empty.
fn lease(s: Option<&state::Status>) -> String {
    let now = chrono::Utc::now().naive_utc();
    match s.map(|s| (&s.lease_owner, &s.lease_expires_at)) {
        Some((Some(owner), Some(until))) if *until >= now => {
            format!("{owner} until {}", until.format("%H:%M:%S"))
        }
        _ => String::new(),
    }
}
