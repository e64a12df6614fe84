//! Attribution: which campaign (and, when the bounce hides it, which recipient) a report
//! answers, by the configured chain: VERP address → tracking headers → sent-message map.
//!
//! Takes a parsed [`Report`]; gives an [`Attribution`] naming the step that matched. The
//! sent-map step needs the database, so it is a separate call the pipeline makes inside its
//! transaction. It never trusts an unsigned VERP address when a signing key is configured,
//! nor a signed one for any recipient but the one it was signed for, and with
//! `require_signed_verp` it refuses every bounce that is not signed: forged bounces must not
//! suppress real subscribers.

use crate::config::{AttributionConfig, Secret};
use crate::parse::{Kind, Report};
use crate::suppress::normalize;
use hmac::{Hmac, KeyInit, Mac};
use regex::Regex;
use sha2::Sha256;

/// Which step of the chain attributed the event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Verp,
    Header,
    MessageId,
    /// A logged attempt's envelope id (`[[mta_log]] campaign_from = "envelope_id"`).
    EnvelopeId,
    /// A logged attempt's job id (`campaign_from = "job_id"`).
    JobId,
    None,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Verp => "verp",
            Method::Header => "header",
            Method::MessageId => "message_id",
            Method::EnvelopeId => "envelope_id",
            Method::JobId => "job_id",
            Method::None => "none",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribution {
    pub campaign: Option<String>,
    /// The recipient the VERP address or a recipient header names.
    pub recipient: Option<String>,
    pub method: Method,
    /// Set when a VERP address was found but its signature is missing or wrong.
    pub refused: Option<String>,
}

/// The attribution chain, compiled from `[attribution]`.
#[derive(Debug)]
pub struct Attributor {
    verp: Option<Regex>,
    key: Option<Secret>,
    sig_len: usize,
    /// Bounces not sent to a correctly signed VERP address are refused (go to review).
    require_signed: bool,
    campaign_headers: Vec<String>,
    recipient_headers: Vec<String>,
    pub use_sent_map: bool,
}

impl Attributor {
    /// `cfg` must be validated (its regex compiles, its secret resolves).
    pub fn new(cfg: &AttributionConfig, key: Option<Secret>) -> Result<Attributor, regex::Error> {
        let verp = if cfg.verp_pattern.is_empty() { None } else { Some(Regex::new(&cfg.verp_pattern)?) };
        Ok(Attributor {
            verp,
            // Unset means on whenever a key is set (validation refuses it on without a key).
            require_signed: key.is_some() && cfg.require_signed_verp.unwrap_or(true),
            key,
            sig_len: cfg.verp_signature_length,
            campaign_headers: cfg.campaign_headers.clone(),
            recipient_headers: cfg.recipient_headers.clone(),
            use_sent_map: cfg.use_sent_map,
        })
    }

    /// Steps 1 and 2 (VERP, headers). A `Method::None` result may still be attributed by
    /// the sent map.
    pub fn attribute(&self, report: &Report) -> Attribution {
        let mut none = Attribution { campaign: None, recipient: None, method: Method::None, refused: None };
        if let Some(re) = &self.verp {
            let return_path = report.original.as_ref().and_then(|o| o.return_path.as_deref());
            for addr in report.to.iter().map(String::as_str).chain(return_path) {
                let addr = addr.trim().trim_start_matches('<').trim_end_matches('>');
                let Some(caps) = re.captures(addr) else { continue };
                let campaign = caps.name("campaign").map(|m| m.as_str().to_string());
                let recipient = caps.name("recipient").map(|m| decode_verp_recipient(m.as_str()));
                if let Some(key) = &self.key {
                    let signed =
                        format!("{}:{}", campaign.as_deref().unwrap_or(""), recipient.as_deref().unwrap_or(""));
                    let ok = caps.name("sig").is_some_and(|s| self.signature_ok(key, &signed, s.as_str()));
                    if !ok {
                        none.refused = Some(format!("VERP address {addr} has a missing or invalid signature"));
                        return none;
                    }
                    // The signature vouches for one recipient only: a report naming anyone else
                    // (a forger bouncing their own signed address "for" a victim) proves nothing.
                    let Some(signed_rcpt) = recipient.as_deref() else {
                        none.refused = Some(format!("signed VERP address {addr} names no recipient"));
                        return none;
                    };
                    if let Some(other) = report
                        .records
                        .iter()
                        .filter(|r| matches!(r.kind, Kind::Bounce | Kind::Complaint))
                        .filter_map(|r| r.recipient.as_deref().map(normalize))
                        .find(|r| r != signed_rcpt)
                    {
                        none.refused = Some(format!(
                            "the report names {other}, but the signed VERP address {addr} was sent to {signed_rcpt}"
                        ));
                        return none;
                    }
                }
                return Attribution { campaign, recipient, method: Method::Verp, refused: None };
            }
        }
        if self.require_signed && report.records.iter().any(|r| r.kind == Kind::Bounce) {
            none.refused = Some(
                "a bounce not sent to a signed VERP address (attribution.require_signed_verp is on): \
                 it cannot prove which subscriber bounced"
                    .into(),
            );
            return none;
        }
        if let Some(orig) = &report.original {
            let recipient = self.recipient_headers.iter().find_map(|h| orig.header(h)).map(clean_value);
            if let Some(campaign) = self.campaign_headers.iter().find_map(|h| orig.header(h)).map(clean_value) {
                return Attribution { campaign: Some(campaign), recipient, method: Method::Header, refused: None };
            }
            none.recipient = recipient;
        }
        none
    }

    fn signature_ok(&self, key: &Secret, signed: &str, sig: &str) -> bool {
        let want = sign(key, signed);
        let want = want.get(..self.sig_len).unwrap_or(&want);
        // Constant-time comparison: the signature is a secret-derived value.
        want.len() == sig.len()
            && want.bytes().zip(sig.to_ascii_lowercase().bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
    }
}

/// The full hex HMAC-SHA256 of `campaign:recipient` (senders stamp its first N characters).
pub fn sign(key: &Secret, signed: &str) -> String {
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(key.expose().as_bytes()).expect("HMAC takes any key length");
    mac.update(signed.as_bytes());
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

/// `user=example.com` → `user@example.com` (the usual VERP encoding).
fn decode_verp_recipient(s: &str) -> String {
    match s.rsplit_once('=') {
        Some((user, domain)) if !s.contains('@') => normalize(&format!("{user}@{domain}")),
        _ => normalize(s),
    }
}

fn clean_value(v: &str) -> String {
    v.trim().trim_start_matches('<').trim_end_matches('>').trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::{OriginalMessage, Report};

    fn report(to: &[&str], headers: &[(&str, &str)]) -> Report {
        let mut r = Report::unknown("test");
        r.to = to.iter().map(|s| s.to_string()).collect();
        r.original = Some(OriginalMessage {
            headers: headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            ..Default::default()
        });
        r
    }

    fn attributor(pattern: &str, key: Option<&str>) -> Attributor {
        let cfg = AttributionConfig { verp_pattern: pattern.into(), verp_signature_length: 8, ..Default::default() };
        Attributor::new(&cfg, key.map(Secret::new)).unwrap()
    }

    #[test]
    fn verp_then_headers_then_nothing() {
        let a = attributor(&AttributionConfig::default().verp_pattern, None);
        let v = a.attribute(&report(&["bounces+spring24-jane.doe=Example.org@bounce.example.com"], &[]));
        assert_eq!(
            (v.method, v.campaign.as_deref(), v.recipient.as_deref()),
            (Method::Verp, Some("spring24"), Some("jane.doe@example.org"))
        );
        let h = a.attribute(&report(
            &["bounces@example.com"],
            &[("X-MessageID", " 42 "), ("X-ListMember", "<a@example.net>")],
        ));
        assert_eq!(
            (h.method, h.campaign.as_deref(), h.recipient.as_deref()),
            (Method::Header, Some("42"), Some("a@example.net"))
        );
        let n = a.attribute(&report(&["bounces@example.com"], &[]));
        assert_eq!(n.method, Method::None);
    }

    #[test]
    fn signed_verp_refuses_forgeries() {
        let pattern = r"^b\+(?P<campaign>\w+)\.(?P<recipient>[^@=]+=[^@.]+\.[a-z]+)\.(?P<sig>[0-9a-f]+)@";
        let a = attributor(pattern, Some("k3y"));
        let sig = &sign(&Secret::new("k3y"), "c1:jane@example.org")[..8];
        let good = a.attribute(&report(&[&format!("b+c1.jane=example.org.{sig}@bounce.example.com")], &[]));
        assert_eq!((good.method, good.refused.clone()), (Method::Verp, None), "{good:?}");
        let forged = a.attribute(&report(&["b+c1.jane=example.org.deadbeef@bounce.example.com"], &[]));
        assert_eq!(forged.method, Method::None);
        assert!(forged.refused.unwrap().contains("invalid signature"));
    }
}
