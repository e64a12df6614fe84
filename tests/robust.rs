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
