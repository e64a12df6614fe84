//! Part `logs`: lines/s each MTA log reader parses on one core, over in-memory logs made
//! here in each format (a mix of delivered, deferred and bounced lines; Postfix and Exim
//! with their arrival lines to join). The goal for PowerMTA accounting is ≥ 200,000 lines/s.

use rebound::logs::{Format, Options, Reader};

const LINES: usize = 400_000;

pub(super) fn powermta() -> String {
    powermta_lines(LINES)
}

/// `n` accounting lines after the header: half delivered, a quarter bounced, a quarter deferred.
pub(super) fn powermta_lines(n: usize) -> String {
    let mut s = String::from(
        "type,timeLogged,timeQueued,orig,rcpt,orcpt,dsnAction,dsnStatus,dsnDiag,dsnMta,bounceCat,srcType,srcMta,dlvType,dlvSourceIp,dlvDestinationIp,dlvEsmtpAvailable,dlvSize,vmta,jobId,envId,queue,vmtaPool,header_X-Campaign-ID\n",
    );
    for i in 0..n {
        let line = match i % 4 {
            0 | 1 => format!(
                "d,2026-12-01 10:{:02}:{:02}+0000,2026-12-01 09:59:58+0000,bounce-{i}@news.example.com,user{i}@example.net,,relayed,2.0.0 (success),smtp;250 2.0.0 OK {i} q7si,mx1.example.net (192.0.2.10),,smtp,app1.example.com,smtp,198.51.100.7,192.0.2.10,PIPELINING SIZE,5120,vmta-{},job-{},env-{i},example.net/vmta-7,pool-a,camp-{}\n",
                i / 60 % 60,
                i % 60,
                i % 16,
                i % 100,
                i % 50
            ),
            2 => format!(
                "b,2026-12-01 10:{:02}:{:02}+0000,2026-12-01 09:59:58+0000,bounce-{i}@news.example.com,user{i}@example.net,rfc822;user{i}@example.net,failed,5.1.1 (bad destination mailbox address),\"smtp;550 5.1.1 <user{i}@example.net>: Recipient address rejected: User unknown, sorry\",mx1.example.net (192.0.2.10),bad-mailbox,smtp,app1.example.com,smtp,198.51.100.7,192.0.2.10,,5120,vmta-{},job-{},env-{i},example.net/vmta-7,pool-a,camp-{}\n",
                i / 60 % 60,
                i % 60,
                i % 16,
                i % 100,
                i % 50
            ),
            _ => format!(
                "t,2026-12-01 10:{:02}:{:02}+0000,2026-12-01 09:59:58+0000,bounce-{i}@news.example.com,user{i}@example.org,,delayed,4.7.0 (other or undefined security status),smtp;421 4.7.0 Try again later,mx.example.org (203.0.113.5),policy-related,smtp,app1.example.com,smtp,198.51.100.8,203.0.113.5,,5120,vmta-{},job-{},env-{i},example.org/vmta-8,pool-a,camp-{}\n",
                i / 60 % 60,
                i % 60,
                i % 16,
                i % 100,
                i % 50
            ),
        };
        s += &line;
    }
    s
}

fn postfix() -> String {
    let mut s = String::new();
    for m in 0..LINES / 4 {
        let q = format!("4T{m:09X}");
        let t = format!("Dec  1 10:{:02}:{:02}", m / 60 % 60, m % 60);
        s += &format!("{t} mx1 postfix/cleanup[2102]: {q}: message-id=<m{m}@news.example.com>\n");
        s += &format!(
            "{t} mx1 postfix/qmgr[900]: {q}: from=<bounce-{m}@news.example.com>, size=4242, nrcpt=1 (queue active)\n"
        );
        s += &if m % 2 == 0 {
            format!(
                "{t} mx1 postfix/smtp[2103]: {q}: to=<user{m}@example.net>, relay=mx1.example.net[192.0.2.10]:25, delay=2.1, delays=0.1/0/1/1, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 77AB)\n"
            )
        } else {
            format!(
                "{t} mx1 postfix/smtp[2103]: {q}: to=<user{m}@example.net>, relay=mx1.example.net[192.0.2.10]:25, delay=3, delays=0.1/0/1/2, dsn=5.1.1, status=bounced (host mx1.example.net[192.0.2.10] said: 550 5.1.1 <user{m}@example.net>: Recipient address rejected: User unknown (in reply to RCPT TO command))\n"
            )
        };
        s += &format!("{t} mx1 postfix/qmgr[900]: {q}: removed\n");
    }
    s
}

fn exim() -> String {
    let mut s = String::new();
    for m in 0..LINES / 3 {
        let id = format!("1tA{:03}-{m:06}-AB", m % 1000);
        let t = format!("2026-12-01 10:{:02}:{:02}", m / 60 % 60, m % 60);
        s += &format!(
            "{t} {id} <= bounce-{m}@news.example.com H=app1.example.com [198.51.100.20] P=esmtps S=4242 id=m{m}@news.example.com\n"
        );
        s += &if m % 2 == 0 {
            format!(
                "{t} {id} => user{m}@example.net R=dnslookup T=remote_smtp H=mx1.example.net [192.0.2.10] C=\"250 2.0.0 OK\"\n"
            )
        } else {
            format!(
                "{t} {id} ** user{m}@example.net R=dnslookup T=remote_smtp H=mx1.example.net [192.0.2.10]: SMTP error from remote mail server after RCPT TO:<user{m}@example.net>: 550 5.1.1 User unknown\n"
            )
        };
        s += &format!("{t} {id} Completed\n");
    }
    s
}

fn kumomta() -> String {
    let mut s = String::new();
    for i in 0..LINES / 4 {
        let (kind, code, class, content) = if i % 2 == 0 {
            ("Delivery", 250, "2,\"subject\":0,\"detail\":0", "OK")
        } else {
            ("Bounce", 550, "5,\"subject\":1,\"detail\":1", "user unknown")
        };
        s += &format!(
            "{{\"type\":\"{kind}\",\"id\":\"{i:032x}\",\"sender\":\"bounce-{i}@news.example.com\",\"recipient\":\"user{i}@example.net\",\"queue\":\"camp@example.net\",\"site\":\"mx1.example.net\",\"size\":1047,\"response\":{{\"code\":{code},\"enhanced_code\":{{\"class\":{class}}},\"content\":\"{content}\",\"command\":\"RCPT TO\"}},\"peer_address\":{{\"name\":\"mx1.example.net\",\"addr\":\"192.0.2.10\"}},\"timestamp\":{},\"created\":1764583200,\"num_attempts\":0,\"bounce_classification\":\"InvalidRecipient\",\"egress_pool\":\"pool-a\",\"egress_source\":\"ip-7\",\"headers\":{{\"X-Campaign-ID\":\"camp-42\"}},\"nodeid\":\"kumo-1\"}}\n",
            1764583200 + i
        );
    }
    s
}

pub fn run() {
    for (label, format, text) in [
        ("logs: PowerMTA accounting (one core)", Format::PowerMta, powermta()),
        ("logs: Postfix syslog (one core)", Format::Postfix, postfix()),
        ("logs: Exim mainlog (one core)", Format::Exim, exim()),
        ("logs: KumoMTA JSON (one core)", Format::KumoMta, kumomta()),
    ] {
        let lines = memchr::memchr_iter(b'\n', text.as_bytes()).count();
        let mut records = 0;
        let secs = super::best_pass(3.0, || {
            let mut reader = Reader::new(format, Options { year: 2026, ..Default::default() });
            let mut out = Vec::with_capacity(lines);
            // Fed in 1 MiB chunks, as a tailer reads.
            let bytes = text.as_bytes();
            let mut at = 0;
            while at < bytes.len() {
                let end = (at + (1 << 20)).min(bytes.len());
                at += reader.feed(&bytes[at..end], &mut out);
                if end == bytes.len() && at < end {
                    reader.finish(&bytes[at..], &mut out);
                    at = end;
                }
            }
            assert!(out.iter().all(Result::is_ok), "the bench input reads cleanly");
            records = out.len();
            std::hint::black_box(out);
        });
        println!(
            "{label:<44} {:>9.0} lines/s  {:>7.1} MB/s  ({lines} lines, {records} records)",
            lines as f64 / secs,
            text.len() as f64 / 1e6 / secs
        );
    }
    super::logs_commit::run();
}
