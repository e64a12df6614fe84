//! Builders for test messages: standard DSNs and ARF reports with chosen fields.
#![allow(dead_code)]

/// An RFC 3464 bounce for `rcpt` with `status`/`diag`, returning the original headers
/// `orig_headers`, sent to `to` (where a VERP address would be).
pub fn dsn(to: &str, rcpt: &str, status: &str, diag: &str, orig_headers: &str, arrival: &str) -> Vec<u8> {
    let action = if status.starts_with('4') { "delayed" } else { "failed" };
    format!(
        "Return-Path: <>\r\nFrom: MAILER-DAEMON@mx.example.net (Mail Delivery System)\r\nTo: {to}\r\n\
Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <{id}@mx.example.net>\r\n\
Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"BB\"\r\n\r\n\
--BB\r\nContent-Type: text/plain\r\n\r\nThis is the mail system at host mx.example.net.\r\n\r\n\
--BB\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.net\r\nArrival-Date: {arrival}\r\n\r\n\
Final-Recipient: rfc822; {rcpt}\r\nAction: {action}\r\nStatus: {status}\r\nRemote-MTA: dns; in.example.org\r\n\
Diagnostic-Code: smtp; {diag}\r\nLast-Attempt-Date: {arrival}\r\n\r\n\
--BB\r\nContent-Type: text/rfc822-headers\r\n\r\n{orig_headers}\r\n--BB--\r\n",
        id = uuid_like(to, rcpt, diag, orig_headers, arrival),
    )
    .into_bytes()
}

/// An ARF report about `rcpt` with the given Feedback-Type.
pub fn arf(rcpt: &str, feedback_type: &str, orig_headers: &str) -> Vec<u8> {
    format!(
        "From: fbl@isp.example\r\nTo: fbl@sender.example\r\nSubject: Abuse report\r\nMessage-ID: <{id}@isp.example>\r\n\
MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=feedback-report; boundary=\"AA\"\r\n\r\n\
--AA\r\nContent-Type: text/plain\r\n\r\nThis is an email abuse report.\r\n\r\n\
--AA\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: {feedback_type}\r\nUser-Agent: ISP-FBL/1.0\r\nVersion: 1\r\n\
Original-Rcpt-To: {rcpt}\r\nArrival-Date: Tue, 10 Nov 2026 10:00:00 +0000\r\nReporting-MTA: dns; fbl.isp.example\r\nSource-IP: 192.0.2.1\r\n\r\n\
--AA\r\nContent-Type: message/rfc822\r\n\r\n{orig_headers}To: {rcpt}\r\n\r\nHello\r\n\r\n--AA--\r\n",
        id = uuid_like(rcpt, feedback_type, orig_headers, "", ""),
    )
    .into_bytes()
}

/// Original headers as a sending platform stamps them.
pub fn original(campaign: Option<&str>, message_id: &str) -> String {
    let mut h = format!(
        "From: News <news@sender.example>\r\nSubject: Our news\r\nMessage-ID: <{message_id}>\r\nDate: Mon, 9 Nov 2026 09:00:00 +0000\r\n"
    );
    if let Some(c) = campaign {
        h.push_str(&format!("X-Campaign-ID: {c}\r\n"));
    }
    h
}

fn uuid_like(a: &str, b: &str, c: &str, d: &str, e: &str) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (a, b, c, d, e).hash(&mut h);
    format!("{:016x}", h.finish())
}

/// One RFC 3464 report naming every address of `rcpts` (5.1.1 each), as an MTA sends for a
/// message to a large list that one domain refused.
pub fn dsn_many(to: &str, rcpts: impl Iterator<Item = String>, orig_headers: &str) -> Vec<u8> {
    let mut m = format!(
        "Return-Path: <>\r\nFrom: MAILER-DAEMON@mx.example.net (Mail Delivery System)\r\nTo: {to}\r\n\
Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <many-{}@mx.example.net>\r\n\
MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"BB\"\r\n\r\n\
--BB\r\nContent-Type: text/plain\r\n\r\nThis is the mail system at host mx.example.net.\r\n\r\n\
--BB\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.net\r\n\
Arrival-Date: Tue, 10 Nov 2026 10:00:00 +0000\r\n",
        uuid_like(to, orig_headers, "", "", "")
    );
    for r in rcpts {
        m.push_str(&format!(
            "\r\nFinal-Recipient: rfc822; {r}\r\nAction: failed\r\nStatus: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1 User unknown\r\n"
        ));
    }
    m.push_str(&format!("\r\n--BB\r\nContent-Type: text/rfc822-headers\r\n\r\n{orig_headers}\r\n--BB--\r\n"));
    m.into_bytes()
}

/// The `i`-th ordinary hard bounce (5.1.1) of campaign `c1`, each with its own recipient and
/// original Message-ID.
pub fn bounce(i: usize) -> Vec<u8> {
    dsn(
        "bounces@sender.example",
        &format!("gone{i}@example.org"),
        "5.1.1",
        "550 5.1.1 User unknown",
        &original(Some("c1"), &format!("m{i}@sender.example")),
        "Tue, 10 Nov 2026 10:00:00 +0000",
    )
}
