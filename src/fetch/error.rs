//! The one error type of the fetch stage: which step failed, the server's own words, and
//! what the operator should do about it.
//!
//! Takes what a client observed; gives a [`FetchError`] whose `Display` is one line for
//! logs and whose [`FetchError::hint`] is a sentence for people. It never hides the
//! server's text behind a generic message, and never carries more than a few hundred bytes
//! of it ([`clip`]): a server or a library may answer with megabytes (a whole unparsed
//! response, mail included), and errors end up in logs and in the database.

use serde::Serialize;
use std::fmt;
use std::time::Duration;

/// The steps of a mailbox session, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    Dns,
    Connect,
    Tls,
    Greeting,
    Capabilities,
    /// An OAuth2 token from the provider's token endpoint (`auth = "oauth2"`).
    Token,
    Login,
    Select,
    Fetch,
    Delete,
    Logout,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stage::Dns => "dns",
            Stage::Connect => "connect",
            Stage::Tls => "tls",
            Stage::Greeting => "greeting",
            Stage::Capabilities => "capabilities",
            Stage::Token => "token",
            Stage::Login => "login",
            Stage::Select => "select",
            Stage::Fetch => "fetch",
            Stage::Delete => "delete",
            Stage::Logout => "logout",
        })
    }
}

/// What kind of failure, which decides the advice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The server answered NO/BAD/-ERR.
    Rejected,
    /// No answer within the per-operation timeout.
    Timeout,
    /// The server closed the connection.
    Closed,
    /// A network error (refused, reset, unreachable…).
    Network,
    /// The server's certificate did not verify.
    Certificate,
    /// The server does not offer something the configuration requires (STARTTLS, UIDL…).
    NotOffered,
    /// The server's answer did not follow the protocol.
    Protocol,
    /// A message larger than `max_message_bytes`.
    TooLarge,
    /// Local configuration (CA file, a session already lost).
    Local,
}

/// The most of a server's or a library's own text kept in an error, in characters: enough to
/// recognise the answer, never a mailbox's worth of it.
pub const DETAIL_MAX: usize = 300;
/// The longest detail any error keeps, in characters: a backstop for details built here
/// around such text.
const DETAIL_CAP: usize = 1000;

/// `text` cut to at most `max` characters (on a character boundary), saying how much was
/// left out. Apply it to every text that comes from the server or a library before it goes
/// into an error.
pub fn clip(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_string(),
        Some((at, _)) => format!("{}… ({} bytes omitted)", &text[..at], text.len() - at),
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
pub struct FetchError {
    pub stage: Stage,
    pub kind: ErrorKind,
    /// `host:port` of the server.
    pub server: String,
    /// What happened, with the server's own words when it said something.
    pub detail: String,
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} failed at {}: {}", self.server, self.stage, self.detail)
    }
}

impl FetchError {
    pub fn new(stage: Stage, kind: ErrorKind, server: &str, detail: impl Into<String>) -> Self {
        Self { stage, kind, server: server.to_string(), detail: clip(&detail.into(), DETAIL_CAP) }
    }

    pub(crate) fn timeout(stage: Stage, server: &str, after: Duration) -> Self {
        Self::new(stage, ErrorKind::Timeout, server, format!("no answer within {} s", after.as_secs_f32()))
    }

    /// True when the session can no longer be used (anything but a plain refusal).
    pub fn breaks_session(&self) -> bool {
        !matches!(self.kind, ErrorKind::Rejected | ErrorKind::TooLarge)
    }

    /// What failed and what to do, for people: logs, `rebound verify`, the admin API.
    pub fn hint(&self) -> String {
        let d = &self.detail;
        let server = &self.server;
        use ErrorKind as K;
        use Stage as S;
        match (self.stage, self.kind) {
            (S::Dns, _) => {
                format!("cannot resolve the host of {server}: {d}; check the host name and this machine's DNS")
            }
            (S::Connect, K::Timeout) => format!(
                "no TCP connection to {server}: {d}; check host and port, and that no firewall drops the traffic"
            ),
            (S::Connect, _) => {
                format!("cannot connect to {server}: {d}; check host and port (is the server listening there?)")
            }
            (S::Tls, K::Certificate) => format!(
                "the server's TLS certificate did not verify: {d}; set ca_file to the CA that signed it, or fix the \
                 server's certificate (verify_certificate = false only for testing)"
            ),
            (S::Capabilities, K::NotOffered) => {
                format!("{d}; this server cannot do what the mailbox settings ask: change the setting or the server")
            }
            (S::Tls, K::NotOffered) => format!(
                "{d}; use security = \"ssl\" on the implicit-TLS port (993 IMAP, 995 POP3), or security = \"none\" \
                 only on a trusted network"
            ),
            (S::Tls, _) => format!(
                "TLS handshake failed: {d}; check that security matches the port (ssl for 993/995, starttls for \
                 143/110)"
            ),
            (S::Greeting, K::Timeout) => format!(
                "the server accepted the connection but sent no greeting: {d}; check the port and security (an \
                 implicit-TLS port waits silently for a handshake)"
            ),
            (S::Greeting, _) => {
                format!("unexpected greeting: {d}; check that protocol, port and security match the server")
            }
            (S::Token, _) => super::oauth2::hint(self.kind, d),
            (S::Login, K::Rejected) if d.contains(super::sasl::TOKEN_REFUSED) => format!(
                "login rejected by server: {d}; the token endpoint issued a token but the mail server does not accept \
                 it for this username: check username, oauth2_scope (Microsoft 365: \
                 https://outlook.office365.com/.default; Google: https://mail.google.com/), and that the app may \
                 open this mailbox (Microsoft 365 app-only: register its service principal in Exchange Online and \
                 grant it FullAccess to the mailbox)"
            ),
            (S::Login, K::Rejected) => format!("login rejected by server: {d}; check username/password"),
            (S::Select, K::Rejected) => {
                format!("cannot open the folder: {d}; check `folders` (names are case-sensitive, e.g. INBOX)")
            }
            (S::Fetch, K::TooLarge) => {
                format!("{d}; raise max_message_bytes or remove the message from the mailbox by hand")
            }
            (S::Delete, _) => format!(
                "could not remove processed messages: {d}; they stay in the mailbox and are retried; check that the \
                 account may delete (and, for move, the target folder)"
            ),
            (S::Logout, _) => format!(
                "logout failed: {d}; for POP3 deletions only take effect at a clean logout, so they are retried"
            ),
            (_, K::Timeout) => {
                format!("{} timed out: {d}; the server or network is slow or stuck, retry later", self.stage)
            }
            (_, K::Closed) => format!(
                "the server closed the connection during {}: {d}; retry, and check the server's logs if it persists",
                self.stage
            ),
            _ => format!("{} failed: {d}; retry, and check the server's logs if it persists", self.stage),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_hint_quotes_the_server() {
        let e = FetchError::new(
            Stage::Login,
            ErrorKind::Rejected,
            "mail:993",
            "[AUTHENTICATIONFAILED] Authentication failed.",
        );
        assert_eq!(
            e.hint(),
            "login rejected by server: [AUTHENTICATIONFAILED] Authentication failed.; check username/password"
        );
        assert!(!e.breaks_session());
        assert_eq!(e.to_string(), "mail:993 failed at login: [AUTHENTICATIONFAILED] Authentication failed.");
    }

    #[test]
    fn clip_cuts_on_a_character_boundary_and_says_how_much() {
        assert_eq!(clip("short", 300), "short");
        assert_eq!(clip("ééé", 2), "éé… (2 bytes omitted)");
        let e = FetchError::new(Stage::Fetch, ErrorKind::Protocol, "mail:143", "x".repeat(100_000));
        assert!(e.detail.len() < 1100 && e.detail.ends_with("(99000 bytes omitted)"), "{}", e.detail.len());
    }
}
