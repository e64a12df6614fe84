//! A POP3 client (RFC 1939, CAPA from RFC 2449, STLS from RFC 2595) over tokio and
//! async-native-tls.
//!
//! Written here because no maintained crate works: `async-pop` has no STLS and corrupts RETR
//! (keeps the dot-stuffing, drops the final CRLF); `pop3` and `mailme` are abandoned.
//!
//! Takes the mailbox settings and its password; gives the maildrop's messages (UIDL and
//! size), their raw bytes, and deletion of the ones the caller committed. Every read and
//! write runs under the per-operation timeout, every line has a length cap, and of a message
//! larger than `max_message_bytes` only the headers are read (TOP), never the body. On a
//! plain connection a message must arrive with the size LIST gave ([`exact_size`]). It never
//! deletes anything the caller did not name, and deletions take effect only at a successful
//! QUIT ([`Pop3Session::close`]).

mod login;
mod wire;

use super::dial::{self, dial};
use super::error::{DETAIL_MAX, ErrorKind, FetchError, Stage, clip};
use super::login::Credentials;
use super::trace::Trace;
use super::{Batch, Fetched, HEADER_CAP, MessageRef, SkipReason, Skipped, SourceId};
use crate::config::{AfterProcessing, MailboxConfig, Security};
use serde_json::json;
use std::collections::HashMap;
use wire::{MAX_STATUS_LINE, Wire};

pub struct Pop3Session {
    wire: Wire,
    max_bytes: u64,
    after: AfterProcessing,
    capabilities: Vec<String>,
    /// UIDL → (message number, size), from the last listing of this session.
    listing: Option<HashMap<String, (u32, u64)>>,
    /// DELEs sent; they take effect at QUIT.
    pending_deletes: usize,
    /// `security = "none"`: nothing but the size check protects messages in transit.
    plain: bool,
}

impl Pop3Session {
    /// Connects, says hello, upgrades to TLS as configured, and logs in.
    pub(crate) async fn open(cfg: &MailboxConfig, login: &Credentials, trace: &mut Trace) -> Result<Self, FetchError> {
        let conn = dial(cfg, trace).await?;
        let mut s = Pop3Session {
            wire: Wire::new(conn, dial::server(cfg), dial::limit(cfg)),
            max_bytes: cfg.max_message_bytes,
            after: cfg.after_processing.clone(),
            capabilities: Vec::new(),
            listing: None,
            pending_deletes: 0,
            plain: cfg.security == Security::None,
        };
        trace.enter(Stage::Greeting);
        let greeting = s.wire.response(Stage::Greeting).await?;
        trace.pass(format!("+OK {greeting}"), json!({ "greeting": greeting }));

        trace.enter(Stage::Capabilities);
        s.capa().await?;
        if cfg.security == Security::Starttls {
            if !s.has("STLS") {
                return Err(FetchError::new(
                    Stage::Tls,
                    ErrorKind::NotOffered,
                    &s.wire.server,
                    format!("the server does not offer STLS (its capabilities: {})", s.shown_capabilities()),
                ));
            }
            trace.enter(Stage::Tls);
            s.wire.command(Stage::Tls, "STLS").await?;
            let conn = s.wire.into_conn()?;
            s.wire = Wire::new(dial::upgrade(conn, cfg, trace).await?, dial::server(cfg), dial::limit(cfg));
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

        let how = s.login(cfg, login, &greeting, trace).await?;
        trace.pass(format!("logged in as {} ({how})", cfg.username), json!({ "method": how }));
        Ok(s)
    }

    pub fn server(&self) -> &str {
        &self.wire.server
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

    async fn capa(&mut self) -> Result<(), FetchError> {
        self.capabilities.clear();
        match self.wire.command(Stage::Capabilities, "CAPA").await {
            Ok(_) => {
                let mut caps = Vec::new();
                self.wire
                    .multiline(Stage::Capabilities, 64 * 1024, MAX_STATUS_LINE, |l| {
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

    /// Message count and total size (STAT).
    pub async fn stat(&mut self) -> Result<(u64, u64), FetchError> {
        let text = self.wire.command(Stage::Select, "STAT").await?;
        let mut words = text.split_whitespace().map(str::parse::<u64>);
        match (words.next(), words.next()) {
            (Some(Ok(n)), Some(Ok(octets))) => Ok((n, octets)),
            _ => Err(self.wire.err(
                Stage::Select,
                ErrorKind::Protocol,
                format!("unreadable STAT answer `{}`", clip(&text, DETAIL_MAX)),
            )),
        }
    }

    /// Every message in the maildrop with its UIDL and size, in the server's order.
    pub async fn list(&mut self) -> Result<Vec<MessageRef>, FetchError> {
        let mut sizes: Vec<(u32, u64)> = Vec::new();
        self.wire.command(Stage::Fetch, "LIST").await?;
        self.wire
            .multiline(Stage::Fetch, u64::MAX, MAX_STATUS_LINE, |l| {
                if let Some((n, size)) = two_words(l) {
                    sizes.push((n, size.parse().unwrap_or(0)));
                }
            })
            .await?;
        let mut uidls: HashMap<u32, String> = HashMap::with_capacity(sizes.len());
        if let Err(e) = self.wire.command(Stage::Fetch, "UIDL").await {
            return Err(if e.kind == ErrorKind::Rejected {
                self.wire.err(
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
        self.wire
            .multiline(Stage::Fetch, u64::MAX, MAX_STATUS_LINE, |l| {
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

    /// Retrieves the listed messages; of oversized ones only the headers are read (`TOP n 0`),
    /// and nothing at all when the server does not offer TOP.
    pub async fn fetch(&mut self, batch: &[MessageRef]) -> Result<Batch, FetchError> {
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
            let oversized = size > self.max_bytes;
            // Of an oversized message only the headers, and only when the server offers TOP.
            let verb = match (oversized, self.has("TOP")) {
                (false, _) => format!("RETR {n}"),
                (true, true) => format!("TOP {n} 0"),
                (true, false) => {
                    let reason = SkipReason::TooLarge { size, limit: self.max_bytes, headers: None };
                    out.skipped.push(Skipped { id: r.id.clone(), reason });
                    continue;
                }
            };
            match self.wire.command(Stage::Fetch, &verb).await {
                Ok(_) => {}
                Err(e) if e.kind == ErrorKind::Rejected => {
                    out.skipped.push(Skipped { id: r.id.clone(), reason: SkipReason::Gone(e.detail) });
                    continue;
                }
                Err(e) => return Err(e),
            }
            if oversized {
                // The header block cannot be longer than the whole message the server listed.
                let headers = self.wire.multiline_head(Stage::Fetch, size.saturating_add(1024), HEADER_CAP).await?;
                let reason = SkipReason::TooLarge { size, limit: self.max_bytes, headers: Some(headers) };
                out.skipped.push(Skipped { id: r.id.clone(), reason });
                continue;
            }
            let mut raw = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
            // A line may be as long as the whole message, plus a stuffed dot and CRLF.
            let line_cap = usize::try_from(self.max_bytes).unwrap_or(usize::MAX).saturating_add(3);
            self.wire.multiline(Stage::Fetch, self.max_bytes, line_cap, |l| raw.extend_from_slice(l)).await?;
            if self.plain
                && let Err(received) = exact_size(&mut raw, size)
            {
                let e = self.wire.err(
                    Stage::Fetch,
                    ErrorKind::Protocol,
                    format!(
                        "message {n} ({}): LIST announced {size} bytes, RETR delivered {received}: bytes were changed \
                         on the unencrypted connection (security = \"none\"); use ssl or starttls",
                        r.id
                    ),
                );
                // Fewer bytes: the terminating line came early, so the rest of the message
                // may still be on the wire and the next answer would be read from it. The
                // session ends, and with it this poll. More bytes: the answer ended where
                // it should, so only this message is held back and the rest of the mailbox
                // is not kept waiting on it.
                if received < size {
                    return Err(self.wire.abandon(e));
                }
                tracing::warn!(
                    server = %self.wire.server, message = %r.id, error = %e.detail,
                    "message damaged in transit; left on the server for the next poll"
                );
                out.skipped.push(Skipped { id: r.id.clone(), reason: SkipReason::Damaged(e) });
                continue;
            }
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
                return Err(self.wire.err(
                    Stage::Delete,
                    ErrorKind::NotOffered,
                    format!("POP3 cannot `{what}` messages"),
                ));
            }
        }
        for id in committed {
            let SourceId::Pop3 { uidl } = id else { continue };
            let Some(&(n, _)) = self.listing.as_ref().and_then(|l| l.get(uidl)) else { continue };
            self.wire.command(Stage::Delete, &format!("DELE {n}")).await?;
            self.pending_deletes += 1;
        }
        Ok(())
    }

    /// QUIT: the server applies the deletions only now, and only when this succeeds.
    pub async fn close(mut self) -> Result<(), FetchError> {
        if self.wire.is_broken() {
            if self.pending_deletes > 0 {
                let n = self.pending_deletes;
                return Err(self.wire.err(
                    Stage::Logout,
                    ErrorKind::Local,
                    format!("the session was lost, so {n} deletion(s) were not applied"),
                ));
            }
            return Ok(());
        }
        self.wire.command(Stage::Logout, "QUIT").await.map(|_| ())
    }
}

/// Checks that a RETR delivered the `listed` size, or gives the size it delivered. RFC 1939
/// makes LIST's size exact, counted with CRLF line ends and before byte-stuffing, which is
/// what `raw` holds (Dovecot counts exactly that). One exception: a stored message without
/// a final line end gets a CRLF before the terminating dot, two bytes LIST does not count;
/// they are dropped here, so the bytes kept are the message as stored.
///
/// Checked on plain connections only. Under TLS nothing can change the bytes in transit,
/// so a mismatch can only be the server's own count, and some servers only estimate it
/// (Exchange, unless EnableExactRFC822Size is set): checking there would hold such mail
/// back forever. On plain connections it catches bytes inserted or lost, not bytes
/// replaced one for one: only TLS prevents that.
fn exact_size(raw: &mut Vec<u8>, listed: u64) -> Result<(), u64> {
    let received = raw.len() as u64;
    if received == listed {
        return Ok(());
    }
    if let Ok(cut) = usize::try_from(listed)
        && received == listed + 2
        && raw.ends_with(b"\r\n")
        && !raw[..cut].ends_with(b"\n")
    {
        raw.truncate(cut);
        return Ok(());
    }
    Err(received)
}

fn two_words(line: &[u8]) -> Option<(u32, &str)> {
    let text = std::str::from_utf8(line).ok()?;
    let mut w = text.split_whitespace();
    Some((w.next()?.parse().ok()?, w.next()?))
}

/// The `<…@…>` timestamp of an APOP-capable greeting (RFC 1939 §7).
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retr_must_deliver_the_listed_size() {
        let mut raw = b"Subject: a\r\n\r\nhello\r\n".to_vec();
        assert_eq!(exact_size(&mut raw, 21), Ok(()));
        assert_eq!(exact_size(&mut raw, 20), Err(21));
        assert_eq!(exact_size(&mut raw, 17), Err(21));
        assert_eq!(exact_size(&mut raw, 23), Err(21));
        assert_eq!(raw.len(), 21, "a mismatch leaves the bytes alone");
        // Stored without a final line end: the CRLF before the dot is not the message's.
        let mut raw = b"Subject: b\r\n\r\nno final newline\r\n".to_vec();
        assert_eq!(exact_size(&mut raw, 30), Ok(()));
        assert_eq!(raw, b"Subject: b\r\n\r\nno final newline");
        // A message that does end in a line break cannot lose two bytes that way.
        let mut raw = b"Subject: c\r\n\r\n\r\n\r\n".to_vec();
        assert_eq!(exact_size(&mut raw, 16), Err(18));
    }
}
