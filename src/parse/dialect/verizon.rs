//! Verizon Wireless MMS/SMS gateway (vtext.com, vzwpix.com) NDRs: "Message could not be
//! delivered to mobile. Error: ..." with the original quoted after "Original Message:".

use super::{Dialect, fallback_recipient, record};
use crate::parse::mail::Mail;
use crate::parse::text::one_line;
use crate::parse::types::{Reason, Record};

pub const DIALECT: Dialect = Dialect { name: "verizon", detect, parse, reasons: REASONS };

const REASONS: &[(&str, Reason)] = &[("no valid recipients", Reason::UserUnknown)];

fn detect(m: &Mail) -> bool {
    (m.from_lower.contains("vzwpix.com") || m.from_lower.contains("vtext.com")) && m.has("could not be delivered")
}

fn parse(m: &Mail) -> Vec<Record> {
    let t = m.text.get(..m.end).unwrap_or("");
    let found = super::scan(m, "verizon", &[]);
    if found.iter().any(|r| r.recipient.is_some()) {
        return found;
    }
    // The failed handset number is only in the quoted original's To.
    vec![record("verizon", fallback_recipient(m), &one_line(t))]
}
