//! Public data types of the parser: what `parse` gives back.
//! Takes nothing, does nothing: plain data with serde derives, `as_str`/`FromStr` helpers.

use serde::{Deserialize, Serialize};

/// Options for [`crate::parse::parse`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParseOptions {
    /// Larger input is not parsed: the report is `Kind::Unknown`.
    pub max_size: usize,
}

impl Default for ParseOptions {
    fn default() -> Self {
        ParseOptions { max_size: 10 * 1024 * 1024 }
    }
}

/// What a message (or one of its records) is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Bounce,
    Delay,
    Complaint,
    Autoreply,
    Delivered,
    Unknown,
}

impl Kind {
    pub fn as_str(&self) -> &'static str {
        match self {
            Kind::Bounce => "bounce",
            Kind::Delay => "delay",
            Kind::Complaint => "complaint",
            Kind::Autoreply => "autoreply",
            Kind::Delivered => "delivered",
            Kind::Unknown => "unknown",
        }
    }
}

macro_rules! reasons {
    ($($v:ident => $s:literal),* $(,)?) => {
        /// Why a message bounced, in the Sisimai taxonomy (see the corpus README).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "lowercase")]
        pub enum Reason { $($v),* }
        impl Reason {
            pub fn as_str(&self) -> &'static str { match self { $(Reason::$v => $s),* } }
        }
        impl std::str::FromStr for Reason {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s.trim().to_ascii_lowercase().as_str() {
                    $($s => Ok(Reason::$v),)*
                    other => Err(format!("unknown reason {other:?}")),
                }
            }
        }
    };
}

reasons! {
    UserUnknown => "userunknown", HostUnknown => "hostunknown", HasMoved => "hasmoved",
    NotAccept => "notaccept", Suspend => "suspend", MailboxFull => "mailboxfull",
    ExceedLimit => "exceedlimit", MesgTooBig => "mesgtoobig", Filtered => "filtered",
    NoRelaying => "norelaying", SyntaxError => "syntaxerror", Blocked => "blocked",
    BadReputation => "badreputation", RequirePtr => "requireptr", SpamDetected => "spamdetected",
    VirusDetected => "virusdetected", ContentError => "contenterror",
    PolicyViolation => "policyviolation", Rejected => "rejected", AuthFailure => "authfailure",
    SecurityError => "securityerror", FailedStartTls => "failedstarttls",
    NotCompliantRfc => "notcompliantrfc", TooManyConn => "toomanyconn", Speeding => "speeding",
    SystemError => "systemerror", SystemFull => "systemfull", MailerError => "mailererror",
    NetworkError => "networkerror", Expired => "expired", OnHold => "onhold",
    Undefined => "undefined", Feedback => "feedback", Vacation => "vacation",
    Delivered => "delivered",
}

/// One affected recipient.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Record {
    pub kind: Kind,
    pub recipient: Option<String>,
    pub original_recipient: Option<String>,
    pub status: Option<String>,
    pub reply_code: Option<u16>,
    pub diagnostic: Option<String>,
    /// Type of the DSN Diagnostic-Code ("smtp", "x-unix"...), lower-case.
    pub diagnostic_type: Option<String>,
    pub action: Option<String>,
    pub remote_mta: Option<String>,
    pub reporting_mta: Option<String>,
    pub last_attempt: Option<String>,
    /// The SMTP command the error answered ("RCPT", "DATA", "MAIL", "HELO", "CONN").
    pub command: Option<String>,
    pub reason: Reason,
    /// The failure is permanent (the MTA will not try again: a 5.x.x status, a 5xx reply,
    /// or words saying so) rather than temporary. Says nothing about what rebound does with
    /// it (that is the rules' `classification`); false for what is no failure (complaints,
    /// auto-replies, success DSNs). Set by `parse` from `reason::permanent`.
    pub permanent: bool,
    pub feedback_type: Option<String>,
    pub dialect: &'static str,
    pub extra: Vec<(String, String)>,
}

impl Record {
    /// An empty bounce record from `dialect`; fields are filled by the caller.
    pub fn new(dialect: &'static str) -> Record {
        Record {
            kind: Kind::Bounce,
            recipient: None,
            original_recipient: None,
            status: None,
            reply_code: None,
            diagnostic: None,
            diagnostic_type: None,
            action: None,
            remote_mta: None,
            reporting_mta: None,
            last_attempt: None,
            command: None,
            reason: Reason::Undefined,
            permanent: false,
            feedback_type: None,
            dialect,
            extra: Vec::new(),
        }
    }
}

/// The message that bounced (or was complained about), as returned inside the report.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct OriginalMessage {
    pub message_id: Option<String>,
    pub subject: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub return_path: Option<String>,
    pub date: Option<String>,
    /// All headers, in order, decoded.
    pub headers: Vec<(String, String)>,
}

impl OriginalMessage {
    /// First header of that name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// Complaint details (ARF, RFC 5965 / 6591 / 6650).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Feedback {
    pub feedback_type: String,
    pub user_agent: Option<String>,
    pub version: Option<String>,
    pub source_ip: Option<String>,
    pub arrival_date: Option<String>,
    pub reported_domain: Option<String>,
    pub reporting_mta: Option<String>,
    pub original_mail_from: Option<String>,
    pub original_rcpt_to: Option<String>,
    pub authentication_results: Option<String>,
    pub auth_failure: Option<String>,
    pub redacted: bool,
}

/// Everything learnt from one message.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub kind: Kind,
    pub records: Vec<Record>,
    pub unknown_reason: Option<String>,
    pub dialect: &'static str,
    pub reporting_mta: Option<String>,
    pub arrival_date: Option<String>,
    pub subject: Option<String>,
    pub from: Option<String>,
    pub message_id: Option<String>,
    pub to: Vec<String>,
    pub original: Option<OriginalMessage>,
    pub feedback: Option<Feedback>,
}

impl Report {
    /// A report saying nothing could be made of the message, and why.
    pub fn unknown(why: impl Into<String>) -> Report {
        Report {
            kind: Kind::Unknown,
            records: Vec::new(),
            unknown_reason: Some(why.into()),
            dialect: "none",
            reporting_mta: None,
            arrival_date: None,
            subject: None,
            from: None,
            message_id: None,
            to: Vec::new(),
            original: None,
            feedback: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for r in [Reason::UserUnknown, Reason::FailedStartTls, Reason::NotCompliantRfc, Reason::Delivered] {
            assert_eq!(r.as_str().parse::<Reason>(), Ok(r));
            assert_eq!(serde_json::to_string(&r).ok(), Some(format!("\"{}\"", r.as_str())));
        }
        assert_eq!(serde_json::to_string(&Kind::Autoreply).ok().as_deref(), Some("\"autoreply\""));
        assert!("nonsense".parse::<Reason>().is_err());
    }
}
