//! Oracle/Sun Java System Messaging Server (and Apple's iCloud, which runs it): DSNs with
//! "This report relates to a message you sent with the following header fields:" and
//! "Recipient address: / Reason:" lines in the text.

use super::{Dialect, scan};
use crate::parse::mail::Mail;
use crate::parse::text::contains_ci;

pub const DIALECT: Dialect = Dialect { name: "messagingserver", detect, parse, reasons: &[] };

fn detect(m: &Mail) -> bool {
    m.has("this report relates to a message you sent") || m.subject.starts_with("Delivery Notification: ")
}

fn parse(m: &Mail) -> Vec<crate::parse::types::Record> {
    let v = scan(m, "messagingserver", &["recipient address:", "your message cannot be delivered"]);
    if contains_ci(&m.subject, "delayed") { super::delayed(v) } else { v }
}
