//! Gmail / Google Workspace / Google Groups: "Delivery to the following recipient failed
//! permanently:" (or "has been delayed") with "Technical details of permanent failure" and
//! the remote server's reply; Google Groups "the group you tried to contact ... may not
//! exist" notices (the failed recipient is the group address); "** Message not delivered **"
//! notices about a broken "Send mail as" alias (the recipient is the returned message's To).

use super::{Dialect, delayed, record, scan};
use crate::parse::mail::Mail;
use crate::parse::text::{contains_ci, normalize_address};
use crate::parse::types::Reason;

pub const DIALECT: Dialect = Dialect { name: "gmail", detect, parse, reasons: REASONS };

fn detect(m: &Mail) -> bool {
    m.from_lower.contains("mailer-daemon@google")
        || m.has("delivery to the following recipient failed permanently")
        || m.has("delivery to the following recipient has been delayed")
        // Gmail's current notices: "** Delivery incomplete **" ... "Gmail will retry for 46
        // more hours", "** Address not found **" ... "Your message wasn't delivered to".
        || m.has("gmail will retry for")
        // Gmail's notices as pasted text (no From to go by): "** Address not found **",
        // "** Message blocked **", "** Message not delivered **", each quoting the remote
        // server under "The response from the remote server was:".
        || (m.has("the response from the remote server was") && m.has(" **"))
        || m.has("support.google.com/mail/?p=")
        || (m.has("** delivery incomplete **") && m.has("temporary problem delivering your message"))
}

/// Gmail's headlines ("** Address not found **") state the reason in Google's words.
const REASONS: &[(&str, Reason)] =
    &[("doesn't receive email", Reason::NotAccept), ("did not accept our requests to connect", Reason::Expired)];

/// Old Gmail NDRs end the remote reply with "(state N)": the SMTP stage that failed.
fn state_of(diag: &str) -> Option<(&'static str, Reason)> {
    let p = diag.rfind("(state ")?;
    let n: u8 = diag.get(p + 7..)?.split(')').next()?.trim().parse().ok()?;
    Some(match n {
        6 | 9 => ("STARTTLS", Reason::FailedStartTls),
        8 => ("AUTH", Reason::SystemError),
        12 => ("AUTH", Reason::NoRelaying),
        13 => ("HELO", Reason::Blocked),
        14 => ("RCPT", Reason::UserUnknown),
        15 | 17 | 18 => ("DATA", Reason::Filtered),
        _ => return None,
    })
}

fn parse(m: &Mail) -> Vec<crate::parse::types::Record> {
    if m.has("groups.google.com") || m.has_header("X-Failed-Recipients") && m.has("google groups") {
        let rcpt = m.header("X-Failed-Recipients").and_then(|v| normalize_address(&v));
        let mut r = record("googlegroups", rcpt, "");
        r.diagnostic = Some(crate::parse::text::one_line(crate::parse::text::prefix(&m.text, 600)));
        r.reason = Reason::Rejected;
        return vec![r];
    }
    let mut v = scan(
        m,
        "gmail",
        &["delivery to the following recipient", "your message wasn't delivered", "problem delivering your message"],
    );
    for r in &mut v {
        let state = r.diagnostic.as_deref().and_then(state_of);
        // The state names the failing stage; a specific enhanced status still wins.
        let vague = r.status.as_deref().is_none_or(|s| s.contains(".0"));
        if let (Some((command, reason)), true) = (state, vague) {
            r.command = Some(command.into());
            r.reason = reason;
        }
    }
    // A "Send mail as" failure is about the sender's alias account; the notice names no
    // recipient in its text and X-Failed-Recipients may name an expanded group, so the
    // returned message's To says who the message was for.
    if m.has("sending this from a different address or alias")
        && let Some(to) = m.original.as_ref().and_then(|o| o.to.as_deref()).and_then(normalize_address)
    {
        for r in &mut v {
            r.recipient = Some(to.clone());
        }
    }
    // "** Address not found **": Google's summary of a refusal at RCPT time.
    if m.has("address couldn't be found") {
        for r in v.iter_mut().filter(|r| r.command.is_none()) {
            r.command = Some("RCPT".into());
        }
    }
    if m.has("has been delayed") || m.has("gmail will retry for") || contains_ci(&m.subject, "(Delay)") {
        delayed(v)
    } else {
        v
    }
}
