//! The delivery record: one recipient attempt as an MTA logged it, kept verbatim.
//!
//! Takes nothing; gives [`LogRecord`] (kind, parties, the receiving server's words, where it
//! was sent from and to) and [`Unreadable`] (a line that could not be read, with its text and
//! position, for the review queue). It never interprets a code beyond splitting it out.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What became of one recipient at one attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// The receiving server accepted it (2xx).
    Delivered,
    /// A temporary failure (4xx); the MTA will try again.
    Deferred,
    /// A permanent failure (5xx), or a bounce the MTA learned of later (PowerMTA `rb`).
    Bounced,
    /// The MTA gave up after its queue lifetime.
    Expired,
    /// A feedback-loop report logged by the MTA (PowerMTA `f`, KumoMTA `Feedback`).
    Complained,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Delivered => "delivered",
            Kind::Deferred => "deferred",
            Kind::Bounced => "bounced",
            Kind::Expired => "expired",
            Kind::Complained => "complained",
        }
    }
}

/// Where a line sits in its input: the byte offset of its first byte and its 1-based number.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    pub offset: u64,
    pub line: u64,
}

/// Which node, virtual MTA and queue an attempt went through, and the ids it carried.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provenance {
    /// The sending host as the log names it (syslog host, KumoMTA `nodeid`), or the configured one.
    pub node: Option<String>,
    pub vmta: Option<String>,
    pub vmta_pool: Option<String>,
    /// The local address the attempt was made from.
    pub source_ip: Option<String>,
    /// The MTA's own id of the message (Postfix queue id, Exim message id, KumoMTA spool id).
    pub queue_id: Option<String>,
    /// The named queue (PowerMTA `queue`, KumoMTA `queue`).
    pub queue: Option<String>,
    pub job_id: Option<String>,
    /// The DSN envelope id (`MAIL FROM … ENVID=`).
    pub envelope_id: Option<String>,
    /// The Message-ID header, where the log carries it.
    pub message_id: Option<String>,
}

/// One recipient attempt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogRecord {
    pub kind: Kind,
    pub recipient: String,
    /// The recipient before aliasing or forwarding (Postfix `orig_to`, PowerMTA `orcpt`).
    pub original_recipient: Option<String>,
    /// The envelope sender; `Some("")` for the null sender `<>`.
    pub sender: Option<String>,
    pub time: DateTime<Utc>,
    /// The enhanced status code as logged, e.g. `5.1.1`.
    pub status: Option<String>,
    /// The SMTP reply code, e.g. 550.
    pub reply_code: Option<u16>,
    /// The server's (or MTA's) words, verbatim, e.g. `550 5.1.1 user unknown`.
    pub reply_text: Option<String>,
    /// The receiving server's host name and address.
    pub remote_host: Option<String>,
    pub remote_ip: Option<String>,
    pub provenance: Provenance,
    /// Header fields the log carries (PowerMTA `header_*` columns, KumoMTA `headers`).
    pub headers: Vec<(String, String)>,
    /// Format-specific facts, by their own names (PowerMTA `bounceCat`, KumoMTA
    /// `bounce_classification`, …): rules may match them, this module never reads them.
    pub facts: Vec<(String, String)>,
    /// The MTA refused the recipient itself because it is on its own suppression list: the
    /// address was suppressed already, so this is never a new bounce.
    pub suppressed_by_mta: bool,
    pub position: Position,
}

impl LogRecord {
    pub fn new(kind: Kind, recipient: String, time: DateTime<Utc>, position: Position) -> Self {
        LogRecord {
            kind,
            recipient,
            original_recipient: None,
            sender: None,
            time,
            status: None,
            reply_code: None,
            reply_text: None,
            remote_host: None,
            remote_ip: None,
            provenance: Provenance::default(),
            headers: Vec::new(),
            facts: Vec::new(),
            suppressed_by_mta: false,
            position,
        }
    }

    pub fn fact(&self, name: &str) -> Option<&str> {
        self.facts.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Sets the reply text and takes the reply code and enhanced status out of it when they
    /// are not known yet.
    pub fn set_reply(&mut self, text: &str) {
        let text = text.trim();
        if text.is_empty() {
            return;
        }
        if self.reply_code.is_none() {
            self.reply_code = reply_code(text);
        }
        if self.status.is_none() {
            self.status = enhanced_status(text).map(str::to_string);
        }
        self.reply_text = Some(text.to_string());
    }
}

/// A line that could not be read: kept whole, with where it was and why, never dropped.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("line {} (byte {}): {reason}: {text:?}", position.line, position.offset)]
pub struct Unreadable {
    pub position: Position,
    pub text: String,
    pub reason: String,
}

impl Unreadable {
    pub fn new(position: Position, text: &[u8], reason: impl Into<String>) -> Self {
        let text = String::from_utf8_lossy(text).trim_end_matches(['\r', '\n']).to_string();
        Unreadable { position, text, reason: reason.into() }
    }
}

/// What one line gave: a record, or the line itself when it could not be read.
pub type Entry = Result<LogRecord, Unreadable>;

/// The three-digit reply code a text starts with (`550 …`, `550-…`), or the first one that
/// follows a `: ` (`… said: 550 …`).
pub fn reply_code(text: &str) -> Option<u16> {
    let at = |s: &str| -> Option<u16> {
        let b = s.as_bytes();
        (b.len() >= 3
            && matches!(b[0], b'2'..=b'5')
            && b[1].is_ascii_digit()
            && b[2].is_ascii_digit()
            && b.get(3).is_none_or(|c| *c == b' ' || *c == b'-'))
        .then(|| s[..3].parse().ok())
        .flatten()
    };
    at(text).or_else(|| text.match_indices(": ").find_map(|(i, _)| at(&text[i + 2..])))
}

/// The first enhanced status code (`5.1.1`, `4.7.650`) in a text.
pub fn enhanced_status(text: &str) -> Option<&str> {
    let b = text.as_bytes();
    let digits = |mut i: usize, max: usize| {
        let s = i;
        while i < b.len() && b[i].is_ascii_digit() && i - s < max {
            i += 1;
        }
        (i > s).then_some(i)
    };
    for i in 0..b.len() {
        if !matches!(b[i], b'2' | b'4' | b'5') || (i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'.')) {
            continue;
        }
        if b.get(i + 1) != Some(&b'.') {
            continue;
        }
        let Some(j) = digits(i + 2, 3) else { continue };
        if b.get(j) != Some(&b'.') {
            continue;
        }
        let Some(k) = digits(j + 1, 3) else { continue };
        if b.get(k).is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'.') {
            continue;
        }
        return Some(&text[i..k]);
    }
    None
}

/// `Some(v)` for a non-empty trimmed value.
pub(crate) fn non_empty(v: &str) -> Option<String> {
    let v = v.trim();
    (!v.is_empty()).then(|| v.to_string())
}

/// An address without its angle brackets; `<>` gives the empty string.
pub(crate) fn unbracket(v: &str) -> &str {
    let v = v.trim();
    v.strip_prefix('<').and_then(|s| s.strip_suffix('>')).unwrap_or(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_come_out_of_reply_texts() {
        assert_eq!(reply_code("550 5.1.1 user unknown"), Some(550));
        assert_eq!(reply_code("host mx[192.0.2.1] said: 452-4.2.2 full"), Some(452));
        assert_eq!(reply_code("connect to mx: Connection refused"), None);
        assert_eq!(enhanced_status("550 5.1.1 user unknown"), Some("5.1.1"));
        assert_eq!(enhanced_status("421 4.7.650 rate limited"), Some("4.7.650"));
        assert_eq!(enhanced_status("from 192.5.1.1.2 nothing"), None);
        assert_eq!(enhanced_status("no code here"), None);
    }
}
