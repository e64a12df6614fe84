//! Courier MTA: "This is a delivery status notification from ..., running the Courier
//! mail server" and "<<< 550 ..." transcript lines after each address.

use super::{Dialect, scan};
use crate::parse::mail::Mail;
use crate::parse::text::contains_ci;

pub const DIALECT: Dialect = Dialect { name: "courier", detect, parse, reasons: &[] };

fn detect(m: &Mail) -> bool {
    contains_ci(&m.text, "courier mail server") || m.subject.starts_with("NOTICE: mail delivery status.")
}

fn parse(m: &Mail) -> Vec<crate::parse::types::Record> {
    scan(m, "courier", &["the following address", "delivery to the following"])
}
