//! Courier MTA: "This is a delivery status notification from ..., running the Courier
//! mail server" and "<<< 550 ..." transcript lines after each address.

use super::{Dialect, scan};
use crate::parse::mail::Mail;

pub const DIALECT: Dialect = Dialect { name: "courier", detect, parse, reasons: &[] };

fn detect(m: &Mail) -> bool {
    m.has("courier mail server") || m.subject.starts_with("NOTICE: mail delivery status.")
}

fn parse(m: &Mail) -> Vec<crate::parse::types::Record> {
    scan(m, "courier", &["the following address", "delivery to the following"])
}
