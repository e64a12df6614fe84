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
pub fn from_header_text(t: &str) -> Option<OriginalMessage> {
    let t = t.trim_start_matches(['\n', '\r', ' ', '\t']);
    // Some MTAs indent the quoted copy; undo a uniform indent so it parses as headers.
    let dedented;
    let t = if t.starts_with(' ') || t.lines().next().is_some_and(|l| l.starts_with("   ")) {
        dedented = t.lines().map(|l| l.trim_start()).collect::<Vec<_>>().join("\n");
        dedented.as_str()
    } else {
        t
    };
    let m = parse_headers_only(t.as_bytes())?;
    let o = from_message(&m);
    let known = o.headers.iter().filter(|(k, _)| {
        matches!(
            k.to_ascii_lowercase().as_str(),
            "from" | "to" | "subject" | "message-id" | "date" | "received" | "return-path"
        )
    });
    if known.count() == 0 {
        return None;
    }
    Some(o)
}

/// Does this text start with a header block (a quoted original message)? At least two
/// fields before the first non-field line, one of them a well-known message header.
pub fn looks_like_headers(t: &str) -> bool {
    let (mut n, mut known) = (0, false);
    for l in t.trim_start().lines().filter(|l| !l.starts_with([' ', '\t'])).take(8) {
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

static MARKER_AC: LazyLock<Option<AhoCorasick>> =
    LazyLock::new(|| AhoCorasick::builder().match_kind(MatchKind::LeftmostFirst).build(MARKERS).ok());

/// Offset of the first marker line in `lower` (ASCII lower-cased text): (start, end).
pub fn marker_lower(lower: &str) -> Option<(usize, usize)> {
    let m = MARKER_AC.as_ref()?.find(lower)?;
    Some((m.start(), m.end()))
}
