//! Small text scanners shared by every dialect: e-mail addresses, RFC 3463 status codes,
//! SMTP reply codes, the SMTP command an error answered, case-insensitive search.
//! Takes &str, gives owned findings; never allocates the whole body, never slices off a
//! char boundary (all cuts are at ASCII bytes).

use std::sync::LazyLock;

use aho_corasick::{AhoCorasick, MatchKind};
use memchr::memchr_iter;

/// Bytes of an address's local part and of its domain, as one table lookup each: the
/// address scan walks every byte around every '@' of the text.
const LOCAL: u8 = 1;
const DOMAIN: u8 = 2;
static BYTE_CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        if b.is_ascii_alphanumeric() {
            t[i] = LOCAL | DOMAIN;
        }
        i += 1;
    }
    let extra = b"._%+-=/!#$&'*?^`{|}~";
    let mut j = 0;
    while j < extra.len() {
        t[extra[j] as usize] |= LOCAL;
        j += 1;
    }
    t[b'.' as usize] |= DOMAIN;
    t[b'-' as usize] |= DOMAIN;
    t
};

fn local_byte(b: u8) -> bool {
    BYTE_CLASS[b as usize] & LOCAL != 0
}

fn domain_byte(b: u8) -> bool {
    BYTE_CLASS[b as usize] & DOMAIN != 0
}

/// Every plausible address in `s`, as (start, end) byte offsets, in order.
pub fn address_spans(s: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some((st, en)) = s.get(from..).and_then(first_address).map(|(a, b)| (a + from, b + from)) {
        out.push((st, en));
        from = en;
    }
    out
}

/// The first plausible address in `s`, as (start, end) byte offsets.
pub fn first_address(s: &str) -> Option<(usize, usize)> {
    let b = s.as_bytes();
    for at in memchr_iter(b'@', b) {
        let mut st = at;
        while st > 0 && local_byte(b[st - 1]) {
            st -= 1;
        }
        // A leading '.' or '/' or '=' is punctuation around the address, not part of it.
        while st < at && matches!(b[st], b'.' | b'/' | b'=' | b'\'' | b'`' | b'{' | b'|') {
            st += 1;
        }
        let mut en = at + 1;
        while en < b.len() && domain_byte(b[en]) {
            en += 1;
        }
        while en > at + 1 && matches!(b[en - 1], b'.' | b'-') {
            en -= 1;
        }
        if st == at || en <= at + 1 {
            continue;
        }
        let dom = &b[at + 1..en];
        if dom.contains(&b'.') && !dom.starts_with(b".") {
            return Some((st, en));
        }
    }
    None
}

/// Normalise an address: trim, drop <>, quotes and "rfc822;", lower-case the domain.
pub fn normalize_address(raw: &str) -> Option<String> {
    let mut s = raw.trim();
    if let Some(p) = memchr::memchr(b';', s.as_bytes()) {
        let head = s.get(..p).unwrap_or("");
        if head.trim().eq_ignore_ascii_case("rfc822") || head.trim().len() < 12 && !head.contains('@') {
            s = s.get(p + 1..).unwrap_or("").trim();
        }
    }
    // A quoted local part ("first..last"@example.com) loses its quotes.
    let unquoted;
    if let Some(q) = memchr::memchr(b'"', s.as_bytes()).and_then(|_| s.find("\"@"))
        && let Some(open) = s.get(..q).and_then(|h| h.rfind('"'))
    {
        unquoted =
            format!("{}{}", s.get(..open).unwrap_or(""), s.get(open + 1..).unwrap_or("").replacen("\"@", "@", 1));
        s = unquoted.as_str();
    }
    let (st, en) = first_address(s)?;
    let a = s.get(st..en)?;
    let at = a.rfind('@')?;
    let mut out = a.to_string();
    if let Some(d) = out.get_mut(at + 1..) {
        d.make_ascii_lowercase();
    }
    Some(out)
}

/// First RFC 3463 status code ("5.1.1") in `s`.
pub fn find_status(s: &str) -> Option<String> {
    let b = s.as_bytes();
    // A status is "d.d.d": jump from dot to dot (SIMD) and look at the digit before each,
    // the same order a byte-by-byte walk would try them in.
    for dot in memchr::memchr_iter(b'.', b) {
        let Some(i) = dot.checked_sub(1) else { continue };
        let c = b[i];
        if (c == b'2' || c == b'4' || c == b'5') && (i == 0 || !(b[i - 1].is_ascii_digit() || b[i - 1] == b'.')) {
            let mut j = i + 2;
            let d1 = j;
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            if j > d1 && j - d1 <= 3 && b.get(j) == Some(&b'.') {
                let d2 = j + 1;
                let mut k = d2;
                while k < b.len() && b[k].is_ascii_digit() {
                    k += 1;
                }
                let next_ok = k >= b.len()
                    || !(b[k].is_ascii_digit() || (b[k] == b'.' && b.get(k + 1).is_some_and(|x| x.is_ascii_digit())));
                if k > d2 && k - d2 <= 3 && next_ok {
                    return s.get(i..k).map(str::to_string);
                }
            }
        }
    }
    None
}

/// First SMTP reply code (2xx/4xx/5xx) in `s` that stands as a word: at a line start, or
/// after a space/colon/bracket, and followed by a space, '-', ',' or the end.
pub fn find_reply_code(s: &str) -> Option<u16> {
    let b = s.as_bytes();
    let mut best: Option<(usize, u16)> = None;
    let end = b.len().saturating_sub(2);
    // Only a 2, 4 or 5 can start a code: jump between them (SIMD).
    for i in memchr::memchr3_iter(b'2', b'4', b'5', b.get(..end).unwrap_or(&[])) {
        let c = b[i];
        if !b[i + 1].is_ascii_digit() || !b[i + 2].is_ascii_digit() {
            continue;
        }
        let before_ok =
            i == 0 || matches!(b[i - 1], b' ' | b'\t' | b'\n' | b':' | b'(' | b'[' | b'<' | b'"' | b'\'' | b';');
        let after = b.get(i + 3).copied();
        let after_ok = match after {
            None => true,
            Some(x) => matches!(x, b' ' | b'-' | b',' | b'\n' | b'\t' | b')' | b']' | b':' | b'"'),
        };
        if !(before_ok && after_ok) {
            continue;
        }
        // "250-" inside a date like 2012-10-01 is excluded by the 3-digit rule above; an
        // hour like "10:" is two digits. Reject "NNN-NNN" phone-like runs.
        if after == Some(b'-')
            && b.get(i + 4).is_some_and(|x| x.is_ascii_digit())
            && b.get(i + 5).is_none_or(|x| *x != b'.')
        {
            continue;
        }
        let code = (c - b'0') as u16 * 100 + (b[i + 1] - b'0') as u16 * 10 + (b[i + 2] - b'0') as u16;
        if code % 100 > 59 || (code < 300 && code > 259) {
            continue;
        }
        best = Some((i, code));
        break;
    }
    best.map(|(_, c)| c)
}

/// The last "reply code + enhanced status" pair ("550 5.1.1", "550-5.7.26", "550-'5.2.2"):
/// the words of the server that finally refused, when a relay wraps them in its own.
pub fn code_pair(s: &str) -> Option<(u16, String)> {
    let b = s.as_bytes();
    let mut best = None;
    let end = b.len().saturating_sub(5);
    // Only a 2, 4 or 5 can start a pair: jump between them (SIMD).
    for i in memchr::memchr3_iter(b'2', b'4', b'5', b.get(..end).unwrap_or(&[])) {
        let c = b[i];
        let starts =
            (c == b'4' || c == b'5' || c == b'2') && (i == 0 || !b[i - 1].is_ascii_alphanumeric() && b[i - 1] != b'.');
        if starts && b[i + 1].is_ascii_digit() && b[i + 2].is_ascii_digit() && matches!(b[i + 3], b' ' | b'-') {
            let mut j = i + 4;
            if matches!(b.get(j), Some(b'\'' | b'"' | b'#')) {
                j += 1;
            }
            if b.get(j) == Some(&c)
                && let (Some(code), Some(st)) =
                    (s.get(i..i + 3).and_then(|x| x.parse::<u16>().ok()), s.get(j..).and_then(find_status))
                && s.get(j..).is_some_and(|rest| rest.starts_with(st.as_str()))
            {
                best = Some((code, st));
            }
        }
    }
    best
}

/// Join lines into one line: trims every line and drops empty ones.
pub fn one_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for l in lines(s) {
        let t = l.trim();
        if t.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(t);
    }
    out
}

/// Find the first of `needles` (ASCII case-insensitive) in `hay`; gives (start, end).
pub fn find_any(hay: &str, needles: &[&str]) -> Option<(usize, usize)> {
    let mut best: Option<(usize, usize)> = None;
    for n in needles {
        if let Some(p) = find_ci(hay, n)
            && best.is_none_or(|(b, _)| p < b)
        {
            best = Some((p, p + n.len()));
        }
    }
    best
}

/// ASCII case-insensitive substring search (memchr on the first byte's two cases).
pub fn find_ci(hay: &str, needle: &str) -> Option<usize> {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    let (&first, rest) = n.split_first()?;
    if h.len() < n.len() {
        return None;
    }
    let last_start = h.len() - n.len();
    let (lo, up) = (first.to_ascii_lowercase(), first.to_ascii_uppercase());
    for i in memchr::memchr2_iter(lo, up, h.get(..=last_start)?) {
        if h.get(i + 1..i + n.len()).is_some_and(|w| w.eq_ignore_ascii_case(rest)) {
            return Some(i);
        }
    }
    None
}

pub fn contains_ci(hay: &str, needle: &str) -> bool {
    find_ci(hay, needle).is_some()
}

/// Words that tell which SMTP command an error answered.
const COMMANDS: &[(&str, &str)] = &[
    ("rcpt to", "RCPT"),
    ("rcpt_to", "RCPT"),
    ("smtp:rcpt", "RCPT"),
    ("rcpt command", "RCPT"),
    ("does not like recipient", "RCPT"),
    ("end of data", "DATA"),
    ("data command", "DATA"),
    (">>> data", "DATA"),
    ("final data", "DATA"),
    ("after data", "DATA"),
    ("command data", "DATA"),
    ("mail from", "MAIL"),
    ("mail command", "MAIL"),
    ("sender was rejected", "MAIL"),
    ("ehlo", "HELO"),
    ("helo", "HELO"),
    ("while connecting", "CONN"),
    ("greeting", "CONN"),
    ("starttls", "STARTTLS"),
];

static COMMAND_AC: LazyLock<Option<AhoCorasick>> = LazyLock::new(|| {
    AhoCorasick::builder()
        .ascii_case_insensitive(true)
        .match_kind(MatchKind::LeftmostFirst)
        .kind(Some(aho_corasick::AhoCorasickKind::DFA))
        .build(COMMANDS.iter().map(|(w, _)| w))
        .ok()
});

/// An automaton finding every occurrence (overlapping) of `pats`, ASCII case-insensitive.
/// A DFA: the tables are searched in every bounce, and a DFA's per-byte step is the
/// cheapest of the kinds (a few hundred KiB, built once).
pub fn phrase_automaton(pats: &[&str]) -> Option<AhoCorasick> {
    AhoCorasick::builder()
        .ascii_case_insensitive(true)
        .match_kind(MatchKind::Standard)
        .kind(Some(aho_corasick::AhoCorasickKind::DFA))
        .build(pats)
        .ok()
}

/// The SMTP command named first in `s`.
pub fn smtp_command(s: &str) -> Option<&'static str> {
    let m = COMMAND_AC.as_ref()?.find(s)?;
    COMMANDS.get(m.pattern().as_usize()).map(|(_, c)| *c)
}

/// CRLF and lone CR become LF (decoded parts may carry either).
pub fn unix_newlines(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(p) = rest.find('\r') {
        out.push_str(rest.get(..p).unwrap_or(""));
        out.push('\n');
        let skip = if rest.get(p + 1..p + 2) == Some("\n") { 2 } else { 1 };
        rest = rest.get(p + skip..).unwrap_or("");
    }
    out.push_str(rest);
    out
}

/// The pieces of `s` between '\n' bytes, like `s.split('\n')`, found with the memchr
/// crate's SIMD search: std's char searcher falls back to a slow generic memchr, and line
/// splitting is the commonest scan of the parser.
pub fn split_lf(s: &str) -> SplitLf<'_> {
    SplitLf { rest: Some(s) }
}

/// Iterator of [`split_lf`].
pub struct SplitLf<'a> {
    rest: Option<&'a str>,
}

impl<'a> Iterator for SplitLf<'a> {
    type Item = &'a str;
    fn next(&mut self) -> Option<&'a str> {
        let r = self.rest?;
        match memchr::memchr(b'\n', r.as_bytes()) {
            Some(p) => {
                // '\n' is ASCII: both cuts are char boundaries.
                self.rest = r.get(p + 1..);
                r.get(..p)
            }
            None => self.rest.take(),
        }
    }
}

/// The lines of `s` exactly as `str::lines` gives them (a final empty piece dropped, one
/// trailing '\r' cut), through [`split_lf`].
pub fn lines(s: &str) -> Lines<'_> {
    Lines { rest: s }
}

/// Iterator of [`lines`].
pub struct Lines<'a> {
    rest: &'a str,
}

impl<'a> Iterator for Lines<'a> {
    type Item = &'a str;
    fn next(&mut self) -> Option<&'a str> {
        if self.rest.is_empty() {
            return None;
        }
        match memchr::memchr(b'\n', self.rest.as_bytes()) {
            Some(p) => {
                let line = self.rest.get(..p).unwrap_or("");
                self.rest = self.rest.get(p + 1..).unwrap_or("");
                Some(line.strip_suffix('\r').unwrap_or(line))
            }
            // The last line without its '\n' keeps a '\r', as in std.
            None => Some(std::mem::take(&mut self.rest)),
        }
    }
}

/// At most `n` bytes of `s`, cut back to a char boundary.
pub fn prefix(s: &str, n: usize) -> &str {
    let mut n = n.min(s.len());
    while !s.is_char_boundary(n) {
        n -= 1;
    }
    s.get(..n).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes() {
        assert_eq!(find_status("host said: 550 5.1.1 <a@b.example>"), Some("5.1.1".into()));
        assert_eq!(find_status("ip 192.0.2.1 only"), None);
        assert_eq!(find_reply_code("host [192.0.2.2]: 550-5.7.26 x"), Some(550));
        assert_eq!(find_reply_code("Thu, 29 Apr 2013 23:34:45 +0900"), None);
        assert_eq!(
            code_pair("554 4.4.7 Message expired <421 4.4.2 Connection timed out>"),
            Some((421, "4.4.2".into()))
        );
        assert_eq!(code_pair("5.1.0 - Unknown address error 550-'5.2.2 <a@b.example>"), Some((550, "5.2.2".into())));
        assert_eq!(normalize_address(" rfc822; <User@EXAMPLE.com>"), Some("User@example.com".into()));
    }

    #[test]
    fn byte_classes() {
        for b in 0..=255u8 {
            assert_eq!(local_byte(b), b.is_ascii_alphanumeric() || b"._%+-=/!#$&'*?^`{|}~".contains(&b), "{b}");
            assert_eq!(domain_byte(b), b.is_ascii_alphanumeric() || b == b'.' || b == b'-', "{b}");
        }
    }

    #[test]
    fn line_splitting_matches_std() {
        for s in ["", "\n", "a", "a\n", "a\r\nb", "a\n\nb\n", "\r\n", "a\r", "x\n\r\ny\r\n", "é\nü\r\n\n"] {
            assert_eq!(split_lf(s).collect::<Vec<_>>(), s.split('\n').collect::<Vec<_>>(), "{s:?}");
            assert_eq!(lines(s).collect::<Vec<_>>(), s.lines().collect::<Vec<_>>(), "{s:?}");
        }
    }
}
