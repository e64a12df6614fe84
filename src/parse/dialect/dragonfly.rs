//! DragonFly Mail Agent (dma): "There was an error delivering your mail to <addr>." then the
//! remote host's words ("... did not like our RCPT TO:" + the SMTP reply).

use super::{Dialect, scan};
use crate::parse::mail::Mail;

pub const DIALECT: Dialect = Dialect { name: "dragonfly", detect, parse, reasons: &[] };

fn detect(m: &Mail) -> bool {
    m.has("this is the dragonfly mail agent") || m.has("there was an error delivering your mail to")
}

fn parse(m: &Mail) -> Vec<crate::parse::types::Record> {
    scan(m, "dragonfly", &["there was an error delivering your mail to"])
}
