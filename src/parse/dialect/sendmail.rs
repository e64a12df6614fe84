//! Sendmail (V8 and V5, and lookalikes such as ActiveHunter): "----- Transcript of
//! session follows -----" with "550 <addr>... reason" lines and ">>> RCPT To:<addr>" /
//! "<<< 550 ..." SMTP transcripts; "Returned mail:" subjects; "Warning: could not send
//! message for past …" delay warnings (records marked delayed).

use super::{Dialect, scan};
use crate::parse::mail::Mail;
use crate::parse::text::{contains_ci, normalize_address};
use crate::parse::types::Record;

pub const DIALECT: Dialect = Dialect { name: "sendmail", detect, parse, reasons: &[] };

fn detect(m: &Mail) -> bool {
    m.subject.starts_with("Returned mail:")
        || m.subject.starts_with("Postmaster notify:")
        || m.has("----- transcript of session follows -----")
        || m.has("the original message was received at")
}

fn parse(m: &Mail) -> Vec<Record> {
    let t = m.text.get(..m.end).unwrap_or("");
    let mut v = transcript(t, &super::skip_list(m));
    if v.is_empty() {
        v = scan(m, "sendmail", &["following addresses had", "transcript of session follows"]);
    }
    if greeting_refused(t) {
        for r in v.iter_mut().filter(|r| r.command.is_none()) {
            r.command = Some("CONN".into());
        }
    }
    // Sendmail's delay warning (DELAY DSN without a delivery-status part on older or
    // text-only configurations): it keeps trying, so nothing here has failed yet.
    if m.subject.starts_with("Warning: could not send message for past") || m.has("this is a warning message only") {
        return super::delayed(v);
    }
    v
}

/// "... while talking to mx.example.org.:" answered at once by "<<< 5xx", before sendmail
/// sent any command: the server refused the connection itself (its greeting).
fn greeting_refused(t: &str) -> bool {
    let mut talking = false;
    for l in crate::parse::text::lines(t).map(str::trim).filter(|l| !l.is_empty()) {
        if contains_ci(l, "while talking to") {
            talking = true;
        } else if talking {
            if l.starts_with("<<< 5") || l.starts_with("<<< 4") {
                return true;
            }
            talking = false;
        }
    }
    false
}

/// Old-style transcripts: "554 <addr>... reason" lines, each preceded by the "<<<" replies
/// of the session it came from. Every such line is one recipient.
fn transcript(t: &str, skip: &[String]) -> Vec<Record> {
    let mut out: Vec<Record> = Vec::new();
    let mut context = String::new();
    for line in crate::parse::text::lines(t) {
        let l = line.trim();
        if contains_ci(l, "while talking to") {
            context.clear();
            continue;
        }
        if l.starts_with("<<<") || l.starts_with(">>>") {
            context.push_str(l);
            context.push(' ');
            continue;
        }
        let b = l.as_bytes();
        let coded = b.len() > 5 && b[..3].iter().all(u8::is_ascii_digit) && b[3] == b' ';
        let Some(p) = l.find("... ").filter(|_| coded && l.get(4..5) == Some("<")) else {
            continue;
        };
        let Some(addr) = l.get(4..p).and_then(normalize_address) else {
            continue;
        };
        if skip.contains(&addr) || out.iter().any(|r| r.recipient.as_deref() == Some(addr.as_str())) {
            continue;
        }
        let mut r = super::record("sendmail", Some(addr), &format!("{context}{l}"));
        // "554 <addr>... 550 Host unknown": the inner code is the remote server's.
        let inner = l.get(p + 4..).and_then(|rest| rest.get(..3)).and_then(|c| c.parse::<u16>().ok());
        // The remote server's own "<<< 550 ..." refusal outranks sendmail's summary code; a
        // 500-504 protocol complaint does not (sendmail's summary then says more).
        let remote = context
            .rsplit("<<< ")
            .next()
            .filter(|_| context.contains("<<< "))
            .and_then(|c| c.get(..3))
            .and_then(|c| c.parse::<u16>().ok());
        r.reply_code = inner
            .filter(|c| (200..600).contains(c))
            .or(remote.filter(|c| (400..600).contains(c) && !(500..=504).contains(c)))
            .or_else(|| l.get(..3).and_then(|c| c.parse().ok()));
        out.push(r);
        context.clear();
    }
    out
}
