//! Zoho Mail: "address Invalid Address, ERROR_CODE :550, ERROR_CODE :5.1.1 ..." lines.

use super::{Dialect, scan};
use crate::parse::mail::Mail;

pub const DIALECT: Dialect = Dialect { name: "zoho", detect, parse, reasons: REASONS };

/// Zoho's "Host not reachable" is its give-up message after retrying a host that never
/// answered: the delivery time expired.
const REASONS: &[(&str, crate::parse::types::Reason)] = &[("host not reachable", crate::parse::types::Reason::Expired)];

fn detect(m: &Mail) -> bool {
    m.from_lower.contains("zoho") || m.has("error_code :")
}

fn parse(m: &Mail) -> Vec<crate::parse::types::Record> {
    let mut v = scan(m, "zoho", &["this is a permanent error", "could not be delivered"]);
    for r in &mut v {
        // "ERROR_CODE :550" is the reply code even though a colon precedes it.
        if let Some(d) = r.diagnostic.as_deref()
            && let Some(p) = d.find("ERROR_CODE :")
        {
            r.reply_code = crate::parse::text::find_reply_code(d.get(p + 12..).unwrap_or(""));
        }
    }
    v
}
