//! Postfix: "This is the mail system at host ..." / "This is the Postfix program", with a
//! DSN part normally; without one, "<address>: explanation" lines. "THIS IS A WARNING
//! ONLY" marks a delay notice.

use super::{Dialect, delayed, scan};
use crate::parse::mail::Mail;

pub const DIALECT: Dialect = Dialect { name: "postfix", detect, parse, reasons: &[] };

fn detect(m: &Mail) -> bool {
    m.has("this is the mail system at host")
        || m.has("this is the postfix program")
        || m.subject.starts_with("Undelivered Mail Returned to Sender")
        || m.subject.starts_with("Delayed Mail (still being retried)")
}

fn parse(m: &Mail) -> Vec<crate::parse::types::Record> {
    let v = scan(m, "postfix", &["could not be delivered", "the mail system", "delivery to the following recipient"]);
    if m.has("this is a warning only") { delayed(v) } else { v }
}
