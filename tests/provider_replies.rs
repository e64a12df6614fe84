//! The replies mailbox providers and MTAs document, each inside a plain RFC 3464 report, read
//! to the reason a deliverability engineer gives it. The texts are the servers' own words as
//! their operators publish them (Gmail's "SMTP errors and codes", Microsoft's "Email
//! non-delivery reports and SMTP errors in Exchange Online", Yahoo's "SMTP error codes",
//! and the bounce texts in the Postfix, Exim, Sendmail and qmail sources), not copies of
//! corpus samples: they check that the vocabulary is the MTAs', not the samples'.

use rebound::parse::{Kind, ParseOptions, parse};

/// (remote MX, reply code, enhanced status, the server's text, the reason it means).
#[rustfmt::skip]
const CASES: &[(&str, u16, &str, &str, &str)] = &[
    // Gmail / Google Workspace.
    ("gmail-smtp-in.l.google.com", 550, "5.1.1", "The email account that you tried to reach does not exist. Please try double-checking the recipient's email address for typos or unnecessary spaces.", "userunknown"),
    ("gmail-smtp-in.l.google.com", 552, "5.2.2", "The email account that you tried to reach is over quota.", "mailboxfull"),
    ("gmail-smtp-in.l.google.com", 452, "4.2.2", "The email account that you tried to reach is over quota. Please direct the recipient to", "mailboxfull"),
    ("gmail-smtp-in.l.google.com", 550, "5.2.1", "The email account that you tried to reach is disabled.", "suspend"),
    ("gmail-smtp-in.l.google.com", 550, "5.2.1", "The email account that you tried to reach is inactive.", "suspend"),
    ("gmail-smtp-in.l.google.com", 553, "5.1.2", "We weren't able to find the recipient domain. Please check for any spelling errors, and make sure you didn't enter any spaces, periods, or other punctuation after the recipient's email address.", "hostunknown"),
    ("gmail-smtp-in.l.google.com", 552, "5.3.4", "Your message exceeded Google's message size limits.", "mesgtoobig"),
    ("gmail-smtp-in.l.google.com", 550, "5.7.1", "Our system has detected that this message is likely unsolicited mail. To reduce the amount of spam sent to Gmail, this message has been blocked.", "spamdetected"),
    ("gmail-smtp-in.l.google.com", 550, "5.7.26", "This message does not have authentication information or fails to pass authentication checks (SPF or DKIM). To best protect our users from spam, the message has been blocked.", "authfailure"),
    ("gmail-smtp-in.l.google.com", 550, "5.7.26", "Unauthenticated email from example.com is not accepted due to domain's DMARC policy.", "authfailure"),
    ("gmail-smtp-in.l.google.com", 550, "5.7.25", "The IP address sending this message does not have a PTR record setup, or the corresponding forward DNS entry does not point to the sending IP.", "requireptr"),
    ("gmail-smtp-in.l.google.com", 550, "5.7.1", "Messages with multiple addresses in From: header are not accepted.", "notcompliantrfc"),
    ("gmail-smtp-in.l.google.com", 550, "5.7.1", "The user or domain that you are sending to (or from) has a policy that prohibited the mail that you sent.", "policyviolation"),
    ("gmail-smtp-in.l.google.com", 450, "4.2.1", "The user you are trying to contact is receiving mail too quickly. Please resend your message at a later time.", "speeding"),
    ("gmail-smtp-in.l.google.com", 421, "4.7.0", "Our system has detected an unusual rate of unsolicited mail originating from your IP address. To protect our users from spam, mail sent from your IP address has been temporarily blocked.", "blocked"),
    ("gmail-smtp-in.l.google.com", 550, "5.7.1", "The IP you're using to send mail is not authorized to send email directly to our servers. Please use the SMTP relay at your service provider instead.", "blocked"),
    ("gmail-smtp-in.l.google.com", 421, "4.7.0", "This message is suspicious due to the very low reputation of the sending IP address. To protect our users from spam, mail sent from your IP address has been temporarily rate limited.", "badreputation"),
    ("gmail-smtp-in.l.google.com", 552, "5.7.0", "This message was blocked because its content presents a potential security issue.", "policyviolation"),
    // Microsoft: Outlook.com and Exchange Online.
    ("example-com.mail.protection.outlook.com", 550, "5.1.10", "RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup", "userunknown"),
    ("example-com.mail.protection.outlook.com", 550, "5.4.1", "Recipient address rejected: Access denied. AS(201806281) [DB5EUR01FT012.eop-EUR01.prod.protection.outlook.com]", "userunknown"),
    ("example-com.mail.protection.outlook.com", 550, "5.7.606", "Access denied, banned sending IP [192.0.2.1]. To request removal from this list please visit https://sender.office.com/ and follow the directions.", "blocked"),
    ("example-com.mail.protection.outlook.com", 550, "5.7.509", "Access denied, sending domain [EXAMPLE.COM] does not pass DMARC verification and has a DMARC policy of reject.", "authfailure"),
    ("example-com.mail.protection.outlook.com", 554, "5.2.2", "mailbox full; STOREDRV.Deliver.Exception:QuotaExceededException.MapiExceptionShutoffQuotaExceeded", "mailboxfull"),
    ("example-com.mail.protection.outlook.com", 550, "5.7.64", "TenantAttribution; Relay Access Denied", "norelaying"),
    ("example-com.mail.protection.outlook.com", 550, "5.4.1", "Relay Access Denied ATTR35", "norelaying"),
    ("outlook-com.olc.protection.outlook.com", 550, "5.5.0", "Requested action not taken: mailbox unavailable (S2017062302).", "userunknown"),
    ("outlook-com.olc.protection.outlook.com", 550, "5.7.1", "Service unavailable, Client host [192.0.2.1] blocked using Spamhaus. To request removal from this list see https://www.spamhaus.org/query/ip/192.0.2.1", "blocked"),
    ("outlook-com.olc.protection.outlook.com", 550, "5.7.1", "Unfortunately, messages from [192.0.2.1] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3150).", "blocked"),
    ("outlook-com.olc.protection.outlook.com", 550, "", "OU-002 (BAY004-MC1F12) Unfortunately, messages from 192.0.2.1 weren't sent. Please contact your Internet service provider. You can tell them that Hotmail does not relay dynamically-assigned IP ranges. You can also refer your provider to http://mail.live.com/mail/troubleshooting.aspx#errors.", "blocked"),
    // Yahoo and AOL.
    ("mta5.am0.yahoodns.net", 554, "5.7.9", "Message not accepted for policy reasons. See https://senders.yahooinc.com/error-codes", "policyviolation"),
    ("mta5.am0.yahoodns.net", 553, "5.7.1", "[BL21] Connections will not be accepted from 192.0.2.1, because the ip is in Spamhaus's list; see https://senders.yahooinc.com/error-codes", "blocked"),
    ("mta5.am0.yahoodns.net", 554, "", "delivery error: dd This user doesn't have a yahoo.com account (someone@yahoo.com) [0] - mta1234.mail.bf1.yahoo.com", "userunknown"),
    ("mta5.am0.yahoodns.net", 554, "", "30 Sorry, your message to someone@yahoo.com cannot be delivered. This mailbox is disabled (554.30)", "suspend"),
    ("mx-aol.mail.gm0.yahoodns.net", 550, "5.7.9", "This mail has been blocked because the sender is unauthenticated. Yahoo requires all senders to authenticate with either SPF or DKIM.", "authfailure"),
    // Apple iCloud.
    ("mx01.mail.icloud.com", 550, "5.1.1", "<someone@icloud.com>: user does not exist", "userunknown"),
    ("mx01.mail.icloud.com", 552, "5.2.2", "<someone@icloud.com>: user is over quota", "mailboxfull"),
    // Comcast.
    ("mx1a1.comcast.net", 550, "5.1.1", "<someone@comcast.net> Not our Customer", "userunknown"),
    ("mx1a1.comcast.net", 554, "5.7.1", "192.0.2.1 Comcast block for spam. Please see http://postmaster.comcast.net/smtp-error-codes.php#BL000000", "blocked"),
    // Yandex, Mail.ru, GMX.
    ("mx.yandex.ru", 550, "5.7.1", "No such user!", "userunknown"),
    ("mx.yandex.ru", 554, "5.7.1", "[2] Message rejected under suspicion of SPAM; https://ya.cc/1IrBc 1234567890-AbCdEfGh", "spamdetected"),
    ("mxs.mail.ru", 550, "", "Message was not accepted -- invalid mailbox.  Local mailbox someone@mail.ru is unavailable: user not found", "userunknown"),
    ("mxs.mail.ru", 550, "", "Message was not accepted -- invalid mailbox.  Local mailbox someone@mail.ru is unavailable: account is disabled", "suspend"),
    ("mx00.emig.gmx.net", 550, "", "Requested action not taken: mailbox unavailable", "userunknown"),
    ("mx00.emig.gmx.net", 554, "", "Transaction failed Reject due to policy restrictions. For explanation visit https://www.gmx.net/mail/senderguidelines?c=pr", "policyviolation"),
    ("mx00.emig.gmx.net", 554, "", "gmx.net (mxgmx016) Nemesis ESMTP Service not available No SMTP service Bad DNS PTR resource record. For explanation visit https://www.gmx.net/mail/senderguidelines?c=ptr", "requireptr"),
    ("mxs.mail.ru", 550, "", "spam message rejected. Please visit http://help.mail.ru/notspam-support/id?c=AbCdEf or report details to abuse@corp.mail.ru. Error code: 0123456789ABCDEF.", "spamdetected"),
    ("mx.yandex.ru", 550, "5.7.1", "Policy rejection on Target Address", "policyviolation"),
    // Tencent QQ.
    ("mx3.qq.com", 550, "", "Mailbox not found. http://service.mail.qq.com/cgi-bin/help?subtype=1&&id=20022&&no=1000728", "userunknown"),
    ("mx3.qq.com", 552, "", "Mailbox space not enough", "mailboxfull"),
    ("mta5.am0.yahoodns.net", 552, "", "1 Requested mail action aborted, mailbox not found", "userunknown"),
    ("mx01.mail.icloud.com", 554, "5.7.1", "[CS01] Message rejected due to local policy. Please visit https://support.apple.com/en-us/HT204137", "policyviolation"),
    ("mx01.mail.icloud.com", 550, "5.7.0", "Blocked - see https://ipcheck.proofpoint.com/?ip=192.0.2.1", "blocked"),
    ("example-com.mail.protection.outlook.com", 550, "5.4.300", "Message expired", "expired"),
    ("example-com.mail.protection.outlook.com", 550, "5.4.316", "Message expired, connection refused(Socket error code 10061)", "expired"),
    ("example-com.mail.protection.outlook.com", 451, "4.4.316", "Connection refused [Message=Socket error code 10061]", "networkerror"),
    ("example-com.mail.protection.outlook.com", 530, "5.7.57", "Client was not authenticated to send anonymous mail during MAIL FROM", "securityerror"),
    // Filtering gateways in front of a domain: Broadcom MessageLabs, Mimecast; Zoho Mail.
    ("cluster1.eu.messagelabs.com", 553, "", "you are trying to use me [server-7.tower-1.messagelabs.com] as a relay, but I have not been configured to let you [192.0.2.1, mta.example.com] do this.", "norelaying"),
    ("cluster1.eu.messagelabs.com", 550, "5.1.1", "Invalid recipient <someone@example.net> (#5.1.1)", "userunknown"),
    ("eu-smtp-inbound-1.mimecast.com", 550, "", "Invalid Recipient - https://community.mimecast.com/docs/DOC-1369#550 [AbCdEfGhIjKlMnOp.uk1]", "userunknown"),
    ("mx.zoho.com", 550, "5.1.1", "User does not exist - <someone@zoho.com>", "userunknown"),
    // NTT docomo.
    ("mfsmax.docomo.ne.jp", 550, "", "Unknown user someone@docomo.ne.jp", "userunknown"),
    // Postfix's own texts (smtp(8), smtpd(8), local(8)).
    ("mx.example.net", 554, "5.7.1", "<someone@example.net>: Relay access denied", "norelaying"),
    ("mx.example.net", 550, "5.1.1", "<someone@example.net>: Recipient address rejected: User unknown in virtual mailbox table", "userunknown"),
    ("mx.example.net", 550, "5.1.1", "<someone@example.net>: Recipient address rejected: User unknown in local recipient table", "userunknown"),
    ("mx.example.net", 552, "5.3.4", "Message size exceeds fixed limit", "mesgtoobig"),
    ("mx.example.net", 450, "4.7.1", "Client host rejected: cannot find your reverse hostname, [192.0.2.1]", "requireptr"),
    ("mx.example.net", 554, "5.7.1", "Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org", "blocked"),
    // Sendmail's.
    ("mx.example.net", 550, "5.1.1", "<someone@example.net>... User unknown", "userunknown"),
    ("mx.example.net", 553, "5.3.0", "<someone@example.net>... Addressee unknown, relay=[192.0.2.1]", "userunknown"),
    ("mx.example.net", 550, "5.7.1", "<someone@example.net>... Relaying denied", "norelaying"),
    // X.2.3 is "message length exceeds administrative limit" (RFC 3463): a limit.
    ("mx.example.net", 552, "5.2.3", "Message size exceeds fixed maximum message size (10485760)", "exceedlimit"),
    ("mx.example.net", 553, "5.1.8", "<sender@example.com>... Domain of sender address sender@example.com does not exist", "rejected"),
    // Exim's.
    ("mx.example.net", 550, "", "No Such User Here", "userunknown"),
    ("mx.example.net", 550, "", "Unrouteable address", "hostunknown"),
    ("mx.example.net", 552, "", "Mailbox quota exceeded", "mailboxfull"),
    ("mx.example.net", 550, "", "Verification failed for <sender@example.com> Unrouteable address Sender verify failed", "rejected"),
    // qmail's (qmail-remote, qmail-send, vpopmail).
    ("mx.example.net", 550, "5.1.1", "Sorry, no mailbox here by that name. (#5.1.1)", "userunknown"),
    ("mx.example.net", 553, "5.7.1", "sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)", "norelaying"),
    ("mx.example.net", 552, "5.2.2", "The users mailfolder is over the allowed quota (size). (#5.2.2)", "mailboxfull"),
    // Exchange on premises.
    ("mail.example.net", 550, "5.1.1", "RESOLVER.ADR.RecipNotFound; not found", "userunknown"),
    ("mail.example.net", 554, "5.4.4", "SMTPSEND.DNS.NonExistentDomain; nonexistent domain", "hostunknown"),
    ("mail.example.net", 550, "4.4.7", "QUEUE.Expired; message expired", "expired"),
    // Spam and content filters in front of a mailbox (Barracuda, Proofpoint, Mimecast).
    ("mx.example.net", 554, "5.7.1", "Service unavailable; Client host [192.0.2.1] blocked using Barracuda Reputation, http://www.barracudanetworks.com/reputation/?pr=1&ip=192.0.2.1", "blocked"),
    ("mx.example.net", 550, "5.7.1", "Message rejected due to the attachment filtering policy", "securityerror"),
    ("mx.example.net", 550, "", "Rejected by header based Anti-Spoofing policy: someone@example.net", "policyviolation"),
    ("mx.example.net", 554, "5.7.1", "Message rejected: virus found in message (Eicar-Test-Signature)", "virusdetected"),
];

/// The command a reply of this reason answers, as the reporting MTA would say it: the
/// message's content, size and authentication are judged after DATA, the rest at RCPT.
fn command(reason: &str) -> &'static str {
    match reason {
        "mesgtoobig" | "exceedlimit" | "spamdetected" | "virusdetected" | "authfailure" | "notcompliantrfc"
        | "policyviolation" | "securityerror" => "end of DATA",
        _ => "RCPT TO",
    }
}

/// A Postfix-shaped report for `someone@DOMAIN`: `said` is the human-readable part's account
/// of the failure, `fields` the per-recipient fields after Action and Status.
fn dsn(domain: &str, said: &str, action: &str, status: &str, fields: &str) -> String {
    format!(
        "From: MAILER-DAEMON@mta.example.com\r\nTo: sender@example.com\r\nSubject: Undelivered Mail Returned to Sender\r\n\
Date: Tue, 1 Dec 2026 10:00:00 +0000\r\nMessage-ID: <report-1@mta.example.com>\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n\
--B\r\nContent-Type: text/plain\r\n\r\nThis is the mail system at host mta.example.com.\r\n\r\n\
<someone@{domain}>: {said}\r\n\r\n\
--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mta.example.com\r\n\r\n\
Final-Recipient: rfc822; someone@{domain}\r\nAction: {action}\r\nStatus: {status}\r\n{fields}\r\n\r\n--B--\r\n"
    )
}

/// The remote server's reply in a report: the human-readable part quotes it with the command
/// it answered, the delivery-status part carries the status and the diagnostic.
fn report(mx: &str, code: u16, status: &str, text: &str, reason: &str) -> String {
    let st = if status.is_empty() { if code >= 500 { "5.0.0" } else { "4.0.0" } } else { status };
    let action = if code >= 500 || st.starts_with("5.") { "failed" } else { "delayed" };
    let diag = if status.is_empty() { format!("{code} {text}") } else { format!("{code} {status} {text}") };
    // The recipient's domain is the MX host's last two labels.
    let mut labels: Vec<&str> = mx.rsplit('.').take(2).collect();
    labels.reverse();
    let said = format!("host {mx}[192.0.2.25] said: {diag} (in reply to {} command)", command(reason));
    dsn(&labels.join("."), &said, action, st, &format!("Remote-MTA: dns; {mx}\r\nDiagnostic-Code: smtp; {diag}"))
}

#[test]
fn documented_replies_read_to_their_reasons() {
    let mut misses = Vec::new();
    for (mx, code, status, text, want) in CASES {
        let raw = report(mx, *code, status, text, want);
        let rep = parse(raw.as_bytes(), &ParseOptions::default());
        let got = rep.records.first().map(|r| (r.kind, r.reason.as_str(), r.permanent));
        match got {
            Some((Kind::Bounce | Kind::Delay, reason, permanent)) => {
                if reason != *want {
                    misses.push(format!("{mx} {code} {status} {text:?}: {reason}, expected {want}"));
                }
                // Permanence follows the class of the status, or of the reply code without one.
                let class = if status.is_empty() { *code >= 500 } else { status.starts_with('5') };
                if permanent != class {
                    misses.push(format!("{mx} {code} {status} {text:?}: permanent {permanent}"));
                }
            }
            other => misses.push(format!("{mx} {code} {status} {text:?}: read as {other:?}")),
        }
    }
    assert!(misses.is_empty(), "{} of {} replies misread:\n{}", misses.len(), CASES.len(), misses.join("\n"));
}

/// The reporting MTA's own words in a final report when no server answered (or none that
/// matters): (status, the text, the reason). In a report they are the Diagnostic-Code of type
/// X-Postfix (or the MTA's own), with no reply code. A temporary status in a final report is
/// a message the MTA gave up on: a timeout there is `expired`, as deliverability tools read it.
#[rustfmt::skip]
const OWN_WORDS: &[(&str, &str, &str)] = &[
    // Postfix smtp(8) and local(8).
    ("5.4.4", "Host or domain name not found. Name service error for name=example.net type=MX: Host not found", "hostunknown"),
    ("4.4.1", "connect to mx.example.net[192.0.2.25]:25: Connection timed out", "expired"),
    ("4.4.2", "conversation with mx.example.net[192.0.2.25] timed out while receiving the initial server greeting", "expired"),
    ("4.4.2", "lost connection with mx.example.net[192.0.2.25] while sending RCPT TO", "networkerror"),
    ("5.1.1", "unknown user: \"someone\"", "userunknown"),
    ("5.3.4", "message size 20480000 exceeds size limit 10240000 of server mx.example.net[192.0.2.25]", "mesgtoobig"),
    ("5.2.2", "cannot update mailbox /var/mail/someone for user someone. error writing message: Disk quota exceeded", "mailboxfull"),
    // Exim: its routing and retry errors.
    ("5.0.0", "Unrouteable mail domain \"example.net\"", "hostunknown"),
    ("4.0.0", "retry timeout exceeded", "expired"),
    ("5.0.0", "mailbox is full (MTA-imposed quota exceeded while writing to file /var/mail/someone)", "mailboxfull"),
    ("4.0.0", "retry time not reached for any host after a long failure period", "expired"),
    // qmail-remote and qmail-send.
    ("5.1.2", "Sorry, I couldn't find any host by that name. (#5.1.2)", "hostunknown"),
    ("5.0.0", "I'm not going to try again; this message has been in the queue too long.", "expired"),
    // Sendmail.
    ("5.1.2", "Host unknown (Name server: example.net: host not found)", "hostunknown"),
    ("4.4.7", "Cannot send message for 5 days", "expired"),
    // Lotus Domino.
    ("5.1.1", "User someone (someone@example.net) not listed in Domino Directory", "userunknown"),
];

fn own_report(status: &str, text: &str) -> String {
    dsn("example.net", text, "failed", status, &format!("Diagnostic-Code: X-Postfix; {text}"))
}

#[test]
fn reporting_mtas_own_words_read_to_their_reasons() {
    let mut misses = Vec::new();
    for (status, text, want) in OWN_WORDS {
        let rep = parse(own_report(status, text).as_bytes(), &ParseOptions::default());
        match rep.records.first().map(|r| (r.reason.as_str(), r.permanent)) {
            Some((reason, permanent)) => {
                if reason != *want {
                    misses.push(format!("{status} {text:?}: {reason}, expected {want}"));
                }
                if permanent != status.starts_with('5') {
                    misses.push(format!("{status} {text:?}: permanent {permanent}"));
                }
            }
            None => misses.push(format!("{status} {text:?}: no record")),
        }
    }
    assert!(misses.is_empty(), "{} of {} texts misread:\n{}", misses.len(), OWN_WORDS.len(), misses.join("\n"));
}
