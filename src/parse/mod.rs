//! rebound's bounce / complaint / auto-reply parser.
//!
//! `parse(raw, opts)` takes one raw email and gives a `Report`: what kind of message it is
//! and one `Record` per affected recipient (address, RFC 3463 status, SMTP reply code,
//! the server's words, and a `Reason`). Pure: no I/O, no global state besides tables
//! built once; never panics and never drops input silently (anything not understood is
//! `Kind::Unknown` with a reason).
//!
//! Pipeline: `input` (one line-end form; returned messages and quoted-printable HTML
//! marked, unread bodies left out) -> mail-parser -> `Mail` view -> ARF report -> RFC 3464
//! DSN parts (gaps filled from the detected dialect's text) -> non-ARF complaint forwards ->
//! dialect text scanners (SES JSON included) -> auto-reply -> generic scanner -> reason:
//! provider codes (`rhost`), the dialect's own words (its vague ones only as a hint that
//! specific words in the reply outrank), then `reason::classify`.
//!
//! Around that: text with no header block (a bounce pasted into `rebound parse` or the
//! rules Test panel, a notice whose headers were lost) is read as a body; a message that
//! gives no record but carries a forwarded bounce as an attached message is read from the
//! attachment. Every record then gets `permanent` (`reason::permanent`).
//!
//! A mailbox file holding several messages is the caller's to split (`crate::fetch::files`
//! streams mbox files message by message); each message is parsed on its own.

pub mod arf;
pub mod autoreply;
pub mod dialect;
pub mod fields;
pub mod input;
pub mod mail;
pub mod mime;
pub mod original;
pub mod reason;
pub mod recipients;
pub mod rfc3464;
pub mod rhost;
pub mod text;
pub mod types;

pub use types::{Feedback, Kind, OriginalMessage, ParseOptions, Reason, Record, Report};

use mail::Mail;

/// Builds every table the parser builds on first use (the automaton over the reason table's
/// 600 phrases takes a few milliseconds, the mail parser's setup too). A caller with many messages to parse runs this on a thread of its
/// own while it reads the first ones, so no parsing thread waits for the build.
pub fn warm() {
    // The reason table is the largest: built beside the others, on a second core if any.
    std::thread::scope(|s| {
        s.spawn(reason::warm);
        rhost::warm();
        original::warm();
        text::warm();
        input::warm();
        mail::warm();
    });
}

/// Parse one raw message.
pub fn parse(raw: &[u8], opts: &ParseOptions) -> Report {
    if raw.len() > opts.max_size {
        return Report::unknown(format!("message exceeds size cap of {} bytes", opts.max_size));
    }
    // Blank lines before a header block are a copy-and-paste artifact, not an empty one.
    let lead = input::leading_blank_lines(raw);
    if lead > 0 && raw.get(lead..).is_some_and(input::has_header_block) {
        return parse_nested(raw.get(lead..).unwrap_or(raw));
    }
    if !input::has_header_block(raw) {
        // Text pasted without its header block (or a notice whose headers were lost): read
        // it as the body of a message that has only the marker header.
        let mut owned = Vec::with_capacity(BODY_ONLY.len() + raw.len());
        owned.extend_from_slice(BODY_ONLY.as_bytes());
        owned.extend_from_slice(raw);
        return parse_nested(&owned);
    }
    parse_nested(raw)
}

/// A bounce forwarded as an attachment (an operator's "Fwd: Undelivered Mail" to the bounce
/// address): when the message itself gives no record, the first message/rfc822 part that
/// holds a delivery report or a bounce is read as the message. One level deep.
fn parse_nested(raw: &[u8]) -> Report {
    let report = parse_message(raw);
    if !report.records.is_empty() {
        return report;
    }
    let lf = input::normalize_newlines(raw);
    let Some(inner) = input::nested_message(&lf) else { return report };
    let nested = parse_message(inner);
    if nested.records.is_empty() || nested.kind == Kind::Autoreply { report } else { nested }
}

/// The header block put before a text that has none, and its field's name.
pub const BODY_ONLY: &str = "X-Rebound-Body-Only: yes\n\n";
pub const BODY_ONLY_FIELD: &str = "X-Rebound-Body-Only";

fn parse_message(raw: &[u8]) -> Report {
    let prep = input::prepare(raw);
    let bytes = prep.bytes.as_ref();
    // A plain single-part message: only its headers go through mail-parser.
    let parsed = match prep.plain_body {
        Some(_) => mime::headers_only(bytes),
        // Multipart bounces by the quicker walk; anything it is unsure of by mail-parser.
        None => mime::parse(bytes).or_else(|| parse_guarded(bytes)),
    };
    let Some(msg) = parsed else {
        return Report::unknown("not an email: no header could be parsed");
    };
    if msg.root_part().headers.is_empty() {
        return Report::unknown("not an email: no header could be parsed");
    }
    let body = prep.plain_body.map(|o| mail::utf8(bytes.get(o..).unwrap_or(&[])));
    let mut m = Mail::new(&msg, body.as_deref());
    let mut report = base_report(&m);
    let (dialect, records) = analyse(&m, &mut report);
    let mut report = finish(report, dialect, dialect::by_name(dialect), &m, records);
    report.original = m.original.take();
    report
}

/// Subject, From address and Message-ID of a bare header block, filled as [`parse`] fills
/// them: for messages too large to download, of which only the headers are kept.
pub fn header_fields(headers: &[u8]) -> (Option<String>, Option<String>, Option<String>) {
    let Some(msg) = mail::PARSER.parse_headers(headers) else { return (None, None, None) };
    // An empty plain body: no MIME parts to walk, only the headers are read.
    let r = base_report(&Mail::new(&msg, Some("")));
    (r.subject, r.from, r.message_id)
}

/// mail-parser on what the quicker walk left to it: broken MIME, mostly. Its recovery code
/// carries internal assertions (debug builds) that a mangled message can trip (found by
/// `make fuzz`), and a panic there must not take the poller down: it is caught, and the
/// message is read by its headers and its raw body as text.
fn parse_guarded(bytes: &[u8]) -> Option<mail_parser::Message<'_>> {
    std::panic::catch_unwind(|| mail::PARSER.parse(bytes)).unwrap_or_else(|_| mime::headers_and_raw_body(bytes))
}

fn base_report(m: &Mail) -> Report {
    let mut r = Report::unknown("");
    r.unknown_reason = None;
    r.subject = (!m.subject.is_empty()).then(|| m.subject.clone());
    r.from = m.from_addr.clone();
    r.message_id = m.msg.message_id().map(|s| format!("<{s}>"));
    for h in ["To", "Delivered-To", "X-Original-To", "Return-Path"] {
        let addrs = if h == "To" { m.to_addrs.clone() } else { mail::all_addrs(m.msg, h) };
        for a in addrs {
            if !r.to.contains(&a) {
                r.to.push(a);
            }
        }
    }
    r
}

/// Decide what the message is; gives the deciding dialect and the records.
fn analyse(m: &Mail, report: &mut Report) -> (&'static str, Vec<Record>) {
    if let Some(body) = &m.arf {
        let (fb, recs) = arf::parse_report(m, body);
        report.reporting_mta = fb.reporting_mta.clone();
        report.arrival_date = fb.arrival_date.clone();
        report.feedback = Some(fb);
        return ("arf", recs);
    }
    let d = dialect::detect(m);
    let name = d.map(|d| d.name).unwrap_or("rfc3464");
    let mut dsn_text: Vec<&str> = m.dsn.iter().map(String::as_str).collect();
    if dsn_text.is_empty() {
        dsn_text.extend(rfc3464::inline_fields(m.text.get(..m.end).unwrap_or(&m.text)));
    }
    let mut records = Vec::new();
    for t in dsn_text {
        let (pm, recs) = rfc3464::parse(t, name);
        report.reporting_mta = report.reporting_mta.take().or(pm.reporting_mta);
        report.arrival_date = report.arrival_date.take().or(pm.arrival_date);
        records.extend(recs);
    }
    if !records.is_empty() {
        if let Some(d) = d {
            fill_gaps(&mut records, (d.parse)(m));
        } else {
            fill_gaps(&mut records, dialect::scan(m, "rfc3464", &[]));
        }
        return (name, records);
    }
    if arf::detect_forward(m) {
        let (fb, recs) = arf::parse_forward(m);
        report.feedback = Some(fb);
        return ("arf", recs);
    }
    if let Some(d) = d {
        return (d.name, (d.parse)(m));
    }
    if autoreply::detect(m) && !dialect::generic::from_daemon(m) {
        return ("rfc3834", vec![autoreply::parse(m)]);
    }
    if dialect::generic::looks_like_bounce(m) {
        return ("generic", dialect::generic::parse(m));
    }
    ("none", Vec::new())
}

/// A DSN part may lack what its text says: take diagnostic, status, reply code and even the
/// recipient from the text scan, matched by address (or position when there is one each).
fn fill_gaps(records: &mut [Record], text: Vec<Record>) {
    let single = records.len() == 1 && text.len() == 1;
    for (i, r) in records.iter_mut().enumerate() {
        let t = text
            .iter()
            .find(|t| t.recipient.is_some() && t.recipient == r.recipient)
            .or_else(|| if single { text.get(i) } else { None });
        let Some(t) = t else { continue };
        if r.recipient.is_none() {
            r.recipient = t.recipient.clone();
        }
        if r.command.is_none() {
            r.command =
                t.command.clone().or_else(|| t.diagnostic.as_deref().and_then(text::smtp_command).map(str::to_string));
        }
        if r.reply_code.is_none() {
            r.reply_code = t.reply_code;
        }
        let vague = r.status.as_deref().is_none_or(|s| s.ends_with(".0.0"));
        if vague
            && t.status.is_some()
            && r.status.as_ref().is_none_or(|s| s.get(..1) == t.status.as_ref().and_then(|x| x.get(..1)))
        {
            r.status = t.status.clone();
        }
        if r.diagnostic.is_none() {
            r.diagnostic = t.diagnostic.clone();
            if r.reply_code.is_none() {
                r.reply_code = t.reply_code;
            }
            if r.status.is_none() {
                r.status = t.status.clone();
            }
        }
    }
}

/// A dialect's words may sit in the bounce's own text (`m`) rather than in the DSN.
fn finish(
    mut report: Report,
    dialect: &'static str,
    table: Option<&dialect::Dialect>,
    m: &Mail,
    mut records: Vec<Record>,
) -> Report {
    if records.is_empty() {
        report.kind = Kind::Unknown;
        report.unknown_reason = Some(match dialect {
            "none" => "not a bounce, complaint or auto-reply".into(),
            d => format!("{d}: bounce-like, but no SMTP reply or status code to trust"),
        });
        report.dialect = "none";
        return report;
    }
    // Hosts that handled the bounce: they tell which provider wrote it.
    let mut hints = report.reporting_mta.clone().unwrap_or_default();
    hints.push(' ');
    hints.push_str(report.from.as_deref().unwrap_or(""));
    for h in m.msg.root_part().headers.iter().filter(|h| h.name().eq_ignore_ascii_case("Received")).take(3) {
        hints.push(' ');
        hints.push_str(&mail::header_text(m.msg, h));
    }
    let single = records.len() == 1;
    for r in &mut records {
        let unix = r.diagnostic_type.as_deref().is_some_and(|t| t.starts_with("x-unix"));
        if r.reply_code.is_none() && !unix {
            r.reply_code = r.diagnostic.as_deref().and_then(text::find_reply_code);
        }
        if r.status.is_none() {
            r.status = r.diagnostic.as_deref().and_then(text::find_status);
        }
        if r.command.is_none() {
            r.command = r.diagnostic.as_deref().and_then(text::smtp_command).map(str::to_string);
        }
        if r.reason == Reason::Undefined
            && let Some((_, c)) = r.extra.iter().find(|(k, _)| k == rfc3464::STATUS_COMMENT)
            && let Some(v) = reason::verdict(c)
        {
            r.reason = v;
        }
        if r.reason == Reason::Undefined {
            let d = r.diagnostic.as_deref().unwrap_or("");
            let facts = reason::Facts {
                status: r.status.as_deref(),
                reply_code: r.reply_code,
                diagnostic: d,
                action: r.action.as_deref(),
                command: r.command.as_deref(),
                diagnostic_type: r.diagnostic_type.as_deref(),
            };
            let domain = r.recipient.as_deref().and_then(|a| a.rsplit('@').next()).unwrap_or("");
            let hosts =
                [r.remote_mta.as_deref().unwrap_or(""), r.reporting_mta.as_deref().unwrap_or(""), domain, &hints];
            let by_dialect = || {
                table.and_then(|t| {
                    dialect::table_reason(t, d).or_else(|| {
                        // The head's own words count too, but a vague catch-all there
                        // ("unable to" in "we were unable to deliver") says nothing, and
                        // with several recipients the head's words may be another's.
                        if !single {
                            return None;
                        }
                        t.reasons.iter().find(|(p, r)| !reason::is_vague(*r) && m.has(p)).map(|(_, r)| *r)
                    })
                })
            };
            let by_vendor = dialect::powermta::category_reason(r).or_else(|| {
                rhost::reason(&rhost::Reply {
                    diagnostic: d,
                    hosts: &hosts,
                    status: r.status.as_deref(),
                    command: r.command.as_deref(),
                })
            });
            r.reason = match by_vendor.or_else(by_dialect) {
                Some(t) if reason::is_vague(t) => reason::classify_with(&facts, Some(t)),
                Some(t) => reason::temporary(t, &facts),
                None => reason::classify(&facts),
            };
        }
        if r.reason == Reason::Delivered {
            r.kind = Kind::Delivered;
        }
        let texts = [r.diagnostic.as_deref().unwrap_or(""), m.head()];
        r.permanent = reason::permanent(r.kind, r.status.as_deref(), r.reply_code, &texts, r.reason);
    }
    report.kind = overall_kind(&records);
    if report.kind == Kind::Complaint && report.feedback.is_none() {
        // A complaint without an ARF part (SES JSON): still say what kind of feedback.
        let ft = records.iter().find_map(|r| r.feedback_type.clone()).unwrap_or_else(|| "abuse".into());
        report.feedback = Some(Feedback { feedback_type: ft, ..Feedback::default() });
    }
    report.dialect = dialect;
    report.records = records;
    report
}

fn overall_kind(records: &[Record]) -> Kind {
    let first = records.first().map(|r| r.kind).unwrap_or(Kind::Unknown);
    if records.iter().all(|r| r.kind == first) {
        return first;
    }
    if records.iter().any(|r| r.kind == Kind::Bounce) { Kind::Bounce } else { first }
}
