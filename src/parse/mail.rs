//! The bounce as the dialects see it: top-level headers, the human-readable text, the raw
//! delivery-status / feedback-report bodies and the returned original message, pulled out
//! of mail-parser's MIME tree once.
//! Takes the parsed `Message`; gives borrowed/owned views; never re-parses the body per
//! dialect and never fails (missing parts are just absent).

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
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
    /// The addresses of the To header(s), normalised: read once, asked for by the report
    /// and by every scan's skip list.
    pub to_addrs: Vec<String>,
    /// `head()` in ASCII lower case, searched by `has`.
    lower: String,
}

impl<'a> Mail<'a> {
    // A match guard instead of the inner `if`s would hand those parts to the text arm.
    #[allow(clippy::collapsible_match)]
    /// `plain_body`: the body of a single plain-text message, when `input` found one (its
    /// parts are then not parsed).
    pub fn new(msg: &'a Message<'a>, plain_body: Option<&str>) -> Mail<'a> {
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
            to_addrs: all_addrs(msg, "To"),
            lower: String::new(),
        };
        let mut html: Option<(&str, bool)> = None;
        let parts = match plain_body {
            Some(b) => {
                m.text = b.to_string();
                &[][..]
            }
            None => &msg.parts[..],
        };
        for (i, part) in parts.iter().enumerate() {
            let (ctype, sub) = match part.content_type() {
                Some(ct) => (ct.ctype().to_ascii_lowercase(), ct.subtype().unwrap_or("").to_ascii_lowercase()),
                None => ("text".to_string(), "plain".to_string()),
            };
            match (&part.body, ctype.as_str(), sub.as_str()) {
                (PartType::Multipart(_), _, _) => {}
                (_, "message", "delivery-status" | "global-delivery-status") => {
                    m.dsn.push(part_text(part).into_owned());
                }
                (_, "message", "feedback-report") => {
                    m.arf = Some(part_text(part).into_owned());
                }
                (PartType::Message(inner), _, _) => {
                    if m.original.is_none() {
                        m.original = Some(original::from_message(inner));
                    }
                }
                (_, "x-rebound", "orig") => {
                    // A returned message left unparsed by `input`: only its header block.
                    if m.original.is_none() {
                        let b = part.contents();
                        let end = memchr::memmem::find(b, b"\n\n").map_or(b.len(), |p| p + 1);
                        m.original = original::from_header_text(&utf8(b.get(..end).unwrap_or(b)));
                    }
                }
                (_, "message", "rfc822" | "global") | (_, "text", "rfc822-headers" | "rfc822-header") => {
                    // Only the first returned copy counts; a later one is never bounce text.
                    if m.original.is_none() {
                        m.original = original::from_header_text(&part_text(part));
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
                    html = html.or(Some((h.as_ref(), crate::parse::input::is_raw_qp(part))));
                }
                _ => {}
            }
        }
        if m.text.trim().is_empty()
            && let Some((h, raw_qp)) = html
        {
            m.text = if raw_qp { html_to_text(&crate::parse::input::decode_qp(h)) } else { html_to_text(h) };
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
        match original::marker(crate::parse::text::prefix(&m.text, 65536)) {
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
        m.lower = m.head().to_ascii_lowercase();
        m
    }

    /// The bounce's own words up to and including the line that introduces the quoted
    /// original, at most 8 KiB: where dialect markers are looked for.
    pub fn head(&self) -> &str {
        crate::parse::text::prefix(&self.text, (self.end + 128).min(8192))
    }

    /// Does the head say `needle` (ASCII case-insensitive)?
    pub fn has(&self, needle: &'static str) -> bool {
        let hay = self.lower.as_bytes();
        // Building a SIMD searcher costs more than searching a few KiB with it, and the
        // dialects ask for the same few hundred markers in every message: build each once
        // (for the needle in lower case, so a capital in it costs nothing per message).
        FINDERS.with(|f| {
            let mut f = f.borrow_mut();
            let key = (needle.as_ptr() as usize, needle.len());
            f.entry(key)
                .or_insert_with(|| memchr::memmem::Finder::new(needle.to_ascii_lowercase().as_bytes()).into_owned())
                .find(hay)
                .is_some()
        })
    }

    /// Does the head say any of `needles`?
    pub fn has_any(&self, needles: &[&'static str]) -> bool {
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

/// Searchers for `Mail::has` needles, keyed by the needle's (address, length): needles are
/// string literals, so the key is stable and hashing it is one multiply.
type FinderMap = HashMap<(usize, usize), memchr::memmem::Finder<'static>, BuildHasherDefault<KeyHasher>>;

thread_local! {
    static FINDERS: RefCell<FinderMap> = RefCell::new(FinderMap::default());
}

#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(u64::from(*b));
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// A part's decoded text, borrowed when mail-parser already made it a string (no second
/// UTF-8 check, no copy).
fn part_text<'x>(part: &'x mail_parser::MessagePart<'x>) -> std::borrow::Cow<'x, str> {
    match &part.body {
        PartType::Text(t) | PartType::Html(t) => std::borrow::Cow::Borrowed(t.as_ref()),
        _ => utf8(part.contents()),
    }
}

/// Bytes as text: borrowed when they are UTF-8 (std's validator has a fast ASCII path that
/// `from_utf8_lossy` lacks), else with replacement characters.
pub fn utf8(b: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(b) {
        Ok(s) => std::borrow::Cow::Borrowed(s),
        Err(_) => String::from_utf8_lossy(b),
    }
}

pub fn lossy(b: &[u8]) -> String {
    utf8(b).into_owned()
}

/// A header as plain text: decoded where mail-parser decodes it, else the raw value
/// unfolded (Received, dates).
pub fn header_text(msg: &Message, h: &Header) -> String {
    match &h.value {
        HeaderValue::Received(_) | HeaderValue::DateTime(_) | HeaderValue::Empty => {
            let raw = msg.raw_message.get(h.offset_start as usize..h.offset_end as usize).unwrap_or(&[]);
            crate::parse::text::one_line(&utf8(raw))
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
    while let Some(lt) = memchr::memchr(b'<', rest.as_bytes()) {
        out.push_str(rest.get(..lt).unwrap_or(""));
        let after = rest.get(lt + 1..).unwrap_or("");
        let gt = memchr::memchr(b'>', after.as_bytes()).unwrap_or(after.len());
        // The tag's first bytes in lower case, on the stack: a newsletter has thousands.
        let mut buf = [0u8; 8];
        let n = gt.min(8).min(after.len());
        // A cut inside a character reads as no tag at all (as `str::get` gives).
        let n = if after.is_char_boundary(n) { n } else { 0 };
        for (d, s) in buf.iter_mut().zip(after.as_bytes().iter().take(n)) {
            *d = s.to_ascii_lowercase();
        }
        let tag = buf.get(..n).unwrap_or(&[]);
        if ["br", "/p", "/div", "/tr", "p", "/h", "li"].iter().any(|t| tag.starts_with(t.as_bytes())) {
            out.push('\n');
        }
        rest = after.get(gt + 1..).unwrap_or("");
        // Style sheets and scripts are not words of the bounce.
        for (open, close) in [("style", "</style"), ("script", "</script")] {
            if tag.starts_with(open.as_bytes()) {
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

/// One parser, configured once: MIME headers, From/To, Message-ID and Subject parsed; every
/// other header skipped without a copy (`header_text` reads its raw bytes by offset when a
/// scanner asks for it, which few do): decoding every header costs more than it gives here.
pub static PARSER: LazyLock<MessageParser> = LazyLock::new(|| {
    MessageParser::new()
        .default_header_ignore()
        .with_mime_headers()
        .header_address(HeaderName::From)
        .header_address(HeaderName::To)
        .header_id(HeaderName::MessageId)
        .header_text(HeaderName::Subject)
});

/// Parse bytes as a message (used for inline copies of the original).
pub fn parse_headers_only(b: &[u8]) -> Option<Message<'_>> {
    PARSER.parse_headers(b)
}

/// Builds this module's tables now (see [`crate::parse::warm`]).
pub(crate) fn warm() {
    std::sync::LazyLock::force(&PARSER);
}
