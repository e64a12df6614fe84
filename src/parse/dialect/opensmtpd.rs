//! OpenSMTPD: "This is the MAILER-DAEMON, please DO NOT REPLY to this e-mail." then
//! "address: reason" lines; "A message is delayed" marks a delay notice.

use super::{Dialect, delayed, scan};
use crate::parse::mail::Mail;

pub const DIALECT: Dialect = Dialect { name: "opensmtpd", detect, parse, reasons: &[] };

fn detect(m: &Mail) -> bool {
    m.has("this is the mailer-daemon, please do not reply")
}

fn parse(m: &Mail) -> Vec<crate::parse::types::Record> {
    let v = scan(m, "opensmtpd", &["list of recipients"]);
    if m.has("a message is delayed") { delayed(v) } else { v }
}
