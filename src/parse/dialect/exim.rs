//! Exim (and Exim-based services: GMX, 1&1, Mail.ru, MXLogic...): "The following
//! address(es) failed:" then each address on its own indented line with the SMTP error
//! below it; delay warnings say "has not yet been delivered".

use super::{Dialect, delayed, scan};
use crate::parse::mail::Mail;
use crate::parse::text::contains_ci;

pub const DIALECT: Dialect = Dialect { name: "exim", detect, parse, reasons: &[] };

const MARKS: &[&str] = &[
    "this message was created automatically by mail delivery software",
    "could not be delivered to one or more of its recipients",
    "could not be delivered to one or more recipients",
];

fn detect(m: &Mail) -> bool {
    m.has_header("X-Failed-Recipients")
        || m.subject.starts_with("Mail delivery failed")
        || (m.subject.starts_with("Warning: message") && contains_ci(&m.subject, "delayed"))
        || m.has_any(MARKS)
}

fn parse(m: &Mail) -> Vec<crate::parse::types::Record> {
    let v = scan(
        m,
        "exim",
        &["address(es) failed", "address failed", "following address", "has not yet been delivered", "failed:"],
    );
    if m.has("has not yet been delivered") || m.subject.starts_with("Warning:") { delayed(v) } else { v }
}
