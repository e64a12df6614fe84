//! Fetch: the transport stage. Reads raw messages from POP3 and IMAP mailboxes (and, for
//! imports, from the filesystem: [`files`]).
//!
//! Takes a [`MailboxConfig`] and its [`Credentials`] (a password, or OAuth2 tokens from
//! [`oauth2`] sent with [`sasl`]); gives a [`Source`] session that lists
//! messages (ids and sizes only), fetches their raw bytes in caller-sized batches, and, only
//! for the ids the caller says it has committed, applies `after_processing` (delete, move,
//! \Seen). Memory stays flat: listing holds one small [`MessageRef`] per message, and only
//! the batch being fetched holds bodies. Failures are one [`FetchError`] naming the stage,
//! the server's words and what to do. It never parses mail and never writes the database.
//!
//! The usual poll:
//! ```text
//! let mut src = Session::open(&cfg, &password).await?;
//! let refs = src.list_since(&checkpoints).await?;          // take up to max_messages_per_poll
//! for chunk in refs.chunks(20) {
//!     let batch = src.fetch(chunk).await?;                   // bodies of this chunk only
//!     /* parse + commit batch.fetched, note batch.skipped */
//!     src.mark_done(&committed_ids).await?;                  // delete/move/seen, committed only
//! }
//! src.close().await?;                                        // POP3 deletions happen here
//! ```

mod dial;
pub mod error;
pub mod files;
pub mod imap;
pub mod login;
mod net;
pub mod oauth2;
pub mod pop3;
pub mod sasl;
mod tls;
mod trace;
pub mod verify;

pub use error::{ErrorKind, FetchError, Stage};
pub use login::Credentials;
pub use tls::PeerCert;
pub use trace::StageReport;
pub use verify::{VerifyReport, verify};

use crate::config::{MailboxConfig, Protocol};
use serde::Serialize;
use std::fmt;
use std::time::Duration;

/// Where a message lives, stable across sessions: the key for checkpoints and the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(tag = "protocol", rename_all = "lowercase")]
pub enum SourceId {
    Imap { folder: String, uidvalidity: u32, uid: u32 },
    Pop3 { uidl: String },
}

impl fmt::Display for SourceId {
    /// `imap:INBOX:1700000000:42` or `pop3:000000010000abcd`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SourceId::Imap { folder, uidvalidity, uid } => write!(f, "imap:{folder}:{uidvalidity}:{uid}"),
            SourceId::Pop3 { uidl } => write!(f, "pop3:{uidl}"),
        }
    }
}

impl std::str::FromStr for SourceId {
    type Err = String;

    /// Reads back what `Display` wrote (a folder may itself contain `:`).
    fn from_str(s: &str) -> Result<Self, String> {
        if let Some(uidl) = s.strip_prefix("pop3:").filter(|u| !u.is_empty()) {
            return Ok(SourceId::Pop3 { uidl: uidl.to_string() });
        }
        if let Some(rest) = s.strip_prefix("imap:") {
            let mut parts = rest.rsplitn(3, ':');
            if let (Some(uid), Some(v), Some(folder)) = (parts.next(), parts.next(), parts.next())
                && let (Ok(uid), Ok(uidvalidity)) = (uid.parse(), v.parse())
            {
                return Ok(SourceId::Imap { folder: folder.to_string(), uidvalidity, uid });
            }
        }
        Err(format!("`{s}` is not a message id: expected imap:FOLDER:UIDVALIDITY:UID or pop3:UIDL"))
    }
}

/// A listed message: its id and size in bytes as the server reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MessageRef {
    pub id: SourceId,
    pub size: u64,
}

/// A fetched message, byte for byte as the server holds it (CRLF line endings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    pub id: SourceId,
    pub raw: Vec<u8>,
}

/// The most of an oversized message's header block that is kept: enough for any real
/// header, while a message whose "headers" are megabytes cannot fill memory or the ledger.
pub const HEADER_CAP: usize = 256 * 1024;

/// The header block of `raw` (through the blank line that ends it), at most [`HEADER_CAP`]
/// bytes: what is kept of a message that turned out larger than announced.
pub fn header_block(raw: &[u8]) -> Vec<u8> {
    let mut end = 0;
    for line in raw.split_inclusive(|&b| b == b'\n') {
        end += line.len();
        if line == b"\r\n" || line == b"\n" || end >= HEADER_CAP {
            break;
        }
    }
    raw[..end.min(HEADER_CAP)].to_vec()
}

/// Why a listed message was not fetched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum SkipReason {
    /// Larger than `max_message_bytes`; its body is never read. `headers` holds its header
    /// block (at most [`HEADER_CAP`] bytes) for the review queue, or `None` when the server
    /// cannot send headers alone (POP3 without TOP).
    TooLarge {
        size: u64,
        limit: u64,
        #[serde(skip)]
        headers: Option<Vec<u8>>,
    },
    /// Removed (by someone else) since it was listed.
    Gone(String),
    /// The folder's UIDVALIDITY changed since listing: the UID may name another message now.
    Stale,
    /// It arrived other than the server described it (a plain POP3 RETR whose size differs
    /// from LIST's): bytes were added on the way. It stays on the server, untouched, and is
    /// fetched again at the next poll.
    Damaged(FetchError),
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::TooLarge { size, limit, headers } => {
                write!(f, "message of {size} bytes is larger than max_message_bytes = {limit}; not downloaded")?;
                match headers {
                    Some(_) => Ok(()),
                    None => f.write_str(" (the server does not offer TOP, so its headers were not read either)"),
                }
            }
            SkipReason::Gone(why) => write!(f, "message vanished since listing: {why}"),
            SkipReason::Stale => f.write_str("folder UIDVALIDITY changed since listing; list again"),
            SkipReason::Damaged(e) => {
                write!(f, "damaged in transit: {}; left on the server and fetched again at the next poll", e.detail)
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub id: SourceId,
    pub reason: SkipReason,
}

/// The result of fetching one batch, in the order asked.
#[derive(Debug, Default)]
pub struct Batch {
    pub fetched: Vec<Fetched>,
    pub skipped: Vec<Skipped>,
}

/// The last UID processed in an IMAP folder; valid only while UIDVALIDITY is unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FolderCheckpoint {
    pub folder: String,
    pub uidvalidity: u32,
    pub last_uid: u32,
}

/// An open, logged-in mailbox session. One per poll; drop it after any error that
/// [`FetchError::breaks_session`] (further calls then fail fast).
pub enum Session {
    Imap(imap::ImapSession),
    Pop3(pop3::Pop3Session),
}

impl Session {
    /// Connects, secures, logs in (a password, or an OAuth2 token: [`Credentials`]).
    /// Bounded: each network operation by `timeout_seconds`.
    /// (The credentials are taken before the future: a generic argument held in it would
    /// keep callers' futures from being `Send`.)
    pub fn open(
        cfg: &MailboxConfig,
        login: impl Into<Credentials>,
    ) -> impl std::future::Future<Output = Result<Session, FetchError>> + Send + '_ {
        let login = login.into();
        async move {
            let mut trace = trace::Trace::default();
            Self::open_traced(cfg, &login, &mut trace).await
        }
    }

    pub(crate) async fn open_traced(
        cfg: &MailboxConfig,
        login: &Credentials,
        trace: &mut trace::Trace,
    ) -> Result<Session, FetchError> {
        match cfg.protocol {
            Protocol::Imap => imap::ImapSession::open(cfg, login, trace).await.map(Session::Imap),
            Protocol::Pop3 => pop3::Pop3Session::open(cfg, login, trace).await.map(Session::Pop3),
        }
    }

    /// Every message (ids and sizes), in server order.
    pub async fn list(&mut self) -> Result<Vec<MessageRef>, FetchError> {
        self.list_since(&[]).await
    }

    /// IMAP: messages with a UID above the folder's checkpoint (a folder whose UIDVALIDITY
    /// changed is listed whole), per folder in UID order. POP3 has no order or "since":
    /// it lists the whole maildrop and the caller skips UIDLs it already has.
    pub async fn list_since(&mut self, since: &[FolderCheckpoint]) -> Result<Vec<MessageRef>, FetchError> {
        match self {
            Session::Imap(s) => s.list_since(since).await,
            Session::Pop3(s) => s.list().await,
        }
    }

    /// Downloads one batch (pass ~20 refs from the listing: the result holds their bodies).
    /// Messages over `max_message_bytes` are skipped without their bodies being downloaded;
    /// only their headers are read, for the review queue.
    pub async fn fetch(&mut self, batch: &[MessageRef]) -> Result<Batch, FetchError> {
        match self {
            Session::Imap(s) => s.fetch(batch).await,
            Session::Pop3(s) => s.fetch(batch).await,
        }
    }

    /// Applies `after_processing` to exactly these ids; call it only with ids whose results
    /// are committed. POP3 deletions take effect at [`close`](Self::close).
    pub async fn mark_done(&mut self, committed: &[SourceId]) -> Result<(), FetchError> {
        match self {
            Session::Imap(s) => s.mark_done(committed).await,
            Session::Pop3(s) => s.mark_done(committed).await,
        }
    }

    /// True when [`wait_for_mail`](Self::wait_for_mail) can work: IMAP and the server offers IDLE.
    pub fn can_idle(&self) -> bool {
        matches!(self, Session::Imap(s) if s.capabilities().idle)
    }

    /// IMAP IDLE: waits up to `max_wait` for the server to report new mail (true) or not
    /// (false). POP3, or an IMAP server without IDLE, gives an error at `capabilities`.
    pub async fn wait_for_mail(&mut self, max_wait: Duration) -> Result<bool, FetchError> {
        match self {
            Session::Imap(s) => s.wait_for_mail(max_wait).await,
            Session::Pop3(s) => Err(FetchError::new(
                Stage::Capabilities,
                ErrorKind::NotOffered,
                s.server(),
                "POP3 has no IDLE; poll on the schedule",
            )),
        }
    }

    /// Logs out. For POP3 this is when DELEs take effect; an error means they did not.
    pub async fn close(self) -> Result<(), FetchError> {
        match self {
            Session::Imap(s) => s.close().await,
            Session::Pop3(s) => s.close().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_ids_round_trip_through_their_text() {
        for id in [
            SourceId::Imap { folder: "INBOX".into(), uidvalidity: 1_700_000_000, uid: 42 },
            SourceId::Imap { folder: "Archive:2026:bounces".into(), uidvalidity: 7, uid: 1 },
            SourceId::Pop3 { uidl: "000000010000abcd".into() },
        ] {
            assert_eq!(id.to_string().parse::<SourceId>(), Ok(id.clone()), "{id}");
        }
        assert_eq!(SourceId::Pop3 { uidl: "x".into() }.to_string(), "pop3:x");
        assert!("imap:INBOX:x:1".parse::<SourceId>().is_err());
        assert!("pop3:".parse::<SourceId>().is_err());
    }

    #[test]
    fn header_block_stops_at_the_blank_line_and_the_cap() {
        assert_eq!(header_block(b"Subject: a\r\nFrom: b\r\n\r\nbody\r\n"), b"Subject: a\r\nFrom: b\r\n\r\n");
        assert_eq!(header_block(b"Subject: a\n\nbody"), b"Subject: a\n\n");
        assert_eq!(header_block(b"Subject: no body"), b"Subject: no body");
        let huge = [b"X: ".as_slice(), &vec![b'y'; HEADER_CAP * 2], b"\r\n\r\nbody"].concat();
        assert_eq!(header_block(&huge).len(), HEADER_CAP);
    }
}
