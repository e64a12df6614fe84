//! Exim's mainlog. Each line is `DATE TIME [ZONE] [[PID]] MESSAGE-ID FLAG …` for a message
//! event: `<=` its arrival (the envelope sender follows, then `id=` the Message-ID), `=>` a
//! delivery, `->` a further address of the same delivery, `>>` a cut-through delivery, `**`
//! a permanent failure, `==` a deferral, and `Completed` when the message is done. The
//! arrival is joined to the later lines on the message id and kept in [`State`] until
//! `Completed`. A `**` for `retry timeout exceeded` is an expiry.
//!
//! Lines about no message (daemon start, connections, rejections before a message id) give
//! nothing; a line without a readable timestamp, or a delivery line without an address, is
//! [`Unreadable`].

use super::Options;
use super::record::{Entry, Kind, LogRecord, Position, Unreadable, non_empty, unbracket};
use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What each arrival not completed yet said.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    pub messages: BTreeMap<String, Arrival>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Arrival {
    pub sender: String,
    pub message_id: Option<String>,
}

pub(super) fn line(state: &mut State, options: &Options, line: &[u8], pos: Position, out: &mut Vec<Entry>) {
    let Ok(text) = std::str::from_utf8(line) else {
        return out.push(Err(Unreadable::new(pos, line, "not UTF-8")));
    };
    let Some((time, rest)) = stamp(text, options.offset) else {
        return out.push(Err(Unreadable::new(pos, line, "no timestamp (YYYY-MM-DD HH:MM:SS) at the start")));
    };
    let Some((id, rest)) = rest.split_once(' ').filter(|(id, _)| is_message_id(id)) else { return };
    let (flag, rest) = rest.split_once(' ').unwrap_or((rest, ""));
    let kind = match flag {
        "<=" => {
            let sender = unbracket(rest.split(' ').next().unwrap_or_default()).to_string();
            let message_id = field(rest, "id=").map(str::to_string);
            state.messages.insert(id.to_string(), Arrival { sender, message_id });
            return;
        }
        "Completed" => {
            state.messages.remove(id);
            return;
        }
        "=>" | "->" | ">>" => Kind::Delivered,
        "**" => Kind::Bounced,
        "==" => Kind::Deferred,
        _ => return,
    };
    let address = rest.split([' ', ':']).next().unwrap_or_default();
    let recipient = unbracket(address);
    if recipient.is_empty() || !recipient.contains('@') {
        return out.push(Err(Unreadable::new(pos, line, format!("{flag} line without a recipient address"))));
    }
    let after = &rest[address.len()..];
    let mut r = LogRecord::new(kind, recipient.to_string(), time, pos);
    // `=> local@x <orig@y> R=…`: the address before redirection.
    if let Some(orig) = after.trim_start().strip_prefix('<').and_then(|s| s.split_once('>')).map(|(o, _)| o) {
        r.original_recipient = non_empty(orig);
    } else if let Some(orig) = after.trim_start().strip_prefix('(').and_then(|s| s.split_once(')')).map(|(o, _)| o) {
        r.original_recipient = non_empty(orig);
    }
    let arrival = state.messages.get(id);
    r.sender = field(after, "F=").map(|s| unbracket(s).to_string()).or_else(|| arrival.map(|a| a.sender.clone()));
    r.provenance.message_id = arrival.and_then(|a| a.message_id.clone());
    r.provenance.queue_id = Some(id.to_string());
    r.provenance.node = options.node.clone();
    if let Some(h) = after.find(" H=") {
        let host = &after[h + 3..];
        r.remote_host = non_empty(host.split([' ', ':']).next().unwrap_or_default());
        r.remote_ip = host.split_once('[').and_then(|(_, ip)| ip.split_once(']')).and_then(|(ip, _)| non_empty(ip));
    }
    r.provenance.source_ip =
        field(after, "I=").map(|i| i.trim_start_matches('[').split(']').next().unwrap_or(i).to_string());
    for (key, name) in [("R=", "router"), ("T=", "transport")] {
        if let Some(v) = field(after, key) {
            r.facts.push((name.into(), v.to_string()));
        }
    }
    match kind {
        Kind::Delivered => {
            if let Some(c) = after.find(" C=\"") {
                let c = &after[c + 4..];
                r.set_reply(c.rsplit_once('"').map_or(c, |(c, _)| c));
            }
        }
        _ => {
            // The error follows the first `: ` after the fields; an `H=host [ip]` has none.
            if let Some((_, error)) = after.split_once(": ") {
                r.set_reply(error);
                if r.reply_text.as_deref().is_some_and(|t| t.contains("retry timeout exceeded"))
                    && kind == Kind::Bounced
                {
                    r.kind = Kind::Expired;
                }
            }
        }
    }
    out.push(Ok(r));
}

/// A ` KEY=value` field (value up to the next space).
fn field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let at = if text.starts_with(key) { Some(0) } else { text.find(&format!(" {key}")).map(|i| i + 1) }?;
    let v = &text[at + key.len()..];
    // `T=remote_smtp: retry timeout exceeded`: the error's colon is not the value's.
    non_empty_str(v.split(' ').next().unwrap_or_default().trim_end_matches(':'))
}

fn non_empty_str(v: &str) -> Option<&str> {
    (!v.is_empty()).then_some(v)
}

/// `1tABCD-000123-AB` (before 4.97) or `1tABCD-00000000ABC-0Abc`: base-62 parts.
fn is_message_id(id: &str) -> bool {
    let parts: Vec<&str> = id.split('-').collect();
    parts.len() == 3
        && parts[0].len() == 6
        && parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// `2026-12-01 18:30:00[.123] [+0100] [[pid]] rest`.
fn stamp(text: &str, offset: FixedOffset) -> Option<(DateTime<Utc>, &str)> {
    let clock_end = text.get(..19).map(|_| 19)?;
    let mut end = clock_end;
    if text[end..].starts_with('.') {
        end += 1 + text[end + 1..].bytes().take_while(u8::is_ascii_digit).count();
    }
    let local = NaiveDateTime::parse_from_str(&text[..end], "%Y-%m-%d %H:%M:%S%.f").ok()?;
    let mut rest = text[end..].trim_start();
    let mut zone = offset;
    if let Some((z, r)) = rest.split_once(' ')
        && (z.starts_with('+') || z.starts_with('-'))
        && z.len() == 5
        && let Ok(t) = DateTime::parse_from_str(&format!("2000-01-01 00:00:00 {z}"), "%Y-%m-%d %H:%M:%S %z")
    {
        zone = *t.offset();
        rest = r;
    }
    if rest.starts_with('[')
        && let Some((_, r)) = rest.split_once("] ")
    {
        rest = r;
    }
    Some((zone.from_local_datetime(&local).single()?.with_timezone(&Utc), rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_of_both_generations() {
        assert!(is_message_id("1tABCD-000123-AB"));
        assert!(is_message_id("1tABCD-00000000ABC-0Abc"));
        assert!(!is_message_id("SMTP"));
        assert!(!is_message_id("no-such-thing-here"));
    }

    #[test]
    fn zone_and_pid_are_optional() {
        let utc = FixedOffset::east_opt(0).unwrap();
        let (t, rest) = stamp("2026-12-01 18:30:00.250 +0100 [123] 1tABCD-000123-AB => x", utc).unwrap();
        assert_eq!(t.to_rfc3339(), "2026-12-01T17:30:00.250+00:00");
        assert_eq!(rest, "1tABCD-000123-AB => x");
    }
}
