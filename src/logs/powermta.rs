//! PowerMTA accounting files: CSV with a header line naming the fields (`type,timeLogged,
//! orig,rcpt,dsnStatus,dsnDiag,…`). Columns are found by their header name, never by
//! position, since every installation chooses its own `record-fields`.
//!
//! Record types read: `d` (delivered), `b` (bounced; `bounceCat` `message-expired` is an
//! expiry), `rb` (a remote bounce PowerMTA received later), `t` (transient: deferred) and `f`
//! (a feedback-loop report). `r` (received) and `tq`/`rs` (queue and remote status
//! summaries) are no recipient attempt and give nothing. A `b` refusal PowerMTA made itself
//! (no remote MTA, no destination address) whose words name its suppression list is flagged
//! [`LogRecord::suppressed_by_mta`].

use super::Options;
use super::record::{Entry, Kind, LogRecord, Position, Unreadable, non_empty, unbracket};
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};

/// The header in force: the last header line seen.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    pub header: Vec<String>,
    /// Rebuilt from `header` after a resume; boxed to keep the state small to move.
    #[serde(skip)]
    columns: Option<Box<Columns>>,
}

/// Where each field this reader uses sits under the current header.
#[derive(Clone, Debug, Default, PartialEq)]
struct Columns {
    width: usize,
    kind: Option<usize>,
    time_logged: Option<usize>,
    orig: Option<usize>,
    rcpt: Option<usize>,
    orcpt: Option<usize>,
    dsn_action: Option<usize>,
    dsn_status: Option<usize>,
    dsn_diag: Option<usize>,
    dsn_mta: Option<usize>,
    bounce_cat: Option<usize>,
    source_ip: Option<usize>,
    destination_ip: Option<usize>,
    vmta: Option<usize>,
    vmta_pool: Option<usize>,
    job_id: Option<usize>,
    env_id: Option<usize>,
    queue: Option<usize>,
    feedback_type: Option<usize>,
    /// `header_X-Campaign-ID` columns: (index, header name).
    headers: Vec<(usize, String)>,
}

impl Columns {
    fn new(header: &[String]) -> Self {
        let find = |name: &str| header.iter().position(|h| h.eq_ignore_ascii_case(name));
        Columns {
            width: header.len(),
            kind: find("type"),
            time_logged: find("timeLogged"),
            orig: find("orig"),
            rcpt: find("rcpt"),
            orcpt: find("orcpt"),
            dsn_action: find("dsnAction"),
            dsn_status: find("dsnStatus"),
            dsn_diag: find("dsnDiag"),
            dsn_mta: find("dsnMta"),
            bounce_cat: find("bounceCat"),
            source_ip: find("dlvSourceIp"),
            // The documentation's own spelling varies between versions.
            destination_ip: find("dlvDestinationIp").or_else(|| find("dlvDesintationIp")),
            vmta: find("vmta"),
            vmta_pool: find("vmtaPool"),
            job_id: find("jobId"),
            env_id: find("envId"),
            queue: find("queue"),
            feedback_type: find("feedbackType"),
            headers: header
                .iter()
                .enumerate()
                .filter_map(|(i, h)| h.strip_prefix("header_").map(|n| (i, n.to_string())))
                .collect(),
        }
    }
}

/// Reads whole lines (`bytes` ends in `\n`), advancing `at` past them.
pub(super) fn read(state: &mut State, options: &Options, bytes: &[u8], at: &mut Position, out: &mut Vec<Entry>) {
    let mut csv = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(bytes);
    let mut rec = csv::ByteRecord::new();
    loop {
        let start = csv.position().clone();
        let more = csv.read_byte_record(&mut rec);
        let end = csv.position().byte() as usize;
        let pos = Position { offset: at.offset + start.byte(), line: at.line + start.line() };
        let raw = &bytes[start.byte() as usize..end.max(start.byte() as usize)];
        match more {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                out.push(Err(Unreadable::new(pos, raw, format!("not CSV: {e}"))));
                continue;
            }
        }
        if raw[..raw.len().saturating_sub(1)].contains(&b'\n') {
            out.push(Err(Unreadable::new(pos, raw, "an unclosed quote runs over several lines")));
            continue;
        }
        let first = rec.get(0).unwrap_or_default();
        if first == b"type" || first == b"#type" {
            state.header = rec.iter().map(|f| String::from_utf8_lossy(f).trim_start_matches('#').to_string()).collect();
            state.columns = Some(Box::new(Columns::new(&state.header)));
            continue;
        }
        if state.header.is_empty() {
            out.push(Err(Unreadable::new(
                pos,
                raw,
                "no header line seen yet: an accounting file starts with one naming its fields; read the file from its start or resume from a checkpoint",
            )));
            continue;
        }
        let cols = state.columns.get_or_insert_with(|| Box::new(Columns::new(&state.header)));
        if let Some(entry) = record(cols, options, &rec, pos, raw) {
            out.push(entry);
        }
    }
    at.offset += bytes.len() as u64;
    at.line += memchr::memchr_iter(b'\n', bytes).count() as u64;
}

fn record(cols: &Columns, options: &Options, rec: &csv::ByteRecord, pos: Position, raw: &[u8]) -> Option<Entry> {
    if rec.len() != cols.width {
        let why = format!("{} fields where the header names {}", rec.len(), cols.width);
        return Some(Err(Unreadable::new(pos, raw, why)));
    }
    let get = |i: Option<usize>| -> &str {
        i.and_then(|i| rec.get(i)).and_then(|f| std::str::from_utf8(f).ok()).unwrap_or("").trim()
    };
    // Fields are the line's bytes split at ASCII delimiters (quotes unescaped are ASCII), so
    // one check of the line says every field is UTF-8.
    if std::str::from_utf8(raw).is_err() {
        return Some(Err(Unreadable::new(pos, raw, "a field is not UTF-8")));
    }
    let kind = match get(cols.kind) {
        "d" | "delivery" => Kind::Delivered,
        "b" | "bounce" => Kind::Bounced,
        "rb" | "remoteBounce" => Kind::Bounced,
        "t" | "transient" => Kind::Deferred,
        "f" | "feedback" => Kind::Complained,
        "r" | "receive" | "tq" | "transientQueue" | "rs" | "remoteStatus" => return None,
        other => return Some(Err(Unreadable::new(pos, raw, format!("unknown record type {other:?}")))),
    };
    let record_type = get(cols.kind);
    let recipient = unbracket(get(cols.rcpt));
    if recipient.is_empty() {
        return Some(Err(Unreadable::new(pos, raw, "no recipient (rcpt) in the record")));
    }
    let time = match time(get(cols.time_logged)) {
        Ok(t) => t,
        Err(why) => return Some(Err(Unreadable::new(pos, raw, why))),
    };
    let bounce_cat = get(cols.bounce_cat);
    let kind = if kind == Kind::Bounced && bounce_cat == "message-expired" { Kind::Expired } else { kind };
    let mut r = LogRecord::new(kind, recipient.to_string(), time, pos);
    r.sender = cols.orig.map(|_| unbracket(get(cols.orig)).to_string());
    r.original_recipient = non_empty(strip_type(get(cols.orcpt)));
    let status = get(cols.dsn_status);
    let (code, status_words) = status.split_once(' ').unwrap_or((status, ""));
    r.status = non_empty(code);
    let diag = get(cols.dsn_diag);
    r.set_reply(strip_type(diag));
    let (host, ip) = mta(get(cols.dsn_mta));
    r.remote_host = host;
    r.remote_ip = non_empty(get(cols.destination_ip)).or(ip);
    let p = &mut r.provenance;
    p.node = options.node.clone();
    p.vmta = non_empty(get(cols.vmta));
    p.vmta_pool = non_empty(get(cols.vmta_pool));
    p.source_ip = non_empty(get(cols.source_ip));
    p.job_id = non_empty(get(cols.job_id));
    p.envelope_id = non_empty(get(cols.env_id));
    p.queue = non_empty(get(cols.queue));
    r.headers =
        cols.headers.iter().filter_map(|(i, name)| non_empty(get(Some(*i))).map(|v| (name.clone(), v))).collect();
    let facts = [
        ("type", record_type),
        ("bounceCat", bounce_cat),
        ("dsnAction", get(cols.dsn_action)),
        ("dsnStatusText", status_words.trim().trim_start_matches('(').trim_end_matches(')')),
        ("feedbackType", get(cols.feedback_type)),
    ];
    r.facts = facts.iter().filter(|(_, v)| !v.is_empty()).map(|(k, v)| (k.to_string(), v.to_string())).collect();
    r.suppressed_by_mta = record_type == "b"
        && r.remote_host.is_none()
        && r.remote_ip.is_none()
        && names_suppression_list(&format!("{diag} {status}"));
    Some(Ok(r))
}

/// `smtp;550 …`, `rfc822;a@b`: the value without its type.
fn strip_type(v: &str) -> &str {
    match v.split_once(';') {
        Some((t, rest)) if !t.is_empty() && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') => rest.trim(),
        _ => v,
    }
}

/// `dsnMta` is `mx.example.com (192.0.2.1)`, sometimes with a `dns;` type, or just a name.
fn mta(v: &str) -> (Option<String>, Option<String>) {
    let v = strip_type(v);
    match v.split_once(" (") {
        Some((host, ip)) => (non_empty(host), non_empty(ip.trim_end_matches(')'))),
        None => (non_empty(v), None),
    }
}

fn names_suppression_list(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    ["suppression list", "suppression-list", "suppressionlist", "suppress-list"].iter().any(|w| t.contains(w))
}

/// `2026-12-01 18:30:00-0500` read by position: chrono's format-string parser was a third
/// of the time per accounting line.
fn fixed_time(v: &str) -> Option<DateTime<Utc>> {
    let b = v.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        b.get(r.clone())?.iter().try_fold(0u32, |n, c| c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0')))
    };
    if b.len() != 24 || b[4] != b'-' || b[7] != b'-' || b[10] != b' ' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let date = chrono::NaiveDate::from_ymd_opt(num(0..4)? as i32, num(5..7)?, num(8..10)?)?;
    let local = date.and_hms_opt(num(11..13)?, num(14..16)?, num(17..19)?)?;
    let zone = (num(20..22)? * 3600 + num(22..24)? * 60) as i64;
    let zone = match b[19] {
        b'+' => zone,
        b'-' => -zone,
        _ => return None,
    };
    Some((local - chrono::Duration::seconds(zone)).and_utc())
}

/// `2026-12-01 18:30:00-0500` (PowerMTA's format), or RFC 3339.
fn time(v: &str) -> Result<DateTime<Utc>, String> {
    if let Some(t) = fixed_time(v) {
        return Ok(t);
    }
    DateTime::parse_from_str(v, "%Y-%m-%d %H:%M:%S%z")
        .or_else(|_| DateTime::parse_from_rfc3339(v))
        .map(|t| t.with_timezone(&Utc))
        .or_else(|_| NaiveDateTime::parse_from_str(v, "%Y-%m-%d %H:%M:%S").map(|t| t.and_utc()))
        .map_err(|_| format!("timeLogged {v:?} is not a time like 2026-12-01 18:30:00-0500"))
}

#[cfg(test)]
mod tests {
    use super::super::{Format, Options, Reader};
    use super::*;

    fn read(text: &str) -> Vec<Entry> {
        let mut r = Reader::new(Format::PowerMta, Options::default());
        let mut out = Vec::new();
        let used = r.feed(text.as_bytes(), &mut out);
        r.finish(&text.as_bytes()[used..], &mut out);
        out
    }

    #[test]
    fn columns_are_found_by_name_in_any_order() {
        let a = read(
            "type,timeLogged,rcpt,orig,dsnStatus,dsnDiag,dsnMta,bounceCat\n\
             b,2026-12-01 18:30:00-0500,u@example.net,s@example.com,5.1.1 (bad destination mailbox address),\"smtp;550 5.1.1 user unknown\",mx.example.net (192.0.2.7),bad-mailbox\n",
        );
        let b = read(
            "type,bounceCat,dsnMta,dsnDiag,dsnStatus,orig,rcpt,timeLogged\n\
             b,bad-mailbox,mx.example.net (192.0.2.7),\"smtp;550 5.1.1 user unknown\",5.1.1 (bad destination mailbox address),s@example.com,u@example.net,2026-12-01 18:30:00-0500\n",
        );
        let (a, b) = (a[0].clone().unwrap(), b[0].clone().unwrap());
        assert_eq!(a.recipient, "u@example.net");
        assert_eq!(a.status.as_deref(), Some("5.1.1"));
        assert_eq!(a.reply_code, Some(550));
        assert_eq!(a.reply_text.as_deref(), Some("550 5.1.1 user unknown"));
        assert_eq!(a.remote_host.as_deref(), Some("mx.example.net"));
        assert_eq!(a.remote_ip.as_deref(), Some("192.0.2.7"));
        assert_eq!(a.time.to_rfc3339(), "2026-12-01T23:30:00+00:00");
        assert_eq!(a.fact("bounceCat"), Some("bad-mailbox"));
        assert_eq!((a.kind, &a.recipient, &a.reply_text), (b.kind, &b.recipient, &b.reply_text));
        assert_eq!(a.position.line, 2);
        assert_eq!(b.position.offset, 61, "the byte after the 61-byte header line");
    }

    #[test]
    fn the_fixed_time_format_reads_as_chrono_reads_it() {
        for v in ["2026-12-01 18:30:00-0500", "2026-12-01 18:30:00+0000", "2024-02-29 23:59:59+0530"] {
            let chrono = DateTime::parse_from_str(v, "%Y-%m-%d %H:%M:%S%z").unwrap().with_timezone(&Utc);
            assert_eq!(fixed_time(v), Some(chrono), "{v}");
        }
        assert_eq!(fixed_time("2026-02-30 18:30:00+0000"), None);
        assert!(time("yesterday").is_err());
    }

    #[test]
    fn a_line_without_header_or_of_the_wrong_width_is_unreadable() {
        let out = read("d,2026-12-01 18:30:00+0000,u@example.net\n");
        assert!(out[0].as_ref().unwrap_err().reason.contains("no header line"));
        let out = read("type,timeLogged,rcpt\nd,2026-12-01 18:30:00+0000\n");
        let e = out[0].as_ref().unwrap_err();
        assert_eq!((e.position.line, e.text.as_str()), (2, "d,2026-12-01 18:30:00+0000"));
        assert!(e.reason.contains("2 fields where the header names 3"), "{e}");
    }
}
