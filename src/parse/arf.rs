//! Complaints: ARF feedback reports (RFC 5965, auth-failure per RFC 6591, redaction per
//! RFC 6650) and non-ARF complaint forwards (Microsoft JMRP style, Amazon SES complaint
//! notifications).
//! Takes the `Mail`; gives the `Feedback` and one complaint record. Never invents a real
//! recipient: when the report hides it, it comes from the returned original message, and
//! when that names nobody either, the record carries the `.invalid` placeholder
//! [`UNDISCLOSED_RECIPIENT`].

use crate::parse::fields::{self, get};
use crate::parse::mail::Mail;
use crate::parse::rfc3464::strip_type;
use crate::parse::text::{contains_ci, normalize_address};
use crate::parse::types::{Feedback, Kind, Reason, Record};

/// Parse a message/feedback-report body (and its surroundings).
pub fn parse_report(mail: &Mail, body: &str) -> (Feedback, Vec<Record>) {
    let all: Vec<(String, String)> = fields::blocks(body).into_iter().flatten().collect();
    let g = |n: &str| get(&all, n).map(str::to_string);
    let mut fb = Feedback {
        feedback_type: g("Feedback-Type").unwrap_or_else(|| "abuse".into()).to_ascii_lowercase(),
        user_agent: g("User-Agent"),
        version: g("Version"),
        source_ip: g("Source-IP"),
        arrival_date: g("Arrival-Date").or_else(|| g("Received-Date")),
        reported_domain: g("Reported-Domain"),
        reporting_mta: g("Reporting-MTA").map(|v| strip_type(&v).to_string()),
        original_mail_from: g("Original-Mail-From"),
        original_rcpt_to: g("Original-Rcpt-To").or_else(|| g("Removal-Recipient")),
        authentication_results: g("Authentication-Results"),
        auth_failure: g("Auth-Failure"),
        redacted: false,
    };
    let recipients: Vec<String> = all
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("Original-Rcpt-To") || k.eq_ignore_ascii_case("Removal-Recipient"))
        .filter_map(|(_, v)| normalize_address(v))
        .collect();
    let recipients = if recipients.is_empty() { fallback_recipient(mail).into_iter().collect() } else { recipients };
    fb.redacted = fb.original_rcpt_to.as_deref().is_none_or(is_redacted) || recipients.iter().any(|r| is_redacted(r));
    let records = recipients_or_none(recipients)
        .into_iter()
        .map(|rcpt| complaint(rcpt, &fb.feedback_type, "arf", fb.reporting_mta.clone()))
        .collect();
    (fb, records)
}

/// Microsoft JMRP / other forwards without a feedback-report part.
pub fn detect_forward(mail: &Mail) -> bool {
    mail.has_header("X-HmXmrOriginalRecipient")
        || mail.from_lower.contains("staff@hotmail.com")
        || (mail.from_lower.contains("complaints@") && mail.original.is_some())
}

pub fn parse_forward(mail: &Mail) -> (Feedback, Vec<Record>) {
    let rcpt = mail
        .header("X-HmXmrOriginalRecipient")
        .or_else(|| mail.original.as_ref().and_then(|o| o.header("X-HmXmrOriginalRecipient").map(str::to_string)))
        .and_then(|v| normalize_address(&v))
        .or_else(|| fallback_recipient(mail));
    let fb = Feedback {
        feedback_type: "abuse".into(),
        redacted: rcpt.as_deref().is_none_or(is_redacted),
        ..Feedback::default()
    };
    let recs = recipients_or_none(rcpt.into_iter().collect())
        .into_iter()
        .map(|r| complaint(r, "abuse", "arf", None))
        .collect();
    (fb, recs)
}

/// The complained-about address when neither the report nor the returned message names
/// one (an undisclosed-recipients To). Sisimai's placeholder, so records stay comparable
/// with Sisimai output; under `.invalid` (RFC 2606) it can never be a real mailbox, so a
/// suppression made from it never blocks anyone.
pub const UNDISCLOSED_RECIPIENT: &str = "undisclosed-recipient-in-headers@libsisimai.org.invalid";

fn recipients_or_none(v: Vec<String>) -> Vec<Option<String>> {
    if v.is_empty() { vec![Some(UNDISCLOSED_RECIPIENT.to_string())] } else { v.into_iter().map(Some).collect() }
}

pub fn complaint(rcpt: Option<String>, ftype: &str, dialect: &'static str, mta: Option<String>) -> Record {
    let mut r = Record::new(dialect);
    r.kind = Kind::Complaint;
    r.recipient = rcpt;
    r.reason = Reason::Feedback;
    r.feedback_type = Some(ftype.to_string());
    r.reporting_mta = mta;
    r
}

/// The complained-about address from the returned message: its To (first address).
fn fallback_recipient(mail: &Mail) -> Option<String> {
    let o = mail.original.as_ref()?;
    [o.header("Original-Rcpt-To"), o.to.as_deref(), o.header("X-Original-To"), o.header("Delivered-To")]
        .into_iter()
        .flatten()
        .find_map(normalize_address)
}

fn is_redacted(v: &str) -> bool {
    contains_ci(v, "redacted")
        || v.split('@').next().is_some_and(|l| !l.is_empty() && l.bytes().all(|b| b == b'x' || b == b'X' || b == b'*'))
}
