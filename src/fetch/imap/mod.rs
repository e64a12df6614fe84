//! An IMAP client session on async-imap: greeting, STARTTLS, LOGIN, capabilities, listing
//! folders by UID with sizes, fetching bodies in small batches.
//!
//! Takes the mailbox settings and its password; gives messages as [`MessageRef`]s (folder,
//! UIDVALIDITY, UID, size) and their raw bytes via `BODY.PEEK[]` (so \Seen is left alone).
//! async-imap has no timeouts and buffers each response whole, so every await here is
//! bounded, sizes are fetched before bodies, of oversized messages only the (capped) header
//! block is requested, and after any error that may leave a response half-read the session
//! is dropped. It never changes a message: that is [`ImapSession::mark_done`] in `done.rs`,
//! on the caller's word.

mod done;
mod login;
mod utf7;
mod util;

use super::dial::{self, dial};
use super::error::{DETAIL_MAX, ErrorKind, FetchError, Stage, clip};
use super::login::Credentials;
use super::net::Conn;
use super::trace::Trace;
use super::{Batch, Fetched, FolderCheckpoint, HEADER_CAP, MessageRef, SkipReason, Skipped, SourceId};
use crate::config::{AfterProcessing, MailboxConfig, Security};
use async_imap::imap_proto::{
    AttributeValue, Capability, MailboxDatum, MessageSection, Response, ResponseCode, SectionPath, Status,
};
use async_imap::{Client, Session};
use serde::Serialize;
use serde_json::json;
use std::collections::HashMap;
use std::time::Duration;
use util::{Fail, command, op, to_error};

/// Bodies per UID FETCH: small, because async-imap buffers each response whole.
const BODY_BATCH: usize = 20;
/// UIDs per size listing or flag change/expunge, and the longest set sent. A server's cost is
/// mostly per command (Dovecot rereads a large maildir on every expunge: 500 UIDs per
/// expunge made deleting 100,000 messages take 25 s, 5,000 took 7 s); the character cap
/// keeps scattered sets within servers' line limits.
const UID_SET_MAX: usize = 5000;
const UID_SET_CHARS: usize = 8000;

/// What the server can do, read after login (servers may advertise more once authenticated).
#[derive(Debug, Clone, Default, Serialize)]
pub struct ImapCapabilities {
    pub idle: bool,
    #[serde(rename = "move")]
    pub move_: bool,
    pub uidplus: bool,
    pub all: Vec<String>,
}

/// One selected folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FolderInfo {
    pub name: String,
    pub messages: u32,
    pub uidvalidity: u32,
}

pub struct ImapSession {
    session: Option<Session<Conn>>,
    server: String,
    limit: Duration,
    max_bytes: u64,
    after: AfterProcessing,
    folders: Vec<String>,
    caps: ImapCapabilities,
    selected: Option<FolderInfo>,
}

impl ImapSession {
    /// Connects, reads the greeting, upgrades to TLS as configured, logs in, reads capabilities.
    pub(crate) async fn open(cfg: &MailboxConfig, login: &Credentials, trace: &mut Trace) -> Result<Self, FetchError> {
        let (server, limit) = (dial::server(cfg), dial::limit(cfg));
        let conn = dial(cfg, trace).await?;
        let mut client = Client::new(conn);

        // async-imap's Client::new does not read the greeting; do it before anything else.
        trace.enter(Stage::Greeting);
        let (greeting, offers_starttls) = read_greeting(&mut client, &server, limit).await?;
        trace.pass(format!("* OK {greeting}"), json!({ "greeting": greeting }));

        if cfg.security == Security::Starttls {
            trace.enter(Stage::Tls);
            if offers_starttls == Some(false) {
                return Err(FetchError::new(
                    Stage::Tls,
                    ErrorKind::NotOffered,
                    &server,
                    "the server does not offer STARTTLS (not in the capabilities of its greeting)",
                ));
            }
            if let Err(fail) = op(limit, client.run_command_and_check_ok("STARTTLS", None)).await {
                let mut e = to_error(Stage::Tls, &server, fail);
                if e.kind == ErrorKind::Rejected {
                    e.kind = ErrorKind::NotOffered;
                    e.detail = format!("the server refused STARTTLS: {}", e.detail);
                }
                return Err(e);
            }
            // No second greeting follows STARTTLS: a fresh client on the TLS stream goes on.
            let conn = dial::upgrade(client.into_inner(), cfg, trace).await?;
            client = Client::new(conn);
        }

        let (mut session, how) = login::login(client, cfg, login, &server, limit, trace).await?;
        trace.pass(format!("logged in as {}{how}", cfg.username), json!({ "username": cfg.username }));

        trace.enter(Stage::Capabilities);
        let mut all: Vec<String> = Vec::new();
        let r = command(&mut session, limit, "CAPABILITY", |r| {
            if let Response::Capabilities(caps) = r {
                all.extend(caps.iter().map(|c| match c {
                    Capability::Imap4rev1 => "IMAP4rev1".to_string(),
                    Capability::Auth(a) => format!("AUTH={a}"),
                    Capability::Atom(a) => a.to_string(),
                }));
            }
        })
        .await;
        r.map_err(|f| to_error(Stage::Capabilities, &server, f))?;
        all.sort();
        let has = |name: &str| all.iter().any(|c| c.eq_ignore_ascii_case(name));
        let caps = ImapCapabilities { idle: has("IDLE"), move_: has("MOVE"), uidplus: has("UIDPLUS"), all };
        trace.pass(
            format!("IDLE {}, MOVE {}, UIDPLUS {}", yes(caps.idle), yes(caps.move_), yes(caps.uidplus)),
            json!(caps),
        );
        Ok(ImapSession {
            session: Some(session),
            server,
            limit,
            max_bytes: cfg.max_message_bytes,
            after: cfg.after_processing.clone(),
            folders: cfg.folders.clone(),
            caps,
            selected: None,
        })
    }

    pub fn capabilities(&self) -> &ImapCapabilities {
        &self.caps
    }

    fn sess(&mut self, stage: Stage) -> Result<&mut Session<Conn>, FetchError> {
        let server = self.server.clone();
        self.session.as_mut().ok_or_else(|| {
            FetchError::new(
                stage,
                ErrorKind::Local,
                &server,
                "the session was lost after an earlier error; open a new one",
            )
        })
    }

    /// Maps a failure; one that may leave a response half-read drops the session.
    fn check<T>(&mut self, stage: Stage, r: Result<T, Fail>) -> Result<T, FetchError> {
        r.map_err(|fail| {
            let e = to_error(stage, &self.server, fail);
            if e.breaks_session() {
                self.session = None;
                self.selected = None;
            }
            e
        })
    }

    /// SELECTs `folder` unless it is already selected.
    async fn select(&mut self, folder: &str) -> Result<FolderInfo, FetchError> {
        if let Some(info) = self.selected.as_ref().filter(|i| i.name == folder) {
            return Ok(info.clone());
        }
        self.selected = None;
        let limit = self.limit;
        let (mut exists, mut uidvalidity) = (0, None);
        let s = self.sess(Stage::Select)?;
        let r = command(s, limit, &format!("SELECT {}", util::quote(folder)), |r| match r {
            Response::MailboxData(MailboxDatum::Exists(n)) => exists = *n,
            Response::Data { outcome, .. } => {
                if let Some(ResponseCode::UidValidity(v)) = outcome.code {
                    uidvalidity = Some(v);
                }
            }
            _ => {}
        })
        .await;
        self.check(Stage::Select, r).map_err(|mut e| {
            e.detail = format!("{folder}: {}", e.detail);
            e
        })?;
        let Some(uidvalidity) = uidvalidity else {
            return Err(FetchError::new(
                Stage::Select,
                ErrorKind::Protocol,
                &self.server,
                format!("{folder}: no UIDVALIDITY"),
            ));
        };
        let info = FolderInfo { name: folder.to_string(), messages: exists, uidvalidity };
        self.selected = Some(info.clone());
        Ok(info)
    }

    /// Selects every configured folder afresh (for `verify`).
    pub async fn folder_infos(&mut self) -> Result<Vec<FolderInfo>, FetchError> {
        let mut out = Vec::new();
        for folder in self.folders.clone() {
            self.selected = None;
            out.push(self.select(&folder).await?);
        }
        Ok(out)
    }

    /// Messages newer than the checkpoints (a folder without one, or whose UIDVALIDITY
    /// changed, is listed whole), folder by folder in UID order.
    pub async fn list_since(&mut self, since: &[FolderCheckpoint]) -> Result<Vec<MessageRef>, FetchError> {
        let mut refs = Vec::new();
        for folder in self.folders.clone() {
            let info = self.select(&folder).await?;
            let after =
                since.iter().find(|c| c.folder == folder && c.uidvalidity == info.uidvalidity).map(|c| c.last_uid);
            // `UID n:*` always matches the highest UID, even below n: filter again below.
            let query = after.map_or_else(|| "ALL".to_string(), |last| format!("UID {}:*", last.saturating_add(1)));
            let limit = self.limit;
            let mut uids: Vec<u32> = Vec::new();
            let s = self.sess(Stage::Fetch)?;
            let r = command(s, limit, &format!("UID SEARCH {query}"), |r| {
                if let Response::MailboxData(MailboxDatum::Search(found)) = r {
                    uids.extend(found.iter().filter(|u| after.is_none_or(|last| **u > last)));
                }
            })
            .await;
            self.check(Stage::Fetch, r)?;
            uids.sort_unstable();
            uids.dedup();
            for set in util::uid_sets(&uids, UID_SET_MAX, UID_SET_CHARS) {
                let mut sizes: Vec<(u32, u64)> = Vec::new();
                let s = self.sess(Stage::Fetch)?;
                let r = command(s, limit, &format!("UID FETCH {set} (UID RFC822.SIZE)"), |r| {
                    if let (Some(uid), Some(AttributeValue::Rfc822Size(size))) =
                        (fetched_uid(r), fetched(r, |a| matches!(a, AttributeValue::Rfc822Size(_))))
                    {
                        sizes.push((uid, u64::from(*size)));
                    }
                })
                .await;
                self.check(Stage::Fetch, util::partial_ok(r))?;
                sizes.sort_unstable();
                refs.extend(sizes.into_iter().map(|(uid, size)| MessageRef {
                    id: SourceId::Imap { folder: folder.clone(), uidvalidity: info.uidvalidity, uid },
                    size,
                }));
            }
        }
        Ok(refs)
    }

    /// Fetches raw messages with `BODY.PEEK[]`; of oversized ones only the header block is
    /// fetched; vanished or stale ones are skipped.
    pub async fn fetch(&mut self, batch: &[MessageRef]) -> Result<Batch, FetchError> {
        let mut out = Batch::default();
        let mut rest = batch;
        while let Some(first) = rest.first() {
            let SourceId::Imap { folder, .. } = &first.id else {
                out.skipped
                    .push(Skipped { id: first.id.clone(), reason: SkipReason::Gone("not an IMAP message".into()) });
                rest = &rest[1..];
                continue;
            };
            let n =
                rest.iter().take_while(|r| matches!(&r.id, SourceId::Imap { folder: f, .. } if f == folder)).count();
            let (group, tail) = rest.split_at(n);
            rest = tail;
            let info = self.select(folder).await?;
            let (mut wanted, mut oversized) = (Vec::new(), Vec::new());
            for r in group {
                let SourceId::Imap { uidvalidity, uid, .. } = &r.id else { continue };
                if *uidvalidity != info.uidvalidity {
                    out.skipped.push(Skipped { id: r.id.clone(), reason: SkipReason::Stale });
                } else if r.size > self.max_bytes {
                    oversized.push((*uid, r));
                } else {
                    wanted.push((*uid, r));
                }
            }
            for chunk in oversized.chunks(BODY_BATCH) {
                self.fetch_headers(chunk, &mut out).await?;
            }
            for chunk in wanted.chunks(BODY_BATCH) {
                self.fetch_bodies(chunk, &mut out).await?;
            }
        }
        Ok(out)
    }

    async fn fetch_bodies(&mut self, chunk: &[(u32, &MessageRef)], out: &mut Batch) -> Result<(), FetchError> {
        let max = self.max_bytes;
        let mut got = self.fetch_section(chunk, "BODY.PEEK[]", |s| s.is_none()).await?;
        for (uid, r) in chunk {
            let reason = match got.remove(uid) {
                // Larger than listed: keep only what an oversized message keeps.
                Some(raw) if raw.len() as u64 > max => {
                    let headers = Some(super::header_block(&raw));
                    SkipReason::TooLarge { size: raw.len() as u64, limit: max, headers }
                }
                Some(raw) => {
                    out.fetched.push(Fetched { id: r.id.clone(), raw });
                    continue;
                }
                None => SkipReason::Gone("no longer in the folder".into()),
            };
            out.skipped.push(Skipped { id: r.id.clone(), reason });
        }
        Ok(())
    }

    /// The header blocks of oversized messages, for the review queue. The partial fetch
    /// `<0.N>` caps them on the wire: async-imap buffers each response whole, so a cap
    /// applied after reading would come too late.
    async fn fetch_headers(&mut self, chunk: &[(u32, &MessageRef)], out: &mut Batch) -> Result<(), FetchError> {
        let item = format!("BODY.PEEK[HEADER]<0.{HEADER_CAP}>");
        let header = |s: &Option<SectionPath>| matches!(s, Some(SectionPath::Full(MessageSection::Header)));
        let mut got = self.fetch_section(chunk, &item, header).await?;
        for (uid, r) in chunk {
            let reason = match got.remove(uid) {
                Some(mut headers) => {
                    headers.truncate(HEADER_CAP); // in case the server ignored the partial range
                    SkipReason::TooLarge { size: r.size, limit: self.max_bytes, headers: Some(headers) }
                }
                None => SkipReason::Gone("no longer in the folder".into()),
            };
            out.skipped.push(Skipped { id: r.id.clone(), reason });
        }
        Ok(())
    }

    /// `UID FETCH` of one body section (`item`, recognised in the answer by `section`) of
    /// these UIDs: the bytes by UID; a UID missing from the answer is no longer in the folder.
    async fn fetch_section(
        &mut self,
        chunk: &[(u32, &MessageRef)],
        item: &str,
        section: impl Fn(&Option<SectionPath>) -> bool,
    ) -> Result<HashMap<u32, Vec<u8>>, FetchError> {
        let mut uids: Vec<u32> = chunk.iter().map(|(u, _)| *u).collect();
        uids.sort_unstable();
        let set = util::uid_set(&uids);
        let limit = self.limit;
        let mut got: HashMap<u32, Vec<u8>> = HashMap::new();
        let s = self.sess(Stage::Fetch)?;
        let r = command(s, limit, &format!("UID FETCH {set} (UID {item})"), |r| {
            let data = fetched(r, |a| matches!(a, AttributeValue::BodySection { section: s, .. } if section(s)));
            if let (Some(uid), Some(AttributeValue::BodySection { data: Some(data), .. })) = (fetched_uid(r), data) {
                got.insert(uid, data.to_vec());
            }
        })
        .await;
        self.check(Stage::Fetch, util::partial_ok(r))?;
        Ok(got)
    }

    /// LOGOUT. A session already lost after an error is simply dropped.
    pub async fn close(mut self) -> Result<(), FetchError> {
        let Some(mut s) = self.session.take() else { return Ok(()) };
        let r = op(self.limit, s.logout()).await;
        r.map_err(|f| to_error(Stage::Logout, &self.server, f))
    }
}

/// The UID of an untagged FETCH response.
fn fetched_uid(r: &Response<'_>) -> Option<u32> {
    match fetched(r, |a| matches!(a, AttributeValue::Uid(_))) {
        Some(AttributeValue::Uid(uid)) => Some(*uid),
        _ => None,
    }
}

/// The first attribute of an untagged FETCH response that `want` picks.
fn fetched<'r>(r: &'r Response<'_>, want: impl Fn(&AttributeValue<'_>) -> bool) -> Option<&'r AttributeValue<'r>> {
    match r {
        Response::Fetch(_, attrs) => attrs.iter().find(|a| want(a)),
        _ => None,
    }
}

fn yes(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

/// Reads the greeting: its text, and whether it lists STARTTLS (`None`: it lists nothing).
async fn read_greeting(
    client: &mut Client<Conn>,
    server: &str,
    limit: Duration,
) -> Result<(String, Option<bool>), FetchError> {
    let err = |kind, detail: String| FetchError::new(Stage::Greeting, kind, server, detail);
    let resp = match tokio::time::timeout(limit, client.read_response()).await {
        Err(_) => return Err(FetchError::timeout(Stage::Greeting, server, limit)),
        Ok(Err(e)) => return Err(crate::fetch::net::io_error(Stage::Greeting, server, &e)),
        Ok(Ok(None)) => return Err(err(ErrorKind::Closed, "the server closed the connection before greeting".into())),
        Ok(Ok(Some(r))) => r,
    };
    match resp.parsed() {
        Response::Data { status: Status::Ok | Status::PreAuth, outcome } => {
            let text = clip(outcome.information.as_deref().unwrap_or(""), DETAIL_MAX);
            let starttls = match &outcome.code {
                Some(ResponseCode::Capabilities(caps)) => {
                    Some(caps.iter().any(|c| matches!(c, Capability::Atom(a) if a.eq_ignore_ascii_case("STARTTLS"))))
                }
                _ => None,
            };
            Ok((text, starttls))
        }
        Response::Data { status, outcome } => Err(err(
            ErrorKind::Rejected,
            clip(
                &format!("the server greeted with {status:?}: {}", outcome.information.as_deref().unwrap_or("")),
                DETAIL_MAX,
            ),
        )),
        other => Err(err(ErrorKind::Protocol, clip(&format!("not an IMAP greeting: {other:?}"), DETAIL_MAX))),
    }
}
