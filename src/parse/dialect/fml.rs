//! fml mailing-list manager notices (X-MLServer: fml, From: <list>-admin@): the list refused
//! or dropped a post ("NOT MEMBER article from ...", "Loop Alert: Duplicated Message-ID").
//! The notice names the list address in angle brackets; its Subject is fml's verdict.
//! The original follows "Original mail as follows:".

use super::{Dialect, record};
use crate::parse::mail::Mail;
use crate::parse::text::{contains_ci, normalize_address};
use crate::parse::types::{Reason, Record};

pub const DIALECT: Dialect = Dialect { name: "fml", detect, parse, reasons: REASONS };

/// fml's fixed sentences and subjects (fml 4 message templates).
const REASONS: &[(&str, Reason)] = &[
    (" are not member", Reason::Rejected),
    ("not member article from ", Reason::Rejected),
    ("you are not a member of this mailing list", Reason::Rejected),
    ("reject mail ", Reason::Rejected),
    ("reject spammers:", Reason::Rejected),
    ("spam mail from a spammer is rejected", Reason::Rejected),
    (" header may cause mail loop", Reason::Rejected),
    ("security alert", Reason::SecurityError),
    // A message-id seen before means the post came round again: fml's loop guard.
    ("loop alert: ", Reason::SystemError),
    ("loop back warning", Reason::SystemError),
    ("unix from loop", Reason::SystemError),
    ("has detected a loop condition", Reason::SystemError),
    ("fml system error message", Reason::SystemError),
];

fn detect(m: &Mail) -> bool {
    m.header("X-MLServer").is_some_and(|v| contains_ci(&v, "fml")) && m.from_lower.contains("-admin@")
}

fn parse(m: &Mail) -> Vec<Record> {
    let t = m.text.as_str();
    let end = crate::parse::text::find_ci(t, "original mail as follows").unwrap_or(t.len());
    let head = t.get(..end).unwrap_or(t);
    let mut out: Vec<Record> = Vec::new();
    for line in crate::parse::text::lines(head).map(str::trim).filter(|l| !l.is_empty()) {
        let inner = line.find('<').and_then(|a| line.get(a + 1..)).and_then(|r| r.find('>').and_then(|b| r.get(..b)));
        match inner.and_then(normalize_address) {
            Some(addr) => {
                // The Subject is fml's verdict; the line says which list.
                let diag = format!("{}: {line}", m.subject.trim());
                out.push(record("fml", Some(addr), &diag));
            }
            None => {
                if let Some(r) = out.last_mut()
                    && let Some(d) = r.diagnostic.as_mut()
                {
                    d.push(' ');
                    d.push_str(line);
                }
            }
        }
    }
    out
}
