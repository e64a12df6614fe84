//! Outlook.com / Hotmail (legacy Windows Live DSNs): "Delivery to the following recipients
//! failed." (or "has been delayed.") above an RFC 3464 part.

use super::{Dialect, delayed, scan};
use crate::parse::mail::Mail;

pub const DIALECT: Dialect = Dialect { name: "outlook", detect, parse, reasons: &[] };

fn detect(m: &Mail) -> bool {
    m.has("delivery to the following recipients failed")
        || m.has("delivery to the following recipients has been delayed")
}

fn parse(m: &Mail) -> Vec<crate::parse::types::Record> {
    let v = scan(m, "outlook", &["delivery to the following recipients"]);
    if m.has("has been delayed") { delayed(v) } else { v }
}
