//! Bounce reason: maps (status, reply code, diagnostic text, action) to the taxonomy, and
//! says whether the failure is permanent. Takes what a record already knows; gives one
//! `Reason` and one `permanent` flag. Pure and cheap: every phrase of every reason is in ONE
//! Aho-Corasick automaton built once, run once over the diagnostic.
//!
//! Order of evidence, where two signals disagree:
//! 1. the report's own status and verdict: the enhanced status the reporting MTA itself
//!    gives (never one found in a quoted original, a `Received:`/`X-Mailer:` field or a
//!    version number, see `text::find_status`), and its own words about it (a DSN Status
//!    comment, "5.2.2 (Over quota)", see [`verdict`]);
//! 2. a specific diagnostic text: the remote server's words naming a cause ("User unknown",
//!    "mailbox full", "relay access denied") outrank the status code around them;
//! 3. the SMTP reply code and the command it answered (a 5xx at HELO is the host refused);
//! 4. the generic status (x.0.0, or a class with no detail): the last resort, never kept
//!    over a cause the text names.
//!
//! In the classifier that is (modelled on how deliverability tools read bounces): a first
//! pass takes, in a fixed priority, the first reason whose specific phrases occur OR whose
//! enhanced status matches; then a dialect's or provider's vague hint (`classify_with`); a
//! second pass looks at the vaguer words ("not allowed", "timed out"...); then the status
//! class; then the reply code; then onhold/undefined. A phrase inside a longer phrase of
//! another reason does not count ("senders not allowed" in "unauthenticated senders not
//! allowed").
//!
//! Permanence ([`permanent`]) has its own order: a delay notice (the reporting MTA keeps
//! trying), the status class, then the record's kind, then the reply code's class, then the
//! words (temporary or final), then the reason's nature.
//!
//! Vocabulary sources (facts carried over, written in our own words): RFC 3463 and its
//! registry (RFC 5248), RFC 3464, RFC 5321 4.2, RFC 7505 (null MX); the MTAs' own texts:
//! Postfix (smtp(8), bounce(5) templates), Exim (retry and routing errors), Sendmail
//! (transcripts), qmail (qmail-remote.c, qmail-send.c, qmail-local.c), Courier, Exchange and
//! Exchange Online NDR codes (Microsoft's "Email non-delivery reports and SMTP errors in
//! Exchange Online"), Lotus Domino, IMail, MDaemon, Zimbra, Haraka; providers' SMTP error
//! references: Gmail (support.google.com/a/answer/3726730), Yahoo/AOL
//! (senders.yahooinc.com/smtp-error-codes), Microsoft/Outlook.com, Apple iCloud, Comcast,
//! GMX/Web.de, Mail.ru, Yandex, Tencent QQ and the Japanese carriers (docomo, au/KDDI,
//! SoftBank).

use std::sync::LazyLock;

use aho_corasick::AhoCorasick;

use crate::parse::types::Reason::{self, *};

/// What servers really write, lower-case (matching is ASCII case-insensitive).
#[rustfmt::skip]
const PHRASES: &[(Reason, &[&str])] = &[
    (MailboxFull, &[
        "mailbox full", "mailbox is full", "mailbox has exceeded", "over quota", "overquota",
        "quota exceeded", "exceeded storage", "exceeds quota", "mailbox size limit exceeded",
        "mailfolder is full", "account is full", "full mailbox", "over its quota", "quota full",
        "disk quota exceeded", "storage quota", "not enough storage space", "mailbox is over",
        "mail box full", "exceeded its storage", "is over quota", "user is over quota",
        "mailbox would exceed", "exceeding quota", "maildir over quota", "quota violation",
        "mailbox exceeds allowed size", "inbox is full", "out of storage space", "mailbox quota",
        "exceeds mailbox", "insufficient storage space", "quota has been exceeded",
        // Postfix virtual(8)/local(8) and Dovecot LDA: "mailbox full", "Quota exceeded
        // (mailbox for user is full)"; qmail-local: "the user's maildir has overdrawn his
        // diskspace quota"; Courier: "Mail quota exceeded"; Exchange: "The recipient's
        // mailbox is full and can't accept messages now"; MDaemon/IMail: "mailbox size limit".
        "diskspace quota", "disk quota", "mailbox quota exceeded", "mailbox is over quota",
        "can't accept messages now", "storage limit", "exceeded its quota", "not enough space in",
        "mailbox size exceeded", "mailbox over limit", "mailbox has reached its", "mailbox capacity",
        // Japanese carriers' and portals' notices (docomo, au/KDDI, SoftBank, Yahoo! JAPAN):
        // "メールボックスが一杯", "容量オーバー", "容量超過", "容量制限".
        "メールボックスが一杯", "メールボックスがいっぱい", "容量オーバー", "容量超過", "容量制限",
        // RFC 5321 4.2.2 552 "exceeded storage allocation"; Web.de/bytecamp "Quota limit
        // exceeded"; Tencent/NetEase "mailbox space not enough".
        "quota limit exceeded", "space not enough",
    ]),
    (MesgTooBig, &[
        "message too large", "message is too large", "message size exceeds",
        "exceeds the maximum size", "message too big", "mail size limit exceeded",
        "exceeded maximum message size", "message length exceeds", "message file too big",
        "message exceeds maximum", "size exceeds the maximum", "too large for",
        "message size limit", "exceeds size limit", "maximum message size",
        "message is larger than", "size of the message exceeds", "exceeds the size limit",
    ]),
    (ExceedLimit, &[
        "too many recipients", "recipient limit", "exceeds the recipient limit",
        "message header size exceeds limit", "exceeded the rate limit of recipients",
        "message length exceeds administrative limit",
    ]),
    (Suspend, &[
        "account disabled", "account has been disabled", "account is disabled",
        "disabled or discontinued", "mailbox disabled", "mailbox is disabled",
        "account is inactive", "inactive account", "account suspended",
        "account has been suspended", "mailbox is inactive", "account has been deactivated",
        "account is locked", "mailbox currently suspended", "recipient suspended", "user suspended",
        "is disabled", "is inactive", "mailbox unavailable or inactive", "not an active",
        "account expired", "has been frozen", "account frozen", "user account is unavailable",
        "mailbox is not active", "temporarily disabled", "mailbox has been blocked",
        "due to extended inactivity", "account deactivated", "account is not active",
        "mailbox inactive", "is suspended", "has been suspended", "account closed",
        "account is closed", "is frozen", "account is blocked",
        // Yahoo ("This mailbox is disabled (554.30)"), GMX/Web.de ("Mailbox disabled"),
        // Zimbra ("account is not active"), Courier, Exim ACLs ("account has been
        // deactivated/suspended"), and old ISP notices ("disabled or discontinued").
        "account has been closed", "account is no longer active", "mailbox has been disabled",
        "mailbox has been suspended", "account inactive", "deactivated mailbox",
        // Yandex "Policy rejection on the target address" (the recipient's account blocked
        // for breaking the user agreement, Yandex's bounce help); NetEase/Coremail "User is
        // locked", "user disabled", "This account has been temporarily suspended". (Not
        // iCloud's "5.1.1 inactive email address": Apple answers it with a bad-mailbox status
        // and never reopens most of them, so the status decides: unknown user.)
        "policy rejection on the target address", "user is locked", "user disabled",
        "account has been temporarily suspended",
    ]),
    (HasMoved, &[
        "has moved", "address changed", "user has moved", "moved to another", "mailbox has moved",
        // RFC 5321 4.2.2 reply 551 "User not local; please try <forward-path>" (RFC 3463 X.1.6).
        "user not local",
    ]),
    (NoRelaying, &[
        "relay access denied", "relaying denied", "relay not permitted", "not permitted to relay",
        "relaying not allowed", "we do not relay", "unable to relay", "relay denied", "no relaying",
        "not allowed to relay", "relay prohibited", "relaying mail to", "is not a gateway",
        "rcpthosts", "relay not allowed", "relaying is prohibited", "cannot relay",
        "relay rejected", "insecure mail relay", "not configured to relay",
        // Sendmail "Relaying denied. Proper authentication required", Exchange 5.7.54
        // "Unable to relay recipient in non-accepted domain", 5.7.64 "Relay Access Denied".
        "relaying disallowed", "relay access", "relay not authorized", "unable to relay recipient",
        "relaying to", "is not permitted to relay",
        // Symantec MessageLabs (Broadcom Email Security.cloud) 553: "you are trying to use me
        // [server-N.tower-N.messagelabs.com] as a relay, but I have not been configured to let
        // you (ip, helo=x) do this" (servers wrap it anywhere, so the words before the comma).
        "as a relay",
    ]),
    (AuthFailure, &[
        "spf", "dkim", "dmarc", "sender policy framework", "unauthenticated email", "domainkeys",
        "sender authentication", "sender id", "authentication check",
    ]),
    (UserUnknown, &[
        "user unknown", "unknown user", "no such user", "no such mailbox", "no such recipient",
        "no such account", "user not found", "recipient not found", "mailbox not found",
        "address not found", "unknown recipient", "recipient unknown", "invalid recipient",
        "invalid mailbox", "mailbox unavailable", "does not exist", "doesn't exist",
        "user doesn't have", "not listed in", "undeliverable address", "no mailbox",
        "is not a valid mailbox", "unknown local part",
        "no valid recipients", "address unknown", "not our customer",
        "invalid final delivery userid", "recipient name is not recognized", "no such local user",
        "unknown or illegal alias", "no account by that name", "couldn't be found",
        "bad destination mailbox", "user not exist", "not a valid user", "unknown mailbox",
        "invalid user", "user invalid", "recipient address rejected: user unknown",
        "mailbox does not", "no such person", "address is invalid", "not a known user",
        "unknown e-mail address", "account does not exist", "email address was not found",
        "user does not exist", "addressee unknown", "no such address", "unknown account",
        "not found in directory", "invalid address", "recipient is not", "recipient rejected",
        "mailbox name not allowed", "no mail box", "not exist", "user not known", "is not a valid",
        "may not exist", "unknown local user", "nonexistent user", "recipient does not",
        "not valid recipient", "no longer valid", "no longer in use", "no longer active",
        "not a valid recipient", "undeliverable recipient", "#5.1.0 address rejected",
        "recipient address rejected: access denied",
        // qmail-local "Sorry, no mailbox here by that name. (#5.1.1)"; IMail "Unknown user";
        // MDaemon/GMX "user is unknown"; MessageLabs/Symantec "No such user"; Trend Micro
        // "recipient address is invalid"; Verizon/Sendmail "User unknown", "Addressee
        // unknown, relay=..."; Office 365 "wasn't found at"; Japanese "宛先不明" (address
        // unknown), "存在しない" (does not exist).
        "user is unknown", "recipient is unknown", "no mailbox here by that name",
        "mailbox not available", "recipient no longer", "wasn't found at",
        "invalid e-mail address", "unknown alias", "no such user here", "user doesn't exist",
        "recipient address is invalid", "not a valid email", "宛先不明", "存在しない",
        // Yandex's bounce help ("No correct recipients", "Bad recipient address syntax");
        // Postfix reject_non_fqdn_recipient ("Recipient address rejected: need
        // fully-qualified address"); Coremail "unavailable mail user".
        "no correct recipients", "bad recipient address syntax", "need fully-qualified address",
        "unavailable mail user",
    ]),
    (Filtered, &[
        "filtered", "user reject", "refused by recipient", "refuse to receive", "refuses to accept",
        "not accepting any mail", "recipient is not accepting", "due to user rules",
        "recipient preferences", "has restricted sms", "mail is rejected by recipients",
        "blocked by recipient",
    ]),
    (RequirePtr, &[
        "reverse dns", "ptr record", "no ptr", "reverse lookup", "rdns",
        "cannot find your hostname", "cannot resolve your address",
        "client host rejected: cannot find", "unresolvable", "reverse address",
        "ip name lookup failed", "no reverse", "reverse-dns", "ptr lookup", "have a reverse",
        "host name lookup", "unverifyable", "unverifiable", "hostname doesn't match",
        "does not resolve", "mismatches client ip",
        // GMX / Web.de 554 "Bad DNS PTR resource record" (sender guidelines, "?c=ptr").
        "dns ptr",
    ]),
    (NotCompliantRfc, &[
        "rfc 5322", "rfc5322", "rfc 2822", "rfc2822", "rfc 822", "not rfc compliant",
        "duplicate header", "multiple addresses in from", "not compliant with rfc", "rfc-5322",
        // RFC 5322 3.6 requires From and Date (once each): Gmail's "missing a valid Message-ID
        // header", "multiple From headers"; Yahoo's "headers are not RFC compliant".
        "missing required header", "missing a valid message-id", "multiple from headers",
        "missing from header", "no from header", "headers are not rfc", "header is missing",
    ]),
    (BadReputation, &[
        "reputation", "sender score", "senderscore",
        // Yahoo's [TSS04] deferral, read as a reputation problem unless Yahoo's MX said it.
        "temporarily deferred due to unexpected volume or user complaints",
    ]),
    (ContentError, &[
        "content error", "improper use of 8-bit data", "illegal character", "malformed mime",
        "invalid header", "bare lf", "line too long", "message content is not", "mime error",
        // RFC 3463 X.6.1 / X.6.2 / X.6.3 titles (Haraka prints them as they stand).
        "media not supported", "conversion required and prohibited",
        "conversion required but not supported",
    ]),
    (PolicyViolation, &[
        "local policy violation", "header error", "closed mailing list", "members-only list",
        "organization policy", "organizational settings", "illegal attachment", "mass mailer",
        "rejected due to local policy", "denied by policy", "policy reasons", "protocol violation",
        "violates our policy", "content presents a potential", "against our policy",
        "policy rejection",
        // Mimecast "Rejected by header based Anti-Spoofing policy" (a From: claiming the
        // recipient's own domain from outside it).
        "anti-spoofing policy",
        // GMX / Web.de (1&1) 554 "Reject due to policy restrictions" (its sender guidelines,
        // "?c=pr").
        "due to policy restrictions",
    ]),
    (Rejected, &[
        "sender rejected", "sender address rejected", "sender denied", "domain of sender address",
        "sender verify failed", "sender domain", "envelope sender", "invalid sender",
        "sender is not allowed", "senders not allowed", "we do not accept mail from",
        "unverified sender", "sender blocked", "rejected sender", "sender address",
        "sender was rejected", "return path", "sender not", "from address", "sender email",
        "your address", "null sender",
        // Exim ACLs and blocklists of envelope senders (not of hosts).
        "sending to/from an address that has been blacklisted",
        "sender address has been blacklisted", "your email address has been blacklisted",
        // Exchange Online refusing every recipient of a sender: about the sender, after DATA.
        "recipient addresses rejected : access denied",
        // Gmail's "Send mail as" alias whose SMTP settings are broken: the sender's account.
        "sending this from a different address or alias using the",
        // RFC 3463 X.1.7 / X.1.8 titles ("Bad sender's mailbox address syntax", "Bad
        // sender's system address"); Exchange Online 5.1.8 "Access denied, bad outbound
        // sender"; Coremail "Fake sender".
        "bad sender's mailbox", "bad sender's system", "bad outbound sender", "fake sender",
    ]),
    (HostUnknown, &[
        "host unknown", "unknown host", "host not found", "domain not found", "no such domain",
        "unrouteable mail domain", "host or domain name not found", "domain name not found",
        "nxdomain", "unknown domain", "domain does not exist", "domain is not valid", "no mx",
        "mx record", "invalid domain", "domain not exist", "hostname not found",
        "unroutable domain", "no such host", "non-existent domain", "domain must exist",
        "hostunknown", "illegal host/domain", "unrouteable address", "unroutable address",
        // qmail-remote: "Sorry, I couldn't find any host named x. (#5.1.2)" / "... any host
        // by that name"; Exim: "all relevant MX records point to non-existent hosts";
        // Domino: "No route found to domain x"; Exchange Online 5.4.310 "DNS domain does not
        // exist"; Postfix "Host or domain name not found".
        "couldn't find any host", "could not find any host", "point to non-existent hosts",
        "no route found to domain", "domain name does not exist", "dns domain", "not a valid domain",
        "domain could not be found", "no such domain name", "domain lookup failed",
        // Exchange's "554 5.4.4 SMTPSEND.DNS.NonExistentDomain; nonexistent domain".
        "nonexistent domain", "nonexistentdomain",
        // RFC 3463 X.1.2's own title, which Haraka's DSN module (and Yandex's list) print as
        // the message: "Bad destination system address".
        "bad destination system address",
    ]),
    (SpamDetected, &[
        "spam", "junk", "unsolicited", "bulk mail", "bulk email", "looks like spam", "uribl",
        "surbl", "blacklisted url", "message content rejected", "content rejected", "suspicious",
        // Tencent QQ's "Mail content denied" (its documentation: judged as spam).
        "content denied",
        "phish",
    ]),
    (Speeding, &[
        "sending too fast", "too many messages",
        // iCloud 421 4.7.1 "Messages to x deferred due to excessive volume" (one recipient
        // receiving too fast, Apple's postmaster page).
        "excessive volume",
        // Gmail 450 4.2.1: "The user you are trying to contact is receiving mail too quickly"
        // / "... at a rate that prevents additional messages from being delivered".
        "receiving mail too quickly", "receiving mail at a rate",
    ]),
    (TooManyConn, &[
        "too many connections", "too many concurrent", "connection limit", "too many smtp sessions",
        "too many simultaneous", "rate limit", "frequency limited", "ratelimit", "rate-limit",
    ]),
    (Blocked, &[
        "blocked", "blacklist", "blocklist", "black list", "block list", "spamhaus", "dnsbl", "rbl",
        "client host rejected", "your ip", "banned", "sorbs", "spamcop", "listed", "refused",
        "not allowed to send", "invalid ip", "client host", "blacklisted", "connection rejected",
        "hostname rejected", "not authorized to send", "smtp server of your isp",
        "no access from mail server", "is an open relay", "dynamic ip", "dial-up", "dialup",
        "residential ip",
        // "Connection refused by <host>": the host refused us, not a network failure.
        "connection refused by",
        // Yahoo "[BL21] Connections will not be accepted from x", qmail "Connected to x but
        // my name was rejected", Outlook.com "part of their network is on our block list".
        "connections will not be accepted", "my name was rejected", "ip address is on",
        "has been rejected by an rbl", "poor reputation",
        // Exchange Online 5.7.708 "Access denied, traffic not accepted from this IP" (its NDR
        // reference: the sending IP's traffic is refused, typically a new or poorly rated IP).
        "traffic not accepted from this ip",
        // Haraka's DSN.bad_sender_ip() default text; Coremail "IP is rejected".
        "bad sender ip", "ip is rejected",
        // Outlook.com OU-002/DY-001: "Hotmail does not relay dynamically-assigned IP ranges"
        // (a consumer connection's address, refused as a sender).
        "dynamically-assigned ip", "dynamically assigned ip",
    ]),
];

/// Reasons only recognised by their words, after the first pass.
#[rustfmt::skip]
const PHRASES2: &[(Reason, &[&str])] = &[
    (VirusDetected, &[
        "virus", "malware", "infected", "trojan",
    ]),
    (PolicyViolation, &[
        "prohibited", "not allowed",
    ]),
    (SystemError, &[
        "system error", "internal error", "server error", "local error", "temporarily unavailable",
        "resources temporarily", "transaction failed", "temporary lookup failure",
        "service currently unavailable", "upstream error", "system is busy", "service unavailable",
        "mail system problem",
        // RFC 3463 X.4.3 "Directory server failure", X.4.5 "Mail system congestion".
        "directory server failure", "system congestion",
    ]),
    (NetworkError, &[
        "lost connection", "too many hops", "hop count exceeded", "mail loop", "loop detected",
        "loops back", "routing loop", "name service error", "network", "unreachable",
        "no route to host", "connection reset", "dns", "not reachable", "host not reachable",
        "could not connect", "unable to connect", "connection refused",
        // qmail "Connected to x but connection died", "This message is looping"; Postfix
        // "lost connection with x while ..."; Sendmail "Connection reset by x".
        "connection died", "is looping", "connection dropped", "broken pipe", "temporary dns",
        // RFC 3463 X.4.1 "No answer from host", X.4.2 "Bad connection", X.4.4 "Unable to
        // route"; Haraka's temp_resolver_failed "Temporary address resolution failure".
        "no answer from host", "bad connection", "unable to route", "address resolution failure",
    ]),
    (SystemFull, &[
        "insufficient disk space", "disk full", "system full", "insufficient system storage",
        "out of disk", "not enough space on the disk",
        // RFC 3463 X.3.1's title.
        "mail system full",
    ]),
    (NotAccept, &[
        "couldn't find a mail exchanger", "indicated no smtp service", "doesn't receive email",
        "does not receive email", "null mx", "does not accept mail", "accepts no mail",
        "not accept any mail", "does not accept any mail",
        // RFC 7505 null MX: 556 5.1.10 "Recipient address has null MX"; Postfix "nullMX".
        "nullmx", "has null mx", "accepts no email", "domain does not receive",
        // RFC 3463 X.3.2 "System not accepting network messages".
        "not accepting network messages",
    ]),
    (Expired, &[
        "timed out", "timeout", "expired", "too long", "retry time", "delivery time",
        "could not be delivered within", "in the queue too long", "failing for a long time",
        "retry timeout exceeded", "giving up", "given up", "was not delivered within",
        "not delivered for more than", "could not be delivered for",
        "message could not be delivered for more", "delivery period", "has been delayed",
        // Sendmail "Cannot send message for 5 days", Exim "retry time not reached for any
        // host after a long failure period", Exchange "Message expired", MDaemon "unable to
        // deliver this message after", Domino "delivery time expired".
        "cannot send message for", "long failure period", "message expired",
        // InterScan / IMail: "Exceeded Maximum Delivery Attempts", "Delivery failed N attempts".
        "maximum delivery attempts",
        "undeliverable for", "unable to deliver this message after",
    ]),
    (FailedStartTls, &[
        "starttls", "tls required", "encryption required", "must issue a starttls", "requires tls",
        // RFC 3207 and RFC 8689 (REQUIRETLS) refusals: "TLS is required", "5.7.10 Encryption
        // needed", Postfix "TLS is required, but was not offered by host".
        "tls is required", "encryption needed", "tls negotiation failed", "secure connection required",
    ]),
    (SecurityError, &[
        "authentication required", "authentication failed", "authentication failure",
        "verification failure", "authentication credentials invalid", "must authenticate",
        "certificate", "ssl", "tls", "security", "not authorized", "unauthorized",
        "authentication is required", "unauthenticated senders not allowed",
        // Exchange 5.7.57 "Client was not authenticated to send anonymous mail", 5.7.1
        // "RESOLVER.RST.AuthRequired"; Postfix "SASL authentication failed".
        "not authenticated", "authrequired", "sasl",
        // RFC 3463 X.7.5 "Cryptographic failure", X.7.7 "Message integrity failure".
        "cryptographic failure", "message integrity failure",
    ]),
    (MailerError, &[
        "x-unix", "pipe to", "command failed", "program exited", "unknown mailer", "exit code",
        "procmail", "mailer error", "child status",
    ]),
    (SyntaxError, &[
        "syntax error", "command unrecognized", "unrecognized command", "bad sequence", "syntax",
        // RFC 3463 X.5.1 "Invalid command", X.5.5 "Wrong protocol version".
        "invalid command", "wrong protocol version",
    ]),
];

/// Vendor codes with exactly one meaning, whatever the command or status.
const DEFINITIVE: &[(&str, Reason)] = &[
    ("resolver.adr.recipientnotfound", UserUnknown),
    ("resolver.adr.recipnotfound", UserUnknown),
    ("resolver.rst.recipsizelimit", ExceedLimit),
    // Gmail 421 4.7.0 / 550 5.7.1 "an unusual rate of unsolicited mail originating from your
    // IP address" (its SMTP error reference): the sending IP's standing, whatever else the
    // text says about spam. Barracuda's Reputation Block List is a DNS blocklist of IPs
    // ("Client host [x] blocked using Barracuda Reputation").
    ("unsolicited mail originating from your ip", Blocked),
    ("blocked using barracuda reputation", Blocked),
];

const FIRST: &[Reason] = &[
    MailboxFull,
    MesgTooBig,
    ExceedLimit,
    Suspend,
    HasMoved,
    NoRelaying,
    NotCompliantRfc,
    AuthFailure,
    HostUnknown,
    UserUnknown,
    Filtered,
    RequirePtr,
    BadReputation,
    ContentError,
    PolicyViolation,
    Rejected,
    SpamDetected,
    TooManyConn,
    Speeding,
    Blocked,
];
const SECOND: &[Reason] = &[
    VirusDetected,
    PolicyViolation,
    NotAccept,
    Expired,
    SystemError,
    NetworkError,
    SystemFull,
    FailedStartTls,
    SecurityError,
    MailerError,
    SyntaxError,
];

struct Table {
    ac: AhoCorasick,
    /// pattern index -> (pass, reason)
    owner: Vec<(u8, Reason)>,
}

static TABLE: LazyLock<Option<Table>> = LazyLock::new(|| {
    let mut pats = Vec::new();
    let mut owner = Vec::new();
    for (pass, table) in [(1u8, PHRASES), (2u8, PHRASES2)] {
        for (r, ps) in table {
            for p in *ps {
                pats.push(*p);
                owner.push((pass, *r));
            }
        }
    }
    let ac = crate::parse::text::phrase_automaton(&pats)?;
    Some(Table { ac, owner })
});

/// Reasons whose phrases occur in `text`, each with the pass its phrase belongs to (1 =
/// specific words, 2 = vaguer words only trusted after every specific reason said no).
pub fn phrase_hits(text: &str) -> Vec<(u8, Reason)> {
    let mut out = hits_in(text);
    // "550 mailbox kim@example.org unavailable", "user <kim@example.org> unknown": servers
    // put the address inside their sentence. When the text as written names no specific
    // reason, its words are looked at again without the addresses (only then: most replies
    // name one, and the copy is not free).
    if !out.iter().any(|(p, _)| *p == 1) && memchr::memchr(b'@', text.as_bytes()).is_some() {
        for (p, r) in hits_in(&without_addresses(text)) {
            match out.iter_mut().find(|(_, x)| *x == r) {
                Some(x) => x.0 = x.0.min(p),
                None => out.push((p, r)),
            }
        }
    }
    out
}

/// [`phrase_hits`] of `text` as it stands.
fn hits_in(text: &str) -> Vec<(u8, Reason)> {
    let mut out: Vec<(u8, Reason)> = Vec::new();
    let mut spans: Vec<(usize, usize, u8, Reason)> = Vec::new();
    if let Some(t) = TABLE.as_ref() {
        let b = text.as_bytes();
        for m in t.ac.find_overlapping_iter(text) {
            let word = text.get(m.start()..m.end()).unwrap_or("");
            // "spam" inside "spamhaus"/"spamcop" names a blocklist, not a verdict on content.
            if word.eq_ignore_ascii_case("spam")
                && b.get(m.end()).is_some_and(|b| b.is_ascii_alphabetic() && !b"sSmM".contains(b))
            {
                continue;
            }
            // "InterScan VirusWall", "McAfee VirusScan": the scanner's name, not its verdict.
            if word.eq_ignore_ascii_case("virus")
                && text
                    .get(m.end()..m.end() + 4)
                    .is_some_and(|n| n.eq_ignore_ascii_case("wall") || n.eq_ignore_ascii_case("scan"))
            {
                continue;
            }
            // "Set up SPF records..." is advice appended to another verdict, not a failed check.
            if AUTH_WORDS.iter().any(|w| word.eq_ignore_ascii_case(w))
                && text.get(..m.start()).is_some_and(|h| h.to_ascii_lowercase().ends_with("set up "))
            {
                continue;
            }
            if let Some(&(pass, r)) = t.owner.get(m.pattern().as_usize()) {
                spans.push((m.start(), m.end(), pass, r));
            }
        }
    }
    // A phrase inside a longer phrase of another reason is that phrase's word, not a verdict
    // of its own ("senders not allowed" in "unauthenticated senders not allowed").
    for &(s, e, pass, r) in &spans {
        let inner = spans.iter().any(|&(s2, e2, _, r2)| r2 != r && s2 <= s && e <= e2 && e2 - s2 > e - s);
        if inner {
            continue;
        }
        match out.iter_mut().find(|(_, x)| *x == r) {
            Some(x) => x.0 = x.0.min(pass),
            None => out.push((pass, r)),
        }
    }
    out
}

/// `text` with every address (and the brackets or quotes around it) cut out, and the two
/// spaces that leaves made one.
fn without_addresses(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut from = 0;
    for (st, en) in crate::parse::text::address_spans(text) {
        let head = text.get(from..st).unwrap_or("");
        let head = head.trim_end_matches(['<', '"', '\'', '(', '[']);
        out.push_str(head.trim_end_matches(' '));
        let tail = text.get(en..).unwrap_or("");
        let skip = tail.len() - tail.trim_start_matches(['>', '"', '\'', ')', ']']).len();
        from = en + skip;
        if !out.is_empty() && text.get(from..).is_some_and(|t| t.starts_with(' ')) {
            // The space after the address is the one kept.
        } else if !out.is_empty() {
            out.push(' ');
        }
    }
    out.push_str(text.get(from..).unwrap_or(""));
    out
}

/// Bare names of authentication schemes: a failure only when not named as advice.
const AUTH_WORDS: &[&str] = &["spf", "dkim", "dmarc"];

/// Reason named by an enhanced status code (RFC 3463 and its registry).
pub fn by_status(status: &str) -> Option<Reason> {
    let mut it = status.split('.');
    let class = it.next()?;
    let subject = it.next()?;
    let detail = it.next()?;
    if class == "2" {
        return Some(Delivered);
    }
    let r = match (subject, detail) {
        ("1", "1") | ("1", "3") => UserUnknown,
        ("1", "2") => HostUnknown,
        ("1", "6") => HasMoved,
        ("1", "7") | ("1", "8") => Rejected,
        ("1", "10") => NotAccept,
        ("2", "0") => Filtered,
        ("2", "1") => Filtered,
        ("2", "2") => MailboxFull,
        ("2", "3") => ExceedLimit,
        ("2", "4") => SystemError,
        ("3", "1") => SystemFull,
        ("3", "2") => NotAccept,
        ("3", "4") => MesgTooBig,
        ("3", "5") => SystemError,
        ("4", "4") => NetworkError,
        ("4", "6") => NetworkError,
        ("4", "7") => Expired,
        ("5", "3") => ExceedLimit,
        ("5", "2") | ("5", "4") | ("5", "5") => SyntaxError,
        ("6", _) => ContentError,
        ("7", "13") => Suspend,
        ("7", "10") | ("7", "11") => FailedStartTls,
        ("7", "23") | ("7", "24") | ("7", "20") | ("7", "21") | ("7", "22") | ("7", "26") => AuthFailure,
        ("7", "25") => RequirePtr,
        ("7", "27") => NotAccept,
        ("7", "4") | ("7", "5") | ("7", "8") | ("7", "9") | ("7", "7") => SecurityError,
        _ => return None,
    };
    Some(r)
}

/// The reason the reporting MTA's own words name (a DSN Status comment such as "(Over
/// quota)"), when they are specific (first-pass words only): the report's own verdict,
/// which outranks the remote server's diagnostic.
pub fn verdict(words: &str) -> Option<Reason> {
    let hits = phrase_hits(words);
    FIRST.iter().find(|r| hits.contains(&(1, **r))).copied()
}

/// Everything the classifier may look at.
pub struct Facts<'a> {
    pub status: Option<&'a str>,
    pub reply_code: Option<u16>,
    pub diagnostic: &'a str,
    pub action: Option<&'a str>,
    pub command: Option<&'a str>,
    /// The Diagnostic-Code type ("smtp", "x-unix"...), lower-case.
    pub diagnostic_type: Option<&'a str>,
}

pub fn classify(f: &Facts) -> Reason {
    classify_with(f, None)
}

/// Like [`classify`], with a `hint`: a vague reason a dialect or provider gave (system error,
/// expired, unknown user...). Specific words of the first pass still outrank it, the vaguer
/// words of the second pass do not: the MTA that wrote the text knew more than they say.
pub fn classify_with(f: &Facts, hint: Option<Reason>) -> Reason {
    let action = f.action.unwrap_or("").to_ascii_lowercase();
    if matches!(action.as_str(), "delivered" | "relayed" | "expanded") || f.status.is_some_and(|s| s.starts_with("2."))
    {
        return Delivered;
    }
    let all = phrase_hits(f.diagnostic);
    if f.diagnostic_type.is_some_and(|t| t.starts_with("x-unix")) {
        // A local delivery program (procmail, a pipe) failed, whatever else it printed.
        return if all.iter().any(|(_, r)| *r == MailboxFull) { MailboxFull } else { MailerError };
    }
    if let Some(r) = DEFINITIVE.iter().find(|(p, _)| crate::parse::text::contains_ci(f.diagnostic, p)).map(|(_, r)| *r)
    {
        return r;
    }
    // The first pass trusts only the specific words; the vague ones wait for the second.
    let mut hits: Vec<Reason> = all.iter().filter(|(p, _)| *p == 1).map(|(_, r)| *r).collect();
    let st = f.status.and_then(by_status);
    if host_does_not_exist(f.diagnostic) {
        // "553 mx.example.org does not exist": the name that does not exist is a host.
        hits.retain(|r| *r != UserUnknown);
        hits.push(HostUnknown);
    }
    if st == Some(ExceedLimit) {
        // x.2.3 is "message length exceeds administrative limit": a limit, not a size error.
        hits.retain(|r| *r != MesgTooBig);
    }
    // Unknown user/domain after MAIL FROM is about the sender address; so it is when the
    // status is x.1.7/x.1.8 (RFC 3463: bad sender's mailbox / system address) or the server
    // says whose address it refused (Postfix smtpd's reject_unknown_sender_domain: "Sender
    // address rejected: Domain not found", which names no recipient's domain), or says its
    // check of the sender failed (Exim's "Verification failed for <x> ... Sender verify failed").
    if f.command == Some("MAIL")
        || st == Some(Rejected)
        || crate::parse::text::contains_ci(f.diagnostic, "sender address rejected")
        || crate::parse::text::contains_ci(f.diagnostic, "sender verify failed")
    {
        for r in hits.iter_mut() {
            if matches!(*r, UserUnknown | HostUnknown) {
                *r = Rejected;
            }
        }
    }
    let before_data = f.command.is_some_and(|c| c != "DATA");
    for r in FIRST {
        let yes = match r {
            // A "no such user" answer only proves the user is unknown when it answered RCPT
            // (or the status says so); after DATA it is the recipient's filter talking.
            UserUnknown => {
                (st == Some(UserUnknown)
                    && ![AuthFailure, Blocked, MailboxFull, HasMoved, Rejected, NotAccept]
                        .iter()
                        .any(|x| hits.contains(x)))
                    || (f.command == Some("RCPT") && hits.contains(&UserUnknown))
            }
            Filtered => {
                (st == Some(Filtered) && (hits.contains(&UserUnknown) || hits.contains(&Filtered)))
                    || (!before_data && (hits.contains(&Filtered) || hits.contains(&UserUnknown)))
            }
            ContentError => hits.contains(r),
            _ => hits.contains(r) || st == Some(*r),
        };
        if yes {
            return temporary(*r, f);
        }
    }
    if let Some(h) = hint {
        return temporary(h, f);
    }
    for r in SECOND {
        if all.iter().any(|(_, x)| x == r) {
            return *r;
        }
    }
    if let Some(r) = st {
        return temporary(r, f);
    }
    if matches!(f.command, Some("HELO" | "CONN")) {
        // Refused at the greeting or HELO: the client host itself is not welcome.
        return Blocked;
    }
    if f.reply_code.is_some_and(|c| (500..=504).contains(&c)) {
        return SyntaxError;
    }
    if action == "delayed" {
        return Expired;
    }
    if let Some(s) = f.status {
        if s.starts_with("5.7") || s.starts_with("4.7") {
            return SecurityError;
        }
        if s.starts_with("5.6") || s.starts_with("4.6") {
            return ContentError;
        }
        if s.starts_with("4.4") || s.starts_with("5.4") {
            return NetworkError;
        }
    }
    if f.diagnostic.trim().is_empty() && f.status.is_none() && f.reply_code.is_none() {
        return Undefined;
    }
    OnHold
}

/// "<hostname> does not exist" (a dotted name, not an address) names a missing domain.
fn host_does_not_exist(d: &str) -> bool {
    let Some(p) = crate::parse::text::find_ci(d, " does not exist") else {
        return false;
    };
    let word = d.get(..p).unwrap_or("").rsplit([' ', '<', '(', '"']).next().unwrap_or("");
    let word = word.trim_end_matches(['>', ')', '"', ':']);
    word.contains('.')
        && !word.contains('@')
        && word.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        && word.bytes().any(|b| b.is_ascii_alphabetic())
}

/// Reasons a dialect or provider may state without having the last word: they say what
/// kind of trouble the MTA saw, and more specific words in the reply still win.
pub fn is_vague(r: Reason) -> bool {
    matches!(r, Undefined | OnHold | SystemError | SecurityError | Expired | NetworkError)
}

/// A "domain does not exist" answered with a temporary code is a DNS failure for now.
pub fn temporary(r: Reason, f: &Facts) -> Reason {
    let temp = f.status.is_some_and(|s| s.starts_with('4')) || f.reply_code.is_some_and(|c| c / 100 == 4);
    if r == HostUnknown && temp { NetworkError } else { r }
}

/// Words saying the sender's MTA will try again, or that the trouble is passing (RFC 5321
/// 4.2.1: 4yz is a "transient negative completion"; Postfix's "will keep trying", Exim's
/// "still being tried", Exchange's "delivery has been delayed", Gmail's "will retry").
const TEMPORARY_WORDS: &[&str] = &[
    "temporary",
    "temporarily",
    "try again later",
    "will retry",
    "will keep trying",
    "will be retried",
    "will try again",
    "still trying",
    "still being tried",
    "not yet been delivered",
    "delivery has been delayed",
    "has been delayed",
    "deferred",
    "is being retried",
    "retry later",
    "transient",
    "delivery incomplete",
    "please try again",
    // The resolver's TRY_AGAIN (a SERVFAIL or a timeout, not NXDOMAIN), as Postfix prints it:
    // "Name service error for name=x type=MX: Host not found, try again".
    "host not found, try again",
];

/// Words saying the failure is final (qmail's "I'm not going to try again" / "I've given
/// up", Sendmail's and Postfix's "permanent fatal errors", Exim's "retry timeout exceeded").
const PERMANENT_WORDS: &[&str] = &[
    "permanent",
    "fatal",
    "not going to try again",
    "given up",
    "giving up",
    "gave up",
    "will not be retried",
    "no further attempts",
    "unrecoverable",
    "retry timeout exceeded",
];

static PERMANENCE: LazyLock<Option<AhoCorasick>> = LazyLock::new(|| {
    let pats: Vec<&str> = TEMPORARY_WORDS.iter().chain(PERMANENT_WORDS).copied().collect();
    crate::parse::text::phrase_automaton(&pats)
});

/// Is the failure of a record permanent? Evidence in order: a delay notice is never
/// permanent (RFC 3464 2.3.3: Action "delayed" is the reporting MTA's own word that it will
/// keep trying, whatever status the remote server's reply carried: Gmail's "Delivery
/// incomplete ... will retry" quoting a 550 5.7.1); then the enhanced status class (RFC
/// 3463: 5 permanent, 4 persistent transient, 2 success), then the kind (complaints,
/// auto-replies and success DSNs are no failure), the SMTP reply
/// code's first digit (RFC 5321 4.2.1), then the words of `texts` (the diagnostic first,
/// then the notice around it; where one text says both, temporary wins: "we will retry;
/// you will be told if it fails permanently"), and last the reason: a condition that passes
/// by itself (a full mailbox or system, a rate limit, a network or system fault) is
/// temporary; any other non-delivery is one the MTA gave up on, so it is permanent.
pub fn permanent(
    kind: crate::parse::types::Kind,
    status: Option<&str>,
    reply_code: Option<u16>,
    texts: &[&str],
    reason: Reason,
) -> bool {
    use crate::parse::types::Kind;
    if kind == Kind::Delay {
        return false;
    }
    match status.and_then(|s| s.bytes().next()) {
        Some(b'5') => return true,
        Some(b'4' | b'2') => return false,
        _ => {}
    }
    if kind != Kind::Bounce {
        return false;
    }
    match reply_code.map(|c| c / 100) {
        Some(5) => return true,
        Some(4 | 2) => return false,
        _ => {}
    }
    if let Some(ac) = PERMANENCE.as_ref() {
        for t in texts {
            let mut perm = false;
            for m in ac.find_overlapping_iter(*t) {
                if m.pattern().as_usize() < TEMPORARY_WORDS.len() {
                    return false;
                }
                perm = true;
            }
            if perm {
                return true;
            }
        }
    }
    !matches!(reason, MailboxFull | SystemFull | TooManyConn | Speeding | NetworkError | SystemError)
}

/// Do the words of `text` say what went wrong (a reason's phrase) or whether it is final
/// (permanence words)? A notice with no reply or status code is trusted when they do.
pub fn names_a_failure(text: &str) -> bool {
    !phrase_hits(text).is_empty() || PERMANENCE.as_ref().is_some_and(|ac| ac.is_match(text))
}

/// Builds this module's tables now (see [`crate::parse::warm`]).
pub(crate) fn warm() {
    std::sync::LazyLock::force(&TABLE);
    std::sync::LazyLock::force(&PERMANENCE);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(status: Option<&str>, d: &str) -> Reason {
        classify(&Facts {
            status,
            reply_code: None,
            diagnostic: d,
            action: Some("failed"),
            command: Some("RCPT"),
            diagnostic_type: None,
        })
    }

    #[test]
    fn basics() {
        assert_eq!(
            c(Some("5.1.1"), "550 5.1.1 <a@example.com>: Recipient address rejected: User unknown"),
            UserUnknown
        );
        assert_eq!(c(Some("5.2.2"), "mailbox full"), MailboxFull);
        assert_eq!(c(Some("5.7.1"), "Service unavailable; client [192.0.2.1] blocked using zen.spamhaus.org"), Blocked);
        assert_eq!(c(Some("5.1.1"), "over quota"), MailboxFull);
        assert_eq!(c(None, "Host or domain name not found"), HostUnknown);
        assert_eq!(c(Some("5.4.7"), "delivery time expired"), Expired);
        assert_eq!(c(Some("2.0.0"), "ok"), Delivered);
        assert_eq!(c(None, "553 mx.example.org does not exist"), HostUnknown);
        assert_eq!(c(None, "550 user kim does not exist"), UserUnknown);
        assert_eq!(c(Some("5.4.4"), "554 5.4.4 SMTPSEND.DNS.NonExistentDomain; nonexistent domain"), HostUnknown);
        assert_eq!(c(Some("5.7.1"), "550 5.7.1 TLS is required, but was not offered by host"), FailedStartTls);
        // The address inside the server's sentence does not hide its words.
        assert_eq!(c(None, "550 mailbox kim@example.org unavailable"), UserUnknown);
        assert_eq!(without_addresses("user <kim@example.org> unknown"), "user unknown");
        assert_eq!(without_addresses("<kim@example.org>: Recipient rejected"), ": Recipient rejected");
        // A scanner's product name is no verdict on the message.
        assert_eq!(c(None, "InterScan VirusWall: Exceeded Maximum Delivery Attempts"), Expired);
        assert_eq!(c(None, "554 5.7.1 virus found in message"), VirusDetected);
    }

    #[test]
    fn permanence() {
        use crate::parse::types::Kind::{Bounce, Complaint, Delay};
        let p = |k, s, c, t: &[&str], r| permanent(k, s, c, t, r);
        // The status class decides over the reply code and the words.
        assert!(!p(Bounce, Some("4.2.2"), Some(550), &["permanent error"], MailboxFull));
        // A delay notice is the MTA saying it keeps trying, whatever the remote's status.
        assert!(!p(Delay, Some("5.7.1"), None, &[], BadReputation));
        assert!(!p(Delay, None, Some(550), &[], UserUnknown));
        assert!(p(Bounce, None, Some(550), &["temporary"], MailboxFull));
        assert!(!p(Bounce, None, Some(421), &[], OnHold));
        // No code at all: the words.
        assert!(!p(Bounce, None, None, &["There was a temporary problem; we will retry"], Expired));
        assert!(!p(Bounce, None, None, &["", "you will be told if it fails permanently; will retry"], OnHold));
        assert!(p(Bounce, None, None, &["This is a permanent error; I've given up."], MailboxFull));
        // No words either: the nature of the reason.
        assert!(p(Bounce, None, None, &["account has been disabled or discontinued"], Suspend));
        assert!(!p(Bounce, None, None, &["Not enough storage space in the mailbox"], MailboxFull));
        assert!(p(Bounce, None, None, &[""], OnHold));
        assert!(!p(Complaint, None, None, &[], Feedback));
    }
}
