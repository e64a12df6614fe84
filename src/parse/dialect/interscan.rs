//! Trend Micro InterScan Messaging Security Suite notices: "Message from InterScan Messaging
//! Security Suite" then "Unable to deliver message to <addr>".

use super::{Dialect, scan};
use crate::parse::mail::Mail;
use crate::parse::types::Reason;

pub const DIALECT: Dialect = Dialect { name: "interscan", detect, parse, reasons: REASONS };

/// InterScan asks to check the address only when the recipient was refused.
const REASONS: &[(&str, Reason)] = &[("please check if address is correct", Reason::UserUnknown)];

fn detect(m: &Mail) -> bool {
    m.has("interscan messaging security") || m.from_lower.contains("interscan")
}

fn parse(m: &Mail) -> Vec<crate::parse::types::Record> {
    scan(m, "interscan", &["unable to deliver message to"])
}
