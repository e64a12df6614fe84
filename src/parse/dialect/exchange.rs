//! Microsoft Exchange 2003/2007/2010+, Office 365 and Outlook.com NDRs: "Undeliverable:"
//! subjects (and their translations), "did not reach the following recipient(s)",
//! "Delivery has failed to these recipients or groups", "Remote Server returned '...'".

use super::{Dialect, scan};
use crate::parse::mail::Mail;
use crate::parse::text::{contains_ci, find_any};
use crate::parse::types::Reason;

pub const DIALECT: Dialect = Dialect { name: "exchange", detect, parse, reasons: REASONS };

const MARKS: &[&str] = &[
    "did not reach the following recipient",
    "delivery has failed to these recipients or groups",
    "could not be reached",
    "msexch:",
    "remote server returned",
    // Exchange Online's NDR layout (Microsoft, "Email non-delivery reports and SMTP errors
    // in Exchange Online"): "Your message to X couldn't be delivered.", "Action Required",
    // "How to Fix It", "More Info for Email Admins", "Status code: 550 5.1.10".
    "more info for email admins",
    // The component codes of Exchange 2010+ and Exchange Online enhanced texts ("#550 5.1.1
    // RESOLVER.ADR.RecipNotFound; not found ##"): the same in every language of the notice.
    "resolver.adr.",
    "resolver.rst.",
    "smtpsend.dns.",
    "storedrv.",
];

fn detect(m: &Mail) -> bool {
    m.has_header("X-MS-Exchange-Message-Is-Ndr")
        || find_any(&m.subject, &["undeliverable:", "non remis", "non recapitabile", "unzustellbar", "onbestelbaar"])
            .is_some()
        || m.has_any(MARKS)
        || contains_ci(&m.from_lower, "microsoft outlook")
}

/// Exchange's own words (and its 000C05A6-style codes) with one meaning.
const REASONS: &[(&str, Reason)] = &[
    ("recipient name is not recognized", Reason::UserUnknown),
    ("000c05a6", Reason::UserUnknown),
    ("resolver.adr.recipientnotfound", Reason::UserUnknown),
    ("unknown recipient or mailbox unavailable", Reason::UserUnknown),
    ("email address you entered couldn't be found", Reason::UserUnknown),
    ("e-mail address you entered couldn't be found", Reason::UserUnknown),
    ("e-mail account does not exist at the organization", Reason::UserUnknown),
    ("recipient's mailbox is full", Reason::MailboxFull),
    // Exchange Online's headline for 5.1.1 / 5.1.10: "<user> wasn't found at <domain>."
    ("wasn't found at", Reason::UserUnknown),
    ("mailbox is full", Reason::MailboxFull),
    ("message was too large", Reason::MesgTooBig),
    ("000b099c", Reason::NetworkError),
    // Exchange Online's x.4.312 "Message expired, DNS query failed": the lookup failed.
    ("dns query failed", Reason::NetworkError),
];

fn parse(m: &Mail) -> Vec<crate::parse::types::Record> {
    let mut v = scan(
        m,
        "exchange",
        &[
            "did not reach the following recipient",
            "delivery has failed to these recipients",
            "could not be reached",
            "recipient(s)",
        ],
    );
    // Exchange Online states the code once, below the help text, as "Status code: 550
    // 5.1.10": too far from the address for the scan to join them.
    if v.iter().any(|r| r.status.is_none()) {
        let head = m.text.get(..m.end).unwrap_or("");
        let line = crate::parse::text::find_ci(head, "status code: ")
            .and_then(|p| head.get(p + 13..))
            .and_then(|rest| rest.split('\n').next());
        if let Some((code, st)) = line.and_then(crate::parse::text::code_pair) {
            for r in v.iter_mut().filter(|r| r.status.is_none()) {
                r.status = Some(st.clone());
                r.reply_code = r.reply_code.or(Some(code));
            }
        }
    }
    v
}
