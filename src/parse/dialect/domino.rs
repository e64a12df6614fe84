//! IBM/HCL Domino and Lotus Notes: "was not delivered to:" / "because:" blocks, and Notes'
//! "------- Failure Reasons --------" (the reason comes before the addresses).

use super::{Dialect, scan};
use crate::parse::mail::Mail;
use crate::parse::text::contains_ci;
use crate::parse::types::Reason;

pub const DIALECT: Dialect = Dialect { name: "domino", detect, parse, reasons: REASONS };

/// Domino looks recipients up in its directory: "not listed" means no such user.
const REASONS: &[(&str, Reason)] = &[("not listed in", Reason::UserUnknown)];

fn detect(m: &Mail) -> bool {
    m.subject.starts_with("DELIVERY FAILURE:")
        || m.has_any(&["------- failure reasons", "was not delivered to:"])
        || contains_ci(&m.subject, "DELIVERY_FAILURE")
}

fn parse(m: &Mail) -> Vec<crate::parse::types::Record> {
    scan(m, "domino", &["was not delivered to:", "------- failure reasons"])
}
