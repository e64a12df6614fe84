//! Reasons by the receiving provider's own, documented words and codes (Orange/La Poste
//! "OFR_416"/"LPN007_426", Cox and Spectrum "AUP#..." codes, Yahoo, Tencent QQ, Symantec
//! MessageLabs, Microsoft 365, Outlook.com). These outrank the general phrase table: a
//! provider's code means one thing whatever SMTP command it answered.
//! Takes the diagnostic and the hosts involved; gives a reason or nothing. Pure.

use crate::parse::text::find_ci;
use crate::parse::types::Reason::{self, *};

struct Provider {
    /// Host or domain suffixes (remote MTA, recipient domain, hosts named in the text).
    hosts: &'static [&'static str],
    phrases: &'static [(&'static str, Reason)],
}

const PROVIDERS: &[Provider] = &[
    // Yahoo Inc. (senders.yahooinc.com/smtp-error-codes).
    Provider {
        hosts: &["yahoodns.net", "yahoo.com", "yahoo.co", "aol.com", "ymail.com"],
        phrases: &[
            ("dd this user doesn't have a ", UserUnknown),
            ("dd not a valid recipient", UserUnknown),
            ("requires all senders to authenticate with either spf or dkim", AuthFailure),
            ("because the ip is in spamhaus's list", Blocked),
            ("not accepted from ip addresses on spamhaus", Blocked),
            ("not accepted for policy reasons", PolicyViolation),
            ("headers are not rfc compliant", NotCompliantRfc),
            ("temporarily deferred due to unexpected volume or user complaints", Rejected),
            ("will be permanently deferred", Rejected),
            ("user is receiving mail too quickly", Speeding),
            ("is no longer valid.", Suspend),
            ("this mailbox is disabled", Suspend),
            ("max message per connection reached", TooManyConn),
            ("mailbox not found", UserUnknown),
        ],
    },
    // Tencent QQ Mail (service.mail.qq.com/detail/122).
    Provider {
        hosts: &["qq.com"],
        phrases: &[
            ("ip frequency limited", TooManyConn),
            ("domain frequency limited", TooManyConn),
            ("sender frequency limited", TooManyConn),
            ("connection frequency limited", TooManyConn),
            ("frequency of receiving messages is limited", Speeding),
            ("spf check failed", AuthFailure),
            ("dmarc check failed", AuthFailure),
            ("suspected spam ip", Blocked),
            ("suspected bounce attacks", Blocked),
            ("spam is embedded in the email", SpamDetected),
            ("mail content denied", SpamDetected),
            ("is a deactivated mailbox", Suspend),
            ("mailbox not found", UserUnknown),
        ],
    },
    // Symantec/Broadcom Email Security.cloud (MessageLabs) answers at RCPT time.
    Provider {
        hosts: &["messagelabs.com", "symanteccloud.com"],
        phrases: &[
            ("no such user", UserUnknown),
            ("invalid recipient", UserUnknown),
            ("recipient mailbox is not allowed", UserUnknown),
            ("domain authentication fail", AuthFailure),
            ("connection rejected by policy", BadReputation),
            ("your ip is in the pbl", Blocked),
            ("in my badmailfrom list", Rejected),
            ("sender envelope domain not allowed", Rejected),
            ("stray linefeeds in message", NotCompliantRfc),
            ("tls/sslv3 connection required", FailedStartTls),
        ],
    },
    // Microsoft 365 / Exchange Online: directory-based edge blocking refuses unknown users.
    Provider {
        hosts: &["outlook.com", "onmicrosoft.com", "exchangelabs.com"],
        phrases: &[
            ("recipient address rejected: access denied", UserUnknown),
            ("recipientnotfound", UserUnknown),
            ("recipnotfound", UserUnknown),
            ("banned sending ip", Blocked),
            ("5.7.606", Blocked),
            ("5.7.511", Blocked),
        ],
    },
    // Outlook.com / Hotmail consumer mail.
    Provider {
        hosts: &["hotmail.com", "outlook.com", "live.com", "msn.com"],
        phrases: &[
            ("the domain is not reachable", HostUnknown),
            ("requested action not taken: mailbox unavailable", UserUnknown),
        ],
    },
];

/// Orange / Wanadoo / La Poste reason codes ("OFR_416", "OFR006_102", "LPN007_426").
fn orange_code(code: u16) -> Option<Reason> {
    Some(match code {
        101..=103 | 510 | 999 => Blocked,
        104 => TooManyConn,
        305 | 402 => SecurityError,
        401 | 517 => AuthFailure,
        403 | 405 | 415 | 421 => Rejected,
        416 => UserUnknown,
        417 => MailboxFull,
        420 | 426 => Suspend,
        505 => SystemError,
        506 => SpamDetected,
        514 => MesgTooBig,
        630 => PolicyViolation,
        _ => return None,
    })
}

fn orange(diag: &str) -> Option<Reason> {
    for label in ["ofr", "lpn"] {
        let Some(p) = find_ci(diag, label) else {
            continue;
        };
        let token: String = diag
            .get(p + 3..)
            .unwrap_or("")
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
            .collect();
        let digits: String =
            token.chars().rev().take_while(char::is_ascii_digit).collect::<Vec<_>>().into_iter().rev().collect();
        if digits.len() >= 3 {
            let code = digits.get(digits.len() - 3..).and_then(|d| d.parse().ok())?;
            return orange_code(code);
        }
    }
    None
}

/// Cox ("AUP#CXBL") and Spectrum/Charter ("AUP#In-1310") policy codes.
fn aup(diag: &str) -> Option<Reason> {
    let p = find_ci(diag, "aup#")?;
    let token: String = diag.get(p + 4..)?.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-').collect();
    let digits: String = token.chars().filter(char::is_ascii_digit).collect();
    let upper = token.to_ascii_uppercase();
    if digits.len() == 4 && !upper.starts_with("IPBL") && !upper.starts_with("URLBL") {
        let n: u16 = digits.parse().ok()?;
        return Some(match n {
            1000 | 1200..=1250 => Blocked,
            1010..=1080 | 1500 | 1520 => Rejected,
            1090 => SystemError,
            1100..=1150 => RequirePtr,
            1160..=1190 | 1560 => PolicyViolation,
            1260 => NetworkError,
            1300..=1340 => TooManyConn,
            1350..=1490 | 1540 | 1550 | 1580 => Speeding,
            1530 => MesgTooBig,
            _ => return None,
        });
    }
    Some(match upper.as_str() {
        "CXBL" | "CDRBL" => Blocked,
        "CXDNS" => RequirePtr,
        "CXSNDR" => AuthFailure,
        "CXSMTP" => Rejected,
        "CXCNCT" | "CXMXRT" => TooManyConn,
        "CXTHRT" | "CXMJ" => SecurityError,
        t if t.starts_with("IPBL") => Blocked,
        t if t.starts_with("URLBL") => SpamDetected,
        _ => return None,
    })
}

/// The provider's reason for `diag`, given `hosts` (remote MTA, recipient domain...).
/// Tables are lower-case; the texts are lower-cased once here.
pub fn reason(diag: &str, hosts: &[&str]) -> Option<Reason> {
    if diag.is_empty() {
        return None;
    }
    if let Some(r) = orange(diag).or_else(|| aup(diag)) {
        return Some(r);
    }
    let d = diag.to_ascii_lowercase();
    let mut h = hosts.join(" ").to_ascii_lowercase();
    h.push(' ');
    h.push_str(&d);
    for p in PROVIDERS {
        if !p.hosts.iter().any(|x| h.contains(x)) {
            continue;
        }
        if let Some((_, r)) = p.phrases.iter().find(|(ph, _)| d.contains(ph)) {
            return Some(*r);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes() {
        assert_eq!(reason("550 5.5.0 Invalid recipient. LPN007_416", &[]), Some(UserUnknown));
        assert_eq!(reason("Mail rejete. Mail rejected. OFR_506 [506]", &[]), Some(SpamDetected));
        assert_eq!(reason("550 5.1.0 sender rejected. AUP#CDRBL", &[]), Some(Blocked));
        assert_eq!(reason("550 sender rejected. AUP#In-1310", &[]), Some(TooManyConn));
        assert_eq!(reason("550 Ip frequency limited", &["mx3.qq.com"]), Some(TooManyConn));
        assert_eq!(reason("550 Ip frequency limited", &["mx.example.org"]), None);
    }
}
