//! Gmail / Google Workspace / Google Groups: "Delivery to the following recipient failed
//! permanently:" (or "has been delayed") with "Technical details of permanent failure" and
//! the remote server's reply; Google Groups "the group you tried to contact ... may not
//! exist" notices (the failed recipient is the group address).

use super::{Dialect, delayed, record, scan};
use crate::parse::mail::Mail;
use crate::parse::text::{contains_ci, normalize_address};
use crate::parse::types::Reason;

pub const DIALECT: Dialect = Dialect { name: "gmail", detect, parse, reasons: REASONS };

fn detect(m: &Mail) -> bool {
    m.from_lower.contains("mailer-daemon@google") || contains_ci(&m.text, "delivery to the following recipient")
}

/// Gmail's headlines ("** Address not found **") state the reason in Google's words.
const REASONS: &[(&str, Reason)] =
    &[("doesn't receive email", Reason::NotAccept), ("did not accept our requests to connect", Reason::Expired)];

fn parse(m: &Mail) -> Vec<crate::parse::types::Record> {
    if contains_ci(&m.text, "groups.google.com")
        || m.has_header("X-Failed-Recipients") && contains_ci(&m.text, "Google Groups")
    {
        let rcpt = m.header("X-Failed-Recipients").and_then(|v| normalize_address(&v));
        let mut r = record("googlegroups", rcpt, "");
        r.diagnostic = Some(crate::parse::text::one_line(crate::parse::text::prefix(&m.text, 600)));
        r.reason = Reason::Rejected;
        return vec![r];
    }
    let v = scan(m, "gmail", &["delivery to the following recipient", "your message wasn't delivered"]);
    if contains_ci(&m.text, "has been delayed") || contains_ci(&m.subject, "(Delay)") { delayed(v) } else { v }
}
