//! Each renderer's output as the tool that reads it sees it, fed hostile entries; and the
//! checksum, the same on both backends for the same set in any order.

use crate::common::{config_file, ok};
use crate::support::TestDb;
use rebound::config::NodeConfig;
use rebound::sync::Checksum;
use std::path::Path;

fn node(toml: &str) -> NodeConfig {
    let cfg = rebound::config::load_str("test", toml, std::iter::empty()).expect("valid node config");
    cfg.node[0].clone()
}

/// Renders `pairs` (sorted as the list gives them) for `n` and installs it.
fn render(n: &NodeConfig, pairs: &[(&str, &str)]) -> rebound::sync::render::Rendered {
    let mut sorted: Vec<(String, String)> = pairs.iter().map(|(a, s)| (a.to_string(), s.to_string())).collect();
    sorted.sort();
    let mut it = sorted.into_iter();
    let (staged, r) = rebound::sync::render::stage(n, Path::new(n.path.as_ref().unwrap()), &mut it).expect("staged");
    staged.install(n.after_command.as_deref(), &[]).expect("installed");
    r
}

fn sorted_lines(text: &str) -> Vec<&str> {
    let mut l: Vec<&str> = text.lines().collect();
    l.sort();
    l
}

const HOSTILE: &[(&str, &str)] = &[
    ("good@example.org", "global"),
    ("Mixed.Case@Example.ORG", "global"),
    ("bare", "global"),
    ("@whole-domain.example", "global"),
    ("two@at@example.org", "global"),
    ("space here@example.org", "global"),
    ("line\nbreak@example.org", "global"),
    ("postmaster@", "global"),
    ("#comment@example.org", "global"),
    ("", "global"),
    ("good@example.org", "brand.example"),
];

#[test]
fn powermta_never_writes_a_line_without_an_at() {
    let dir = tempfile::tempdir().unwrap();
    let (path, domains) = (dir.path().join("pmta.txt"), dir.path().join("pmta-domains.txt"));
    let n = node(&format!(
        "[[node]]\nname = \"p\"\ntarget = \"powermta\"\npath = \"{}\"\ndomain_path = \"{}\"\n",
        path.display(),
        domains.display()
    ));
    let r = render(&n, HOSTILE);
    let text = std::fs::read_to_string(&path).unwrap();
    for line in text.lines() {
        let (l, d) = line.split_once('@').unwrap_or_else(|| panic!("a line without @: {line:?}"));
        assert!(!l.is_empty() && !d.is_empty() && !d.contains('@') && !line.contains(' '), "{line:?}");
    }
    assert_eq!(sorted_lines(&text), ["good@example.org", "mixed.case@example.org"]);
    assert_eq!(std::fs::read_to_string(&domains).unwrap(), "whole-domain.example\n");
    assert_eq!(r.written, 3);
    assert_eq!(r.checksum.count(), HOSTILE.len() as u64, "the checksum covers the set, written or not");
    // Without domain_path, a domain-wide entry is skipped, never written as a bare line.
    let n = node(&format!("[[node]]\nname = \"p\"\ntarget = \"powermta\"\npath = \"{}\"\n", path.display()));
    render(&n, HOSTILE);
    assert!(std::fs::read_to_string(&path).unwrap().lines().all(|l| l.contains('@')));
}

#[test]
fn exim_cdb_is_readable_by_tinycdb() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("suppressed.cdb");
    let n = node(&format!("[[node]]\nname = \"e\"\ntarget = \"exim\"\npath = \"{}\"\n", path.display()));
    render(&n, HOSTILE);
    let q = |key: &str| {
        std::process::Command::new("cdb").arg("-q").arg(&path).arg(key).output().expect("run cdb (tinycdb)")
    };
    let hit = q("good@example.org");
    assert_eq!(hit.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&hit.stdout).trim(), "brand.example");
    assert_eq!(q("mixed.case@example.org").status.code(), Some(0));
    assert_eq!(q("*@whole-domain.example").status.code(), Some(0));
    assert_eq!(q("bare").status.code(), Some(100), "not found");
    assert_eq!(q("other@example.org").status.code(), Some(100));
}

#[test]
fn kumomta_haraka_and_files_hold_the_validated_addresses() {
    let dir = tempfile::tempdir().unwrap();
    let at = |f: &str| dir.path().join(f).display().to_string();
    let n = node(&format!("[[node]]\nname = \"k\"\ntarget = \"kumomta\"\npath = \"{}\"\n", at("k.sqlite")));
    render(&n, HOSTILE);
    use diesel::prelude::*;
    let mut c = diesel::SqliteConnection::establish(&at("k.sqlite")).unwrap();
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        address: String,
    }
    let rows: Vec<Row> = diesel::sql_query("SELECT address FROM suppressed ORDER BY address").load(&mut c).unwrap();
    let got: Vec<String> = rows.into_iter().map(|r| r.address).collect();
    assert_eq!(got, ["@whole-domain.example", "good@example.org", "mixed.case@example.org"]);

    let n =
        node(&format!("[[node]]\nname = \"h\"\ntarget = \"haraka\"\npath = \"{}\"\n", at("rcpt_to.access.blacklist")));
    render(&n, HOSTILE);
    let haraka = std::fs::read_to_string(at("rcpt_to.access.blacklist")).unwrap();
    assert_eq!(sorted_lines(&haraka), ["good@example.org", "mixed.case@example.org"]);

    let n = node(&format!("[[node]]\nname = \"c\"\ntarget = \"file\"\nformat = \"csv\"\npath = \"{}\"\n", at("l.csv")));
    render(&n, HOSTILE);
    let csv = std::fs::read_to_string(at("l.csv")).unwrap();
    assert!(csv.starts_with("address,scope\n") && csv.contains("good@example.org,brand.example\n"), "{csv}");
    let n =
        node(&format!("[[node]]\nname = \"j\"\ntarget = \"file\"\nformat = \"json\"\npath = \"{}\"\n", at("l.json")));
    render(&n, HOSTILE);
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(at("l.json")).unwrap()).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 4, "one object per (address, scope) pair: {v}");
    assert!(v.as_array().unwrap().iter().any(|o| o["address"] == "@whole-domain.example"), "{v}");
}

/// The digest a node reports for a set equals the one computed over the same pairs in any
/// other order, and does not depend on the backend.
async fn checksum_is_order_independent_and_backend_independent(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plain.txt");
    let cfg = config_file(
        dir.path(),
        &db,
        &format!("[[node]]\nname = \"f\"\ntarget = \"file\"\npath = \"{}\"\n", path.display()),
    );
    let addrs = ["zed@example.org", "amy@example.org", "kim@example.net"];
    for a in addrs {
        ok(&cfg, &["suppression", "add", a]);
    }
    ok(&cfg, &["suppression", "add", "amy@example.org", "--scope", "brand.example"]);
    ok(&cfg, &["sync"]);
    let v: serde_json::Value = serde_json::from_str(&ok(&cfg, &["node", "list", "--format", "json"])).unwrap();
    let mut pairs: Vec<(&str, &str)> = addrs.iter().map(|a| (*a, "global")).collect();
    pairs.push(("amy@example.org", "brand.example"));
    pairs.reverse();
    let expected = Checksum::of(pairs.iter().copied());
    assert_eq!(v[0]["checksum"], expected.hex(), "{v}");
    assert_eq!(v[0]["entries"], 4);
    // Pinned, so SQLite and PostgreSQL (and any agent) give these very digits.
    assert_eq!(expected.hex(), PINNED);
}
const PINNED: &str = "882d167d57c7e3959534ab4fb15ce084";
on_both_backends!(
    checksum_is_order_independent_and_backend_independent,
    checksum_is_order_independent_and_backend_independent
);
