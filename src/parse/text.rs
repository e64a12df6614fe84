//! Small text scanners shared by every dialect: e-mail addresses, RFC 3463 status codes,
//! SMTP reply codes, and the generic "recipient line + explanation" scanner used on the
//! human-readable part of non-DSN bounces.
//! Takes &str, gives owned findings; never allocates the whole body, never slices off a
//! char boundary (all cuts are at ASCII bytes).

use memchr::memchr_iter;

fn local_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"._%+-=/!#$&'*?^`{|}~".contains(&b)
}

fn domain_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'.' || b == b'-'
}

/// Every plausible address in `s`, as (start, end) byte offsets, in order.
pub fn address_spans(s: &str) -> Vec<(usize, usize)> {
    let b = s.as_bytes();
    let mut out: Vec<(usize, usize)> = Vec::new();
    for at in memchr_iter(b'@', b) {
        if out.last().is_some_and(|&(_, e)| at < e) {
            continue;
        }
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
        if !dom.contains(&b'.') || dom.starts_with(b".") {
            continue;
        }
        out.push((st, en));
    }
    out
}

/// Normalise an address: trim, drop <>, quotes and "rfc822;", lower-case the domain.
pub fn normalize_address(raw: &str) -> Option<String> {
    let mut s = raw.trim();
    if let Some(p) = s.find(';') {
        let head = s.get(..p).unwrap_or("");
        if head.trim().eq_ignore_ascii_case("rfc822") || head.trim().len() < 12 && !head.contains('@') {
            s = s.get(p + 1..).unwrap_or("").trim();
        }
    }
    // A quoted local part ("first..last"@example.com) loses its quotes.
    let unquoted;
    if let Some(q) = s.find("\"@") {
        if let Some(open) = s.get(..q).and_then(|h| h.rfind('"')) {
            unquoted =
                format!("{}{}", s.get(..open).unwrap_or(""), s.get(open + 1..).unwrap_or("").replacen("\"@", "@", 1));
            s = unquoted.as_str();
        }
    }
    let (st, en) = *address_spans(s).first()?;
    let a = s.get(st..en)?;
    let at = a.rfind('@')?;
    let (l, d) = (a.get(..at)?, a.get(at + 1..)?);
    Some(format!("{}@{}", l, d.to_ascii_lowercase()))
}

/// First RFC 3463 status code ("5.1.1") in `s`.
pub fn find_status(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if (c == b'2' || c == b'4' || c == b'5')
            && b.get(i + 1) == Some(&b'.')
            && (i == 0 || !(b[i - 1].is_ascii_digit() || b[i - 1] == b'.'))
        {
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
        i += 1;
    }
    None
}

/// First SMTP reply code (2xx/4xx/5xx) in `s` that stands as a word: at a line start, or
/// after a space/colon/bracket, and followed by a space, '-', ',' or the end.
pub fn find_reply_code(s: &str) -> Option<u16> {
    let b = s.as_bytes();
    let mut best: Option<(usize, u16)> = None;
    for i in 0..b.len().saturating_sub(2) {
        let c = b[i];
        if !(c == b'2' || c == b'4' || c == b'5') || !b[i + 1].is_ascii_digit() || !b[i + 2].is_ascii_digit() {
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
            && !b.get(i + 5).is_some_and(|x| *x == b'.')
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
    let mut i = 0;
    while i + 5 < b.len() {
        let c = b[i];
        let starts =
            (c == b'4' || c == b'5' || c == b'2') && (i == 0 || !b[i - 1].is_ascii_alphanumeric() && b[i - 1] != b'.');
        if starts && b[i + 1].is_ascii_digit() && b[i + 2].is_ascii_digit() && matches!(b[i + 3], b' ' | b'-') {
            let mut j = i + 4;
            if matches!(b.get(j), Some(b'\'' | b'"' | b'#')) {
                j += 1;
            }
            if b.get(j) == Some(&c) {
                if let (Some(code), Some(st)) =
                    (s.get(i..i + 3).and_then(|x| x.parse::<u16>().ok()), s.get(j..).and_then(find_status))
                {
                    if s.get(j..).is_some_and(|rest| rest.starts_with(st.as_str())) {
                        best = Some((code, st));
                    }
                }
            }
        }
        i += 1;
    }
    best
}

/// Join lines into one line: trims every line and drops empty ones.
pub fn one_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for l in s.lines() {
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
        if let Some(p) = find_ci(hay, n) {
            if best.is_none_or(|(b, _)| p < b) {
                best = Some((p, p + n.len()));
            }
        }
    }
    best
}

/// ASCII case-insensitive substring search.
pub fn find_ci(hay: &str, needle: &str) -> Option<usize> {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    if n.is_empty() || h.len() < n.len() {
        return None;
    }
    let first = n[0].to_ascii_lowercase();
    let upper = n[0].to_ascii_uppercase();
    let mut i = 0;
    while i + n.len() <= h.len() {
        let c = h[i];
        if (c == first || c == upper) && h[i..i + n.len()].eq_ignore_ascii_case(n) {
            return Some(i);
        }
        i += 1;
    }
    None
}

pub fn contains_ci(hay: &str, needle: &str) -> bool {
    find_ci(hay, needle).is_some()
}

/// One recipient found in the human-readable text, with the text that explains it.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub address: String,
    pub diagnostic: String,
}

/// Words that may precede an address on a line that names a failed recipient.
const LEADS: &[&str] = &[
    "",
    "*",
    "-",
    "--",
    ">>>",
    "rcpt to:",
    "rcpt to",
    "recipient:",
    "to:",
    "to",
    "delivery failed:",
    "could not be delivered to:",
    "undeliverable to",
    "userid:",
    "address:",
    "recipient address:",
    "failed recipient:",
    "original-recipient:",
    "final-recipient:",
    "addressee:",
    "mailbox:",
    "unable to deliver message to",
    "unable to deliver message to:",
    "error delivering your mail to",
    "rejected recipient",
    "for",
    "user",
    "destinataire:",
    "empfänger:",
    "to the following address:",
];

/// Sentence ends after which the failed address follows on the same line.
const LEAD_ENDS: &[&str] = &[
    "error delivering your mail to",
    "could not be delivered to:",
    "could not be delivered to",
    "unable to deliver message to",
    "undeliverable to",
    "attempts:",
    "rejected recipient",
    "delivery to the following recipient failed permanently:",
    "your message to",
    "message to",
];

fn lead_ok(prefix: &str) -> bool {
    let p = prefix.trim().trim_end_matches(['<', '"', '(', '\'']).trim();
    let lower = p.to_ascii_lowercase();
    if LEAD_ENDS.iter().any(|e| lower.ends_with(e)) && lower.len() < 120 {
        return true;
    }
    if p.len() > 40 {
        return false;
    }
    if LEADS.iter().any(|l| lower == *l || (!l.is_empty() && l.ends_with(':') && lower.ends_with(l))) {
        return true;
    }
    // Sendmail transcript: "550 <addr>... User unknown", or "Delivery failed 20 attempts:".
    let b = lower.as_bytes();
    if b.len() == 3 && b.iter().all(u8::is_ascii_digit) {
        return true;
    }
    false
}

/// Scan `region` for recipient lines and their explanations. `skip` lists addresses that
/// are never recipients (the bounce's own sender, postmaster...).
pub fn scan_recipients(region: &str, skip: &[String]) -> Vec<Found> {
    let mut found: Vec<Found> = Vec::new();
    let mut current: Option<usize> = None;
    let mut preamble = String::new();
    for line in region.lines() {
        let mut started = None;
        if let Some(&(st, en)) = address_spans(line).first() {
            let prefix = line.get(..st).unwrap_or("");
            if lead_ok(prefix) && !looks_like_header(prefix) {
                if let Some(addr) = line.get(st..en).and_then(normalize_address) {
                    if !skip.iter().any(|s| s.eq_ignore_ascii_case(&addr)) && !is_daemon(&addr) {
                        started =
                            Some((addr, prefix.trim().trim_end_matches(['<', '"']), line.get(en..).unwrap_or("")));
                    }
                }
            }
        }
        match started {
            Some((addr, lead, rest)) => {
                let rest = rest.trim_start_matches(['>', '"', ')', ':', '.', ',']).trim();
                let idx = match found.iter().position(|f| f.address.eq_ignore_ascii_case(&addr)) {
                    Some(i) => i,
                    None => {
                        found.push(Found { address: addr, diagnostic: String::new() });
                        found.len() - 1
                    }
                };
                current = Some(idx);
                // Keep a lead that carries meaning: ">>> RCPT TO:" or a reply code.
                if contains_ci(lead, "rcpt")
                    || lead.contains(' ')
                    || lead.bytes().next().is_some_and(|b| b.is_ascii_digit())
                {
                    push_line(&mut found[idx].diagnostic, lead);
                }
                if !rest.is_empty() {
                    push_line(&mut found[idx].diagnostic, rest);
                }
            }
            None => match current {
                Some(i) => push_line(&mut found[i].diagnostic, line.trim()),
                None => push_line(&mut preamble, line.trim()),
            },
        }
    }
    // When the explanation comes before the addresses (Lotus Notes, MailMarshal), use it.
    for f in &mut found {
        if f.diagnostic.is_empty() {
            f.diagnostic = preamble.clone();
        } else if !preamble.is_empty()
            && find_status(&f.diagnostic).is_none()
            && find_reply_code(&f.diagnostic).is_none()
        {
            f.diagnostic = format!("{preamble} {}", f.diagnostic);
        }
    }
    found
}

fn push_line(buf: &mut String, line: &str) {
    if line.is_empty() {
        return;
    }
    if !buf.is_empty() {
        buf.push(' ');
    }
    buf.push_str(line);
}

fn looks_like_header(prefix: &str) -> bool {
    let p = prefix.trim();
    ["from:", "reply-to:", "sender:", "return-path:", "cc:", "subject:"].iter().any(|h| p.eq_ignore_ascii_case(h))
}

/// Mailer-daemon style addresses are never the failed recipient.
pub fn is_daemon(addr: &str) -> bool {
    let local = addr.split('@').next().unwrap_or("").to_ascii_lowercase();
    matches!(local.as_str(), "mailer-daemon" | "postmaster" | "mail.delivery.system" | "mailerdaemon")
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

/// The SMTP command named first in `s`.
pub fn smtp_command(s: &str) -> Option<&'static str> {
    let mut best: Option<(usize, &'static str)> = None;
    for (w, c) in COMMANDS {
        if let Some(p) = find_ci(s, w) {
            if best.is_none_or(|(b, _)| p < b) {
                best = Some((p, c));
            }
        }
    }
    best.map(|(_, c)| c)
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
    fn recipients() {
        let f = scan_recipients(
            "  bob@example.com\n    SMTP error after RCPT TO:<bob@example.com>:\n    550 5.1.1 unknown\n",
            &[],
        );
        assert_eq!(f.len(), 1);
        assert!(f[0].diagnostic.contains("550 5.1.1 unknown"));
    }
}
