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
    "->",
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
    // "Unknown user: kim@example.org" (IMail, MDaemon, old Sendmail lookalikes).
    "user:",
    "unknown user:",
    "user unknown:",
    "no such user:",
    "invalid recipient:",
    "unknown recipient:",
    "unknown address:",
    "mailbox unavailable:",
    // Exchange's typed addresses: "Kim Lee [SMTP:kim@example.org]".
    "smtp:",
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
    // Exim/ Sendmail autoreply-style refusals: "You sent mail to addr. That's not ...".
    "sent mail to",
    // Gmail: "There was a temporary problem delivering your message to addr."
    "delivering your message to",
    // Gmail: "Your message wasn't delivered to addr because ..."
    "wasn't delivered to",
];

fn lead_ok(prefix: &str) -> bool {
    let p = prefix.trim().trim_end_matches(['<', '"', '(', '\'', '[']).trim();
    // Runs of spaces or tabs inside the lead ("RCPT  TO:", "Unknown\tuser:") are one space.
    let squeezed;
    let p = if p.contains("  ") || p.contains('\t') {
        squeezed = p.split_whitespace().collect::<Vec<_>>().join(" ");
        squeezed.as_str()
    } else {
        p
    };
    if p.len() < 120 && LEAD_ENDS.iter().any(|e| ends_with_ci(p, e)) {
        return true;
    }
    // An X.400 O/R address carrying the SMTP one: "c=US;a= ;p=Org;o=Mail;dda:SMTP=addr".
    if p.len() < 200 && ends_with_ci(p, "dda:smtp=") {
        return true;
    }
    if p.len() > 40 {
        return false;
    }
    if LEADS.iter().any(|l| p.eq_ignore_ascii_case(l) || (!l.is_empty() && l.ends_with(':') && ends_with_ci(p, l))) {
        return true;
    }
    // Sendmail transcript: "550 <addr>... User unknown", or "Delivery failed 20 attempts:".
    let b = p.as_bytes();
    b.len() == 3 && b.iter().all(u8::is_ascii_digit)
}

/// Does `s` end with `suffix` (ASCII case-insensitive)?
fn ends_with_ci(s: &str, suffix: &str) -> bool {
    s.len() >= suffix.len()
        && s.as_bytes().get(s.len() - suffix.len()..).is_some_and(|t| t.eq_ignore_ascii_case(suffix.as_bytes()))
}

/// Scan `region` for recipient lines and their explanations. `skip` lists addresses that
/// are never recipients (the bounce's own sender, postmaster...).
pub fn scan_recipients(region: &str, skip: &[String]) -> Vec<Found> {
    let mut found: Vec<Found> = Vec::new();
    let mut current: Option<usize> = None;
    // Addresses listed on the same line as `current` ("<a@x>, <b@x>"): the explanation
    // below is theirs too.
    let mut companions: Vec<usize> = Vec::new();
    let mut preamble = String::new();
    for line in crate::parse::text::lines(region) {
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
                let mut rest = rest.trim_start_matches(['>', '"', ')', ':', '.', ',']).trim();
                let Some(idx) = slot(&mut found, addr) else { continue };
                current = Some(idx);
                companions.clear();
                // "<ann@x>, <ben@x>" or "ann@x; ben@x": each address of the list fails alike.
                while let Some((st, en)) = list_next(rest) {
                    let Some(a) = rest.get(st..en).and_then(normalize_address) else { break };
                    if !skip.iter().any(|s| s.eq_ignore_ascii_case(&a))
                        && !is_daemon(&a)
                        && let Some(i) = slot(&mut found, a)
                        && i != idx
                        && !companions.contains(&i)
                    {
                        companions.push(i);
                    }
                    rest = rest.get(en..).unwrap_or("").trim_start_matches(['>', '"', ')', ':', '.', ',', ';']).trim();
                }
                // Keep a lead that carries meaning: ">>> RCPT TO:" or a reply code.
                if contains_ci(lead, "rcpt")
                    || lead.contains(' ')
                    || lead.bytes().next().is_some_and(|b| b.is_ascii_digit())
                {
                    push_line(&mut found[idx].diagnostic, lead);
                }
                if !rest.is_empty() {
                    push_line(&mut found[idx].diagnostic, rest);
                    for &c in &companions {
                        push_line(&mut found[c].diagnostic, rest);
                    }
                }
            }
            None if copied_header(line) => {
                current = None;
                companions.clear();
            }
            None => match current {
                Some(i) if found[i].diagnostic.len() < 2000 => {
                    push_line(&mut found[i].diagnostic, line.trim());
                    for &c in &companions {
                        push_line(&mut found[c].diagnostic, line.trim());
                    }
                }
                Some(_) => {}
                None => push_line(&mut preamble, line.trim()),
            },
        }
    }
    // When the explanation comes before the addresses (Lotus Notes, MailMarshal), use it.
    let coded = |t: &str| find_status(t).is_some() || find_reply_code(t).is_some();
    // Checked once, and only when some explanation lacks a code of its own.
    let mut preamble_coded: Option<bool> = None;
    for f in &mut found {
        if f.diagnostic.is_empty() {
            f.diagnostic = preamble.clone();
        } else if !coded(&f.diagnostic) && *preamble_coded.get_or_insert_with(|| coded(&preamble)) {
            f.diagnostic = format!("{preamble} {}", f.diagnostic);
        }
    }
    found
}

/// The index of `addr` in `found`, added when new (None past [`MAX_RECIPIENTS`]).
fn slot(found: &mut Vec<Found>, addr: String) -> Option<usize> {
    if let Some(i) = found.iter().position(|f| f.address.eq_ignore_ascii_case(&addr)) {
        return Some(i);
    }
    if found.len() >= MAX_RECIPIENTS {
        return None;
    }
    found.push(Found { address: addr, diagnostic: String::new() });
    Some(found.len() - 1)
}

/// The next address of a list at the start of `rest` ("<b@x>, ..." after the first one):
/// only one that opens it, so an address inside the explanation is not taken.
fn list_next(rest: &str) -> Option<(usize, usize)> {
    let (st, en) = first_address(rest)?;
    let before = rest.get(..st)?;
    before.bytes().all(|b| matches!(b, b'<' | b'"' | b' ')).then_some((st, en))
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
    let local = addr.split('@').next().unwrap_or("");
    ["mailer-daemon", "postmaster", "mail.delivery.system", "mailerdaemon"]
        .iter()
        .any(|d| local.eq_ignore_ascii_case(d))
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

    #[test]
    fn a_list_of_recipients_on_one_line() {
        let f = scan_recipients("<ann@example.org>, <ben@example.org>\n    (reason: 550 5.1.1 User unknown)\n", &[]);
        let got: Vec<_> = f.iter().map(|f| (f.address.as_str(), f.diagnostic.as_str())).collect();
        assert_eq!(
            got,
            [
                ("ann@example.org", "(reason: 550 5.1.1 User unknown)"),
                ("ben@example.org", "(reason: 550 5.1.1 User unknown)")
            ]
        );
        // An address inside the explanation is not a second recipient.
        let f = scan_recipients("<ann@example.org>: mail for ann@example.org loops back to myself\n", &[]);
        assert_eq!(f.len(), 1);
    }

    #[test]
    fn lead_forms() {
        for t in [
            "Unknown user: kim@example.org\n",
            "Kim Lee [SMTP:kim@example.org]\n  #550 5.1.1 not found\n",
            "RCPT   TO:  <kim@example.org>\n<<< 550 no\n",
        ] {
            let f = scan_recipients(t, &[]);
            assert_eq!(f.first().map(|f| f.address.as_str()), Some("kim@example.org"), "{t:?}");
        }
    }
}
