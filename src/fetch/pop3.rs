//! A POP3 client (RFC 1939, CAPA from RFC 2449, STLS from RFC 2595) over tokio and
//! async-native-tls.
//!
//! Written here because no maintained crate works: `async-pop` has no STLS and corrupts RETR
//! (keeps the dot-stuffing, drops the final CRLF); `pop3` and `mailme` are abandoned.
//!
//! Takes the mailbox settings and its password; gives the maildrop's messages (UIDL and
//! size), their raw bytes, and deletion of the ones the caller committed. Every read and
//! write runs under the per-operation timeout, every line has a length cap, and a message
//! larger than `max_message_bytes` is refused before RETR. It never deletes anything the
//! caller did not name, and deletions take effect only at a successful QUIT ([`Pop3Session::close`]).

use super::dial::{self, dial};
use super::error::{ErrorKind, FetchError, Stage};
use super::net::{Conn, io_error, within};
use super::trace::Trace;
use super::{Batch, Fetched, MessageRef, SkipReason, Skipped, SourceId};
use crate::config::{AfterProcessing, MailboxConfig, Secret, Security};
use md5::{Digest, Md5};
use serde_json::json;
use std::collections::HashMap;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// Status and listing lines are short (RFC 1939 says 512 octets); anything far longer is not POP3.
const MAX_STATUS_LINE: usize = 8 * 1024;

pub struct Pop3Session {
    io: BufReader<Conn>,
    server: String,
    limit: Duration,
    max_bytes: u64,
    after: AfterProcessing,
    capabilities: Vec<String>,
    /// UIDL → (message number, size), from the last listing of this session.
    listing: Option<HashMap<String, (u32, u64)>>,
    /// DELEs sent; they take effect at QUIT.
    pending_deletes: usize,
    /// Set after an error that leaves the protocol state unknown.
    broken: bool,
}

impl Pop3Session {
    /// Connects, says hello, upgrades to TLS as configured, and logs in.
    pub(crate) async fn open(cfg: &MailboxConfig, password: &Secret, trace: &mut Trace) -> Result<Self, FetchError> {
        let conn = dial(cfg, trace).await?;
        let mut s = Pop3Session {
            io: BufReader::new(conn),
            server: dial::server(cfg),
            limit: dial::limit(cfg),
            max_bytes: cfg.max_message_bytes,
            after: cfg.after_processing.clone(),
            capabilities: Vec::new(),
            listing: None,
            pending_deletes: 0,
            broken: false,
        };
        trace.enter(Stage::Greeting);
        let greeting = s.response(Stage::Greeting).await?;
        trace.pass(format!("+OK {greeting}"), json!({ "greeting": greeting }));

        trace.enter(Stage::Capabilities);
        s.capa().await?;
        if cfg.security == Security::Starttls {
            if !s.has("STLS") {
                return Err(FetchError::new(
                    Stage::Tls,
                    ErrorKind::NotOffered,
                    &s.server,
                    format!("the server does not offer STLS (its capabilities: {})", s.shown_capabilities()),
                ));
            }
            trace.enter(Stage::Tls);
            s.command(Stage::Tls, "STLS").await?;
            // Bytes after +OK and before the handshake would be injected plaintext (CVE-2011-0411 style).
            if !s.io.buffer().is_empty() {
                return Err(s.err(Stage::Tls, ErrorKind::Protocol, "the server sent data after +OK to STLS"));
            }
            let conn = s.io.into_inner();
            s.io = BufReader::new(dial::upgrade(conn, cfg, trace).await?);
            trace.enter(Stage::Capabilities);
            // RFC 2595: capabilities may change once TLS is up.
            s.capa().await?;
        }
        trace.pass(
            format!("capabilities: {}", s.shown_capabilities()),
            json!({
                "capabilities": s.capabilities,
                "uidl": s.has("UIDL"), "stls": s.has("STLS"), "top": s.has("TOP"), "user": s.has("USER"),
            }),
        );

        trace.enter(Stage::Login);
        let how = s.login(&cfg.username, password, &greeting).await?;
        trace.pass(format!("logged in as {} ({how})", cfg.username), json!({ "method": how }));
        Ok(s)
    }

    pub fn server(&self) -> &str {
        &self.server
    }

    pub fn capabilities(&self) -> &[String] {
        &self.capabilities
    }

    fn has(&self, cap: &str) -> bool {
        self.capabilities.iter().any(|c| c.split_whitespace().next().is_some_and(|w| w.eq_ignore_ascii_case(cap)))
    }

    fn shown_capabilities(&self) -> String {
        if self.capabilities.is_empty() { "none listed".into() } else { self.capabilities.join(", ") }
    }

    fn err(&self, stage: Stage, kind: ErrorKind, detail: impl Into<String>) -> FetchError {
        FetchError::new(stage, kind, &self.server, detail)
    }

    /// Marks the session unusable after an error that leaves the protocol state unknown.
    fn track<T>(&mut self, r: Result<T, FetchError>) -> Result<T, FetchError> {
        if let Err(e) = &r
            && e.breaks_session()
        {
            self.broken = true;
        }
        r
    }

    fn usable(&self, stage: Stage) -> Result<(), FetchError> {
        if self.broken {
            return Err(self.err(
                stage,
                ErrorKind::Local,
                "the session was lost after an earlier error; open a new one",
            ));
        }
        Ok(())
    }

    async fn send(&mut self, stage: Stage, line: &str) -> Result<(), FetchError> {
        let bytes = format!("{line}\r\n");
        let (server, limit) = (self.server.clone(), self.limit);
        let io = self.io.get_mut();
        let r = within(stage, &server, limit, async {
            io.write_all(bytes.as_bytes()).await?;
            io.flush().await
        })
        .await
        .and_then(|r| r.map_err(|e| io_error(stage, &server, &e)));
        self.track(r)
    }

    /// One line including its line ending, at most `cap` bytes.
    async fn read_line(&mut self, stage: Stage, cap: usize) -> Result<Vec<u8>, FetchError> {
        let r = self.read_line_inner(stage, cap).await;
        self.track(r)
    }

    async fn read_line_inner(&mut self, stage: Stage, cap: usize) -> Result<Vec<u8>, FetchError> {
        let mut line = Vec::new();
        loop {
            let buf = match within(stage, &self.server, self.limit, self.io.fill_buf()).await? {
                Ok(buf) => buf,
                Err(e) => return Err(io_error(stage, &self.server, &e)),
            };
            if buf.is_empty() {
                return Err(FetchError::new(
                    stage,
                    ErrorKind::Closed,
                    &self.server,
                    "the server closed the connection",
                ));
            }
            let (take, done) = match buf.iter().position(|&b| b == b'\n') {
                Some(i) => (i + 1, true),
                None => (buf.len(), false),
            };
            line.extend_from_slice(&buf[..take]);
            self.io.consume(take);
            if line.len() > cap {
                return Err(FetchError::new(
                    stage,
                    ErrorKind::Protocol,
                    &self.server,
                    format!("the server sent a line longer than {cap} bytes"),
                ));
            }
            if done {
                return Ok(line);
            }
        }
    }

    /// Reads a status line: the text after `+OK`, or the server's words after `-ERR` as a refusal.
    async fn response(&mut self, stage: Stage) -> Result<String, FetchError> {
        let line = self.read_line(stage, MAX_STATUS_LINE).await?;
        let text = String::from_utf8_lossy(&line).trim_end().to_string();
        if let Some(rest) = text.strip_prefix("+OK") {
            Ok(rest.trim_start().to_string())
        } else if let Some(rest) = text.strip_prefix("-ERR") {
            Err(self.err(stage, ErrorKind::Rejected, rest.trim_start()))
        } else {
            let r = Err(self.err(stage, ErrorKind::Protocol, format!("not a POP3 answer: `{}`", shorten(&text))));
            self.track(r)
        }
    }

    async fn command(&mut self, stage: Stage, line: &str) -> Result<String, FetchError> {
        self.send(stage, line).await?;
        self.response(stage).await
    }

    /// Reads a multi-line body up to the terminating "." line, undoing dot-stuffing, and hands
    /// each line (with its line ending) to `each`; an error once a line exceeds `line_cap` or
    /// the whole exceeds `cap` bytes.
    async fn multiline(
        &mut self,
        stage: Stage,
        cap: u64,
        line_cap: usize,
        mut each: impl FnMut(&[u8]),
    ) -> Result<(), FetchError> {
        let mut total: u64 = 0;
        loop {
            let line = self.read_line(stage, line_cap).await?;
            if line == b".\r\n" || line == b".\n" {
                return Ok(());
            }
            let line = if line.starts_with(b".") { &line[1..] } else { &line[..] };
            total += line.len() as u64;
            if total > cap {
                let r = Err(self.err(stage, ErrorKind::TooLarge, format!("the answer exceeds {cap} bytes")));
                self.broken = true; // the rest of the answer is still on the wire
                return r;
            }
            each(line);
        }
    }

    async fn capa(&mut self) -> Result<(), FetchError> {
        self.capabilities.clear();
        match self.command(Stage::Capabilities, "CAPA").await {
            Ok(_) => {
                let mut caps = Vec::new();
                self.multiline(Stage::Capabilities, 64 * 1024, MAX_STATUS_LINE, |l| {
                    caps.push(String::from_utf8_lossy(l).trim().to_string());
                })
                .await?;
                self.capabilities = caps;
                Ok(())
            }
            // CAPA is optional (RFC 2449): a server without it simply lists nothing.
            Err(e) if e.kind == ErrorKind::Rejected => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn login(&mut self, user: &str, password: &Secret, greeting: &str) -> Result<&'static str, FetchError> {
        if [user, password.expose()].iter().any(|s| s.contains(['\r', '\n'])) {
            return Err(self.err(Stage::Login, ErrorKind::Local, "username or password contains a line break"));
        }
        if let Some(stamp) = apop_timestamp(greeting) {
            let digest = apop_digest(stamp, password.expose());
            match self.command(Stage::Login, &format!("APOP {user} {digest}")).await {
                Ok(_) => return Ok("APOP"),
                // The server may offer APOP without holding a usable secret for it: try USER/PASS.
                Err(e) if e.kind == ErrorKind::Rejected => {
                    tracing::debug!(server = %self.server, error = %e.detail, "APOP refused; trying USER/PASS")
                }
                Err(e) => return Err(e),
            }
        }
        self.command(Stage::Login, &format!("USER {user}")).await?;
        self.command(Stage::Login, &format!("PASS {}", password.expose())).await?;
        Ok("USER/PASS")
    }

    /// Message count and total size (STAT).
    pub async fn stat(&mut self) -> Result<(u64, u64), FetchError> {
        self.usable(Stage::Select)?;
        let text = self.command(Stage::Select, "STAT").await?;
        let mut words = text.split_whitespace().map(str::parse::<u64>);
        match (words.next(), words.next()) {
            (Some(Ok(n)), Some(Ok(octets))) => Ok((n, octets)),
            _ => Err(self.err(Stage::Select, ErrorKind::Protocol, format!("unreadable STAT answer `{text}`"))),
        }
    }

    /// Every message in the maildrop with its UIDL and size, in the server's order.
    pub async fn list(&mut self) -> Result<Vec<MessageRef>, FetchError> {
        self.usable(Stage::Fetch)?;
        let mut sizes: Vec<(u32, u64)> = Vec::new();
        self.command(Stage::Fetch, "LIST").await?;
        self.multiline(Stage::Fetch, u64::MAX, MAX_STATUS_LINE, |l| {
            if let Some((n, size)) = two_words(l) {
                sizes.push((n, size.parse().unwrap_or(0)));
            }
        })
        .await?;
        let mut uidls: HashMap<u32, String> = HashMap::with_capacity(sizes.len());
        if let Err(e) = self.command(Stage::Fetch, "UIDL").await {
            return Err(if e.kind == ErrorKind::Rejected {
                self.err(
                    Stage::Capabilities,
                    ErrorKind::NotOffered,
                    format!(
                        "the server refused UIDL ({}); rebound needs UIDL to know which messages it has seen",
                        e.detail
                    ),
                )
            } else {
                e
            });
        }
        self.multiline(Stage::Fetch, u64::MAX, MAX_STATUS_LINE, |l| {
            if let Some((n, uidl)) = two_words(l) {
                uidls.insert(n, uidl.to_string());
            }
        })
        .await?;
        let mut listing = HashMap::with_capacity(sizes.len());
        let mut refs = Vec::with_capacity(sizes.len());
        for (n, size) in sizes {
            if let Some(uidl) = uidls.remove(&n) {
                listing.insert(uidl.clone(), (n, size));
                refs.push(MessageRef { id: SourceId::Pop3 { uidl }, size });
            }
        }
        self.listing = Some(listing);
        Ok(refs)
    }

    /// Retrieves the listed messages; oversized ones are refused before RETR.
    pub async fn fetch(&mut self, batch: &[MessageRef]) -> Result<Batch, FetchError> {
        self.usable(Stage::Fetch)?;
        if self.listing.is_none() {
            self.list().await?;
        }
        let mut out = Batch::default();
        for r in batch {
            let SourceId::Pop3 { uidl } = &r.id else {
                out.skipped.push(Skipped { id: r.id.clone(), reason: SkipReason::Gone("not a POP3 message".into()) });
                continue;
            };
            let Some(&(n, size)) = self.listing.as_ref().and_then(|l| l.get(uidl)) else {
                out.skipped
                    .push(Skipped { id: r.id.clone(), reason: SkipReason::Gone("no longer in the maildrop".into()) });
                continue;
            };
            if size > self.max_bytes {
                out.skipped
                    .push(Skipped { id: r.id.clone(), reason: SkipReason::TooLarge { size, limit: self.max_bytes } });
                continue;
            }
            match self.command(Stage::Fetch, &format!("RETR {n}")).await {
                Ok(_) => {}
                Err(e) if e.kind == ErrorKind::Rejected => {
                    out.skipped.push(Skipped { id: r.id.clone(), reason: SkipReason::Gone(e.detail) });
                    continue;
                }
                Err(e) => return Err(e),
            }
            let mut raw = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
            // A line may be as long as the whole message, plus a stuffed dot and CRLF.
            let line_cap = usize::try_from(self.max_bytes).unwrap_or(usize::MAX).saturating_add(3);
            self.multiline(Stage::Fetch, self.max_bytes, line_cap, |l| raw.extend_from_slice(l)).await?;
            out.fetched.push(Fetched { id: r.id.clone(), raw });
        }
        Ok(out)
    }

    /// Marks committed messages for deletion (when `after_processing = "delete"`); they are
    /// removed by the server only when [`close`](Self::close) succeeds.
    pub async fn mark_done(&mut self, committed: &[SourceId]) -> Result<(), FetchError> {
        match &self.after {
            AfterProcessing::Keep => return Ok(()),
            AfterProcessing::Delete => {}
            other => {
                let what = String::from(other.clone());
                return Err(self.err(Stage::Delete, ErrorKind::NotOffered, format!("POP3 cannot `{what}` messages")));
            }
        }
        self.usable(Stage::Delete)?;
        for id in committed {
            let SourceId::Pop3 { uidl } = id else { continue };
            let Some(&(n, _)) = self.listing.as_ref().and_then(|l| l.get(uidl)) else { continue };
            self.command(Stage::Delete, &format!("DELE {n}")).await?;
            self.pending_deletes += 1;
        }
        Ok(())
    }

    /// QUIT: the server applies the deletions only now, and only when this succeeds.
    pub async fn close(mut self) -> Result<(), FetchError> {
        if self.broken {
            if self.pending_deletes > 0 {
                let n = self.pending_deletes;
                return Err(self.err(
                    Stage::Logout,
                    ErrorKind::Local,
                    format!("the session was lost, so {n} deletion(s) were not applied"),
                ));
            }
            return Ok(());
        }
        self.command(Stage::Logout, "QUIT").await.map(|_| ())
    }
}

fn two_words(line: &[u8]) -> Option<(u32, &str)> {
    let text = std::str::from_utf8(line).ok()?;
    let mut w = text.split_whitespace();
    Some((w.next()?.parse().ok()?, w.next()?))
}

fn shorten(s: &str) -> String {
    s.chars().take(200).collect()
}

/// The `<…@…>` timestamp of an APOP-capable greeting (RFC 1939 §7).
fn apop_timestamp(greeting: &str) -> Option<&str> {
    let start = greeting.find('<')?;
    let end = start + greeting[start..].find('>')?;
    let stamp = &greeting[start..=end];
    stamp.contains('@').then_some(stamp)
}

fn apop_digest(stamp: &str, secret: &str) -> String {
    Md5::digest(format!("{stamp}{secret}").as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apop_digest_matches_rfc_1939() {
        let stamp = apop_timestamp("POP3 server ready <1896.697170952@dbc.mtview.ca.us>").unwrap();
        assert_eq!(apop_digest(stamp, "tanstaaf"), "c4c9334bac560ecc979e58001b3e22fb");
        assert_eq!(apop_timestamp("Dovecot ready."), None);
    }
}
