//! Yahoo! Mail (qmail-style text from MAILER-DAEMON at a Yahoo host): "Sorry, we were unable
//! to deliver your message to the following address." then "<address>:" and "Remote host
//! said: ...". It speaks qmail's words, so it shares qmail's reason table.

use super::{Dialect, scan};
use crate::parse::mail::Mail;

pub const DIALECT: Dialect = Dialect { name: "yahoo", detect, parse, reasons: super::qmail::REASONS };

fn detect(m: &Mail) -> bool {
    m.has("sorry, we were unable to deliver your message to the following address")
}

fn parse(m: &Mail) -> Vec<crate::parse::types::Record> {
    scan(m, "yahoo", &["to the following address"])
}
