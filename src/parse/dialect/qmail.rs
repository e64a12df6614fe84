//! qmail and qmail-derived MTAs: "Hi. This is the qmail-send program at ...", then
//! "<address>:" lines each followed by the remote host's words, and
//! "--- Below this line is a copy of the message.".

use super::{Dialect, scan};
use crate::parse::mail::Mail;

pub const DIALECT: Dialect = Dialect { name: "qmail", detect, parse, reasons: &[] };

fn detect(m: &Mail) -> bool {
    m.has("this is the qmail-send program")
        || m.has("--- below this line is a copy of the message")
        || m.has("unable to deliver message to the following address")
}

fn parse(m: &Mail) -> Vec<crate::parse::types::Record> {
    scan(m, "qmail", &["following address", "deliver your message to the following"])
}
