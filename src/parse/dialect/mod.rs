//! Non-standard bounce dialects, one small module per MTA family, and the registry that
//! tries them in order. Each module has a cheap `detect` (headers, a few body markers)
//! and a `parse` that reads the human-readable text, mostly through [`scan`].
//! Adding a dialect = one new file + one line in `REGISTRY`.
//! Takes the `Mail`; gives records. A dialect sets a reason only where its own format
//! states one (a state code, a JSON field); its `reasons` table holds its one-meaning words;
//! everything else is classified by the caller. Never reads files, never panics on odd text.

use crate::parse::mail::Mail;
use crate::parse::recipients;
use crate::parse::text::{self, find_any, find_reply_code, find_status, normalize_address, one_line};
use crate::parse::types::{Kind, Reason, Record};

pub mod amavis;
pub mod amazonses;
pub mod courier;
pub mod domino;
pub mod dragonfly;
pub mod exchange;
pub mod exim;
pub mod fml;
pub mod generic;
pub mod gmail;
pub mod imail;
pub mod interscan;
pub mod jpcarrier;
pub mod messagingserver;
pub mod opensmtpd;
pub mod outlook;
pub mod postfix;
pub mod powermta;
pub mod qmail;
pub mod sendmail;
pub mod verizon;
pub mod yahoo;
pub mod zoho;

pub struct Dialect {
    pub name: &'static str,
    pub detect: fn(&Mail) -> bool,
    pub parse: fn(&Mail) -> Vec<Record>,
    /// Words this MTA family uses with one meaning only; checked before the general table.
    /// A vague reason here (`reason::is_vague`: system error, expired...) is only a hint
    /// that specific words of the reply outrank; a phrase written with a capital is matched
    /// with its case.
    pub reasons: &'static [(&'static str, Reason)],
}

/// Most specific first: the first whose `detect` says yes decides.
pub const REGISTRY: &[Dialect] = &[
    amazonses::DIALECT,
    powermta::DIALECT,
    fml::DIALECT,
    outlook::DIALECT,
    gmail::DIALECT,
    jpcarrier::DIALECT,
    verizon::DIALECT,
    interscan::DIALECT,
    yahoo::DIALECT,
    dragonfly::DIALECT,
    opensmtpd::DIALECT,
    zoho::DIALECT,
    amavis::DIALECT,
    exchange::DIALECT,
    domino::DIALECT,
    imail::DIALECT,
    messagingserver::DIALECT,
    courier::DIALECT,
    qmail::DIALECT,
    exim::DIALECT,
    postfix::DIALECT,
    sendmail::DIALECT,
];

pub fn by_name(name: &str) -> Option<&'static Dialect> {
    REGISTRY.iter().find(|d| d.name == name)
}

pub fn detect(mail: &Mail) -> Option<&'static Dialect> {
    REGISTRY.iter().find(|d| (d.detect)(mail))
}

/// Addresses that are never the failed recipient: the bounce's sender and addressee, and
/// the original sender.
pub fn skip_list(mail: &Mail) -> Vec<String> {
    let mut v: Vec<String> = mail.from_addr.iter().cloned().collect();
    v.extend(mail.to_addrs.iter().cloned());
    if let Some(o) = &mail.original {
        for h in [&o.from, &o.return_path].into_iter().flatten() {
            v.extend(normalize_address(h));
        }
    }
    v
}

/// The generic reader of human-readable bounces: takes the text from the first `start`
/// marker (or the top) to the quoted original, finds recipient lines and what follows them.
pub fn scan(mail: &Mail, name: &'static str, start: &[&str]) -> Vec<Record> {
    let t = mail.text.as_str();
    let head = t.get(..mail.end).unwrap_or(t);
    let from = find_any(head, start).map(|(s, _)| s).unwrap_or(0);
    // A bounce names its recipients near the top; 256 KiB bounds the work on huge input.
    let region = text::prefix(head.get(from..).unwrap_or(head), 256 * 1024);
    let skip = skip_list(mail);
    let mut found = recipients::scan_recipients(region, &skip);
    if found.is_empty() && from > 0 {
        found = recipients::scan_recipients(head, &skip);
    }
    if found.is_empty() {
        // Sender and recipient may be the same address (tests, forwards to oneself).
        found = recipients::scan_recipients(region, &[]);
    }
    let mut out: Vec<Record> = found.into_iter().map(|f| record(name, Some(f.address), &f.diagnostic)).collect();
    if out.is_empty() {
        let rcpt = fallback_recipient(mail);
        out.push(record(name, rcpt, &one_line(region)));
    }
    out
}

/// A record from a recipient and the server's words about it.
pub fn record(name: &'static str, rcpt: Option<String>, diag: &str) -> Record {
    let mut r = Record::new(name);
    r.recipient = rcpt;
    let d = diag.trim();
    match text::code_pair(d) {
        Some((code, st)) => {
            r.status = Some(st);
            r.reply_code = Some(code);
        }
        None => {
            r.status = find_status(d);
            r.reply_code = find_reply_code(d);
        }
    }
    r.diagnostic = (!d.is_empty()).then(|| d.to_string());
    r.kind = Kind::Bounce;
    r
}

/// When the text names nobody: X-Failed-Recipients, else the original's To.
pub fn fallback_recipient(mail: &Mail) -> Option<String> {
    if let Some(v) = mail.header("X-Failed-Recipients")
        && let Some(a) = normalize_address(&v)
    {
        return Some(a);
    }
    let o = mail.original.as_ref()?;
    o.to.as_deref().and_then(normalize_address)
}

/// The reason `d`'s table gives for a diagnostic, if any. Phrases are matched ignoring
/// ASCII case, except those written with a capital: their case is part of the format.
pub fn table_reason(d: &Dialect, diag: &str) -> Option<Reason> {
    d.reasons
        .iter()
        .find(
            |(p, _)| {
                if p.bytes().any(|b| b.is_ascii_uppercase()) { diag.contains(p) } else { text::contains_ci(diag, p) }
            },
        )
        .map(|(_, r)| *r)
}

/// Mark every record as a delay.
pub fn delayed(mut v: Vec<Record>) -> Vec<Record> {
    for r in &mut v {
        r.kind = Kind::Delay;
        r.action = Some("delayed".into());
    }
    v
}
