//! Postfix syslog lines. A delivery agent (`smtp`, `lmtp`, `local`, `virtual`, `error`, …)
//! or `qmgr` logs each recipient's fate as `QUEUEID: to=<…>, orig_to=<…>, relay=host[ip]:port,
//! delay=…, dsn=5.1.1, status=bounced (the words)`; the envelope sender comes earlier from
//! `qmgr` (`QUEUEID: from=<…>, size=…, nrcpt=…`) and the Message-ID from `cleanup`
//! (`QUEUEID: message-id=<…>`). The two are joined on the queue id and kept in [`State`]
//! until `qmgr` logs `QUEUEID: removed`.
//!
//! Lines of other programs (a shared syslog file) and Postfix lines about no queue id
//! (`connect from …`, warnings) give nothing; a line that is no syslog line at all, or a
//! status line without its recipient, is [`Unreadable`]. Timestamps: classic syslog
//! (`Dec  1 18:30:00`, year and zone from [`Options`]) or RFC 3339 (rsyslog high precision,
//! RFC 5424).

use super::Options;
use super::record::{Entry, Kind, LogRecord, Position, Unreadable, non_empty, unbracket};
use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What earlier lines said about each queue id not removed yet.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    pub messages: BTreeMap<String, Message>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub sender: Option<String>,
    pub message_id: Option<String>,
}

pub(super) fn line(state: &mut State, options: &Options, line: &[u8], pos: Position, out: &mut Vec<Entry>) {
    let Ok(text) = std::str::from_utf8(line) else {
        return out.push(Err(Unreadable::new(pos, line, "not UTF-8")));
    };
    let Some((time, host, program, message)) = syslog(text, options) else {
        return out.push(Err(Unreadable::new(pos, line, "not a syslog line (timestamp host program[pid]: message)")));
    };
    if !program.contains("postfix") {
        return;
    }
    let Some((queue_id, rest)) = message.split_once(": ") else { return };
    // `NOQUEUE: reject: …` is a refusal of mail coming in, not a delivery.
    if queue_id.len() < 5 || queue_id == "NOQUEUE" || !queue_id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return;
    }
    if rest == "removed" {
        state.messages.remove(queue_id);
        return;
    }
    if let Some(id) = rest.strip_prefix("message-id=") {
        state.messages.entry(queue_id.to_string()).or_default().message_id = non_empty(unbracket(id));
        return;
    }
    let fields = Fields::new(rest);
    if !fields.has("to") {
        if let Some(from) = fields.get("from") {
            state.messages.entry(queue_id.to_string()).or_default().sender = Some(unbracket(from).to_string());
        }
        return;
    }
    let Some((status, words)) = fields.status() else {
        return out.push(Err(Unreadable::new(pos, line, "a to= line without status=")));
    };
    let kind = match status {
        "sent" => Kind::Delivered,
        "deferred" => Kind::Deferred,
        "bounced" => Kind::Bounced,
        "expired" => Kind::Expired,
        // Address verification probes (`verify`): no mail was sent.
        "deliverable" | "undeliverable" => return,
        other => return out.push(Err(Unreadable::new(pos, line, format!("unknown status={other}")))),
    };
    let recipient = unbracket(fields.get("to").unwrap_or_default());
    if recipient.is_empty() {
        return out.push(Err(Unreadable::new(pos, line, "to= is empty")));
    }
    let mut r = LogRecord::new(kind, recipient.to_string(), time, pos);
    r.original_recipient = fields.get("orig_to").map(unbracket).and_then(non_empty);
    r.status = fields.get("dsn").and_then(non_empty);
    if let Some(words) = words {
        r.reply_text = Some(words.to_string());
        r.reply_code = super::reply_code(words);
    }
    if let Some(relay) = fields.get("relay") {
        let (host, ip) = relay_parts(relay);
        r.remote_host = host;
        r.remote_ip = ip;
    }
    let known = state.messages.get(queue_id);
    r.sender = known.and_then(|m| m.sender.clone());
    r.provenance.message_id = known.and_then(|m| m.message_id.clone());
    r.provenance.queue_id = Some(queue_id.to_string());
    r.provenance.node = options.node.clone().or_else(|| non_empty(host));
    r.facts.push(("program".into(), program.to_string()));
    out.push(Ok(r));
}

/// `relay=mx.example.net[192.0.2.1]:25`, `relay=none`, `relay=local`.
fn relay_parts(relay: &str) -> (Option<String>, Option<String>) {
    if relay == "none" {
        return (None, None);
    }
    match relay.split_once('[') {
        Some((host, rest)) => (non_empty(host), rest.split_once(']').and_then(|(ip, _)| non_empty(ip))),
        None => (non_empty(relay), None),
    }
}

/// The `key=value, key=value, status=word (words)` list of a Postfix line.
struct Fields<'a> {
    pairs: Vec<(&'a str, &'a str)>,
    /// `status=` runs to the end of the line: its words may hold commas.
    status: Option<&'a str>,
}

impl<'a> Fields<'a> {
    fn new(rest: &'a str) -> Self {
        let (head, status) = match rest.find("status=") {
            Some(i) if i == 0 || rest[..i].ends_with(", ") => (&rest[..i], Some(&rest[i + 7..])),
            _ => (rest, None),
        };
        let pairs = head.split(", ").filter_map(|p| p.trim().trim_end_matches(',').split_once('=')).collect();
        Fields { pairs, status }
    }
    fn get(&self, key: &str) -> Option<&'a str> {
        self.pairs.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
    }
    fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }
    /// `bounced (host … said: 550 …)` → (`bounced`, the words inside the outer parentheses).
    fn status(&self) -> Option<(&'a str, Option<&'a str>)> {
        let s = self.status?;
        let (word, rest) = s.split_once(' ').unwrap_or((s, ""));
        let word = word.trim_end_matches(',');
        let rest = rest.trim();
        let words = rest.strip_prefix('(').and_then(|r| r.strip_suffix(')')).or((!rest.is_empty()).then_some(rest));
        Some((word, words))
    }
}

const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// (time, host, program, message) of `TIMESTAMP HOST PROGRAM[PID]: MESSAGE`.
fn syslog<'a>(text: &'a str, options: &Options) -> Option<(DateTime<Utc>, &'a str, &'a str, &'a str)> {
    let (time, rest) = if text.as_bytes().first().is_some_and(u8::is_ascii_digit) {
        let (stamp, rest) = text.split_once(' ')?;
        (DateTime::parse_from_rfc3339(stamp).ok()?.with_timezone(&Utc), rest)
    } else {
        let month = MONTHS.iter().position(|m| text.starts_with(m))? as u32 + 1;
        let rest = text.get(3..)?.trim_start();
        let (day, rest) = rest.split_once(' ')?;
        let (clock, rest) = rest.split_once(' ')?;
        let date = NaiveDate::from_ymd_opt(options.year, month, day.parse().ok()?)?;
        let clock = NaiveTime::parse_from_str(clock, "%H:%M:%S").ok()?;
        (options.offset.from_local_datetime(&date.and_time(clock)).single()?.with_timezone(&Utc), rest)
    };
    let (host, rest) = rest.split_once(' ')?;
    let (tag, message) = rest.split_once(": ")?;
    let program = tag.split_once('[').map_or(tag, |(p, _)| p);
    Some((time, host, program, message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relay_and_status_words_are_split() {
        assert_eq!(
            relay_parts("mx.example.net[192.0.2.1]:25"),
            (Some("mx.example.net".into()), Some("192.0.2.1".into()))
        );
        assert_eq!(relay_parts("none"), (None, None));
        let f = Fields::new(
            "to=<a@b>, relay=none, delay=1, dsn=4.4.1, status=deferred (connect to x[1.2.3.4]:25: Connection refused)",
        );
        assert_eq!(f.get("to"), Some("<a@b>"));
        assert_eq!(f.status(), Some(("deferred", Some("connect to x[1.2.3.4]:25: Connection refused"))));
    }
}
