//! The MTA log readers over real-looking files each test writes in the MTA's documented
//! format: header lines, joins across lines, malformed lines, a partial last line, zstd
//! segments, and checkpoints resumed from their serialised form.

use rebound::logs::{Checkpoint, Entry, Format, Kind, LogRecord, Options, Reader, read_file};
use std::io::Write;

fn records(entries: &[Entry]) -> Vec<&LogRecord> {
    entries.iter().filter_map(|e| e.as_ref().ok()).collect()
}

fn errors(entries: &[Entry]) -> Vec<&rebound::logs::Unreadable> {
    entries.iter().filter_map(|e| e.as_ref().err()).collect()
}

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, text).unwrap();
    p
}

const PMTA_HEADER: &str = "type,timeLogged,timeQueued,orig,rcpt,orcpt,dsnAction,dsnStatus,dsnDiag,dsnMta,bounceCat,srcType,srcMta,dlvType,dlvSourceIp,dlvDestinationIp,dlvEsmtpAvailable,dlvSize,vmta,jobId,envId,queue,vmtaPool,header_X-Campaign-ID\n";

fn pmta_file() -> String {
    let mut s = String::from(PMTA_HEADER);
    s += "d,2026-12-01 10:00:01+0000,2026-12-01 09:59:58+0000,bounce-42@news.example.com,ann@example.net,,relayed,2.0.0 (success),smtp;250 2.0.0 OK 1701424801 q7si,mx1.example.net (192.0.2.10),,smtp,app1.example.com,smtp,198.51.100.7,192.0.2.10,PIPELINING SIZE,5120,vmta-7,job-2026-12,env-1,example.net/vmta-7,pool-a,camp-42\n";
    s += "b,2026-12-01 10:00:02+0000,2026-12-01 09:59:58+0000,bounce-42@news.example.com,bob@example.net,rfc822;bob@example.net,failed,5.1.1 (bad destination mailbox address),\"smtp;550 5.1.1 <bob@example.net>: Recipient address rejected: User unknown, sorry\",mx1.example.net (192.0.2.10),bad-mailbox,smtp,app1.example.com,smtp,198.51.100.7,192.0.2.10,,5120,vmta-7,job-2026-12,env-2,example.net/vmta-7,pool-a,camp-42\n";
    s += "t,2026-12-01 10:00:03+0000,2026-12-01 09:59:58+0000,bounce-42@news.example.com,cat@example.org,,delayed,4.7.0 (other or undefined security status),smtp;421 4.7.0 Try again later,mx.example.org (203.0.113.5),policy-related,smtp,app1.example.com,smtp,198.51.100.8,203.0.113.5,,5120,vmta-8,job-2026-12,env-3,example.org/vmta-8,pool-a,camp-42\n";
    // PowerMTA's own refusal: the recipient is on its suppression list; no remote MTA.
    s += "b,2026-12-01 10:00:04+0000,2026-12-01 09:59:58+0000,bounce-42@news.example.com,gone@example.net,,failed,5.0.0 (undefined status),smtp;550 5.0.0 recipient is in suppression list,,other,smtp,app1.example.com,smtp,,,,5120,vmta-7,job-2026-12,env-4,example.net/vmta-7,pool-a,camp-42\n";
    s += "this line was cut by a crash\n";
    s += "r,2026-12-01 10:00:05+0000,,bounce-42@news.example.com,dan@example.com,,,,,,,smtp,app1.example.com,,,,,5120,,job-2026-12,,,,camp-42\n";
    s += "b,2026-12-01 10:00:06+0000,2026-11-27 10:00:00+0000,bounce-42@news.example.com,old@example.com,,failed,4.4.7 (delivery time expired),smtp;421 4.4.7 message expired,,message-expired,smtp,app1.example.com,smtp,198.51.100.7,,,5120,vmta-7,job-2026-12,env-5,example.com/vmta-7,pool-a,camp-42\n";
    // A new header (the fields were reconfigured): read by name again.
    s += "type,timeLogged,rcpt,orig,dsnStatus,dsnDiag,bounceCat,header_X-Campaign-ID\n";
    s += "rb,2026-12-01 11:00:00+0000,eve@example.net,bounce-43@news.example.com,5.2.2 (mailbox full),smtp;552 5.2.2 mailbox full,quota-issues,camp-43\n";
    s += "x,2026-12-01 11:00:01+0000,zed@example.net,bounce-43@news.example.com,,,,camp-43\n";
    s
}

#[test]
fn powermta_accounting_file_reads_by_header_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir, "acct-2026-12-01.csv", &pmta_file());
    let read =
        read_file(Format::PowerMta, Options { node: Some("pmta-1".into()), ..Default::default() }, &path).unwrap();
    assert!(read.damage.is_none());
    let recs = records(&read.entries);
    let kinds: Vec<(Kind, &str)> = recs.iter().map(|r| (r.kind, r.recipient.as_str())).collect();
    assert_eq!(
        kinds,
        [
            (Kind::Delivered, "ann@example.net"),
            (Kind::Bounced, "bob@example.net"),
            (Kind::Deferred, "cat@example.org"),
            (Kind::Bounced, "gone@example.net"),
            (Kind::Expired, "old@example.com"),
            (Kind::Bounced, "eve@example.net"),
        ]
    );
    let bob = recs[1];
    assert_eq!(bob.sender.as_deref(), Some("bounce-42@news.example.com"));
    assert_eq!(bob.original_recipient.as_deref(), Some("bob@example.net"));
    assert_eq!(bob.status.as_deref(), Some("5.1.1"));
    assert_eq!(bob.reply_code, Some(550));
    assert_eq!(
        bob.reply_text.as_deref(),
        Some("550 5.1.1 <bob@example.net>: Recipient address rejected: User unknown, sorry")
    );
    assert_eq!((bob.remote_host.as_deref(), bob.remote_ip.as_deref()), (Some("mx1.example.net"), Some("192.0.2.10")));
    assert_eq!(bob.fact("bounceCat"), Some("bad-mailbox"));
    assert_eq!(bob.fact("dsnStatusText"), Some("bad destination mailbox address"));
    assert_eq!(bob.header("X-Campaign-ID"), Some("camp-42"));
    let p = &bob.provenance;
    assert_eq!(p.node.as_deref(), Some("pmta-1"));
    assert_eq!(p.vmta.as_deref(), Some("vmta-7"));
    assert_eq!(p.vmta_pool.as_deref(), Some("pool-a"));
    assert_eq!(p.source_ip.as_deref(), Some("198.51.100.7"));
    assert_eq!(p.job_id.as_deref(), Some("job-2026-12"));
    assert_eq!(p.envelope_id.as_deref(), Some("env-2"));
    assert_eq!(bob.position.line, 3);
    assert!(!bob.suppressed_by_mta);
    assert!(recs[3].suppressed_by_mta, "PowerMTA's own suppression-list refusal is flagged");
    assert!(recs.iter().filter(|r| r.recipient != "gone@example.net").all(|r| !r.suppressed_by_mta));
    assert_eq!(recs[5].header("X-Campaign-ID"), Some("camp-43"));
    assert_eq!(recs[5].fact("type"), Some("rb"));

    let errs = errors(&read.entries);
    assert_eq!(errs.len(), 2, "{errs:?}");
    assert_eq!(errs[0].text, "this line was cut by a crash");
    assert_eq!(errs[0].position.line, 6);
    let offset = pmta_file().find("this line was cut").unwrap() as u64;
    assert_eq!(errs[0].position.offset, offset);
    assert!(errs[1].reason.contains("unknown record type \"x\""), "{}", errs[1]);
}

#[test]
fn a_partial_last_line_waits_and_a_checkpoint_resumes_once() {
    let full = pmta_file();
    let cut = full.find("rb,2026").unwrap() + 20; // mid-line: the writer is still at it
    let mut reader = Reader::new(Format::PowerMta, Options::default());
    let mut first = Vec::new();
    let used = reader.feed(&full.as_bytes()[..cut], &mut first);
    assert!(used < cut, "the partial line is not consumed");
    assert!(records(&first).iter().all(|r| r.recipient != "eve@example.net"));
    let saved = serde_json::to_string(&reader.checkpoint()).unwrap();
    drop(reader);

    let checkpoint: Checkpoint = serde_json::from_str(&saved).unwrap();
    assert_eq!(checkpoint.offset, used as u64);
    let mut again = Reader::resume(Options::default(), checkpoint);
    let mut second = Vec::new();
    let rest = &full.as_bytes()[used..];
    let n = again.feed(rest, &mut second);
    again.finish(&rest[n..], &mut second);
    let eve: Vec<_> = records(&second).into_iter().filter(|r| r.recipient == "eve@example.net").collect();
    assert_eq!(eve.len(), 1, "the completed line is read once, under the header from the checkpoint");
    assert_eq!(eve[0].position.offset, full.find("rb,2026").unwrap() as u64);
    let all = first.len() + second.len();
    let whole = read_file_text(Format::PowerMta, &full).len();
    assert_eq!(all, whole, "split reading gives exactly what one pass gives");
    assert_eq!(again.checkpoint().offset, full.len() as u64);
}

fn read_file_text(format: Format, text: &str) -> Vec<Entry> {
    let mut r = Reader::new(format, Options { year: 2026, ..Default::default() });
    let mut out = Vec::new();
    let n = r.feed(text.as_bytes(), &mut out);
    r.finish(&text.as_bytes()[n..], &mut out);
    out
}

const POSTFIX: &str = "\
Dec  1 10:00:00 mx1 postfix/smtpd[2101]: connect from app1.example.com[198.51.100.20]
Dec  1 10:00:00 mx1 postfix/smtpd[2101]: 4Tq7Xz1AbcD: client=app1.example.com[198.51.100.20]
Dec  1 10:00:00 mx1 postfix/cleanup[2102]: 4Tq7Xz1AbcD: message-id=<m1@news.example.com>
Dec  1 10:00:00 mx1 postfix/qmgr[900]: 4Tq7Xz1AbcD: from=<bounce-42@news.example.com>, size=4242, nrcpt=3 (queue active)
Dec  1 10:00:00 mx1 postfix/cleanup[2102]: 9F00AB12C: message-id=<m2@news.example.com>
Dec  1 10:00:01 mx1 dovecot: imap-login: Login: user=<x>
Dec  1 10:00:01 mx1 postfix/smtpd[2101]: NOQUEUE: reject: RCPT from unknown[198.51.100.99]: 554 5.7.1 <spam@mx1.example.com>: Relay access denied; from=<a@spam.example> to=<spam@mx1.example.com> proto=ESMTP helo=<x>
Dec  1 10:00:01 mx1 postfix/qmgr[900]: 9F00AB12C: from=<>, size=900, nrcpt=1 (queue active)
Dec  1 10:00:02 mx1 postfix/smtp[2103]: 4Tq7Xz1AbcD: to=<ann@example.net>, relay=mx1.example.net[192.0.2.10]:25, delay=2.1, delays=0.1/0/1/1, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 77AB)
Dec  1 10:00:03 mx1 postfix/smtp[2103]: 4Tq7Xz1AbcD: to=<bob@example.net>, orig_to=<robert@example.net>, relay=mx1.example.net[192.0.2.10]:25, delay=3, delays=0.1/0/1/2, dsn=5.1.1, status=bounced (host mx1.example.net[192.0.2.10] said: 550 5.1.1 <bob@example.net>: Recipient address rejected: User unknown (in reply to RCPT TO command))
garbage without a timestamp
Dec  1 10:00:04 mx1 postfix/smtp[2104]: 9F00AB12C: to=<cat@example.org>, relay=none, delay=4, delays=0/0/4/0, dsn=4.4.1, status=deferred (connect to mx.example.org[203.0.113.5]:25: Connection refused)
Dec  1 10:00:05 mx1 postfix/smtp[2103]: 4Tq7Xz1AbcD: to=<dan@example.com>, relay=mx.example.com[203.0.113.9]:25, delay=5, dsn=4.2.2, status=deferred (host mx.example.com[203.0.113.9] said: 452 4.2.2 Mailbox full (in reply to RCPT TO command))
Dec  1 10:00:06 mx1 postfix/qmgr[900]: 4Tq7Xz1AbcD: removed
Dec  1 10:00:07 mx1 postfix/qmgr[900]: 9F00AB12C: to=<cat@example.org>, relay=none, delay=432000, delays=432000/0/0/0, dsn=4.4.7, status=expired, returned to sender
Dec  1 10:00:08 mx1 postfix/smtp[2105]: 9F00AB12C: to=<x@example.org>, relay=none, status=weird
";

#[test]
fn postfix_lines_join_on_the_queue_id_across_a_checkpoint() {
    let split = POSTFIX.find("Dec  1 10:00:02").unwrap();
    let options = || Options { node: None, year: 2026, offset: chrono::FixedOffset::east_opt(3600).unwrap() };
    let mut reader = Reader::new(Format::Postfix, options());
    let mut out = Vec::new();
    assert_eq!(reader.feed(&POSTFIX.as_bytes()[..split], &mut out), split);
    assert!(out.is_empty(), "{out:?}");
    let saved = serde_json::to_string(&reader.checkpoint()).unwrap();
    assert!(saved.contains("m1@news.example.com") && saved.contains("bounce-42@news.example.com"), "{saved}");
    let mut reader = Reader::resume(options(), serde_json::from_str(&saved).unwrap());
    let rest = &POSTFIX.as_bytes()[split..];
    let n = reader.feed(rest, &mut out);
    assert_eq!(n, rest.len());

    let recs = records(&out);
    let got: Vec<(Kind, &str, Option<&str>)> =
        recs.iter().map(|r| (r.kind, r.recipient.as_str(), r.status.as_deref())).collect();
    assert_eq!(
        got,
        [
            (Kind::Delivered, "ann@example.net", Some("2.0.0")),
            (Kind::Bounced, "bob@example.net", Some("5.1.1")),
            (Kind::Deferred, "cat@example.org", Some("4.4.1")),
            (Kind::Deferred, "dan@example.com", Some("4.2.2")),
            (Kind::Expired, "cat@example.org", Some("4.4.7")),
        ]
    );
    let bob = recs[1];
    assert_eq!(bob.sender.as_deref(), Some("bounce-42@news.example.com"));
    assert_eq!(bob.original_recipient.as_deref(), Some("robert@example.net"));
    assert_eq!(bob.provenance.message_id.as_deref(), Some("m1@news.example.com"));
    assert_eq!(bob.provenance.queue_id.as_deref(), Some("4Tq7Xz1AbcD"));
    assert_eq!(bob.provenance.node.as_deref(), Some("mx1"));
    assert_eq!(bob.reply_code, Some(550));
    assert!(bob.reply_text.as_deref().unwrap().starts_with("host mx1.example.net[192.0.2.10] said: 550 5.1.1"));
    assert_eq!((bob.remote_host.as_deref(), bob.remote_ip.as_deref()), (Some("mx1.example.net"), Some("192.0.2.10")));
    assert_eq!(bob.time.to_rfc3339(), "2026-12-01T09:00:03+00:00");
    assert_eq!(recs[2].sender.as_deref(), Some(""), "the null sender <> joined from qmgr");
    assert_eq!(recs[2].provenance.message_id.as_deref(), Some("m2@news.example.com"));
    assert_eq!(recs[2].reply_code, None);
    assert_eq!(recs[3].reply_code, Some(452));

    let errs = errors(&out);
    assert_eq!(errs.len(), 2, "{errs:?}");
    assert_eq!(errs[0].text, "garbage without a timestamp");
    assert_eq!(errs[0].position.line, 11);
    assert!(errs[1].reason.contains("status=weird"));
    // 4Tq7Xz1AbcD was removed; 9F00AB12C is still open.
    let state = serde_json::to_value(reader.checkpoint().state).unwrap();
    assert!(state["messages"].get("4Tq7Xz1AbcD").is_none() && state["messages"].get("9F00AB12C").is_some(), "{state}");
}

const EXIM: &str = "\
2026-12-01 10:00:00 exim 4.97 daemon started: pid=100, -q30m, listening for SMTP on port 25
2026-12-01 10:00:01 1tABCD-000123-AB <= bounce-42@news.example.com H=app1.example.com [198.51.100.20] P=esmtps S=4242 id=m1@news.example.com
2026-12-01 10:00:01 1tEFGH-00000000ABC-0Abc <= <> R=1tABCD-000123-AB U=Debian-exim P=local S=1900 id=E1tEFGH@mx2.example.com
2026-12-01 10:00:02 1tABCD-000123-AB => ann@example.net R=dnslookup T=remote_smtp H=mx1.example.net [192.0.2.10] X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=yes C=\"250 2.0.0 OK 1701424801 q7si\"
2026-12-01 10:00:02 1tABCD-000123-AB -> ann2@example.net R=dnslookup T=remote_smtp H=mx1.example.net [192.0.2.10] C=\"250 2.0.0 OK\"
2026-12-01 10:00:03 1tABCD-000123-AB ** bob@example.net R=dnslookup T=remote_smtp H=mx1.example.net [192.0.2.10]: SMTP error from remote mail server after RCPT TO:<bob@example.net>: 550 5.1.1 <bob@example.net>: Recipient address rejected: User unknown
2026-12-01 10:00:04 1tABCD-000123-AB == cat@example.org R=dnslookup T=remote_smtp defer (-44) H=mx.example.org [203.0.113.5]: SMTP error from remote mail server after RCPT TO:<cat@example.org>: 451 4.7.1 Greylisted, try again later
2026-12-01 10:00:04 garbled ** entry
2026-12-01 10:00:05 1tABCD-000123-AB Completed
2026-12-01 10:00:06 1tEFGH-00000000ABC-0Abc ** old@example.com R=dnslookup T=remote_smtp: retry timeout exceeded
2026-12-01 10:00:07 1tEFGH-00000000ABC-0Abc => local@mx2.example.com <postmaster@example.com> R=local_user T=local_delivery
not exim at all
";

#[test]
fn exim_mainlog_joins_on_the_message_id() {
    let out = read_file_text(Format::Exim, EXIM);
    let recs = records(&out);
    let got: Vec<(Kind, &str)> = recs.iter().map(|r| (r.kind, r.recipient.as_str())).collect();
    assert_eq!(
        got,
        [
            (Kind::Delivered, "ann@example.net"),
            (Kind::Delivered, "ann2@example.net"),
            (Kind::Bounced, "bob@example.net"),
            (Kind::Deferred, "cat@example.org"),
            (Kind::Expired, "old@example.com"),
            (Kind::Delivered, "local@mx2.example.com"),
        ]
    );
    let bob = recs[2];
    assert_eq!(bob.sender.as_deref(), Some("bounce-42@news.example.com"));
    assert_eq!(bob.provenance.message_id.as_deref(), Some("m1@news.example.com"));
    assert_eq!(bob.provenance.queue_id.as_deref(), Some("1tABCD-000123-AB"));
    assert_eq!((bob.status.as_deref(), bob.reply_code), (Some("5.1.1"), Some(550)));
    assert_eq!((bob.remote_host.as_deref(), bob.remote_ip.as_deref()), (Some("mx1.example.net"), Some("192.0.2.10")));
    assert!(
        bob.reply_text
            .as_deref()
            .unwrap()
            .ends_with("550 5.1.1 <bob@example.net>: Recipient address rejected: User unknown")
    );
    assert_eq!(recs[0].reply_text.as_deref(), Some("250 2.0.0 OK 1701424801 q7si"));
    assert_eq!(recs[3].reply_code, Some(451));
    assert_eq!(recs[4].sender.as_deref(), Some(""), "the bounce message's null sender");
    assert_eq!(recs[4].fact("transport"), Some("remote_smtp"));
    assert_eq!(recs[5].original_recipient.as_deref(), Some("postmaster@example.com"));
    let errs = errors(&out);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!(errs[0].text, "not exim at all");
    // `garbled ** entry` names no message id: a line about no message, nothing to read.
}

fn kumo_lines() -> String {
    [
        r#"{"type":"Reception","id":"1d98076abbbc11ed940250ebf67f93bd","sender":"bounce-42@news.example.com","recipient":"ann@example.net","queue":"camp42@example.net","site":"","size":1047,"timestamp":1764583200,"created":1764583200,"num_attempts":0,"nodeid":"kumo-1"}"#,
        r#"{"type":"Delivery","id":"1d98076abbbc11ed940250ebf67f93bd","sender":"bounce-42@news.example.com","recipient":"ann@example.net","queue":"camp42@example.net","site":"mx1.example.net","size":1047,"response":{"code":250,"enhanced_code":{"class":2,"subject":0,"detail":0},"content":"OK queued","command":".\r\n"},"peer_address":{"name":"mx1.example.net","addr":"192.0.2.10"},"timestamp":1764583201,"created":1764583200,"num_attempts":0,"bounce_classification":"Uncategorized","egress_pool":"pool-a","egress_source":"ip-7","source_address":{"address":"198.51.100.7:0"},"headers":{"X-Campaign-ID":"camp-42"},"meta":{"tenant":"news"},"nodeid":"kumo-1"}"#,
        r#"{"type":"Bounce","id":"2e98076abbbc11ed940250ebf67f93bd","sender":"bounce-42@news.example.com","recipient":"bob@example.net","queue":"camp42@example.net","site":"mx1.example.net","size":1047,"response":{"code":550,"enhanced_code":{"class":5,"subject":1,"detail":1},"content":"user unknown","command":"RCPT TO:<bob@example.net>\r\n"},"peer_address":{"name":"mx1.example.net","addr":"192.0.2.10"},"timestamp":1764583202,"created":1764583200,"num_attempts":0,"bounce_classification":"InvalidRecipient","egress_pool":"pool-a","egress_source":"ip-7","headers":{"X-Campaign-ID":"camp-42"},"nodeid":"kumo-1"}"#,
        r#"{"type":"TransientFailure","id":"3f98","sender":"s@news.example.com","recipient":"cat@example.org","queue":"example.org","site":"mx.example.org","size":10,"response":{"code":421,"enhanced_code":{"class":4,"subject":7,"detail":0},"content":"try later"},"peer_address":{"name":"mx.example.org","addr":"203.0.113.5"},"timestamp":"2026-12-01T10:00:03Z","nodeid":"kumo-1"}"#,
        r#"{"type":"Expiration","id":"4a98","sender":"s@news.example.com","recipient":"old@example.com","queue":"example.com","site":"","size":10,"response":{"code":551,"enhanced_code":{"class":5,"subject":4,"detail":7},"content":"Next delivery time would be at 2026-12-05 which exceeds the expiry time"},"timestamp":1764583204}"#,
        r#"{"type":"Delivery","recipient":"#,
        r#"{"type":"Bounce","sender":"s@news.example.com","timestamp":1764583205}"#,
    ]
    .join("\n")
        + "\n"
}

#[test]
fn kumomta_zstd_segments_and_a_damaged_one() {
    let dir = tempfile::tempdir().unwrap();
    let text = kumo_lines();
    let packed = zstd::encode_all(text.as_bytes(), 3).unwrap();
    let path = dir.path().join("20261201-100000");
    std::fs::write(&path, &packed).unwrap();
    let read = read_file(Format::KumoMta, Options::default(), &path).unwrap();
    assert!(read.damage.is_none());
    let recs = records(&read.entries);
    let got: Vec<(Kind, &str, Option<&str>, Option<u16>)> =
        recs.iter().map(|r| (r.kind, r.recipient.as_str(), r.status.as_deref(), r.reply_code)).collect();
    assert_eq!(
        got,
        [
            (Kind::Delivered, "ann@example.net", Some("2.0.0"), Some(250)),
            (Kind::Bounced, "bob@example.net", Some("5.1.1"), Some(550)),
            (Kind::Deferred, "cat@example.org", Some("4.7.0"), Some(421)),
            (Kind::Expired, "old@example.com", Some("5.4.7"), Some(551)),
        ]
    );
    let bob = recs[1];
    assert_eq!(bob.reply_text.as_deref(), Some("550 5.1.1 user unknown"));
    assert_eq!(bob.fact("bounce_classification"), Some("InvalidRecipient"));
    assert_eq!(bob.header("X-Campaign-ID"), Some("camp-42"));
    assert_eq!(bob.provenance.vmta.as_deref(), Some("ip-7"));
    assert_eq!(bob.provenance.vmta_pool.as_deref(), Some("pool-a"));
    assert_eq!(bob.provenance.node.as_deref(), Some("kumo-1"));
    assert_eq!(bob.remote_ip.as_deref(), Some("192.0.2.10"));
    assert_eq!(recs[0].provenance.source_ip.as_deref(), Some("198.51.100.7"));
    assert_eq!(recs[0].fact("meta.tenant"), Some("news"));
    assert_eq!(recs[2].time.to_rfc3339(), "2026-12-01T10:00:03+00:00");
    let errs = errors(&read.entries);
    assert_eq!(errs.len(), 2, "{errs:?}");
    assert!(errs[0].reason.starts_with("not JSON"), "{}", errs[0]);
    assert!(errs[1].reason.contains("recipient"), "{}", errs[1]);
    assert_eq!(errs[1].position.line, 7);

    // A segment cut short (the writer was killed): what decoded is read, the damage named.
    let cut = dir.path().join("20261201-110000");
    let big: String = (0..100_000)
        .map(|i| {
            format!(
                "{{\"type\":\"Delivery\",\"id\":\"{i:032x}\",\"recipient\":\"u{i}@example.net\",\"timestamp\":{}}}\n",
                1764583200 + i
            )
        })
        .collect();
    let packed = zstd::encode_all(big.as_bytes(), 3).unwrap();
    let mut f = std::fs::File::create(&cut).unwrap();
    f.write_all(&packed[..packed.len() / 2]).unwrap();
    drop(f);
    let read = read_file(Format::KumoMta, Options::default(), &cut).unwrap();
    let damage = read.damage.expect("the cut segment is reported").to_string();
    assert!(damage.contains("zstd-compressed") && damage.contains("20261201-110000"), "{damage}");
    assert!(records(&read.entries).len() > 100, "what decoded was read: {} entries, {damage}", read.entries.len());
}

#[test]
fn a_missing_file_names_itself() {
    let e = read_file(Format::Postfix, Options::default(), std::path::Path::new("/nonexistent/maillog")).unwrap_err();
    assert!(e.to_string().contains("/nonexistent/maillog"), "{e}");
}

/// Fed a few bytes at a time, as a tailer sees a file being written, each reader gives
/// exactly what one pass over the whole gives, and its checkpoint ends at the end.
#[test]
fn any_chunking_gives_what_one_pass_gives() {
    for (format, text) in [
        (Format::PowerMta, pmta_file()),
        (Format::Postfix, POSTFIX.into()),
        (Format::Exim, EXIM.into()),
        (Format::KumoMta, kumo_lines()),
    ] {
        let whole = read_file_text(format, &text);
        for step in [1, 7, 64, 1000] {
            let mut reader = Reader::new(format, Options { year: 2026, ..Default::default() });
            let (mut out, mut pending, bytes) = (Vec::new(), Vec::new(), text.as_bytes());
            for chunk in bytes.chunks(step) {
                pending.extend_from_slice(chunk);
                let used = reader.feed(&pending, &mut out);
                pending.drain(..used);
            }
            reader.finish(&pending, &mut out);
            assert_eq!(out, whole, "{format:?} in chunks of {step}");
            assert_eq!(reader.checkpoint().offset, bytes.len() as u64);
        }
    }
}
