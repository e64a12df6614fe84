//! Every tests/fixtures/parse/<dialect>/<name>.eml is parsed and compared with <name>.json:
//! the overall kind and, per record, kind, recipient, status, reply_code, reason,
//! feedback_type, dialect and (when given) diagnostic and permanent.

use std::path::{Path, PathBuf};

use rebound::parse::{ParseOptions, Record, parse};
use serde_json::Value;

fn fixtures(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            fixtures(&p, out);
        } else if p.extension().is_some_and(|x| x == "eml") {
            out.push(p);
        }
    }
}

fn record_json(r: &Record) -> Value {
    serde_json::json!({
        "kind": r.kind.as_str(), "recipient": r.recipient, "status": r.status,
        "reply_code": r.reply_code, "reason": r.reason.as_str(), "permanent": r.permanent, "feedback_type": r.feedback_type,
        "dialect": r.dialect, "diagnostic": r.diagnostic,
    })
}

#[test]
fn fixtures_match_expected() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/parse");
    let mut files = Vec::new();
    fixtures(&root, &mut files);
    files.sort();
    assert!(files.len() >= 20, "fixtures missing under {}", root.display());
    let mut failures = Vec::new();
    for eml in &files {
        let raw = std::fs::read(eml).expect("read fixture");
        let want: Value =
            serde_json::from_str(&std::fs::read_to_string(eml.with_extension("json")).expect("expected json"))
                .expect("valid json");
        let rep = parse(&raw, &ParseOptions::default());
        let name = eml.strip_prefix(&root).unwrap_or(eml).display().to_string();
        if want["kind"] != rep.kind.as_str() {
            failures.push(format!("{name}: kind {} != {}", rep.kind.as_str(), want["kind"]));
        }
        let wrecs = want["records"].as_array().cloned().unwrap_or_default();
        if wrecs.len() != rep.records.len() {
            failures.push(format!("{name}: {} records, want {}: {:?}", rep.records.len(), wrecs.len(), rep.records));
            continue;
        }
        for (w, r) in wrecs.iter().zip(&rep.records) {
            let got = record_json(r);
            for (k, v) in w.as_object().into_iter().flatten() {
                if got[k.as_str()] != *v {
                    failures.push(format!("{name}: {k} = {} want {v}", got[k.as_str()]));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{} fixture mismatches:\n{}", failures.len(), failures.join("\n"));
}
