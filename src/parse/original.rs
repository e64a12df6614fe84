//! The returned original message: from a message/rfc822 part, a text/rfc822-headers part,
//! or a copy quoted inline after a marker line in the bounce text.
//! Takes a parsed nested message or text; gives an `OriginalMessage` with every header in
//! order. Never fails: a block that does not parse as headers gives `None`.

use std::sync::LazyLock;

use aho_corasick::{AhoCorasick, MatchKind};
use mail_parser::Message;

use crate::parse::mail::{header_text, parse_headers_only};
use crate::parse::types::OriginalMessage;

/// Lines after which MTAs quote the original message (or its headers).
pub const MARKERS: &[&str] = &[
    "----- original message -----",
    "this is a copy of the message, including all the headers",
    "this is a copy of your message, including all the headers",
    "this is a copy of the message's headers",
    "below this line is a copy of the message",
    "original message follows",
    "----- unsent message follows -----",
    "----- message header follows -----",
    "----- the following is a copy of the message",
    "a copy of the original message below this line",
    "message headers follow",
    "below is a copy of the original message",
    "the header of the original message is following",
    "------- returned message --------",
    "included is a copy of the message header",
    "original mail as follows:",
    "original message:",
    "the attachment contains the original mail headers",
    "-----original message-----",
    "original message headers:",
    "--------------- original message headers ---------------",
    "the text of the original message follows",
    "content-type: message/rfc822",
];

pub fn from_message(m: &Message) -> OriginalMessage {
    let mut o = OriginalMessage::default();
    for h in m.root_part().headers.iter() {
        let v = header_text(m, h);
        let name = h.name().to_string();
        let slot = match name.to_ascii_lowercase().as_str() {
            "message-id" => Some(&mut o.message_id),
            "subject" => Some(&mut o.subject),
            "from" => Some(&mut o.from),
            "to" => Some(&mut o.to),
            "return-path" => Some(&mut o.return_path),
            "date" => Some(&mut o.date),
            _ => None,
        };
        if let Some(slot) = slot
            && slot.is_none()
            && !v.is_empty()
        {
            let v = if name.eq_ignore_ascii_case("message-id") {
                format!("<{}>", v.trim_matches(['<', '>']))
            } else {
                v.clone()
            };
            *slot = Some(v);
        }
        o.headers.push((name, v));
    }
    o
}

/// Parse a block of header lines (possibly followed by a body) as the original message.
/// Read here rather than by mail-parser: only the header block is wanted, and only
/// Subject/From/To may carry RFC 2047 words worth decoding.
pub fn from_header_text(t: &str) -> Option<OriginalMessage> {
    let t = t.trim_start_matches(['\n', '\r']);
    // Some MTAs indent the quoted copy; a uniform indent is not folding.
    let indent = t.len() - t.trim_start_matches([' ', '\t']).len();
    let mut o = OriginalMessage::default();
    let mut cur: Option<(&str, String)> = None;
    for (i, raw) in crate::parse::text::split_lf(t).enumerate() {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let line = if indent > 0 && line.get(..indent).is_some_and(|p| p.trim().is_empty()) {
            line.get(indent..).unwrap_or("")
        } else {
            line
        };
        if line.trim().is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            if let Some((_, v)) = cur.as_mut() {
                if !v.is_empty() {
                    v.push(' ');
                }
                v.push_str(line.trim());
            }
            continue;
        }
        if i == 0 && line.starts_with("From ") {
            continue; // an mbox separator line
        }
        let Some((name, value)) = crate::parse::fields::split_field(line) else {
            break;
        };
        if let Some((n, v)) = cur.take() {
            push_field(&mut o, n, v);
        }
        cur = Some((name, value.trim().to_string()));
    }
    if let Some((n, v)) = cur.take() {
        push_field(&mut o, n, v);
    }
    let known = o.headers.iter().any(|(k, _)| {
        ["from", "to", "subject", "message-id", "date", "received", "return-path"]
            .iter()
            .any(|h| k.eq_ignore_ascii_case(h))
    });
    known.then_some(o)
}

/// Add one header field to `o`, filling the named slots from the first of each.
fn push_field(o: &mut OriginalMessage, name: &str, value: String) {
    let value = if ["subject", "from", "to"].iter().any(|h| name.eq_ignore_ascii_case(h))
        && value.as_bytes().windows(2).any(|w| w == b"=?")
    {
        decode_words(name, &value).unwrap_or(value)
    } else {
        value
    };
    let slot = if name.eq_ignore_ascii_case("message-id") {
        &mut o.message_id
    } else if name.eq_ignore_ascii_case("subject") {
        &mut o.subject
    } else if name.eq_ignore_ascii_case("from") {
        &mut o.from
    } else if name.eq_ignore_ascii_case("to") {
        &mut o.to
    } else if name.eq_ignore_ascii_case("return-path") {
        &mut o.return_path
    } else if name.eq_ignore_ascii_case("date") {
        &mut o.date
    } else {
        o.headers.push((name.to_string(), value));
        return;
    };
    if slot.is_none() && !value.is_empty() {
        *slot = Some(if name.eq_ignore_ascii_case("message-id") {
            format!("<{}>", value.trim_matches(['<', '>', ' ']))
        } else {
            value.clone()
        });
    }
    o.headers.push((name.to_string(), value));
}

/// RFC 2047 encoded words of one field decoded, the way mail-parser renders the field.
fn decode_words(name: &str, value: &str) -> Option<String> {
    let raw = format!("{name}: {value}\n\n");
    let m = parse_headers_only(raw.as_bytes())?;
    let h = m.root_part().headers.first()?;
    Some(header_text(&m, h))
}

/// Does this text start with a header block (a quoted original message)? At least two
/// fields before the first non-field line, one of them a well-known message header.
pub fn looks_like_headers(t: &str) -> bool {
    let (mut n, mut known) = (0, false);
    for l in crate::parse::text::lines(t.trim_start()).filter(|l| !l.starts_with([' ', '\t'])).take(8) {
        match crate::parse::fields::split_field(l) {
            Some((k, _)) => {
                n += 1;
                known |= ["received", "return-path", "from", "to", "subject", "message-id", "date"]
                    .iter()
                    .any(|h| k.eq_ignore_ascii_case(h));
            }
            None => break,
        }
    }
    n >= 2 && known
}

static MARKER_AC: LazyLock<Option<AhoCorasick>> = LazyLock::new(|| {
    AhoCorasick::builder()
        .match_kind(MatchKind::LeftmostFirst)
        .kind(Some(aho_corasick::AhoCorasickKind::DFA))
        .build(MARKERS)
        .ok()
});

/// Offset of the first marker line in `text` (ASCII case-insensitive): (start, end).
/// Searched in a lower-cased copy: a case-sensitive automaton keeps its SIMD prefilter,
/// which makes copy + search cheaper than a case-insensitive search.
pub fn marker(text: &str) -> Option<(usize, usize)> {
    let lower = text.to_ascii_lowercase();
    let m = MARKER_AC.as_ref()?.find(&lower)?;
    Some((m.start(), m.end()))
}

/// Builds this module's tables now (see [`crate::parse::warm`]).
pub(crate) fn warm() {
    std::sync::LazyLock::force(&MARKER_AC);
}
