//! RFC 3464 delivery status notifications: the message/delivery-status body (or the same
//! fields found in plain text) turned into one record per recipient block.
//! Takes the raw field text; gives per-message fields and records with status, reply code,
//! diagnostic (folded lines joined), action, MTAs and vendor X- fields. Never guesses a
//! reason: that is left to `reason`.

use crate::parse::fields::{self, get};
use crate::parse::text::{code_pair, find_reply_code, find_status, normalize_address};
use crate::parse::types::{Kind, Record};

/// Per-message fields of a DSN.
#[derive(Debug, Default, Clone)]
pub struct PerMessage {
    pub reporting_mta: Option<String>,
    pub arrival_date: Option<String>,
}

/// Strip an RFC 3464 "type;" prefix ("dns; mx.example", "smtp; 550 ...").
pub fn strip_type(v: &str) -> &str {
    match v.find(';') {
        Some(p) if p < 16 && v.get(..p).is_some_and(|t| t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')) => {
            v.get(p + 1..).unwrap_or("").trim()
        }
        _ => v.trim(),
    }
}

/// Parse DSN field text into per-message fields and recipient records.
pub fn parse(text: &str, dialect: &'static str) -> (PerMessage, Vec<Record>) {
    let mut pm = PerMessage::default();
    let mut out = Vec::new();
    for block in fields::blocks(text).into_iter().flat_map(recipient_groups) {
        let rcpt = get(&block, "Final-Recipient").or_else(|| get(&block, "Original-Recipient"));
        let Some(rcpt) = rcpt else {
            if pm.reporting_mta.is_none() {
                pm.reporting_mta = get(&block, "Reporting-MTA").map(|v| strip_type(v).to_string());
            }
            if pm.arrival_date.is_none() {
                pm.arrival_date = get(&block, "Arrival-Date").map(str::to_string);
            }
            continue;
        };
        let mut r = Record::new(dialect);
        // An empty "Final-Recipient: rfc822;<>" names nobody: Original-Recipient (RFC 3464
        // 2.3.1, the address as the sender gave it) or X-Actual-Recipient then does.
        r.recipient = normalize_address(strip_type(rcpt))
            .or_else(|| get(&block, "Original-Recipient").and_then(|v| normalize_address(strip_type(v))))
            .or_else(|| get(&block, "X-Actual-Recipient").and_then(|v| normalize_address(strip_type(v))));
        r.original_recipient = get(&block, "Original-Recipient").and_then(|v| normalize_address(strip_type(v)));
        r.action = get(&block, "Action").map(|a| a.split_whitespace().next().unwrap_or("").to_ascii_lowercase());
        r.diagnostic = get(&block, "Diagnostic-Code").map(|d| strip_type(d).to_string()).filter(|d| !d.is_empty());
        r.diagnostic_type = get(&block, "Diagnostic-Code")
            .and_then(|d| d.split_once(';'))
            .map(|(t, _)| t.trim().to_ascii_lowercase())
            .filter(|t| t.len() < 16 && !t.contains(' '));
        r.status = get(&block, "Status").and_then(find_status);
        let unix = r.diagnostic_type.as_deref().is_some_and(|t| t.starts_with("x-unix"));
        if unix {
            // A local program's exit status, not an SMTP reply.
        } else if let Some((code, st)) = r.diagnostic.as_deref().and_then(code_pair) {
            // The refusing server's own code outranks the relay's summary in Status.
            r.reply_code = Some(code);
            r.status = Some(st);
        } else if let Some(d) = &r.diagnostic {
            r.reply_code = find_reply_code(d);
            let from_diag = find_status(d);
            // A bare "x.0.0" says less than the code the server itself wrote.
            let vague = r.status.as_deref().is_none_or(|s| s.ends_with(".0.0"));
            if vague && from_diag.as_ref().is_some_and(|s| r.status.as_ref().is_none_or(|t| t.get(..1) == s.get(..1))) {
                r.status = from_diag;
            }
        }
        r.remote_mta = get(&block, "Remote-MTA").map(|v| strip_type(v).to_string());
        r.reporting_mta =
            get(&block, "Reporting-MTA").map(|v| strip_type(v).to_string()).or_else(|| pm.reporting_mta.clone());
        r.last_attempt = get(&block, "Last-Attempt-Date").map(str::to_string);
        r.extra = block
            .iter()
            .filter(|(k, _)| k.len() > 2 && k.get(..2).is_some_and(|p| p.eq_ignore_ascii_case("x-")))
            .cloned()
            .collect();
        // "Status: 5.2.2 (Over quota)": the reporting MTA's own words about its status.
        if let Some(c) = get(&block, "Status").and_then(status_comment) {
            r.extra.push((STATUS_COMMENT.to_string(), c.to_string()));
        }
        r.kind = match r.action.as_deref() {
            Some("delayed") => Kind::Delay,
            Some("delivered" | "relayed" | "expanded") => Kind::Delivered,
            _ => Kind::Bounce,
        };
        out.push(r);
    }
    (pm, out)
}

/// A block holding the fields of several recipients with no blank line between them (RFC
/// 3464 wants one; some gateways leave it out), cut into one block per recipient: a second
/// Final-Recipient, or a second Original-Recipient, opens the next. Either order of the two
/// within a group is kept together.
fn recipient_groups(block: fields::Block) -> Vec<fields::Block> {
    let is = |k: &str, n: &str| k.eq_ignore_ascii_case(n);
    let finals = block.iter().filter(|(k, _)| is(k, "Final-Recipient")).count();
    if finals < 2 {
        return vec![block];
    }
    let mut out = Vec::new();
    let mut cur = Vec::new();
    let (mut has_final, mut has_orig) = (false, false);
    for (k, v) in block {
        let (fin, orig) = (is(&k, "Final-Recipient"), is(&k, "Original-Recipient"));
        if (fin && has_final) || (orig && has_orig) {
            out.push(std::mem::take(&mut cur));
            (has_final, has_orig) = (false, false);
        }
        has_final |= fin;
        has_orig |= orig;
        cur.push((k, v));
    }
    out.push(cur);
    out
}

/// The `extra` key under which a Status field's comment is kept.
pub const STATUS_COMMENT: &str = "Status-Comment";

/// The comment after the code in a Status field ("5.2.1 (mailbox disabled, not accepting
/// messages)"), without its parentheses.
fn status_comment(v: &str) -> Option<&str> {
    let open = v.find('(')?;
    let inner = v.get(open + 1..)?;
    let inner = inner.rfind(')').and_then(|p| inner.get(..p)).unwrap_or(inner).trim();
    (!inner.is_empty()).then_some(inner)
}

/// DSN fields written into the plain-text body (some gateways do that): the text from the
/// first "Reporting-MTA:"/"Final-Recipient:" line on, when there is a recipient field.
pub fn inline_fields(text: &str) -> Option<&str> {
    let fr = crate::parse::text::find_ci(text, "\nfinal-recipient:")?;
    let start = crate::parse::text::find_ci(text, "\nreporting-mta:").filter(|&p| p < fr).unwrap_or(fr);
    text.get(start + 1..)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_recipients() {
        let t = "Reporting-MTA: dns; mx.example.org\n\nFinal-Recipient: rfc822; a@example.com\nAction: failed\nStatus: 5.1.1\nDiagnostic-Code: smtp; 550 5.1.1 <a@example.com>:\n    User unknown\n\nFinal-Recipient: rfc822; b@example.com\nAction: delayed\nStatus: 4.4.1\n";
        let (pm, r) = parse(t, "rfc3464");
        assert_eq!(pm.reporting_mta.as_deref(), Some("mx.example.org"));
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].reply_code, Some(550));
        assert_eq!(r[0].diagnostic.as_deref(), Some("550 5.1.1 <a@example.com>: User unknown"));
        assert_eq!(r[1].kind, Kind::Delay);
    }

    #[test]
    fn recipients_without_blank_lines() {
        let t = "Final-Recipient: rfc822; a@example.com\nOriginal-Recipient: rfc822; a@example.com\nAction: failed\nStatus: 5.1.1\nFinal-Recipient: rfc822; b@example.com\nOriginal-Recipient: rfc822; b@example.com\nAction: failed\nStatus: 5.2.2\n";
        let (_, r) = parse(t, "rfc3464");
        let got: Vec<_> = r.iter().map(|r| (r.recipient.as_deref(), r.status.as_deref())).collect();
        assert_eq!(got, [(Some("a@example.com"), Some("5.1.1")), (Some("b@example.com"), Some("5.2.2"))]);
        // The other order of the pair (Original- first) is cut the same way.
        let t = "Original-Recipient: rfc822; a@example.com\nFinal-Recipient: rfc822; a@example.com\nStatus: 5.1.1\nOriginal-Recipient: rfc822; b@example.com\nFinal-Recipient: rfc822; b@example.com\nStatus: 4.2.2\n";
        let (_, r) = parse(t, "rfc3464");
        assert_eq!(r.len(), 2);
        assert_eq!(r[1].recipient.as_deref(), Some("b@example.com"));
        assert_eq!(r[1].status.as_deref(), Some("4.2.2"));
    }

    #[test]
    fn empty_final_recipient_falls_back() {
        let t =
            "Final-Recipient: rfc822;<>\nOriginal-Recipient: rfc822;kim@example.net\nAction: failed\nStatus: 5.1.1\n";
        let (_, r) = parse(t, "rfc3464");
        assert_eq!(r[0].recipient.as_deref(), Some("kim@example.net"));
    }
}
