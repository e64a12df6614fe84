//! Robustness: line-end forms give the same result, junk and truncation give Unknown
//! without panicking, the size cap holds.

use rebound::parse::{Kind, ParseOptions, parse};

const DSN: &str = "From: MAILER-DAEMON@mx.example.net (Mail Delivery System)\nTo: sender@example.com\nSubject: Undelivered Mail Returned to Sender\nMIME-Version: 1.0\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\n\n--b\nContent-Type: text/plain\n\nThis is the mail system at host mx.example.net.\n\n<ann@example.org>: host mx.example.org[192.0.2.1] said: 550 5.1.1 <ann@example.org>:\n    User unknown (in reply to RCPT TO command)\n\n--b\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.net\n\nFinal-Recipient: rfc822; ann@example.org\nAction: failed\nStatus: 5.1.1\nDiagnostic-Code: smtp; 550 5.1.1 <ann@example.org>:\n    User unknown\n\n--b--\n";

#[test]
fn line_ends_do_not_matter() {
    let opts = ParseOptions::default();
    let lf = parse(DSN.as_bytes(), &opts);
    let crlf = parse(DSN.replace('\n', "\r\n").as_bytes(), &opts);
    let cr = parse(DSN.replace('\n', "\r").as_bytes(), &opts);
    assert_eq!(lf.kind, Kind::Bounce);
    assert_eq!(lf.records.len(), 1);
    assert_eq!(lf.records[0].recipient.as_deref(), Some("ann@example.org"));
    assert_eq!(lf.records[0].diagnostic.as_deref(), Some("550 5.1.1 <ann@example.org>: User unknown"));
    assert_eq!(lf.records, crlf.records);
    assert_eq!(lf.records, cr.records);
}

#[test]
fn garbage_and_truncation_never_panic() {
    let opts = ParseOptions::default();
    for junk in [
        &b""[..],
        b"\0\0\0",
        b"\xff\xfe\xfd garbage",
        b"no header at all",
        b"::::\n\n\n",
        b"Content-Type: multipart/report; boundary=\"x\"\n\n--x\n--x--",
    ] {
        let r = parse(junk, &opts);
        assert_eq!(r.kind, Kind::Unknown, "{junk:?}");
        assert!(r.records.is_empty());
        assert!(r.unknown_reason.is_some());
    }
    // Every prefix of a real bounce parses without panic; cut at any byte, even mid-UTF-8.
    let mut bytes = DSN.as_bytes().to_vec();
    bytes.extend("Subject: caf\u{e9} \u{1f600}\n".as_bytes());
    for n in 0..bytes.len() {
        let r = parse(&bytes[..n], &opts);
        if r.kind == Kind::Unknown {
            assert!(r.records.is_empty());
        }
    }
}

#[test]
fn size_cap() {
    let opts = ParseOptions { max_size: 100 };
    let r = parse(DSN.as_bytes(), &opts);
    assert_eq!(r.kind, Kind::Unknown);
    assert_eq!(r.unknown_reason.as_deref(), Some("message exceeds size cap of 100 bytes"));
    assert_eq!(ParseOptions::default().max_size, 10 * 1024 * 1024);
}

#[test]
fn report_fields() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/parse/");
    let raw = std::fs::read(format!("{dir}postfix/user-unknown.eml")).expect("fixture");
    let r = parse(&raw, &ParseOptions::default());
    assert_eq!(r.dialect, "postfix");
    assert!(r.to.iter().any(|t| t == "bounces+abc123@example.com"), "{:?}", r.to);
    assert_eq!(r.reporting_mta.as_deref(), Some("mx1.example.net"));
    let o = r.original.expect("original headers");
    assert_eq!(o.message_id.as_deref(), Some("<m-20250303-1@example.com>"));
    assert_eq!(o.header("x-campaign-id"), Some("spring-2025"));
    assert_eq!(r.records[0].remote_mta.as_deref(), Some("mx.example.org"));
    assert!(r.records[0].extra.is_empty());

    let raw = std::fs::read(format!("{dir}arf/abuse.eml")).expect("fixture");
    let r = parse(&raw, &ParseOptions::default());
    let fb = r.feedback.expect("feedback");
    assert_eq!(fb.feedback_type, "abuse");
    assert_eq!(fb.source_ip.as_deref(), Some("192.0.2.5"));
    assert_eq!(fb.reported_domain.as_deref(), Some("example.com"));
    assert_eq!(fb.reporting_mta.as_deref(), Some("fbl.isp.example.net"));
    assert!(!fb.redacted);
    assert_eq!(r.original.and_then(|o| o.header("X-Campaign-ID").map(str::to_string)).as_deref(), Some("deals-march"));

    let raw = std::fs::read(format!("{dir}rfc3464/delayed-and-delivered.eml")).expect("fixture");
    let r = parse(&raw, &ParseOptions::default());
    assert_eq!(r.records[0].extra, vec![("X-Vendor-Queue".to_string(), "q-77".to_string())]);
}

/// Every fixture gives the same records with LF, CRLF and CR-only line ends (returned
/// messages and HTML parts are marked the same way in all three).
#[test]
fn fixtures_same_with_any_line_end() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/parse");
    let opts = ParseOptions::default();
    for d in std::fs::read_dir(root).into_iter().flatten().flatten() {
        for f in std::fs::read_dir(d.path()).into_iter().flatten().flatten() {
            if f.path().extension().is_none_or(|x| x != "eml") {
                continue;
            }
            let lf = std::fs::read_to_string(f.path()).expect("fixture");
            let a = parse(lf.as_bytes(), &opts);
            let b = parse(lf.replace('\n', "\r\n").as_bytes(), &opts);
            let c = parse(lf.replace('\n', "\r").as_bytes(), &opts);
            assert_eq!(a.records, b.records, "{}", f.path().display());
            assert_eq!(a.records, c.records, "{}", f.path().display());
        }
    }
}

/// Cheap deterministic fuzzing: every fixture, cut and with bytes flipped, never panics.
#[test]
fn mutated_fixtures_never_panic() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/parse");
    let mut files = Vec::new();
    for d in std::fs::read_dir(root).into_iter().flatten().flatten() {
        for f in std::fs::read_dir(d.path()).into_iter().flatten().flatten() {
            if f.path().extension().is_some_and(|x| x == "eml") {
                files.push(std::fs::read(f.path()).expect("fixture"));
            }
        }
    }
    let opts = ParseOptions::default();
    let mut seed: u64 = 0x9e3779b97f4a7c15;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for raw in &files {
        for _ in 0..60 {
            let mut m = raw.clone();
            for _ in 0..(next() % 8) {
                let i = (next() as usize) % m.len().max(1);
                let b =
                    [b'\n', b'\r', b':', b'<', b'>', b'@', b'-', b' ', 0xc3, 0xff, b'=', b';'][(next() % 12) as usize];
                if let Some(x) = m.get_mut(i) {
                    *x = b;
                }
            }
            let cut = (next() as usize) % (m.len() + 1);
            let r = parse(&m[..cut], &opts);
            assert!(r.kind != Kind::Unknown || r.records.is_empty());
        }
    }
}

/// xorshift64: deterministic values for the property tests below (no seed from the clock:
/// a failure is reproducible).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a>(&mut self, v: &[&'a str]) -> &'a str {
        v[self.below(v.len() as u64) as usize]
    }
}

/// A dotted number of the shapes software versions take: "2.1.12", "2.753.1", "4.0.3rc2",
/// "5.1.1b4", each of which a careless scan reads as an RFC 3463 status.
fn version_like(rng: &mut Rng) -> String {
    let class = ["2", "4", "5"][rng.below(3) as usize];
    let (minor, patch) = (rng.below(8), rng.below(30));
    match rng.below(4) {
        0 => format!("{class}.{minor}.{patch}"),
        1 => format!("{class}.{}.{patch}", 100 + rng.below(900)),
        2 => format!("{class}.{minor}.{patch}rc{}", rng.below(9) + 1),
        _ => format!("{class}.{minor}.{patch}b{}", rng.below(9) + 1),
    }
}

/// Where version numbers and trace data sit in bounces: quoted Received:, X-Mailer: and
/// User-Agent: fields, and "version" words inside the server's text.
fn version_context(rng: &mut Rng, v: &str) -> String {
    match rng.below(6) {
        0 => format!("X-Mailer: Foo Mail {v}"),
        1 => format!("User-Agent: Bar/{v} (X11)"),
        2 => format!("Received: from a.example.net by mx.example.net (Postfix {v}) with ESMTP id 4F2A"),
        3 => format!("    (server software version {v})"),
        4 => format!("Reporting server: mx.example.net, MTA version {v}"),
        _ => format!("    X-Mailer: Mailer {v}"),
    }
}

/// No status is ever read from a Received:/X-Mailer:/User-Agent: or version-like context,
/// whether it sits in the recipient's explanation, the notice or the quoted original: a
/// notice whose only dotted triples are versions has no status, and one that also carries
/// a real status keeps that one.
#[test]
fn no_status_from_version_or_trace_context() {
    let opts = ParseOptions::default();
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    for _ in 0..400 {
        let v = version_like(&mut rng);
        let ctx = version_context(&mut rng, &v);
        let real = rng.below(2) == 0;
        let code = if real { "550 5.1.1 " } else { "" };
        let words = rng.pick(&["no such user here", "mailbox unavailable", "User unknown"]);
        let msg = format!(
            "From: MAILER-DAEMON@mx.example.net\nTo: bounces@example.com\nSubject: Undelivered Mail Returned to Sender\n\n\
             Your message could not be delivered to the following recipient:\n\n  kim@example.org\n{ctx}\n  {code}{words}\n\n\
             ------ This is a copy of the message, including all the headers. ------\n\n\
             Received: from x by y (version {v})\nX-Mailer: Foo {v}\nTo: kim@example.org\nSubject: hi\n\nhello\n"
        );
        let r = parse(msg.as_bytes(), &opts);
        assert!(!r.records.is_empty(), "no record from:\n{msg}");
        for rec in &r.records {
            let want = real.then_some("5.1.1");
            assert_eq!(rec.status.as_deref(), want, "status from a version context in:\n{msg}");
            assert_ne!(rec.kind, Kind::Delivered, "a version number made a bounce delivered:\n{msg}");
        }
    }
}

/// Every record of `dir`'s messages (recursively), for the property checks.
fn records_under(dir: &std::path::Path, out: &mut Vec<(String, rebound::parse::Record)>) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            records_under(&p, out);
        } else if p.extension().is_none_or(|x| x != "json" && x != "tsv" && x != "md")
            && let Ok(raw) = std::fs::read(&p)
        {
            for r in parse(&raw, &ParseOptions::default()).records {
                out.push((p.display().to_string(), r));
            }
        }
    }
}

/// Whenever a record has a status, its `permanent` agrees with the status class (5 is
/// permanent, 2 and 4 are not), whatever its reply code or words say, except on a delay
/// notice, never permanent (the reporting MTA's own Action says it keeps trying, RFC 3464
/// 2.3.3, whatever the remote's reply quoted in it): on every fixture, on
/// the shared corpora where they exist, and on generated notices that mix a status of one
/// class with a reply code and words of the other.
#[test]
fn permanent_agrees_with_status_class() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut recs = Vec::new();
    records_under(&root.join("tests/fixtures/parse"), &mut recs);
    records_under(&root.join("../shared/corpus/sisimai-dev/emails"), &mut recs);
    records_under(&root.join("../shared/corpus/others-dev/emails"), &mut recs);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for i in 0..300 {
        let class = ["4", "5"][rng.below(2) as usize];
        let reply = ["421", "450", "550", "554"][rng.below(4) as usize];
        let words = rng.pick(&["This is a permanent error.", "We will retry later.", "", "Temporary failure."]);
        let status = format!("{class}.{}.{}", rng.below(8), rng.below(10));
        let msg = format!(
            "From: MAILER-DAEMON@mx.example.net\nTo: bounces@example.com\nSubject: Undelivered Mail\n\n\
             Delivery to the following recipient failed:\n\n  kim@example.org\n  {reply} {status} refused. {words}\n"
        );
        for r in parse(msg.as_bytes(), &ParseOptions::default()).records {
            recs.push((format!("generated #{i}: {msg}"), r));
        }
    }
    assert!(recs.iter().filter(|(_, r)| r.status.is_some()).count() > 300, "too few records with a status");
    for (from, r) in &recs {
        if r.kind == Kind::Delay {
            assert!(!r.permanent, "a delay notice read as permanent in {from}");
        } else if let Some(s) = &r.status {
            assert_eq!(r.permanent, s.starts_with('5'), "status {s} but permanent={} in {from}", r.permanent);
        }
    }
}
