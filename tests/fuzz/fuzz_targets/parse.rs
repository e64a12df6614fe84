//! libFuzzer target: `rebound::parse::parse` on arbitrary bytes, with invariants as oracles.
//!
//! - it never panics (a panic is a crash for libFuzzer);
//! - a `Kind::Unknown` report has no records (tests/robust.rs asserts the same);
//! - every record's `kind` and `reason` serialise to JSON (to their `as_str` name);
//! - the same bytes parsed twice give the same report;
//! - line ends do not matter: the parser first turns CRLF and lone CR into LF, so input
//!   without CR parses the same once its LFs become CRLF or CR, and input whose every CR is
//!   part of a CRLF parses the same once those become LF (tests/robust.rs asserts this for
//!   the fixtures). Input with a lone CR is not compared with its CRLF->LF form: "\r\r\n"
//!   is two line ends to the parser but one after that rewrite, so no such property holds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rebound::parse::{Kind, ParseOptions, Report, parse};

fn replace(data: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + data.len() / 8);
    let mut i = 0;
    while i < data.len() {
        if data[i..].starts_with(from) {
            out.extend_from_slice(to);
            i += from.len();
        } else {
            out.push(data[i]);
            i += 1;
        }
    }
    out
}

fn check(r: &Report) {
    if r.kind == Kind::Unknown {
        assert!(r.records.is_empty(), "Unknown report with records: {r:?}");
        assert!(r.unknown_reason.is_some(), "Unknown report without a reason: {r:?}");
    }
    for rec in &r.records {
        let k = serde_json::to_string(&rec.kind).expect("record kind serialises");
        assert_eq!(k, format!("\"{}\"", rec.kind.as_str()));
        let why = serde_json::to_string(&rec.reason).expect("record reason serialises");
        assert_eq!(why, format!("\"{}\"", rec.reason.as_str()));
        assert_eq!(rec.reason.as_str().parse().ok(), Some(rec.reason));
    }
    serde_json::to_string(r).expect("report serialises");
}

fuzz_target!(|data: &[u8]| {
    let opts = ParseOptions::default();
    let a = parse(data, &opts);
    check(&a);
    let again = parse(data, &opts);
    assert_eq!(a, again, "same bytes, different report");

    let has_cr = data.contains(&b'\r');
    if !has_cr {
        let crlf = parse(&replace(data, b"\n", b"\r\n"), &opts);
        assert_eq!(a.records, crlf.records, "LF and CRLF forms differ");
        let cr = parse(&replace(data, b"\n", b"\r"), &opts);
        assert_eq!(a.records, cr.records, "LF and CR forms differ");
    } else {
        let lone_cr = data.iter().enumerate().any(|(i, &c)| c == b'\r' && data.get(i + 1) != Some(&b'\n'));
        if !lone_cr {
            let lf = parse(&replace(data, b"\r\n", b"\n"), &opts);
            assert_eq!(a.records, lf.records, "CRLF and LF forms differ");
        }
    }
});
