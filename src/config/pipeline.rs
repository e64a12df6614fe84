//! Config sections of the ingest pipeline: parsing limits, attribution, suppression policy
//! and retention. Defaults here are the ones `config.example.toml` documents.

use super::{Problem, SecretRef};
use serde::{Deserialize, Serialize};

/// `[parse]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ParseConfig {
    /// Messages larger than this are not parsed; they go to the review queue.
    pub max_message_bytes: usize,
}

impl Default for ParseConfig {
    fn default() -> Self {
        Self { max_message_bytes: 10 * 1024 * 1024 }
    }
}

impl ParseConfig {
    pub fn validate(&self, out: &mut Vec<Problem>) {
        if self.max_message_bytes < 1024 {
            out.push(Problem::new("parse.max_message_bytes", "must be at least 1024"));
        }
    }
}

/// `[attribution]`: how a bounce is tied to the campaign (and recipient) it answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AttributionConfig {
    /// Regex over the addresses the bounce was sent to, with named groups `campaign`,
    /// `recipient` (`user=domain` is decoded to `user@domain`) and, when signed, `sig`.
    /// Empty disables VERP attribution.
    pub verp_pattern: String,
    /// HMAC-SHA256 key for VERP signatures, from this environment variable...
    pub verp_secret_env: Option<String>,
    /// ...or from this file. With a key set, a VERP address without a valid `sig` is refused.
    pub verp_secret_file: Option<String>,
    /// Hex characters of the signature stamped in the address.
    pub verp_signature_length: usize,
    /// Send every bounce that did not come back to a correctly signed VERP address (a plain
    /// bounce address, an unsigned or badly signed VERP address) to review instead of letting
    /// it suppress. Defaults to true when a VERP secret is set; needs one.
    pub require_signed_verp: Option<bool>,
    /// Headers of the returned original message naming the campaign, tried in order.
    pub campaign_headers: Vec<String>,
    /// Headers of the returned original message naming the recipient (phpList X-ListMember).
    pub recipient_headers: Vec<String>,
    /// Look the original Message-ID up in the sent-message map (`rebound sent import`).
    pub use_sent_map: bool,
    /// A bounce (or delay, delivery, complaint) seen both in an MTA's log and in a mailbox —
    /// same kind, campaign, recipient and status — within this many hours of each other is one
    /// event: the first to arrive; the other is kept as its evidence and counts nothing. 0
    /// turns the matching off.
    pub same_event_window_hours: u32,
}

impl Default for AttributionConfig {
    fn default() -> Self {
        Self {
            verp_pattern: r"^bounces?\+(?P<campaign>[A-Za-z0-9_.]+)-(?P<recipient>[^@=]+=[^@]+)@".into(),
            verp_secret_env: None,
            verp_secret_file: None,
            verp_signature_length: 16,
            require_signed_verp: None,
            campaign_headers: vec!["X-Campaign-ID".into(), "X-MessageID".into()],
            recipient_headers: vec!["X-ListMember".into()],
            use_sent_map: true,
            same_event_window_hours: 72,
        }
    }
}

impl AttributionConfig {
    pub fn secret(&self) -> SecretRef {
        SecretRef { password_env: self.verp_secret_env.clone(), password_file: self.verp_secret_file.clone() }
    }

    pub fn validate(&self, out: &mut Vec<Problem>) {
        if !self.verp_pattern.is_empty() {
            match regex::Regex::new(&self.verp_pattern) {
                Err(e) => out.push(Problem::new("attribution.verp_pattern", format!("invalid regex: {e}"))),
                Ok(re) => {
                    let names: Vec<_> = re.capture_names().flatten().collect();
                    if !names.contains(&"campaign") && !names.contains(&"recipient") {
                        out.push(Problem::new(
                            "attribution.verp_pattern",
                            "needs a named group (?P<campaign>…) and/or (?P<recipient>…)",
                        ));
                    }
                    if self.secret().is_set() && !names.contains(&"sig") {
                        out.push(Problem::new(
                            "attribution.verp_pattern",
                            "a VERP secret is set but the pattern has no (?P<sig>…) group for the signature",
                        ));
                    }
                    if self.secret().is_set() && !names.contains(&"recipient") {
                        out.push(Problem::new(
                            "attribution.verp_pattern",
                            "a VERP secret is set but the pattern has no (?P<recipient>…) group: with signing, the \
                             signed recipient is the only address a bounce may suppress",
                        ));
                    }
                }
            }
        }
        if let Err(e) = self.secret().resolve("attribution") {
            out.push(Problem::new("attribution.verp_secret_env", e.replace("password", "secret")));
        }
        if self.require_signed_verp == Some(true) && !self.secret().is_set() {
            out.push(Problem::new(
                "attribution.require_signed_verp",
                "needs a signing key: set attribution.verp_secret_env or verp_secret_file, or remove this key",
            ));
        }
        if self.same_event_window_hours > 24 * 366 {
            out.push(Problem::new(
                "attribution.same_event_window_hours",
                "at most 8784 (a year): a DSN arrives within days of the attempt the log recorded",
            ));
        }
        if !(4..=64).contains(&self.verp_signature_length) {
            out.push(Problem::new("attribution.verp_signature_length", "must be between 4 and 64"));
        }
    }
}

/// Whether a suppression applies everywhere or to the sending domain it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SuppressionScope {
    #[default]
    Global,
    SendingDomain,
}

/// `[suppression]`: when a bounce or complaint stops mail to an address.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SuppressionConfig {
    /// Scope of bounce suppressions; complaints are always global.
    pub scope: SuppressionScope,
    /// Soft bounces within `soft_window_days` that suppress an address.
    pub soft_threshold: u32,
    pub soft_window_days: u32,
    /// Reasons that never count toward the soft threshold: not the address's fault.
    pub soft_uncounted_reasons: Vec<String>,
    /// Addresses or domains never suppressed (in addition to `rebound suppression allow`).
    pub allowlist: Vec<String>,
    /// Days after which an automatic suppression expires; 0 keeps it forever.
    pub expire_after_days: u32,
}

impl Default for SuppressionConfig {
    fn default() -> Self {
        Self {
            scope: SuppressionScope::Global,
            soft_threshold: 5,
            soft_window_days: 7,
            soft_uncounted_reasons: [
                "blocked",
                "badreputation",
                "requireptr",
                "rejected",
                "authfailure",
                "securityerror",
                "failedstarttls",
                "norelaying",
                "toomanyconn",
                "speeding",
                "syntaxerror",
                "policyviolation",
                "spamdetected",
                "virusdetected",
                "contenterror",
                "mesgtoobig",
                "notcompliantrfc",
            ]
            .map(String::from)
            .to_vec(),
            allowlist: Vec::new(),
            expire_after_days: 0,
        }
    }
}

impl SuppressionConfig {
    pub fn validate(&self, out: &mut Vec<Problem>) {
        if self.soft_threshold == 0 {
            out.push(Problem::new("suppression.soft_threshold", "must be at least 1"));
        }
        if self.soft_window_days == 0 {
            out.push(Problem::new("suppression.soft_window_days", "must be at least 1"));
        }
        for r in &self.soft_uncounted_reasons {
            if !crate::classify::known_reason(r) {
                out.push(Problem::new("suppression.soft_uncounted_reasons", format!("unknown reason `{r}`")));
            }
        }
        for a in &self.allowlist {
            if a.trim().is_empty() || a.contains(char::is_whitespace) {
                out.push(Problem::new("suppression.allowlist", format!("`{a}` is not an address or domain")));
            }
        }
    }
}

/// `[retention]`: how long personal data in raw messages is kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RetentionConfig {
    /// Days the raw bytes of processed messages are kept (review items keep theirs).
    pub raw_message_days: u32,
    /// When the purge job runs (cron, UTC).
    pub purge_schedule: String,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self { raw_message_days: 30, purge_schedule: "17 3 * * *".into() }
    }
}

impl RetentionConfig {
    pub fn validate(&self, out: &mut Vec<Problem>) {
        if let Err(e) = crate::scheduler::normalize_cron(&self.purge_schedule) {
            out.push(Problem::new("retention.purge_schedule", e));
        }
    }
}
