//! The end-to-end promise with a real Postfix: a hard bounce imported and synced makes
//! smtpd refuse `RCPT TO:` that address with 5.1.1 while others pass; a release and a sync
//! let it through again.

use crate::common::{POSTFIX_TABLE, Postfix, config_file, import_hard_bounce, ok};
use crate::support::TestDb;

async fn bounced_address_is_refused_then_accepted_after_release(db: TestDb) {
    let pf = Postfix::get();
    let _turn = POSTFIX_TABLE.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let node = format!(
        "[[node]]\nname = \"pf\"\ntarget = \"postfix\"\npath = \"{}\"\nconfig_dir = \"{}\"\n",
        pf.table.display(),
        pf.dir.display()
    );
    let cfg = config_file(dir.path(), &db, &node);
    let dead = format!("dead-{}@example.org", uuid::Uuid::new_v4().simple());
    let alive = format!("alive-{}@example.org", uuid::Uuid::new_v4().simple());

    import_hard_bounce(&cfg, dir.path(), &dead);
    let out = ok(&cfg, &["sync"]);
    assert!(out.contains("pf: applied"), "{out}");
    let refused = pf.rcpt(&dead);
    assert!(refused.starts_with("554 5.1.1"), "the bounced address must be refused: {refused}");
    assert!(refused.contains("suppressed"), "{refused}");
    let accepted = pf.rcpt(&alive);
    assert!(accepted.starts_with("250"), "another address must pass: {accepted}");

    let list = ok(&cfg, &["node", "list", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&list).unwrap();
    assert_eq!(v[0]["name"], "pf");
    assert_eq!(v[0]["entries"], 1);
    assert_eq!(v[0]["changes_behind"], 0);
    assert_eq!(v[0]["verified"], true);
    assert!(v[0]["last_error"].is_null(), "{list}");

    ok(&cfg, &["suppression", "remove", &dead]);
    let behind = ok(&cfg, &["node", "list", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&behind).unwrap();
    assert_eq!(v[0]["changes_behind"], 1, "the release is a change the node has not applied yet: {behind}");
    ok(&cfg, &["sync", "pf"]);
    let again = pf.rcpt(&dead);
    assert!(again.starts_with("250"), "released and synced, it must pass again: {again}");
    // No temporary file is left beside the table.
    let stray = crate::common::files_named(&pf.dir, "rebound-");
    assert!(stray.is_empty(), "{stray:?}");
}
on_both_backends!(
    bounced_address_is_refused_then_accepted_after_release,
    bounced_address_is_refused_then_accepted_after_release
);

/// Every (key, value) record of a cdb file.
fn records(path: &std::path::Path) -> Vec<(Vec<u8>, Vec<u8>)> {
    let cdb = cdb2::CDB::open(path).unwrap();
    let mut all: Vec<_> = cdb.iter().map(|r| r.unwrap()).collect();
    all.sort();
    all
}

/// The cdb rebound writes itself holds exactly the records postmap writes for the same table
/// (keys and values without a trailing NUL), and Postfix reads it.
#[test]
fn builtin_cdb_equals_postmaps() {
    let pf = Postfix::get();
    let dir = tempfile::tempdir().unwrap();
    let node = |name: &str, extra: &str| {
        let toml = format!(
            "[[node]]\nname = \"{name}\"\ntarget = \"postfix\"\npath = \"{}\"\nconfig_dir = \"{}\"\n{extra}",
            dir.path().join(name).display(),
            pf.dir.display()
        );
        rebound::config::load_str("t", &toml, std::iter::empty()).unwrap().node[0].clone()
    };
    let (builtin, postmap) = (node("builtin", ""), node("postmap", "postmap_command = \"postmap\"\n"));
    assert!(builtin.builtin_cdb && !postmap.builtin_cdb);
    assert!(!node("off", "builtin_cdb = false\n").builtin_cdb);
    let lmdb = "[[node]]\nname = \"l\"\ntarget = \"postfix\"\ntable_type = \"lmdb\"\nbuiltin_cdb = true\n";
    let refused = rebound::config::load_str("t", lmdb, std::iter::empty()).unwrap_err().to_string();
    assert!(refused.contains("node[0].builtin_cdb"), "{refused}");
    let pairs: Vec<(String, String)> = ["a@example.org", "b.c+d@example.net", "@whole.example", "zed@example.org"]
        .iter()
        .map(|a| (a.to_string(), "global".to_string()))
        .collect();
    for n in [&builtin, &postmap] {
        let mut it = pairs.clone().into_iter();
        let (staged, _) =
            rebound::sync::render::stage(n, std::path::Path::new(n.path.as_ref().unwrap()), &mut it).unwrap();
        staged.install(None, &[]).unwrap();
    }
    let ours = records(&dir.path().join("builtin.cdb"));
    assert_eq!(ours.len(), 4);
    assert_eq!(ours, records(&dir.path().join("postmap.cdb")), "the same records as postmap's");
    let q = std::process::Command::new("postmap")
        .arg("-c")
        .arg(&pf.dir)
        .args(["-q", "b.c+d@example.net"])
        .arg(format!("cdb:{}", dir.path().join("builtin").display()))
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&q.stdout).starts_with("REJECT 5.1.1 "), "Postfix reads it: {q:?}");
}
