//! The generic "recipient line + explanation" scanner used on the human-readable part of
//! non-DSN bounces: a line naming a failed address (alone, "<addr>:", "addr: reason",
//! "RCPT TO:<addr>", "550 <addr>... reason") starts a block; the lines after it explain it.
//! Takes a region of text; gives addresses with their explanations. Never reads past the
//! region and stops an explanation at a copied header block.

use crate::parse::text::{contains_ci, find_reply_code, find_status, first_address, normalize_address};

/// More distinct addresses than this in one bounce text is noise, not recipients.
const MAX_RECIPIENTS: usize = 1000;

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
        if let Some((st, en)) = first_address(line) {
            let prefix = line.get(..st).unwrap_or("");
            if lead_ok(prefix)
                && !looks_like_header(prefix)
                && let Some(addr) = line.get(st..en).and_then(normalize_address)
                && !skip.iter().any(|s| s.eq_ignore_ascii_case(&addr))
                && !is_daemon(&addr)
            {
                started = Some((addr, prefix.trim().trim_end_matches(['<', '"']), line.get(en..).unwrap_or("")));
            }
        }
        match started {
            Some((addr, lead, rest)) => {
                let rest = rest.trim_start_matches(['>', '"', ')', ':', '.', ',']).trim();
                let idx = match found.iter().position(|f| f.address.eq_ignore_ascii_case(&addr)) {
                    Some(i) => i,
                    None if found.len() >= MAX_RECIPIENTS => continue,
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
            None if copied_header(line) => current = None,
            None => match current {
                Some(i) if found[i].diagnostic.len() < 2000 => push_line(&mut found[i].diagnostic, line.trim()),
                Some(_) => {}
                None => push_line(&mut preamble, line.trim()),
            },
        }
    }
    // When the explanation comes before the addresses (Lotus Notes, MailMarshal), use it.
    let coded = |t: &str| find_status(t).is_some() || find_reply_code(t).is_some();
    let preamble_coded = coded(&preamble);
    for f in &mut found {
        if f.diagnostic.is_empty() {
            f.diagnostic = preamble.clone();
        } else if preamble_coded && !coded(&f.diagnostic) {
            f.diagnostic = format!("{preamble} {}", f.diagnostic);
        }
    }
    found
}

/// A header line of a copied message: the explanation of the recipient ended before it.
fn copied_header(line: &str) -> bool {
    const NAMES: &[&str] =
        &["received:", "return-path:", "dkim-signature:", "content-type:", "mime-version:", "message-id:", "x-"];
    let Some((name, _)) = crate::parse::fields::split_field(line) else {
        return false;
    };
    let field = line.get(..name.len() + 1).unwrap_or("");
    name.len() > 2 && NAMES.iter().any(|n| field.get(..n.len()).is_some_and(|f| f.eq_ignore_ascii_case(n)))
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

#[cfg(test)]
mod tests {
    use super::*;

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
