//! Ipswitch IMail Server: one line per failure ("Invalid final delivery userid: addr",
//! "Delivery failed N attempts: addr", "undeliverable to addr") then "Original message
//! follows.".

use super::{Dialect, scan};
use crate::parse::mail::Mail;
use crate::parse::text::contains_ci;
use crate::parse::types::Reason;

pub const DIALECT: Dialect = Dialect { name: "imail", detect, parse, reasons: REASONS };

/// IMail's one-line verdicts.
const REASONS: &[(&str, Reason)] = &[
    ("invalid final delivery userid", Reason::UserUnknown),
    ("user mailbox exceeds allowed size", Reason::MailboxFull),
    ("requested action not taken: mailbox unavailable", Reason::UserUnknown),
    ("no mail servers for remote domain", Reason::HostUnknown),
    ("delivery failed", Reason::Expired),
];

fn detect(m: &Mail) -> bool {
    m.header("X-Mailer").is_some_and(|x| contains_ci(&x, "imail") || contains_ci(&x, "<smtp32 "))
        || m.has("invalid final delivery userid")
}

fn parse(m: &Mail) -> Vec<crate::parse::types::Record> {
    scan(m, "imail", &[])
}
