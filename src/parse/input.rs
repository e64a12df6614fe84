//! Raw input made ready for the MIME parser: one line-end form, returned messages marked so
//! that only their headers get parsed, and quoted-printable HTML left encoded.
//! Takes the raw bytes; gives them back borrowed when nothing needs changing, else one
//! owned copy. Never changes a byte count of a header value it does not own and never fails.
//!
//! Why the marking: mail-parser parses a message/rfc822 part as a whole nested message,
//! decoding every body part of the returned original (often a large quoted-printable HTML
//! newsletter). Only the original's headers are ever used, so the part's Content-Type is
//! rewritten in place to [`NESTED`] (same length), which mail-parser keeps as one opaque
//! part (not even UTF-8-checked) and `Mail` reads the returned message's header block from.
//!
//! Likewise a quoted-printable text/html part is only read when the bounce has no plain
//! text, yet decoding it (a 50 KiB newsletter-styled NDR) is the parser's largest single
//! cost: its transfer encoding is renamed to [`RAW_QP`] (same length), and `decode_qp`
//! decodes it on the rare occasion it is needed.
//!
//! And since mail-parser's cost grows with every byte it walks, bodies never read are left
//! out of the copy it gets: the returned message after its header block, and image, audio
//! and video attachments (the part headers stay, with an empty body).

use std::borrow::Cow;

/// What a message/rfc822 or message/global Content-Type becomes (same length: 14 bytes).
pub const NESTED: &str = "x-rebound/orig";

/// What "quoted-printable" becomes on text/html parts (same length: 16 bytes).
pub const RAW_QP: &str = "x-rebound-qp-raw";

/// The input ready for mail-parser.
pub struct Prepared<'a> {
    pub bytes: Cow<'a, [u8]>,
    /// Where the body starts when the message is one plain-text part that needs no decoding
    /// (text/plain or no Content-Type, 7bit/8bit, ASCII or UTF-8): mail-parser need not walk
    /// it byte by byte, the body is the text as it stands.
    pub plain_body: Option<usize>,
}

/// CR-only (old Mac) and CRLF line ends become LF; returned messages and quoted-printable
/// HTML parts are marked, unread bodies left out.
pub fn prepare(raw: &[u8]) -> Prepared<'_> {
    let norm = normalize_newlines(raw);
    let (mut edits, plain_body) = mime_edits(&norm);
    if edits.is_empty() {
        return Prepared { bytes: norm, plain_body };
    }
    edits.sort_unstable_by_key(Edit::at);
    // One copy at most: a CRLF message already has its own (from the line-end pass), and
    // the edits are made in it, front to back (nothing they write ever passes what is
    // still to be read).
    let mut out = norm.into_owned();
    let (mut read, mut write) = (0, 0);
    for e in edits {
        if e.at() < read {
            continue; // inside a part already left out
        }
        out.copy_within(read..e.at(), write);
        write += e.at() - read;
        match e {
            Edit::Replace(at, with) => {
                if let Some(dst) = out.get_mut(write..write + with.len()) {
                    dst.copy_from_slice(with.as_bytes());
                }
                write += with.len();
                read = at + with.len();
            }
            Edit::Cut(_, end) => read = end,
        }
    }
    let len = out.len();
    out.copy_within(read.min(len)..len, write);
    out.truncate(write + len - read.min(len));
    Prepared {
        bytes: Cow::Owned(out),
        // Only a message without parts is plain, and such a message gets no edits.
        plain_body: None,
    }
}

/// A change to the input: bytes replaced by as many others, or a range left out.
enum Edit {
    Replace(usize, &'static str),
    Cut(usize, usize),
}

impl Edit {
    fn at(&self) -> usize {
        match self {
            Edit::Replace(at, _) | Edit::Cut(at, _) => *at,
        }
    }
}

/// One MIME header block being read: where its Content-Type value and a quoted-printable
/// Content-Transfer-Encoding value start.
#[derive(Default)]
struct Block {
    top: bool,
    ctype: Option<usize>,
    qp: Option<usize>,
    /// Where the Content-Transfer-Encoding value starts.
    cte: Option<usize>,
    /// Content-Disposition: attachment.
    attachment: bool,
    /// The field whose continuation lines follow (0 none, 1 Content-Type).
    folding: u8,
    /// A boundary was declared in this block.
    boundary: bool,
}

/// The changes: header blocks are the top-level one and those after a line "--<boundary>"
/// of a boundary declared before, so words in a body ("Content-Type: message/rfc822" quoted
/// by a bounce) are never touched. Body lines are skipped with one SIMD search for "\n--".
fn mime_edits(b: &[u8]) -> (Vec<Edit>, Option<usize>) {
    let mut edits = Vec::new();
    let mut boundaries: Vec<&[u8]> = Vec::new();
    let (mut from, skip) = read_block(b, 0, true, &mut boundaries, &mut edits);
    if boundaries.is_empty() {
        let plain = matches!(skip, Skip::Plain).then_some((from + 1).min(b.len()));
        return (edits, plain);
    }
    // Where the body being left out starts, until the next boundary line.
    let mut cut_from: Option<usize> = None;
    // A plain-text part being read (its body start), and whether one with words was seen:
    // an HTML part after it is never read (`Mail` reads HTML only when there is no text).
    let mut open_text: Option<usize> = None;
    let mut seen_text = false;
    while let Some(p) = DASHES.find(b.get(from..).unwrap_or(&[])) {
        let ls = from + p + 1;
        let le = memchr::memchr(b'\n', b.get(ls..).unwrap_or(&[])).map_or(b.len(), |e| ls + e);
        let line = trim_end(b.get(ls + 2..le).unwrap_or(&[]));
        let known = |n: &[u8]| boundaries.contains(&n);
        let closing = !known(line) && line.strip_suffix(b"--").is_some_and(known);
        if !closing && !known(line) {
            from = le;
            continue;
        }
        if let Some(c) = cut_from.take()
            && c < ls - 1
        {
            edits.push(Edit::Cut(c, ls - 1));
        }
        if let Some(t) = open_text.take() {
            seen_text |= has_words(b.get(t..ls - 1).unwrap_or(&[]));
        }
        if closing {
            from = le;
            continue;
        }
        let (end, skip) = read_block(b, le + 1, false, &mut boundaries, &mut edits);
        // The body starts after the blank line that ends the block.
        let body = (end + 1).min(b.len());
        cut_from = match skip {
            Skip::None | Skip::Plain => None,
            Skip::Text => {
                open_text = Some(body);
                None
            }
            Skip::Html => seen_text.then_some(body),
            Skip::Body => Some(body),
            // A returned message: keep its own header block.
            Skip::AfterHeaders => {
                b.get(body..).and_then(|rest| memchr::memmem::find(rest, b"\n\n")).map(|p| body + p + 1)
            }
        };
        from = end;
    }
    (edits, None)
}

static DASHES: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"\n--"));

/// What of a part's body can be left out (or, at the top, that it is plain text).
enum Skip {
    None,
    Plain,
    /// A text/plain part (not an attachment): its words make later HTML unread.
    Text,
    /// A text/html part: left out when plain text came before it.
    Html,
    Body,
    AfterHeaders,
}

/// Read the header block starting at `start`: note boundaries it declares and the rewrite
/// it asks for. Gives where the block ends (its blank line) and what of the body is unread.
fn read_block<'b>(
    b: &'b [u8],
    mut start: usize,
    top: bool,
    boundaries: &mut Vec<&'b [u8]>,
    edits: &mut Vec<Edit>,
) -> (usize, Skip) {
    let mut blk = Block { top, ..Block::default() };
    while start < b.len() {
        let end = memchr::memchr(b'\n', b.get(start..).unwrap_or(&[])).map_or(b.len(), |p| start + p);
        let line = b.get(start..end).unwrap_or(&[]);
        if line.iter().all(|c| c.is_ascii_whitespace()) {
            break;
        }
        let first = line.first().copied().unwrap_or(b' ');
        if blk.folding == 1 && !blk.boundary && lost_fold(b, &blk, line) {
            // A parameter line of a multipart Content-Type that lost the white space that
            // made it a continuation (JavaMail's folding, after a relay trimmed lines): made
            // one again by joining it to the line before, so the MIME walk finds the
            // boundary instead of reading the whole message as one opaque part.
            let before = trim_end(b.get(..start - 1).unwrap_or(&[]));
            edits.push(Edit::Replace(start - 1, if before.ends_with(b";") { " " } else { ";" }));
            blk.boundary |= boundary_param(line).inspect(|p| boundaries.push(p)).is_some();
        } else if !matches!(first, b' ' | b'\t' | b'c' | b'C') {
            // Not a continuation and not a Content-* field: most header lines (Received,
            // DKIM, X-...) are decided by their first byte.
            blk.folding = 0;
        } else if first == b' ' || first == b'\t' {
            if blk.folding == 1 {
                if blk.ctype.is_none() {
                    blk.ctype = Some(start + leading_ws(line));
                }
                blk.boundary |= boundary_param(line).inspect(|p| boundaries.push(p)).is_some();
            }
        } else if let Some(v) = field_value(line, b"content-type:") {
            blk.folding = 1;
            if v < line.len() {
                blk.ctype = Some(start + v);
            }
            blk.boundary |= boundary_param(line).inspect(|p| boundaries.push(p)).is_some();
        } else if let Some(v) = field_value(line, b"content-disposition:") {
            blk.folding = 0;
            blk.attachment = line.get(v..).is_some_and(|w| starts_word_ci(w, b"attachment"));
        } else if let Some(v) = field_value(line, b"content-transfer-encoding:") {
            blk.folding = 0;
            blk.cte = Some(start + v);
            if line.get(v..).is_some_and(|w| starts_word_ci(w, b"quoted-printable")) {
                blk.qp = Some(start + v);
            }
        } else {
            blk.folding = 0;
        }
        start = end + 1;
    }
    (start.min(b.len()), edit_for(b, &blk, edits))
}

/// Is `line`, met while a Content-Type field is read, one of its parameters that lost its
/// leading white space? Only for a multipart type (whose boundary the walk needs) and only
/// when the line is `token=...` with no colon before the `=`: no header field looks so.
fn lost_fold(b: &[u8], blk: &Block, line: &[u8]) -> bool {
    let multipart = blk.ctype.is_some_and(|ct| starts_word_ci(b.get(ct..).unwrap_or(&[]), b"multipart"));
    let name = line.iter().take_while(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.')).count();
    multipart && name > 0 && line.get(name) == Some(&b'=')
}

/// The rewrite a finished header block asks for, and what of its body is never read.
fn edit_for(b: &[u8], k: &Block, edits: &mut Vec<Edit>) -> Skip {
    if k.top && plain_text(b, k) {
        return Skip::Plain;
    }
    let Some(ct) = k.ctype else {
        return Skip::None;
    };
    let v = b.get(ct..).unwrap_or(&[]);
    if !k.top && (starts_word_ci(v, b"message/rfc822") || starts_word_ci(v, b"message/global")) {
        // Not at the top: that would make the whole message one opaque part.
        edits.push(Edit::Replace(ct, NESTED));
        return Skip::AfterHeaders;
    }
    if starts_word_ci(v, b"text/html") {
        if let Some(q) = k.qp {
            edits.push(Edit::Replace(q, RAW_QP));
        }
        return if k.top { Skip::None } else { Skip::Html };
    }
    if starts_word_ci(v, b"text/plain") && !k.attachment && !k.top {
        return Skip::Text;
    }
    let binary = [&b"image/"[..], b"audio/", b"video/"]
        .iter()
        .any(|t| v.get(..t.len()).is_some_and(|x| x.eq_ignore_ascii_case(t)));
    if binary && !k.top { Skip::Body } else { Skip::None }
}

/// Does a plain-text body carry words of its own (not empty, not a bare header block that
/// `Mail` would take for the returned message)?
fn has_words(body: &[u8]) -> bool {
    let Some(first) = body.split(|c| *c == b'\n').find(|l| !l.iter().all(u8::is_ascii_whitespace)) else {
        return false;
    };
    let name = first.iter().take_while(|c| c.is_ascii_alphanumeric() || **c == b'-' || **c == b'_').count();
    !(name > 0 && first.get(name) == Some(&b':'))
}

/// Is the top-level block that of one text/plain part needing no decoding?
fn plain_text(b: &[u8], k: &Block) -> bool {
    let cte_ok = k.cte.is_none_or(|c| {
        let v = b.get(c..).unwrap_or(&[]);
        [&b"7bit"[..], b"8bit", b"binary"].iter().any(|w| starts_word_ci(v, w))
    });
    let Some(ct) = k.ctype else {
        return cte_ok;
    };
    let v = b.get(ct..).unwrap_or(&[]);
    if !cte_ok || !starts_word_ci(v, b"text/plain") {
        return false;
    }
    // The field with its continuation lines.
    let mut end = ct;
    while let Some(p) = memchr::memchr(b'\n', b.get(end..).unwrap_or(&[])) {
        end += p + 1;
        if !matches!(b.get(end), Some(b' ' | b'\t')) {
            break;
        }
    }
    let field = b.get(ct..end).unwrap_or(&[]);
    const KEY: &[u8] = b"charset=";
    let Some(p) = field.windows(KEY.len()).position(|w| w.eq_ignore_ascii_case(KEY)) else {
        return true;
    };
    let cs = field.get(p + KEY.len()..).unwrap_or(&[]);
    let cs = cs.strip_prefix(b"\"").unwrap_or(cs);
    [&b"us-ascii"[..], b"utf-8", b"utf8", b"ascii"].iter().any(|w| starts_word_ci(cs, w))
}

/// Offset of the value in `line` when it is the field `name` (with its colon).
fn field_value(line: &[u8], name: &[u8]) -> Option<usize> {
    let head = line.get(..name.len())?;
    if !head.eq_ignore_ascii_case(name) {
        return None;
    }
    Some(name.len() + leading_ws(line.get(name.len()..).unwrap_or(&[])))
}

/// Does `v` start with the token `w` (ASCII case-insensitive), not followed by more of it?
fn starts_word_ci(v: &[u8], w: &[u8]) -> bool {
    v.get(..w.len()).is_some_and(|x| x.eq_ignore_ascii_case(w))
        && v.get(w.len()).is_none_or(|c| !c.is_ascii_alphanumeric() && *c != b'-')
}

fn leading_ws(v: &[u8]) -> usize {
    v.iter().take_while(|c| c.is_ascii_whitespace()).count()
}

fn trim_end(v: &[u8]) -> &[u8] {
    let n = v.len() - v.iter().rev().take_while(|c| c.is_ascii_whitespace()).count();
    v.get(..n).unwrap_or(v)
}

/// The boundary parameter named on this Content-Type line, if any.
fn boundary_param(line: &[u8]) -> Option<&[u8]> {
    const KEY: &[u8] = b"boundary=";
    let p = line.windows(KEY.len()).position(|w| w.eq_ignore_ascii_case(KEY))? + KEY.len();
    let v = line.get(p..)?;
    let v = match v.first() {
        Some(b'"') => {
            let v = v.get(1..)?;
            v.get(..memchr::memchr(b'"', v).unwrap_or(v.len()))?
        }
        _ => {
            let n = v.iter().take_while(|c| !matches!(c, b';' | b' ' | b'\t')).count();
            v.get(..n)?
        }
    };
    (!v.is_empty()).then_some(v)
}

/// Was this part left quoted-printable by [`prepare`]?
pub fn is_raw_qp(part: &mail_parser::MessagePart) -> bool {
    part.headers.iter().any(|h| {
        h.name().eq_ignore_ascii_case("Content-Transfer-Encoding")
            && h.value().as_text().is_some_and(|v| v.trim().eq_ignore_ascii_case(RAW_QP))
    })
}

/// Decode quoted-printable text (soft line breaks, =XX escapes); bytes that do not form
/// UTF-8 are replaced.
pub fn decode_qp(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    // Copy the runs between '=' escapes whole.
    while let Some(p) = memchr::memchr(b'=', b.get(i..).unwrap_or(&[])) {
        out.extend_from_slice(b.get(i..i + p).unwrap_or(&[]));
        i += p;
        match (b.get(i + 1), b.get(i + 2)) {
            (Some(b'\n'), _) => i += 2,
            (Some(b'\r'), Some(b'\n')) => i += 3,
            (Some(h), Some(l)) if h.is_ascii_hexdigit() && l.is_ascii_hexdigit() => {
                let hex = |x: u8| (x as char).to_digit(16).unwrap_or(0) as u8;
                out.push(hex(*h) * 16 + hex(*l));
                i += 3;
            }
            _ => {
                out.push(b'=');
                i += 1;
            }
        }
    }
    out.extend_from_slice(b.get(i..).unwrap_or(&[]));
    match String::from_utf8(out) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }
}

/// CR-only and CRLF line ends become LF, so every scanner sees one form.
pub fn normalize_newlines(raw: &[u8]) -> Cow<'_, [u8]> {
    if memchr::memchr(b'\r', raw).is_none() {
        return Cow::Borrowed(raw);
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut start = 0;
    for cr in memchr::memchr_iter(b'\r', raw) {
        if cr < start {
            continue;
        }
        out.extend_from_slice(raw.get(start..cr).unwrap_or(&[]));
        out.push(b'\n');
        start = if raw.get(cr + 1) == Some(&b'\n') { cr + 2 } else { cr + 1 };
    }
    out.extend_from_slice(raw.get(start..).unwrap_or(&[]));
    Cow::Owned(out)
}

/// Field names of a message's own header block (RFC 5322 3.6, RFC 2045, RFC 3834, trace
/// fields): one of them (or any "X-" field) in the first block says the input is a message
/// rather than a bounce's text pasted without its headers.
const HEADER_NAMES: &[&str] = &[
    "return-path",
    "received",
    "delivered-to",
    "from",
    "to",
    "cc",
    "bcc",
    "subject",
    "date",
    "message-id",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
    "sender",
    "reply-to",
    "in-reply-to",
    "references",
    "dkim-signature",
    "authentication-results",
    "envelope-to",
    "newsgroups",
    "user-agent",
    "precedence",
    "auto-submitted",
    "errors-to",
    "thread-topic",
    "thread-index",
    "importance",
    "arc-seal",
    "list-id",
    "resent-from",
    "resent-date",
    "content-disposition",
    "comments",
    "keywords",
];

/// Searcher for the Content-Type of an attached message, ignoring case.
static NESTED_TYPE: std::sync::LazyLock<Option<aho_corasick::AhoCorasick>> = std::sync::LazyLock::new(|| {
    aho_corasick::AhoCorasick::builder().ascii_case_insensitive(true).build(["content-type: message/rfc822"]).ok()
});

/// The first attached message of `raw` (after a "Content-Type: message/rfc822" part header
/// and the blank line ending that part's header block), when it reports a delivery (a
/// delivery-status part, or a mailer-daemon's notice). `raw` has LF line ends.
pub fn nested_message(raw: &[u8]) -> Option<&[u8]> {
    let m = NESTED_TYPE.as_ref()?.find(raw)?;
    let after = raw.get(m.end()..)?;
    let body = memchr::memmem::find(after, b"\n\n").map(|p| p + 2)?;
    let inner = after.get(body..)?;
    let head = inner.get(..inner.len().min(64 * 1024))?;
    let lower = head.to_ascii_lowercase();
    let reports = [&b"message/delivery-status"[..], b"mailer-daemon", b"postmaster@", b"mail delivery"]
        .iter()
        .any(|w| memchr::memmem::find(&lower, w).is_some());
    reports.then_some(inner)
}

/// How many bytes of `raw` are lines of nothing but white space, before its first word.
pub fn leading_blank_lines(raw: &[u8]) -> usize {
    let mut end = 0;
    for (i, b) in raw.iter().enumerate() {
        match b {
            b'\n' => end = i + 1,
            b' ' | b'\t' | b'\r' => {}
            _ => break,
        }
    }
    end
}

/// Does `raw` start with a header block? A bounce pasted as text ("This is the mail system
/// at host ...", "Delivery has failed to these recipients or groups:") or a notice whose
/// headers were lost does not: its first line is no field, or its first block names no
/// field a message has. An mbox "From " line before the block is skipped.
pub fn has_header_block(raw: &[u8]) -> bool {
    let mut rest = raw;
    if rest.starts_with(b"From ") {
        rest = memchr::memchr(b'\n', rest).and_then(|p| rest.get(p + 1..)).unwrap_or(&[]);
    }
    let mut first = true;
    for line in rest.split(|&b| b == b'\n').take(200) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(|b| b.is_ascii_whitespace()) {
            return false;
        }
        if matches!(line.first(), Some(b' ' | b'\t')) {
            continue;
        }
        let name = memchr::memchr(b':', line).and_then(|p| line.get(..p));
        let Some(name) = name.filter(|n| !n.is_empty() && n.len() < 77 && n.iter().all(|b| (33..127).contains(b)))
        else {
            if first {
                return false;
            }
            continue;
        };
        first = false;
        let lower = name.to_ascii_lowercase();
        if lower.starts_with(b"x-") || HEADER_NAMES.iter().any(|h| h.as_bytes() == lower.as_slice()) {
            return true;
        }
    }
    false
}

/// Builds this module's tables now (see [`crate::parse::warm`]).
pub(crate) fn warm() {
    std::sync::LazyLock::force(&NESTED_TYPE);
    std::sync::LazyLock::force(&DASHES);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_block_or_pasted_text() {
        assert!(has_header_block(b"Return-Path: <>\nSubject: x\n\nbody"));
        assert!(has_header_block(b"From MAILER-DAEMON Thu Apr  1 00:00:00 2010\r\nReceived: by x\r\n\r\n"));
        assert!(has_header_block(b"X-Anything: 1\n\n"));
        // Prose, a leading blank line, or a first "field" no message has: pasted text.
        assert!(!has_header_block(b"This is the mail system at host mx.example.net.\n\nI'm sorry"));
        assert!(!has_header_block(b"\n** Delivery incomplete **\n"));
        assert!(!has_header_block(b"Delivery has failed to these recipients or groups:\n\na@example.org\n"));
        assert!(!has_header_block(
            b"[https://example.net/logo.png]\nYour message to a@example.org couldn't be delivered.\n"
        ));
        assert!(!has_header_block(b""));
        assert_eq!(leading_blank_lines(b"   \n\t\r\nReturn-Path: <>\n"), 7);
        assert_eq!(leading_blank_lines(b"Return-Path: <>\n"), 0);
    }

    #[test]
    fn newlines_and_marks() {
        let raw = b"Content-Type: multipart/report; boundary=b\r\n\r\n--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: x\r\n--b--\r\n";
        let out = prepare(raw).bytes;
        let s = String::from_utf8_lossy(&out);
        assert!(!s.contains('\r'));
        assert!(s.contains("Content-Type: x-rebound/orig\n"));
        let raw = b"Content-Type: multipart/alternative; boundary=b\n\n--b\nContent-Transfer-Encoding: quoted-printable\nContent-Type: text/html\n\n<p>a=3Db=\nc</p>\n--b--\n";
        let out = prepare(raw).bytes;
        assert!(String::from_utf8_lossy(&out).contains(RAW_QP));
        assert_eq!(decode_qp("<p>a=3Db=\nc</p>"), "<p>a=bc</p>");
        // The top-level type and other words are left alone.
        let raw = b"Content-Type: message/rfc822\n\nsee message/rfc822 below\n";
        assert_eq!(prepare(raw).bytes.as_ref(), raw.as_slice());
        // A single plain-text part: its body needs no MIME walk.
        let raw = b"From: a@example.org\nContent-Type: text/plain; charset=us-ascii\n\nhello\n";
        assert_eq!(prepare(raw).plain_body, Some(raw.len() - 6));
    }

    #[test]
    fn a_boundary_line_that_lost_its_fold_is_joined() {
        // The parameter lines of a multipart type at the start of a line (after ';' or not),
        // at the top and in a part: each joined to the line before, bytes counted the same.
        let raw = b"Content-Type: multipart/report; report-type=delivery-status;\nboundary=\"o\"\n\n--o\nContent-Type: multipart/alternative\nBoundary=i\n\n--i\n\nx\n--i--\n--o--\n";
        let out = prepare(raw).bytes;
        assert_eq!(out.len(), raw.len());
        let s = String::from_utf8_lossy(&out);
        assert!(
            s.starts_with("Content-Type: multipart/report; report-type=delivery-status; boundary=\"o\"\n\n"),
            "{s}"
        );
        assert!(s.contains("\nContent-Type: multipart/alternative;Boundary=i\n\n"), "{s}");
        // Not a parameter, not a multipart, or the boundary already given: left alone.
        for raw in [
            &b"Content-Type: multipart/mixed;\nX-Note: a=b\n\nbody\n"[..],
            b"Content-Type: text/plain;\ncharset=us-ascii\n\nbody\n",
            b"Content-Type: multipart/mixed; boundary=z\nname=x\n\n--z\n\nx\n--z--\n",
        ] {
            assert_eq!(prepare(raw).bytes.as_ref(), raw, "{}", String::from_utf8_lossy(raw));
        }
    }
}
