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
        // An RFC 2047 encoded-word local part ("=?utf-8?Q?j=C3=B6rg?=@example.org") is the
        // address as it was written: kept whole.
        let encoded = b.get(st..st + 2) == Some(b"=?");
        // A leading '.' or '/' or '=' is punctuation around the address, not part of it.
        while !encoded && st < at && matches!(b[st], b'.' | b'/' | b'=' | b'\'' | b'`' | b'{' | b'|') {
            st += 1;
        }
        // Exchange's address types: "dda:SMTP=kim@example.org", "SMTP=...", "RFC822=...".
        if !encoded && let Some(eq) = b.get(st..at).and_then(|l| memchr::memchr(b'=', l)) {
            let kind = &b[st..st + eq];
            if [&b"SMTP"[..], b"RFC822", b"smtp", b"rfc822"].contains(&kind) {
                st += eq + 1;
            }
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

/// Words that make a dotted triple on their line a software version or a trace field, not
/// a status: "X-Mailer: Foo 2.1.12", "Postfix 2.753.1", "Received: ... (version 2.0.0)".
const NOT_A_CODE_CONTEXT: &[&str] =
    &["version", "x-mailer", "user-agent", "received:", "mailer:", "release ", "build ", " ver ", " v."];

/// How far back on its line a version-like context is looked for.
const CONTEXT_WINDOW: usize = 48;

/// Is the code starting at byte `i` of `s` in a version or trace context (see
/// [`NOT_A_CODE_CONTEXT`])? Looks back to the line start, at most [`CONTEXT_WINDOW`] bytes.
fn version_context(s: &str, i: usize) -> bool {
    let b = s.as_bytes();
    let from = i.saturating_sub(CONTEXT_WINDOW);
    let from = memchr::memrchr(b'\n', b.get(from..i).unwrap_or(&[])).map_or(from, |p| from + p + 1);
    let Some(w) = b.get(from..i) else { return false };
    NOT_A_CODE_CONTEXT.iter().any(|c| w.windows(c.len()).any(|x| x.eq_ignore_ascii_case(c.as_bytes())))
}

/// First RFC 3463 status code ("5.1.1") in `s`: class 2, 4 or 5, a one-digit subject (0-7,
/// the only ones registered) and a detail of up to three digits, standing as a word. A
/// version number is not one: not "2.753.1" (subject of three digits), "2.1.12rc2" (letters
/// and digits run on), "v5.1.2", nor a triple after "version", "X-Mailer:" or "Received:".
pub fn find_status(s: &str) -> Option<String> {
    let b = s.as_bytes();
    // A status is "d.d.d": jump from dot to dot (SIMD) and look at the digit before each,
    // the same order a byte-by-byte walk would try them in.
    for dot in memchr::memchr_iter(b'.', b) {
        let Some(i) = dot.checked_sub(1) else { continue };
        let c = b[i];
        if !(c == b'2' || c == b'4' || c == b'5')
            || (i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'.'))
            || !b.get(i + 2).is_some_and(|x| (b'0'..=b'7').contains(x))
            || b.get(i + 3) != Some(&b'.')
        {
            continue;
        }
        let d2 = i + 4;
        let mut k = d2;
        while k < b.len() && b[k].is_ascii_digit() {
            k += 1;
        }
        if k == d2 || k - d2 > 3 {
            continue;
        }
        let next_ok = k >= b.len()
            || !(b[k].is_ascii_digit() || (b[k] == b'.' && b.get(k + 1).is_some_and(|x| x.is_ascii_digit())));
        // "2.1.12rc2", "5.1.1b4": a release tag runs on into letters and digits.
        let mut e = k;
        while e < b.len() && b[e].is_ascii_alphanumeric() {
            e += 1;
        }
        let tagged = b.get(k..e).is_some_and(|t| t.iter().any(u8::is_ascii_digit));
        if next_ok && !tagged && !version_context(s, i) {
            return s.get(i..k).map(str::to_string);
        }
    }
    None
}

/// SMTP replies that end or open a session (220 greeting, 221/222 closing) say nothing
/// about a delivery: never the reply code of a failure.
fn session_reply(code: u16) -> bool {
    (220..=222).contains(&code)
}

/// The SMTP reply code (2xx/4xx/5xx) of `s`: the first one standing as a word (at a line
/// start, or after a space/colon/bracket, and followed by a space, '-', ',' or the end)
/// that is a failure (4xx/5xx), else the first success that is no greeting or goodbye.
pub fn find_reply_code(s: &str) -> Option<u16> {
    let b = s.as_bytes();
    let mut success: Option<u16> = None;
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
        if c != b'2' {
            return Some(code);
        }
        if success.is_none() && !session_reply(code) {
            success = Some(code);
        }
    }
    success
}

/// The last "reply code + enhanced status" pair ("550 5.1.1", "550-5.7.26", "550-'5.2.2"):
/// the words of the server that finally refused, when a relay wraps them in its own. A
/// failure pair outranks a success pair, and a goodbye ("221 2.0.0 Bye") is never one.
pub fn code_pair(s: &str) -> Option<(u16, String)> {
    let b = s.as_bytes();
    let mut best = None;
    let mut success = None;
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
                if c != b'2' {
                    best = Some((code, st));
                } else if !session_reply(code) {
                    success = Some((code, st));
                }
            }
        }
    }
    best.or(success)
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
/// A contiguous NFA, not a DFA: the reason table's DFA took 6.6 MiB (states times byte
/// classes, each case a class of its own), 13 ms to build and, searched once per record in a
/// short run, missed the cache on almost every byte; the NFA is 190 KiB, builds in 2.6 ms,
/// and over the corpus' diagnostics its search costs 3.7 against the DFA's 2.3 ms once both
/// are hot, which a batch job's process never gets to.
pub fn phrase_automaton(pats: &[&str]) -> Option<AhoCorasick> {
    AhoCorasick::builder()
        .ascii_case_insensitive(true)
        .match_kind(MatchKind::Standard)
        .kind(Some(aho_corasick::AhoCorasickKind::ContiguousNFA))
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

/// Builds this module's tables now (see [`crate::parse::warm`]).
pub(crate) fn warm() {
    std::sync::LazyLock::force(&COMMAND_AC);
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
    fn address_forms() {
        let n = |s: &str| normalize_address(s);
        assert_eq!(n("[SMTP:Kim@Example.ORG]"), Some("Kim@example.org".into()));
        assert_eq!(n("IMCEAEX-_o=x; dda:SMTP=kim@example.org"), Some("kim@example.org".into()));
        assert_eq!(n("rfc822; =?utf-8?Q?j=C3=B6rg?=@example.org"), Some("=?utf-8?Q?j=C3=B6rg?=@example.org".into()));
        assert_eq!(n("Unknown user: kim@example.org"), Some("kim@example.org".into()));
    }

    #[test]
    fn versions_and_goodbyes_are_no_codes() {
        // Version numbers in quoted headers are not statuses.
        assert_eq!(find_status("X-Mailer: Foo Mail 2.1.12rc2"), None);
        assert_eq!(find_status("Postfix 2.753.1 on host"), None);
        assert_eq!(find_status("X-Mailer: Bar 5.1.1"), None);
        assert_eq!(find_status("Received: from a (version 2.0.0) by b"), None);
        assert_eq!(find_status("build v5.1.2"), None);
        // Real ones still are, with three-digit details and glued words.
        assert_eq!(find_status("550 5.1.10 RESOLVER.ADR.RecipientNotFound"), Some("5.1.10".into()));
        assert_eq!(find_status("#5.1.1User unknown"), Some("5.1.1".into()));
        // A goodbye after the refusal is not the reply, and not a pair.
        assert_eq!(find_reply_code("221 2.0.0 Bye\n550 5.1.1 no such user"), Some(550));
        assert_eq!(find_reply_code("<<< 220 mx.example.org ESMTP\n<<< 554 denied"), Some(554));
        assert_eq!(find_reply_code("250 2.0.0 Ok: queued"), Some(250));
        assert_eq!(code_pair("550 5.1.1 unknown; 221 2.0.0 closing connection"), Some((550, "5.1.1".into())));
        assert_eq!(code_pair("221 2.0.0 Bye"), None);
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
