//! What an IMAP session does to messages the caller has committed (delete, move, \Seen),
//! and IDLE for near-real-time polling.
//!
//! Takes the committed [`SourceId`]s; applies `after_processing` to exactly those, folder by
//! folder. It never acts on a UID whose folder's UIDVALIDITY changed since listing (that
//! UID may now name another message).

use super::util::{self, Fail, command, op};
use super::{ImapSession, UID_SET_CHARS, UID_SET_MAX};
use crate::config::AfterProcessing;
use crate::fetch::SourceId;
use crate::fetch::error::{ErrorKind, FetchError, Stage};
use async_imap::extensions::idle::IdleResponse;
use std::collections::BTreeMap;
use std::time::Duration;

impl ImapSession {
    /// Applies `after_processing` to the committed messages only.
    pub async fn mark_done(&mut self, committed: &[SourceId]) -> Result<(), FetchError> {
        if self.after == AfterProcessing::Keep {
            return Ok(());
        }
        let mut by_folder: BTreeMap<&str, Vec<(u32, u32)>> = BTreeMap::new();
        for id in committed {
            if let SourceId::Imap { folder, uidvalidity, uid } = id {
                by_folder.entry(folder.as_str()).or_default().push((*uidvalidity, *uid));
            }
        }
        for (folder, ids) in by_folder {
            let info = self.select(folder).await?;
            let (mut uids, stale): (Vec<_>, Vec<_>) = ids.into_iter().partition(|(v, _)| *v == info.uidvalidity);
            if !stale.is_empty() {
                tracing::warn!(
                    server = %self.server, folder, count = stale.len(),
                    "UIDVALIDITY changed since listing; leaving those messages untouched"
                );
            }
            uids.sort_unstable();
            uids.dedup();
            let uids: Vec<u32> = uids.into_iter().map(|(_, u)| u).collect();
            for set in util::uid_sets(&uids, UID_SET_MAX, UID_SET_CHARS) {
                match self.after.clone() {
                    AfterProcessing::Keep => {}
                    AfterProcessing::Seen => self.store(&set, "+FLAGS.SILENT (\\Seen)").await?,
                    AfterProcessing::Delete => self.delete(&set).await?,
                    AfterProcessing::Move(target) => self.move_to(&set, &target).await?,
                }
            }
        }
        Ok(())
    }

    async fn store(&mut self, set: &str, flags: &str) -> Result<(), FetchError> {
        self.run(&format!("UID STORE {set} {flags}")).await
    }

    /// \Deleted then expunge: UID EXPUNGE of exactly these with UIDPLUS; without it a plain
    /// EXPUNGE, which also removes messages others flagged \Deleted in this folder.
    async fn delete(&mut self, set: &str) -> Result<(), FetchError> {
        self.store(set, "+FLAGS.SILENT (\\Deleted)").await?;
        if self.caps.uidplus { self.run(&format!("UID EXPUNGE {set}")).await } else { self.run("EXPUNGE").await }
    }

    /// One command of this stage, read to its completion. Messages another client expunged
    /// meanwhile ([EXPUNGEISSUED]) need nothing more from us.
    async fn run(&mut self, cmd: &str) -> Result<(), FetchError> {
        let r = self.attempt(cmd).await;
        self.check(Stage::Delete, util::partial_ok(r))
    }

    async fn attempt(&mut self, cmd: &str) -> Result<(), Fail> {
        let limit = self.limit;
        match self.session.as_mut() {
            Some(s) => command(s, limit, cmd, |_| {}).await,
            None => Err(Fail::Imap(async_imap::error::Error::ConnectionLost)),
        }
    }

    /// UID MOVE (RFC 6851), or COPY + delete without it; the target is created on TRYCREATE.
    async fn move_to(&mut self, set: &str, target: &str) -> Result<(), FetchError> {
        let verb = if self.caps.move_ { "MOVE" } else { "COPY" };
        let cmd = format!("UID {verb} {set} {}", util::quote(target));
        let mut r = self.attempt(&cmd).await;
        if matches!(&r, Err(f) if util::is_trycreate(f)) {
            self.run(&format!("CREATE {}", util::quote(target))).await?;
            r = self.attempt(&cmd).await;
        }
        self.check(Stage::Delete, util::partial_ok(r)).map_err(|mut e| {
            e.detail = format!("moving to {target}: {}", e.detail);
            e
        })?;
        if self.caps.move_ { Ok(()) } else { self.delete(set).await }
    }

    /// IDLE on the first folder until the server reports a change or `max_wait` passes;
    /// true when something changed (new mail, usually). The session stays usable after.
    /// Dropping the returned future mid-wait loses the session (it is inside IDLE).
    pub async fn wait_for_mail(&mut self, max_wait: Duration) -> Result<bool, FetchError> {
        if !self.caps.idle {
            let e = "the server does not offer IDLE; poll on the schedule instead (idle = false)";
            return Err(FetchError::new(Stage::Capabilities, ErrorKind::NotOffered, &self.server, e));
        }
        let folder = self.folders.first().cloned().unwrap_or_else(|| "INBOX".into());
        self.select(&folder).await?;
        let limit = self.limit;
        let Some(session) = self.session.take() else { return Err(self.lost()) };
        let mut idle = session.idle();
        let started = op(limit, idle.init()).await;
        self.check(Stage::Fetch, started)?;
        let woke = {
            let (wait, _interrupt) = idle.wait_with_timeout(max_wait);
            match tokio::time::timeout(max_wait + limit, wait).await {
                Ok(Ok(IdleResponse::NewData(_))) => Ok(true),
                Ok(Ok(IdleResponse::Timeout | IdleResponse::ManualInterrupt)) => Ok(false),
                Ok(Err(e)) => Err(Fail::Imap(e)),
                Err(_) => Err(Fail::Timeout(max_wait + limit)),
            }
        };
        let woke = self.check(Stage::Fetch, woke)?;
        let back = op(limit, idle.done()).await;
        self.session = Some(self.check(Stage::Fetch, back)?);
        Ok(woke)
    }

    fn lost(&self) -> FetchError {
        FetchError::new(Stage::Fetch, ErrorKind::Local, &self.server, "the session was lost after an earlier error")
    }
}
