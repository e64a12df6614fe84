//! The multipart walk, faster: gives the same `Message` mail-parser's `parse` gives for the
//! shapes bounces take, or `None` and the caller runs mail-parser itself.
//!
//! Why by hand: mail-parser looks for a part's closing boundary one byte at a time, and
//! turns text into a `String` through `from_utf8_lossy` or a per-byte charset table; for
//! bounces, which are mostly text parts, that was a third of all parse time. Here a plain
//! part's end is one SIMD search, and text that is UTF-8 (or ASCII under an ASCII-compatible
//! charset) is taken as it stands. Everything else is mail-parser's own code, called the
//! way its `parse` calls it: header parsing, base64 and quoted-printable decoding, the
//! charset decoders, the boundary rules. Whatever this walk is not sure to reproduce — a
//! nested message, a multipart with no boundary line, a transfer encoding that fails, a
//! boundary never closed — gives up, so the fallback sees exactly those messages.

use std::borrow::Cow;

use mail_parser::decoders::charsets::map::charset_decoder;
use mail_parser::parsers::MessageStream;
use mail_parser::{ContentType, Encoding, GetHeader, Header, HeaderName, HeaderValue, Message, MessagePart, PartType};

use super::mail::utf8;

/// Deeper nesting than this is left to mail-parser (bounces nest two or three levels).
const MAX_DEPTH: usize = 8;

/// Parses `b` (LF line ends) when its top level is a multipart with a boundary.
pub fn parse(b: &[u8]) -> Option<Message<'_>> {
    let mut s = MessageStream::new(b);
    let mut headers = Vec::new();
    if !parse_headers(&mut s, b, &mut headers) || headers.is_empty() {
        return None;
    }
    let body = s.offset();
    let ct = content_type(&headers);
    let mut w = Walk { b, parts: Vec::with_capacity(8) };
    match ct.map(|c| (c.ctype(), c.subtype())) {
        Some(("multipart", sub)) => {
            let boundary = ct.and_then(|c| c.attribute("boundary"))?.as_bytes().to_vec();
            let digest = sub == Some("digest");
            w.parts.push(part(headers, PartType::default(), 0, body, 0));
            w.multipart(&mut s, &boundary, digest, 0, 0)?;
        }
        // One text part (encoded, or in a charset that needs decoding): read to the end.
        None | Some(("text", _)) => {
            let (encoding, end, bytes) = w.body(&mut s, &headers, b"", None);
            if end == usize::MAX {
                return None;
            }
            let mut p = part(headers, PartType::default(), 0, body, end);
            p.body = text_part(bytes, content_type(&p.headers));
            p.encoding = encoding;
            w.parts.push(p);
        }
        _ => return None,
    }
    if let Some(root) = w.parts.first_mut() {
        root.offset_end = b.len() as u32;
    }
    Some(Message {
        html_body: Vec::new(),
        text_body: Vec::new(),
        attachments: Vec::new(),
        parts: w.parts,
        raw_message: Cow::Borrowed(b),
    })
}

struct Walk<'x> {
    b: &'x [u8],
    parts: Vec<MessagePart<'x>>,
}

impl<'x> Walk<'x> {
    /// The parts of the multipart `parts[idx]`, whose body the stream is at; leaves the
    /// stream after its closing boundary. False when the message ended inside it (a part no
    /// boundary closes): then, as mail-parser does, every open multipart ends there too.
    fn multipart(
        &mut self,
        s: &mut MessageStream<'x>,
        boundary: &[u8],
        digest: bool,
        idx: usize,
        depth: usize,
    ) -> Option<bool> {
        if depth > MAX_DEPTH || !s.seek_next_part(boundary) {
            return None;
        }
        s.skip_crlf();
        // Built once: every part of this multipart ends at the same boundary.
        let finder = memchr::memmem::Finder::new(boundary);
        let mut subs = Vec::new();
        loop {
            let header_at = s.offset();
            let mut headers = Vec::new();
            if !parse_headers(s, self.b, &mut headers) {
                return None;
            }
            let body_at = s.offset();
            let me = self.parts.len();
            subs.push(me as u32);
            let ct = content_type(&headers);
            match ct.map(|c| (c.ctype(), c.subtype())) {
                Some(("multipart", sub)) => {
                    // Without a boundary mail-parser reads it as an opaque part: let it.
                    let inner = ct.and_then(|c| c.attribute("boundary"))?.as_bytes().to_vec();
                    let inner_digest = sub == Some("digest");
                    self.parts.push(part(headers, PartType::default(), header_at, body_at, 0));
                    if !self.multipart(s, &inner, inner_digest, me, depth + 1)? {
                        self.close(idx, subs, s.offset());
                        return Some(false);
                    }
                    // On to this multipart's next boundary, as mail-parser does.
                    let end = s.seek_next_part_offset(boundary)?;
                    if let Some(p) = self.parts.get_mut(me) {
                        p.offset_end = end as u32;
                    }
                }
                Some(("message", Some("rfc822" | "global"))) => return None,
                None if digest => return None,
                _ => {
                    let (encoding, end, bytes) = self.body(s, &headers, boundary, Some(&finder));
                    if end == usize::MAX {
                        // mail-parser's recovery: the raw bytes, as text, up to the next
                        // boundary or to the end of the message.
                        let (end, found) = s.seek_part_end(Some(boundary));
                        let raw = Cow::Borrowed(self.b.get(body_at..end).unwrap_or(&[]));
                        let text = decode_text(raw, ct);
                        let mut p = part(headers, PartType::Text(text), header_at, body_at, end);
                        p.is_encoding_problem = true;
                        self.parts.push(p);
                        if !found {
                            self.close(idx, subs, s.offset());
                            return Some(false);
                        }
                    } else {
                        let body = match ct.map(|c| (c.ctype(), c.subtype())) {
                            None | Some(("text", _)) => text_part(bytes, ct),
                            Some(("image" | "audio" | "video", _)) => PartType::InlineBinary(bytes),
                            Some(_) => PartType::Binary(bytes),
                        };
                        let mut p = part(headers, body, header_at, body_at, end);
                        p.encoding = encoding;
                        self.parts.push(p);
                    }
                }
            }
            if s.is_multipart_end() {
                break;
            }
        }
        self.close(idx, subs, 0);
        Some(true)
    }

    /// Gives the multipart `parts[idx]` its parts (and, when the message ended inside it,
    /// that end).
    fn close(&mut self, idx: usize, subs: Vec<u32>, end: usize) {
        if let Some(p) = self.parts.get_mut(idx) {
            p.body = PartType::Multipart(subs);
            if end > 0 {
                p.offset_end = end as u32;
            }
        }
    }

    /// A leaf part's body, decoded as its Content-Transfer-Encoding says; the end offset is
    /// `usize::MAX` when no boundary closes it or the decoding fails.
    fn body(
        &self,
        s: &mut MessageStream<'x>,
        headers: &Vec<Header<'x>>,
        boundary: &[u8],
        finder: Option<&memchr::memmem::Finder>,
    ) -> (Encoding, usize, Cow<'x, [u8]>) {
        match headers.header_value(&HeaderName::ContentTransferEncoding) {
            Some(HeaderValue::Text(e)) if e.eq_ignore_ascii_case("base64") => {
                let (end, bytes) = s.decode_base64_mime(boundary);
                (Encoding::Base64, end, bytes)
            }
            Some(HeaderValue::Text(e)) if e.eq_ignore_ascii_case("quoted-printable") => {
                let (end, bytes) = s.decode_quoted_printable_mime(boundary);
                (Encoding::QuotedPrintable, end, bytes)
            }
            _ => {
                let (end, bytes) = self.plain(s, boundary, finder);
                (Encoding::None, end, bytes)
            }
        }
    }

    /// mail-parser's `mime_part` with one search: the body runs to the first `--boundary`
    /// (wherever it stands), less the line end before it; the stream moves past it.
    fn plain(
        &self,
        s: &mut MessageStream<'x>,
        boundary: &[u8],
        finder: Option<&memchr::memmem::Finder>,
    ) -> (usize, Cow<'x, [u8]>) {
        let start = s.offset();
        let rest = self.b.get(start..).unwrap_or(&[]);
        let Some(finder) = finder.filter(|_| !boundary.is_empty()) else {
            // A single part: all the rest.
            s.seek_end();
            return (self.b.len(), Cow::Borrowed(rest));
        };
        let Some(q) = find_boundary(rest, finder).map(|q| start + q) else {
            return (usize::MAX, Cow::Borrowed(&[]));
        };
        let end = match (q.checked_sub(2).and_then(|i| self.b.get(i)), q.checked_sub(1).and_then(|i| self.b.get(i))) {
            _ if q == start => q,
            (Some(b'\r'), Some(b'\n')) if q >= start + 2 => q - 2,
            (_, Some(b'\n')) => q - 1,
            _ => q,
        };
        s.skip_bytes(q + 2 + boundary.len() - start);
        (end, Cow::Borrowed(self.b.get(start..end).unwrap_or(&[])))
    }
}

/// The headers-only `Message` mail-parser's `parse_headers` gives, by [`parse_headers`].
pub fn headers_only(b: &[u8]) -> Option<Message<'_>> {
    headers_message(b, false)
}

/// Like [`headers_only`], but the root part's body offset is where the body starts, so a
/// reader of the raw body finds it.
pub fn headers_and_raw_body(b: &[u8]) -> Option<Message<'_>> {
    headers_message(b, true)
}

fn headers_message(b: &[u8], body_offset: bool) -> Option<Message<'_>> {
    let mut s = MessageStream::new(b);
    let mut headers = Vec::new();
    parse_headers(&mut s, b, &mut headers);
    if headers.is_empty() {
        return None;
    }
    let start = if body_offset { s.offset() } else { b.len() };
    let mut p = part(headers, PartType::Text(Cow::Borrowed("")), 0, start, b.len());
    p.is_encoding_problem = true;
    Some(Message {
        html_body: Vec::new(),
        text_body: Vec::new(),
        attachments: Vec::new(),
        parts: vec![p],
        raw_message: Cow::Borrowed(b),
    })
}

/// mail-parser's `MessageStream::parse_headers` under `mail::PARSER`'s settings, step for
/// step, except that a field that parser ignores is skipped with a SIMD line search instead
/// of byte by byte (Received and DKIM fields are most of a bounce's header bytes). The
/// fields it parses go to the same mail-parser functions it maps them to; the
/// tests compare the result with mail-parser's own.
pub fn parse_headers<'x>(s: &mut MessageStream<'x>, b: &'x [u8], out: &mut Vec<Header<'x>>) -> bool {
    loop {
        loop {
            match s.peek() {
                Some(b'\n') => {
                    s.next();
                    return true;
                }
                None => return false,
                Some(c) if !c.is_ascii_whitespace() => break,
                _ => {
                    s.next();
                }
            }
        }
        let offset_field = s.offset();
        if let Some(name) = s.parse_header_name() {
            let offset_start = s.offset();
            let value = match name {
                HeaderName::ContentType | HeaderName::ContentDisposition => s.parse_content_type(),
                HeaderName::ContentId | HeaderName::MessageId => s.parse_id(),
                HeaderName::ContentDescription
                | HeaderName::ContentLocation
                | HeaderName::ContentTransferEncoding
                | HeaderName::Subject => s.parse_unstructured(),
                HeaderName::From | HeaderName::To => s.parse_address(),
                _ => {
                    skip_field(s, b);
                    HeaderValue::Empty
                }
            };
            out.push(Header {
                name,
                value,
                offset_field: offset_field as u32,
                offset_start: offset_start as u32,
                offset_end: s.offset() as u32,
            });
        } else if s.is_eof() {
            return false;
        }
    }
}

/// mail-parser's `parse_and_ignore`: past the line end not followed by a space or tab
/// (that one space or tab consumed with it, as there).
fn skip_field(s: &mut MessageStream, b: &[u8]) {
    let mut pos = s.offset();
    loop {
        match memchr::memchr(b'\n', b.get(pos..).unwrap_or(&[])) {
            None => {
                pos = b.len();
                break;
            }
            Some(p) => {
                pos += p + 1;
                if matches!(b.get(pos), Some(b' ' | b'\t')) {
                    pos += 1;
                } else {
                    break;
                }
            }
        }
    }
    // Never a zero skip: at the end the stream's position may lie one past it, and
    // `skip_bytes` would slice from there.
    let n = pos.saturating_sub(s.offset());
    if n > 0 {
        s.skip_bytes(n);
    }
}

/// Where `--boundary` first occurs in `hay` (`finder` looks for the boundary; the dashes
/// before it are checked after).
fn find_boundary(hay: &[u8], finder: &memchr::memmem::Finder) -> Option<usize> {
    let mut from = 0;
    while let Some(p) = finder.find(hay.get(from..)?) {
        let at = from + p;
        if at >= 2 && hay.get(at - 2..at) == Some(b"--") {
            return Some(at - 2);
        }
        from = at + 1;
    }
    None
}

fn part<'x>(headers: Vec<Header<'x>>, body: PartType<'x>, header: usize, start: usize, end: usize) -> MessagePart<'x> {
    MessagePart {
        headers,
        is_encoding_problem: false,
        body,
        encoding: Encoding::None,
        offset_header: header as u32,
        offset_body: start as u32,
        offset_end: end as u32,
    }
}

fn content_type<'a, 'x>(headers: &'a Vec<Header<'x>>) -> Option<&'a ContentType<'x>> {
    headers.header_value(&HeaderName::ContentType).and_then(|v| v.as_content_type())
}

/// A text part as mail-parser types it: HTML for text/html, else text.
fn text_part<'x>(bytes: Cow<'x, [u8]>, ct: Option<&ContentType>) -> PartType<'x> {
    let text = decode_text(bytes, ct);
    if ct.is_some_and(|c| c.ctype() == "text" && c.subtype() == Some("html")) {
        PartType::Html(text)
    } else {
        PartType::Text(text)
    }
}

/// Charsets whose decoders map ASCII to itself: ASCII text under them needs no decoding.
const ASCII_SAFE: [&str; 6] = ["us-ascii", "ascii", "iso-8859-1", "iso-8859-15", "windows-1252", "latin1"];

/// A text part's bytes as a string, as mail-parser makes it (charset decoder, else UTF-8
/// with replacement characters), skipping the work when the bytes are already the answer.
fn decode_text<'x>(bytes: Cow<'x, [u8]>, ct: Option<&ContentType>) -> Cow<'x, str> {
    let charset = ct.and_then(|c| c.attribute("charset"));
    let decoder = charset.and_then(|c| charset_decoder(c.as_bytes()));
    let ascii_safe = charset.is_some_and(|c| ASCII_SAFE.iter().any(|a| c.eq_ignore_ascii_case(a)));
    match (bytes, decoder) {
        (Cow::Borrowed(b), Some(_)) if ascii_safe && b.is_ascii() => utf8(b),
        (Cow::Owned(v), Some(_)) if ascii_safe && v.is_ascii() => Cow::Owned(String::from_utf8(v).unwrap_or_default()),
        (Cow::Owned(v), Some(d)) => Cow::Owned(d(&v)),
        (Cow::Borrowed(b), Some(d)) => Cow::Owned(d(b)),
        (Cow::Owned(v), None) => {
            Cow::Owned(String::from_utf8(v).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
        }
        (Cow::Borrowed(b), None) => utf8(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::mail::PARSER;

    /// The fast walk and mail-parser agree on every part: type, body, headers.
    fn same(raw: &[u8]) {
        let fast = parse(raw).expect("the walk takes this message");
        let slow = PARSER.parse(raw).expect("mail-parser parses it");
        assert_eq!(fast.parts.len(), slow.parts.len(), "{}", String::from_utf8_lossy(raw));
        for (i, (f, s)) in fast.parts.iter().zip(&slow.parts).enumerate() {
            assert_eq!(f.body, s.body, "part {i}");
            assert_eq!(f.headers, s.headers, "part {i}");
            assert_eq!(f.offset_body, s.offset_body, "part {i}");
        }
    }

    #[test]
    fn agrees_with_mail_parser() {
        same(b"From: a@b\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"b1\"\n\npreamble\n--b1\nContent-Type: text/plain; charset=us-ascii\n\nmail failed\n\n--b1\nContent-Type: message/delivery-status\n\nFinal-Recipient: rfc822; x@y\nStatus: 5.1.1\n--b1\nContent-Type: text/rfc822-headers\n\nSubject: hi\n--b1--\nepilogue\n");
        // Nested alternative, quoted-printable, base64, a charset with a decoder, HTML.
        same(b"Content-Type: multipart/mixed; boundary=o\n\n--o\nContent-Type: multipart/alternative; boundary=i\n\n--i\nContent-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: quoted-printable\n\nBl=E5 b=\nar\n--i\nContent-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: base64\n\nPHA+aGk8L3A+\n--i--\n\n--o\nContent-Type: text/plain; charset=iso-8859-1\n\nplain \xe5\n--o\n\nno headers at all\n--o--\n");
        // A boundary glued to text, and an empty part.
        same(b"Content-Type: multipart/mixed; boundary=z\n\n--z\nContent-Type: text/plain\n\nabc--z\n\n--z--\n");
    }

    #[test]
    fn recovers_as_mail_parser_does() {
        // Never closed, at two depths; a base64 part that is not base64; one encoded part.
        same(b"Content-Type: multipart/mixed; boundary=z\n\n--z\nContent-Type: text/plain\n\ncut off");
        same(b"Content-Type: multipart/mixed; boundary=z\n\n--z\nContent-Type: multipart/alternative; boundary=y\n\n--y\nContent-Type: text/html\n\n<p>cut");
        same(b"Content-Type: multipart/mixed; boundary=z\n\n--z\nContent-Transfer-Encoding: base64\n\n*** not base64 ***\n--z\n\nnext\n--z--\n");
        same(b"Content-Type: text/plain; charset=iso-2022-jp\nContent-Transfer-Encoding: quoted-printable\n\n=1B$B$3$s$K$A$O=1B(B\n");
    }

    #[test]
    fn gives_up_where_unsure() {
        // A nested message, an image, a multipart without a boundary.
        assert!(parse(b"Content-Type: multipart/mixed; boundary=z\n\n--z\nContent-Type: message/rfc822\n\nSubject: x\n\nbody\n--z--\n").is_none());
        assert!(parse(b"Content-Type: image/png\n\nPNG").is_none());
        assert!(parse(b"Content-Type: multipart/mixed\n\n--z\n\nx\n--z--\n").is_none());
    }

    #[test]
    fn ascii_safe_charsets_map_ascii_to_itself() {
        let ascii: Vec<u8> = (0u8..128).collect();
        for cs in ASCII_SAFE {
            let d = charset_decoder(cs.as_bytes()).unwrap_or_else(|| panic!("{cs} has a decoder"));
            assert_eq!(d(&ascii).as_bytes(), ascii.as_slice(), "{cs}");
        }
    }
}
