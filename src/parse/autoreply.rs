//! Auto-replies (RFC 3834 and vendor conventions): vacation / out-of-office answers.
//! Takes the `Mail`; says whether it is an auto-reply and gives its record (the replying
//! address, reason vacation). `Auto-Submitted: auto-generated` alone is NOT an auto-reply:
//! every bounce carries it.

use crate::parse::mail::Mail;
use crate::parse::text::{contains_ci, find_any};
use crate::parse::types::{Kind, Reason, Record};

const SUBJECTS: &[&str] = &[
    "auto reply",
    "auto-reply",
    "autoreply",
    "automatic reply",
    "autorespon",
    "auto response",
    "auto-response",
    "out of office",
    "out of the office",
    "vacation",
    "abwesenheit",
    "réponse automatique",
    "respuesta automática",
    "risposta automatica",
    "automatisch antwoord",
    "automatische antwort",
    "自動応答",
    "自動返信",
    "不在",
];

/// Words of an auto-reply saying the address itself is gone.
const GONE: &[&str] = &[
    "no longer in use",
    "no longer active",
    "no longer with",
    "no longer monitored",
    "has left the company",
    "is no longer valid",
];

pub fn detect(mail: &Mail) -> bool {
    if mail.header("Auto-Submitted").is_some_and(|v| contains_ci(&v, "auto-replied")) {
        return true;
    }
    if ["X-Autoreply", "X-Autorespond", "X-Vacation"].iter().any(|h| mail.has_header(h)) {
        return true;
    }
    if mail.header("Precedence").is_some_and(|v| contains_ci(&v, "auto_reply")) {
        return true;
    }
    find_any(&mail.subject, SUBJECTS).is_some()
}

pub fn parse(mail: &Mail) -> Record {
    let mut r = Record::new("rfc3834");
    r.kind = Kind::Autoreply;
    r.recipient = mail.from_addr.clone();
    r.reason = if find_any(&mail.text, GONE).is_some() { Reason::Suspend } else { Reason::Vacation };
    r.diagnostic = Some(crate::parse::text::one_line(crate::parse::text::prefix(&mail.text, 400)));
    r
}
