//! The bounce as the dialects see it: top-level headers, the human-readable text, the raw
//! delivery-status / feedback-report bodies and the returned original message, pulled out
//! of mail-parser's MIME tree once.
//! Takes the parsed `Message`; gives borrowed/owned views; never re-parses the body per
//! dialect and never fails (missing parts are just absent).

use std::sync::LazyLock;

use mail_parser::{Address, Header, HeaderName, HeaderValue, Message, MessageParser, MimeHeaders, PartType};

use crate::parse::original;
use crate::parse::types::OriginalMessage;

pub struct Mail<'a> {
    pub msg: &'a Message<'a>,
    pub subject: String,
    /// The bounce's From address (normalised), and the whole From text lower-cased.
    pub from_addr: Option<String>,
    pub from_lower: String,
    /// Human-readable text of the bounce (text/plain parts, else HTML turned to text).
    pub text: String,
    /// Bodies of message/delivery-status parts.
    pub dsn: Vec<String>,
    /// Body of a message/feedback-report part.
    pub arf: Option<String>,
    pub original: Option<OriginalMessage>,
    /// Where the bounce's own words end in `text` (the quoted original starts there).
    pub end: usize,
    /// `head()` in ASCII lower case (the whole text while looking for the end), searched by `has`.
    lower: String,
}

impl<'a> Mail<'a> {
    // A match guard instead of the inner `if`s would hand those parts to the text arm.
    #[allow(clippy::collapsible_match)]
    pub fn new(msg: &'a Message<'a>) -> Mail<'a> {
        let mut m = Mail {
            msg,
            subject: msg.subject().unwrap_or("").to_string(),
            from_addr: first_addr(msg.from()),
            from_lower: msg.from().map(addr_text).unwrap_or_default().to_lowercase(),
            text: String::new(),
            dsn: Vec::new(),
            arf: None,
            original: None,
            end: 0,
            lower: String::new(),
        };
        let mut html: Option<&str> = None;
        for (i, part) in msg.parts.iter().enumerate() {
            let (ctype, sub) = match part.content_type() {
                Some(ct) => (ct.ctype().to_ascii_lowercase(), ct.subtype().unwrap_or("").to_ascii_lowercase()),
                None => ("text".to_string(), "plain".to_string()),
            };
            match (&part.body, ctype.as_str(), sub.as_str()) {
                (PartType::Multipart(_), _, _) => {}
                (_, "message", "delivery-status" | "global-delivery-status") => {
                    m.dsn.push(lossy(part.contents()));
                }
                (_, "message", "feedback-report") => m.arf = Some(lossy(part.contents())),
                (PartType::Message(inner), _, _) => {
                    if m.original.is_none() {
                        m.original = Some(original::from_message(inner));
                    }
                }
                (_, "message", "rfc822" | "global") | (_, "text", "rfc822-headers" | "rfc822-header") => {
                    // Only the first returned copy counts; a later one is never bounce text.
                    if m.original.is_none() {
                        m.original = original::from_header_text(&lossy(part.contents()));
                    }
                }
                (PartType::Text(t), "text", _) if i > 0 || !t.is_empty() => {
                    // A text part that is only a header block is the returned message.
                    if i > 0 && !m.text.is_empty() && original::looks_like_headers(t) {
                        if m.original.is_none() {
                            m.original = original::from_header_text(t);
                        }
                    } else if part.content_disposition().is_none_or(|d| !d.is_attachment()) || m.text.is_empty() {
                        if !m.text.is_empty() {
                            m.text.push('\n');
                        }
                        m.text.push_str(t);
                    }
                }
                (PartType::Html(h), _, _) => {
                    html = html.or(Some(h.as_ref()));
                }
                _ => {}
            }
        }
        if m.text.trim().is_empty()
            && let Some(h) = html
        {
            m.text = html_to_text(h);
        }
        if m.text.trim().is_empty() && m.dsn.is_empty() && m.arf.is_none() {
            // Broken MIME (a boundary that never appears, an unfolded parameter): read the
            // raw body as text rather than lose it.
            let start = msg.root_part().raw_body_offset() as usize;
            m.text = lossy(msg.raw_message.get(start..).unwrap_or(&[]));
        }
        if m.text.contains('\r') {
            m.text = crate::parse::text::unix_newlines(&m.text);
        }
        // The marker that ends the bounce's own words comes early; 64 KiB is plenty.
        m.lower = crate::parse::text::prefix(&m.text, 65536).to_ascii_lowercase();
        match original::marker_lower(&m.lower) {
            Some((st, en)) => {
                // End at the start of the marker's line ("------ This is a copy...").
                m.end = m.text.get(..st).and_then(|h| h.rfind('\n')).map_or(st, |p| p + 1);
                if m.original.is_none() {
                    let rest = m.text.get(en..).unwrap_or("");
                    let rest = rest.find('\n').and_then(|p| rest.get(p + 1..)).unwrap_or("");
                    m.original = original::from_header_text(rest);
                }
            }
            None => m.end = m.text.len(),
        }
        let head = m.head().len();
        m.lower.truncate(head);
        m
    }

    /// The bounce's own words up to and including the line that introduces the quoted
    /// original, at most 8 KiB: where dialect markers are looked for.
    pub fn head(&self) -> &str {
        crate::parse::text::prefix(&self.text, (self.end + 128).min(8192))
    }

    /// Does the head say `needle` (ASCII case-insensitive)?
    pub fn has(&self, needle: &str) -> bool {
        // memmem's SIMD search beats str::contains on these few-KiB haystacks.
        let hay = self.lower.as_bytes();
        if needle.bytes().any(|b| b.is_ascii_uppercase()) {
            return memchr::memmem::find(hay, needle.to_ascii_lowercase().as_bytes()).is_some();
        }
        memchr::memmem::find(hay, needle.as_bytes()).is_some()
    }

    /// Does the head say any of `needles`?
    pub fn has_any(&self, needles: &[&str]) -> bool {
        needles.iter().any(|n| self.has(n))
    }

    /// Raw text of the first top-level header `name`.
    pub fn header(&self, name: &str) -> Option<String> {
        let h = self.msg.root_part().headers.iter().find(|h| h.name().eq_ignore_ascii_case(name))?;
        Some(header_text(self.msg, h))
    }

    pub fn has_header(&self, name: &str) -> bool {
        self.msg.root_part().headers.iter().any(|h| h.name().eq_ignore_ascii_case(name))
    }
}

pub fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A header as plain text: decoded where mail-parser decodes it, else the raw value
/// unfolded (Received, dates).
pub fn header_text(msg: &Message, h: &Header) -> String {
    match &h.value {
        HeaderValue::Received(_) | HeaderValue::DateTime(_) | HeaderValue::Empty => {
            let raw = msg.raw_message.get(h.offset_start as usize..h.offset_end as usize).unwrap_or(&[]);
            crate::parse::text::one_line(&String::from_utf8_lossy(raw))
        }
        v => value_text(v),
    }
}

/// A header value as plain text (addresses rendered "Name <addr>", lists joined).
pub fn value_text(v: &HeaderValue) -> String {
    match v {
        HeaderValue::Text(t) => t.to_string(),
        HeaderValue::TextList(l) => l.join(", "),
        HeaderValue::Address(a) => addr_text(a),
        HeaderValue::DateTime(d) => d.to_rfc822(),
        HeaderValue::ContentType(c) => match c.subtype() {
            Some(s) => format!("{}/{}", c.ctype(), s),
            None => c.ctype().to_string(),
        },
        HeaderValue::Received(_) | HeaderValue::Empty => String::new(),
    }
}

pub fn addr_text(a: &Address) -> String {
    let mut out = Vec::new();
    for x in a.iter() {
        match (&x.name, &x.address) {
            (Some(n), Some(ad)) => out.push(format!("{n} <{ad}>")),
            (None, Some(ad)) => out.push(ad.to_string()),
            (Some(n), None) => out.push(n.to_string()),
            _ => {}
        }
    }
    out.join(", ")
}

pub fn first_addr(a: Option<&Address>) -> Option<String> {
    a?.iter().find_map(|x| x.address.as_deref()).and_then(crate::parse::text::normalize_address)
}

/// Every address of a header (To, Delivered-To...) of `msg`, normalised.
pub fn all_addrs(msg: &Message, name: &str) -> Vec<String> {
    let mut out = Vec::new();
    for h in msg.root_part().headers.iter().filter(|h| h.name().eq_ignore_ascii_case(name)) {
        if let HeaderValue::Address(a) = &h.value {
            out.extend(a.iter().filter_map(|x| x.address.as_deref()).filter_map(crate::parse::text::normalize_address));
            continue;
        }
        let t = header_text(msg, h);
        for (st, en) in crate::parse::text::address_spans(&t) {
            if let Some(a) = t.get(st..en).and_then(crate::parse::text::normalize_address) {
                out.push(a);
            }
        }
    }
    out
}

/// Crude HTML to text: drop tags and scripts, turn block ends into newlines, decode the
/// few entities bounces use.
fn html_to_text(h: &str) -> String {
    let mut out = String::with_capacity(h.len() / 2);
    let mut rest = h;
    while let Some(lt) = rest.find('<') {
        out.push_str(rest.get(..lt).unwrap_or(""));
        let after = rest.get(lt + 1..).unwrap_or("");
        let gt = after.find('>').unwrap_or(after.len());
        let tag = after.get(..gt.min(8)).unwrap_or("").to_ascii_lowercase();
        if ["br", "/p", "/div", "/tr", "p", "/h", "li"].iter().any(|t| tag.starts_with(t)) {
            out.push('\n');
        }
        rest = after.get(gt + 1..).unwrap_or("");
        // Style sheets and scripts are not words of the bounce.
        for (open, close) in [("style", "</style"), ("script", "</script")] {
            if tag.starts_with(open) {
                let end = crate::parse::text::find_ci(rest, close).unwrap_or(rest.len());
                rest = rest.get(end..).unwrap_or("");
            }
        }
    }
    out.push_str(rest);
    if !out.contains('&') {
        return out;
    }
    out.replace("&lt;", "<").replace("&gt;", ">").replace("&nbsp;", " ").replace("&amp;", "&").replace("&quot;", "\"")
}

/// One parser, configured once: addresses, ids, Subject and MIME headers parsed; Received
/// and everything else kept raw (decoding every header costs more than it gives here).
pub static PARSER: LazyLock<MessageParser> = LazyLock::new(|| {
    MessageParser::new()
        .with_mime_headers()
        .with_address_headers()
        .with_message_ids()
        .header_text(HeaderName::Subject)
        .header_raw(HeaderName::Received)
        .header_raw(HeaderName::Date)
});

/// Parse bytes as a message (used for inline copies of the original).
pub fn parse_headers_only(b: &[u8]) -> Option<Message<'_>> {
    PARSER.parse_headers(b)
}
