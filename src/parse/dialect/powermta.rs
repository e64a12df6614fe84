//! PowerMTA (Port25/Bird) DSNs: RFC 3464 with "X-PowerMTA-BounceCategory" per recipient.
//! The category is PowerMTA's own verdict; it is mapped to the taxonomy when it is one of
//! the documented categories.

use super::{Dialect, scan};
use crate::parse::mail::Mail;
use crate::parse::types::{Reason, Record};

pub const DIALECT: Dialect = Dialect { name: "powermta", detect, parse, reasons: &[] };

fn detect(m: &Mail) -> bool {
    m.has_header("X-PowerMTA-VirtualMTA") || m.dsn.iter().any(|d| d.contains("X-PowerMTA-"))
}

fn parse(m: &Mail) -> Vec<Record> {
    scan(m, "powermta", &[])
}

/// Reason for a record's X-PowerMTA-BounceCategory, if it names one.
pub fn category_reason(r: &Record) -> Option<Reason> {
    let (_, cat) = r.extra.iter().find(|(k, _)| k.eq_ignore_ascii_case("X-PowerMTA-BounceCategory"))?;
    Some(match cat.trim().to_ascii_lowercase().as_str() {
        "bad-mailbox" => Reason::UserUnknown,
        "bad-domain" => Reason::HostUnknown,
        "inactive-mailbox" => Reason::Suspend,
        "quota-issues" => Reason::MailboxFull,
        "message-expired" => Reason::Expired,
        "no-answer-from-host" => Reason::NetworkError,
        "relaying-issues" => Reason::NoRelaying,
        "routing-errors" => Reason::SystemError,
        "spam-related" => Reason::SpamDetected,
        "virus-related" => Reason::VirusDetected,
        "content-related" => Reason::ContentError,
        "policy-related" => Reason::PolicyViolation,
        "invalid-sender" => Reason::Rejected,
        "protocol-errors" => Reason::SyntaxError,
        "bad-connection" => Reason::NetworkError,
        _ => return None,
    })
}
