//! The bounce as the dialects see it: top-level headers, the human-readable text, the raw
//! delivery-status / feedback-report bodies and the returned original message, pulled out
//! of mail-parser's MIME tree once.
//! Takes the parsed `Message`; gives borrowed/owned views; never re-parses the body per
//! dialect and never fails (missing parts are just absent).

use mail_parser::{Address, Header, HeaderValue, Message, MessageParser, MimeHeaders, PartType};

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
    /// The multipart/report report-type, lower-cased.
    pub report_type: Option<String>,
}

impl<'a> Mail<'a> {
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
            report_type: None,
        };
        let mut html = String::new();
        for (i, part) in msg.parts.iter().enumerate() {
            let (ctype, sub) = match part.content_type() {
                Some(ct) => (ct.ctype().to_ascii_lowercase(), ct.subtype().unwrap_or("").to_ascii_lowercase()),
                None => ("text".to_string(), "plain".to_string()),
            };
            match (&part.body, ctype.as_str(), sub.as_str()) {
                (PartType::Multipart(_), "multipart", "report") => {
                    if let Some(rt) = part.content_type().and_then(|c| c.attribute("report-type")) {
                        m.report_type = Some(rt.to_ascii_lowercase());
                    }
                }
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
                    if html.is_empty() {
                        html = html_to_text(h);
                    }
                }
                _ => {}
            }
        }
        if m.text.trim().is_empty() && !html.is_empty() {
            m.text = html;
        }
        if m.text.trim().is_empty() && m.dsn.is_empty() && m.arf.is_none() {
            // Broken MIME (a boundary that never appears, an unfolded parameter): read the
            // raw body as text rather than lose it.
            let start = msg.root_part().raw_body_offset() as usize;
            m.text = lossy(msg.raw_message.get(start..).unwrap_or(&[]));
        }
        if m.original.is_none() {
            m.original = original::find_inline(&m.text).and_then(|(_, o)| o);
        }
        if m.text.contains('\r') {
            m.text = m.text.replace("\r\n", "\n").replace('\r', "\n");
        }
        m
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
    let mut in_tag = false;
    let mut tag = String::new();
    for c in h.chars() {
        if in_tag {
            if c == '>' {
                in_tag = false;
                let t = tag.to_ascii_lowercase();
                if t.starts_with("br")
                    || t.starts_with("/p")
                    || t.starts_with("/div")
                    || t.starts_with("/tr")
                    || t.starts_with("p")
                    || t.starts_with("/h")
                    || t.starts_with("li")
                {
                    out.push('\n');
                }
                tag.clear();
            } else if tag.len() < 8 {
                tag.push(c);
            }
        } else if c == '<' {
            in_tag = true;
        } else {
            out.push(c);
        }
    }
    out.replace("&lt;", "<").replace("&gt;", ">").replace("&nbsp;", " ").replace("&amp;", "&").replace("&quot;", "\"")
}

/// Parse bytes as a message (used for inline copies of the original).
pub fn parse_headers_only(b: &[u8]) -> Option<Message<'_>> {
    MessageParser::default().parse_headers(b)
}
