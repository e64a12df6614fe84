//! Golden parser fixtures: every tests/fixtures/parse/<dialect>/<name>.eml is parsed and its
//! whole result — the overall kind and every field of every record — compared with
//! <name>.json. Any difference fails, listed field by field.
//!
//! After a deliberate parser change, re-bless: `REBOUND_BLESS=1 cargo test --test
//! parse_fixtures` rewrites each .json from what the parser now gives; review the diff
//! before committing it. A new fixture starts as an .eml plus a hand-written .json of the
//! fields that matter, then is blessed (the hand-written fields must still hold).

use std::path::Path;

use rebound::parse::{ParseOptions, Report, parse};
use serde_json::Value;

#[path = "support/mod.rs"]
mod support;

/// The whole result as the fixture stores it.
fn golden(rep: &Report) -> Value {
    serde_json::json!({
        "kind": rep.kind.as_str(),
        "records": rep.records.iter().map(|r| serde_json::to_value(r).expect("a record serialises")).collect::<Vec<_>>(),
    })
}

/// Every difference between `want` and `got`, as `path: got != want` lines.
fn diff(path: &str, want: &Value, got: &Value, out: &mut Vec<String>) {
    match (want, got) {
        (Value::Object(w), Value::Object(g)) => {
            for k in w.keys().chain(g.keys().filter(|k| !w.contains_key(*k))) {
                let (wv, gv) = (w.get(k).unwrap_or(&Value::Null), g.get(k).unwrap_or(&Value::Null));
                diff(&format!("{path}.{k}"), wv, gv, out);
            }
        }
        (Value::Array(w), Value::Array(g)) if w.len() == g.len() => {
            for (i, (wv, gv)) in w.iter().zip(g).enumerate() {
                diff(&format!("{path}[{i}]"), wv, gv, out);
            }
        }
        _ if want != got => out.push(format!("{path}: {got} != {want} (expected)")),
        _ => {}
    }
}

#[test]
fn fixtures_match_their_golden_results() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/parse");
    let files = support::eml_files(&root);
    assert!(files.len() >= 20, "fixtures missing under {}", root.display());
    let bless = std::env::var_os("REBOUND_BLESS").is_some();
    let mut failures = Vec::new();
    for eml in &files {
        let name = eml.strip_prefix(&root).unwrap_or(eml).display().to_string();
        let raw = std::fs::read(eml).expect("read fixture");
        let got = golden(&parse(&raw, &ParseOptions::default()));
        let json = eml.with_extension("json");
        let want: Value = serde_json::from_str(&std::fs::read_to_string(&json).expect("expected json"))
            .unwrap_or_else(|e| panic!("{}: {e}", json.display()));
        if bless {
            // Fields a hand-written expectation names must still hold: blessing records the
            // rest, it never overrides a stated expectation.
            let mut stated = Vec::new();
            partial(&name, &want, &got, &mut stated);
            if stated.is_empty() {
                let text = serde_json::to_string_pretty(&got).expect("json") + "\n";
                std::fs::write(&json, text).expect("write blessed json");
            }
            failures.extend(stated);
            continue;
        }
        diff(&name, &want, &got, &mut failures);
    }
    assert!(failures.is_empty(), "{} fixture differences:\n{}", failures.len(), failures.join("\n"));
}

/// Differences on the fields `want` names only (a hand-written, partial expectation).
fn partial(path: &str, want: &Value, got: &Value, out: &mut Vec<String>) {
    match (want, got) {
        (Value::Object(w), Value::Object(g)) => {
            for (k, wv) in w {
                partial(&format!("{path}.{k}"), wv, g.get(k).unwrap_or(&Value::Null), out);
            }
        }
        (Value::Array(w), Value::Array(g)) if w.len() == g.len() => {
            for (i, (wv, gv)) in w.iter().zip(g).enumerate() {
                partial(&format!("{path}[{i}]"), wv, gv, out);
            }
        }
        _ if want != got => out.push(format!("{path}: {got} != {want} (expected)")),
        _ => {}
    }
}
