//! Japanese mobile carriers' own bounce formats (au/KDDI ezweb.ne.jp, dion.ne.jp): short
//! notices such as "Could not be delivered to: <addr> As their mailbox is full." or a
//! Japanese paragraph followed by an English summary and the address.

use super::{Dialect, scan};
use crate::parse::mail::Mail;
use crate::parse::types::Reason;

pub const DIALECT: Dialect = Dialect { name: "jpcarrier", detect, parse, reasons: REASONS };

/// The carriers' fixed English sentences.
const REASONS: &[(&str, Reason)] = &[
    ("as their mailbox is full", Reason::MailboxFull),
    ("account is disabled", Reason::Suspend),
    ("was not delivered within", Reason::Expired),
    ("remote host is not responding", Reason::Expired),
];

fn detect(m: &Mail) -> bool {
    let f = &m.from_lower;
    f.contains("@ezweb.ne.jp") || f.contains(".dion.ne.jp") || f.contains("@au.com") || f.contains("@kddi.com")
}

fn parse(m: &Mail) -> Vec<crate::parse::types::Record> {
    scan(m, "jpcarrier", &[])
}
