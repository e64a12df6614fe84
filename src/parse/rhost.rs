//! Reasons by the receiving provider's own, documented words and codes (Orange/La Poste
//! "OFR_416"/"LPN007_426", Cox and Spectrum "AUP#..." codes, Comcast "BL000000"/"ES000010"
//! block codes, Yahoo, Tencent QQ, Symantec MessageLabs, Microsoft 365, Outlook.com). These
//! outrank the general phrase table: a provider's code means one thing whatever SMTP command
//! it answered.
//! Takes the diagnostic and the hosts involved; gives a reason or nothing. Pure.

use std::sync::LazyLock;

use aho_corasick::AhoCorasick;

use crate::parse::text::find_ci;
use crate::parse::types::Reason::{self, *};

struct Provider {
    /// Host or domain suffixes (remote MTA, recipient domain, hosts named in the text).
    hosts: &'static [&'static str],
    phrases: &'static [(&'static str, Reason)],
}

const PROVIDERS: &[Provider] = &[
    // Yahoo's own MX hosts: "[TSS04] ... unexpected volume or user complaints" is Yahoo
    // refusing the sender (it comes back for any sender trouble, not only reputation).
    // Elsewhere the same words are read by the general table as a reputation problem.
    Provider {
        hosts: &["yahoodns.net"],
        phrases: &[("temporarily deferred due to unexpected volume or user complaints", Rejected)],
    },
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
    // KDDI / au (ezweb.ne.jp, au.com): au answers "550 : User unknown" (no address) when the
    // recipient's own reception filter refused the sender, "<addr>: User unknown" when the
    // mailbox does not exist.
    Provider {
        hosts: &["ezweb.ne.jp", "au.com"],
        phrases: &[("550 : user unknown", Filtered), (">: user unknown", UserUnknown)],
    },
    // NTT docomo's mfsmax.docomo.ne.jp documented replies (the status-dependent ones are in
    // `docomo`).
    Provider {
        hosts: &["docomo.ne.jp"],
        phrases: &[
            ("552 too many recipients", TooManyConn),
            ("552 too much mail data", MailboxFull),
            ("503 bad sequence of commands", SyntaxError),
            ("504 command parameter not implemented", SyntaxError),
        ],
    },
    // Zoho Mail (zoho.com/mail/help/spam-reason.html and its SMTP error list).
    Provider {
        hosts: &["zoho.com", "zoho.eu", "zoho.in", "zohomail"],
        phrases: &[
            ("email rejected per dmarc policy", AuthFailure),
            ("greylisted, try again after some time", Blocked),
            // Zoho refuses the sender (not the content) with these.
            ("reason: email flagged as spam", Rejected),
            ("mail rejected by destination domain", Rejected),
            ("email policy violation detected", PolicyViolation),
            ("mailbox delivery restricted by policy error", PolicyViolation),
            ("temporary system error", SystemError),
            ("user does not exist", UserUnknown),
            (" detected by zoho mail", VirusDetected),
        ],
    },
    // Mimecast (community.mimecast.com "Mimecast SMTP Error Codes").
    Provider {
        hosts: &["mimecast.com", "mimecast.co.za", "mimecast-offshore.com"],
        phrases: &[
            ("spf sender invalid - envelope rejected", AuthFailure),
            ("dkim sender invalid - envelope rejected", AuthFailure),
            ("dmarc sender invalid - envelope rejected", AuthFailure),
            ("local ct ip reputation - (reject)", BadReputation),
            ("ip temporarily blacklisted", Blocked),
            ("envelope blocked - user entry", Rejected),
            ("envelope blocked - user domain entry", Rejected),
            ("envelope rejected - block policy for envelope from", Rejected),
            ("anti-spoofing policy - inbound not allowed", PolicyViolation),
            ("content examination policy", PolicyViolation),
            ("host network not allowed", PolicyViolation),
            ("maximum email size exceeded", MesgTooBig),
            ("this route requires encryption (tls)", FailedStartTls),
            ("this route requires tls version", FailedStartTls),
            ("open relay not allowed", NoRelaying),
            ("account service is temporarily unavailable", TooManyConn),
            ("exceeding outbound thread limit", TooManyConn),
            // Mimecast's documented meaning: an anti-virus (or spam) signature matched.
            ("email rejected due to security policies", VirusDetected),
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

/// Comcast's block codes (postmaster.comcast.net "Mail delivery error codes"): "ES000001" /
/// "ES000010" refuse dynamic or residential address space, "BL0000xx" a sender listed on
/// Comcast's own, Spamhaus, Cloudmark CSI or SenderScore blocklists (bits of the number say
/// which). Both are about the sending host, so only said when a Comcast host is involved.
fn comcast(diag: &str, hosts: &dyn Fn() -> String) -> Option<Reason> {
    let b = diag.as_bytes();
    let coded = ["ES0000", "BL000"].iter().any(|p| {
        let mut from = 0;
        while let Some(i) = diag.get(from..).and_then(|d| find_ci(d, p)).map(|i| i + from) {
            let digits = b.get(i + 2..).unwrap_or(&[]).iter().take_while(|c| c.is_ascii_digit()).count();
            let word_start = i == 0 || !b[i - 1].is_ascii_alphanumeric();
            if word_start && digits == 6 {
                return true;
            }
            from = i + 1;
        }
        false
    });
    (coded && hosts().contains("comcast.net")).then_some(Blocked)
}

/// What a provider table may look at: the server's words, the hosts involved (remote MTA,
/// recipient domain, hosts named in the bounce), the status and the SMTP command answered.
pub struct Reply<'a> {
    pub diagnostic: &'a str,
    pub hosts: &'a [&'a str],
    pub status: Option<&'a str>,
    pub command: Option<&'a str>,
}

/// NTT docomo answers "550 Unknown user" both for a missing mailbox and for its subscribers'
/// reception filters; the status and the stage tell them apart.
fn docomo(r: &Reply, hosts: &dyn Fn() -> String) -> Option<Reason> {
    let x = match (r.status, r.command) {
        (Some("5.2.0"), _) => Filtered,
        (Some("5.1.1"), _) => UserUnknown,
        // Accepted at RCPT, refused after DATA: the recipient's filter refused the sender.
        (Some("5.0.0"), Some("DATA")) if find_ci(r.diagnostic, "unknown user").is_some() => Rejected,
        _ => return None,
    };
    hosts().contains("docomo.ne.jp").then_some(x)
}

/// Every provider phrase in one case-insensitive automaton: (provider, phrase) per pattern.
struct Phrases {
    ac: AhoCorasick,
    owner: Vec<(usize, usize)>,
}

static PHRASES: LazyLock<Option<Phrases>> = LazyLock::new(|| {
    let mut pats = Vec::new();
    let mut owner = Vec::new();
    for (i, p) in PROVIDERS.iter().enumerate() {
        for (j, (ph, _)) in p.phrases.iter().enumerate() {
            pats.push(*ph);
            owner.push((i, j));
        }
    }
    let ac = crate::parse::text::phrase_automaton(&pats)?;
    Some(Phrases { ac, owner })
});

/// The provider's reason for a reply, if its documented words or codes are there.
pub fn reason(r: &Reply) -> Option<Reason> {
    let diag = r.diagnostic;
    if diag.is_empty() {
        return None;
    }
    if let Some(x) = orange(diag).or_else(|| aup(diag)) {
        return Some(x);
    }
    // The hosts (and the reply itself, which often names its host) in lower case; built
    // only when some provider's words are there to be checked against them.
    let hosts = || {
        let mut h = r.hosts.join(" ").to_ascii_lowercase();
        h.push(' ');
        h.push_str(&diag.to_ascii_lowercase());
        h
    };
    if let Some(x) = comcast(diag, &hosts) {
        return Some(x);
    }
    let t = PHRASES.as_ref()?;
    let mut hits: Vec<(usize, usize)> =
        t.ac.find_overlapping_iter(diag).filter_map(|m| t.owner.get(m.pattern().as_usize()).copied()).collect();
    if hits.is_empty() {
        return docomo(r, &hosts);
    }
    // Table order decides: the first provider whose hosts match, its first phrase found.
    hits.sort_unstable();
    let h = hosts();
    for (i, j) in hits {
        let Some(p) = PROVIDERS.get(i) else { continue };
        if p.hosts.iter().any(|x| h.contains(x)) {
            return p.phrases.get(j).map(|(_, x)| *x);
        }
    }
    docomo(r, &hosts)
}

/// Builds this module's tables now (see [`crate::parse::warm`]).
pub(crate) fn warm() {
    std::sync::LazyLock::force(&PHRASES);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(diag: &str, hosts: &[&str]) -> Option<Reason> {
        super::reason(&Reply { diagnostic: diag, hosts, status: None, command: None })
    }

    #[test]
    fn codes() {
        assert_eq!(reason("550 5.5.0 Invalid recipient. LPN007_416", &[]), Some(UserUnknown));
        assert_eq!(reason("Mail rejete. Mail rejected. OFR_506 [506]", &[]), Some(SpamDetected));
        assert_eq!(reason("550 5.1.0 sender rejected. AUP#CDRBL", &[]), Some(Blocked));
        assert_eq!(reason("550 sender rejected. AUP#In-1310", &[]), Some(TooManyConn));
        assert_eq!(reason("550 Ip frequency limited", &["mx3.qq.com"]), Some(TooManyConn));
        assert_eq!(reason("550 Ip frequency limited", &["mx.example.org"]), None);
        let cc = "554 resimta-po-01v.sys.comcast.net comcast 192.0.2.7 Comcast block for spam. \
                  Please see http://postmaster.comcast.net/smtp-error-codes.php#BL000000";
        assert_eq!(reason(cc, &["mx1.comcast.net"]), Some(Blocked));
        assert_eq!(reason("550 ES000010 dynamic space", &["mx2.comcast.net"]), Some(Blocked));
        // The same letters elsewhere, or a code of another length, say nothing.
        assert_eq!(reason("550 BL000000 refused", &["mx.example.org"]), None);
        assert_eq!(reason("550 XBL0000001 refused", &["mx1.comcast.net"]), None);
    }
}
