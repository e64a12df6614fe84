//! Last resort for bounces from software without a module: recognises a bounce by its
//! sender (mailer-daemon, postmaster) or subject words, then reads it with the generic
//! scanner. Not in the registry: it runs after every dialect said no.

use super::scan;
use crate::parse::mail::Mail;
use crate::parse::text::find_any;
use crate::parse::types::Record;

const SUBJECTS: &[&str] = &[
    "undeliver",
    "undelivered",
    "delivery status",
    "delivery fail",
    "failure notice",
    "returned mail",
    "mail delivery",
    "delivery notification",
    "non remis",
    "could not be delivered",
    "nondeliverable",
    "delivery failure",
    "failed delivery",
    "failure delivery",
    "mail system error",
    "returned to sender",
    "delivery has failed",
    "message delivery",
    "error sending",
    "email delivery failure",
    "could not send",
    "mail could not",
    "rejected",
];

/// What only a bounce says, near its top.
const BODY: &[&str] = &[
    "could not be delivered to",
    "was not delivered to",
    "delivery has failed",
    "unable to deliver",
    "permanent error",
    "delivery failed",
    "failed to deliver",
    "did not reach",
    "could not deliver",
    "undeliverable",
    "delivery to the following",
];

/// Sent by the mail system itself (mailer-daemon, postmaster)?
pub fn from_daemon(m: &Mail) -> bool {
    let local = m.from_addr.as_deref().and_then(|a| a.split('@').next()).unwrap_or("").to_ascii_lowercase();
    matches!(local.as_str(), "mailer-daemon" | "postmaster" | "mail.delivery.system" | "mailerdaemon" | "post_master")
        || m.from_lower.contains("mailer-daemon")
        || m.from_lower.contains("mail delivery")
        || null_from(m)
}

/// "From: <>": the null address (RFC 5321 4.5.5) that only notifications of the mail
/// system use, an auto-reply's bounce included.
fn null_from(m: &Mail) -> bool {
    m.from_addr.is_none() && m.header("From").is_some_and(|v| v.trim().is_empty() || v.trim() == "<>")
}

pub fn looks_like_bounce(m: &Mail) -> bool {
    from_daemon(m)
        || m.has_header("X-Failed-Recipients")
        || find_any(&m.subject, SUBJECTS).is_some()
        || m.has_any(BODY)
        || pasted_reply(m)
}

/// Text pasted without headers (someone copied the failing line out of a notice) that
/// quotes a server's refusal ("550 5.1.1 ..."), or a delivery agent's line for one
/// recipient: it has no sender or subject to go by.
fn pasted_reply(m: &Mail) -> bool {
    m.has_header(crate::parse::BODY_ONLY_FIELD)
        && (crate::parse::text::code_pair(m.head()).is_some_and(|(c, _)| c >= 400) || recipient_line(m.head()))
}

/// Does a paragraph open with "<address>:" and then say what failed? Postfix's bounce(5)
/// notices write each failed recipient so ("<kim@example.org>: host mx.example.org[192.0.2.1]
/// said: 550 Requested action not taken: mailbox unavailable (in reply to RCPT TO
/// command)", "<kim@example.org>: connect to ...: Connection refused", "<kim@example.org>:
/// Host or domain name not found. Name service error ..."), and qmail-send puts the same
/// "<address>:" line above the remote's words. Many servers' replies carry no enhanced
/// status, so the line is read when it holds a failure reply code (RFC 5321 4.2: 4yz/5yz) or
/// words naming the failure. Prose that merely mentions an address does not open so.
fn recipient_line(head: &str) -> bool {
    let mut lines = crate::parse::text::lines(head).peekable();
    while let Some(line) = lines.next() {
        let Some(rest) = line.trim_start().strip_prefix('<') else { continue };
        let Some(close) = rest.find(">:") else { continue };
        if !rest.get(..close).is_some_and(|a| a.contains('@') && !a.contains(char::is_whitespace)) {
            continue;
        }
        // The rest of the paragraph: the agent's words wrap onto indented or following lines.
        let mut words = rest.get(close + 2..).unwrap_or("").to_string();
        while let Some(next) = lines.peek() {
            if next.trim().is_empty() || next.trim_start().starts_with('<') {
                break;
            }
            words.push(' ');
            words.push_str(next.trim());
            lines.next();
        }
        if crate::parse::text::find_reply_code(&words).is_some_and(|c| c >= 400)
            || crate::parse::reason::names_a_failure(&words)
        {
            return true;
        }
    }
    false
}

/// Without a known format, a record is only trusted when the server's answer (a reply
/// code or an enhanced status) backs it, or, in the many NDRs that carry no code at all,
/// when it names a recipient and its words say what failed ("This account has been
/// disabled", "mailbox unavailable") or whether for good ("permanent error; I've given up").
///
/// Such a code-less record keeps its recipient only when the notice's own words name it: the
/// returned message's To (the scanner's fallback) may be a list or an alias that forwarded
/// to the failed address, and a guess must not suppress it.
pub fn parse(m: &Mail) -> Vec<Record> {
    let mut v = scan(m, "generic", &[]);
    let own = m.text.get(..m.end).unwrap_or("");
    v.retain_mut(|r| {
        if r.reply_code.is_some() || r.status.is_some() {
            return true;
        }
        if !r.diagnostic.as_deref().is_some_and(crate::parse::reason::names_a_failure) {
            return false;
        }
        if r.recipient.as_deref().is_some_and(|a| !crate::parse::text::contains_ci(own, a)) {
            r.recipient = None;
        }
        true
    });
    v
}
