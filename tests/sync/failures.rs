//! Applies that fail keep the previous list in force and say why: a failing
//! `after_command` puts the old file back, a failing postmap leaves the old table.

use crate::common::{Postfix, config_file, ok, rebound, text};
use crate::support::TestDb;

fn node_json(cfg: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&ok(cfg, &["node", "list", "--format", "json"])).unwrap()
}

async fn failing_after_command_keeps_the_old_file(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("list.txt");
    let node = |after: &str| {
        format!(
            "[[node]]\nname = \"f\"\ntarget = \"file\"\npath = \"{}\"\nafter_command = \"{after}\"\n",
            path.display()
        )
    };
    let cfg = config_file(dir.path(), &db, &node("test -s \\\"$REBOUND_PATH\\\""));
    ok(&cfg, &["suppression", "add", "first@example.org"]);
    ok(&cfg, &["sync"]);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "first@example.org\n");

    let cfg = config_file(dir.path(), &db, &node("echo reload refused >&2; exit 3"));
    ok(&cfg, &["suppression", "add", "second@example.org"]);
    let o = rebound(&cfg, &["sync", "f"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("reload refused"), "{}", text(&o));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "first@example.org\n", "the old list must stay in force");
    let v = node_json(&cfg);
    let err = v[0]["last_error"].as_str().unwrap_or_default();
    assert!(err.contains("after_command") && err.contains("reload refused"), "{v}");
    assert_eq!(v[0]["entries"], 1, "status still describes the list in force: {v}");
    assert_eq!(v[0]["changes_behind"], 1, "{v}");
    let leftovers = crate::common::files_named(dir.path(), "rebound-");
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // Fixed, the next sync applies and clears the error.
    let cfg = config_file(dir.path(), &db, &node("true"));
    ok(&cfg, &["sync"]);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "first@example.org\nsecond@example.org\n");
    let v = node_json(&cfg);
    assert!(v[0]["last_error"].is_null(), "{v}");
    assert_eq!(v[0]["entries"], 2);
}
on_both_backends!(failing_after_command_keeps_the_old_file, failing_after_command_keeps_the_old_file);

async fn failing_postmap_keeps_the_old_table(db: TestDb) {
    let pf = Postfix::get();
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("suppressed");
    let node = |config_dir: &std::path::Path| {
        format!(
            // postmap itself (not the built-in cdb writer), so that it can fail.
            "[[node]]\nname = \"pf\"\ntarget = \"postfix\"\npath = \"{}\"\nconfig_dir = \"{}\"\npostmap_command = \"postmap\"\n",
            table.display(),
            config_dir.display()
        )
    };
    let cfg = config_file(dir.path(), &db, &node(&pf.dir));
    ok(&cfg, &["suppression", "add", "old@example.org"]);
    ok(&cfg, &["sync"]);
    let index = dir.path().join("suppressed.cdb");
    let before = std::fs::read(&index).expect("postmap wrote the cdb index");
    let query = |key: &str| {
        std::process::Command::new("postmap")
            .arg("-c")
            .arg(&pf.dir)
            .arg("-q")
            .arg(key)
            .arg(format!("cdb:{}", table.display()))
            .output()
            .unwrap()
    };
    assert!(String::from_utf8_lossy(&query("old@example.org").stdout).starts_with("REJECT 5.1.1"));

    // postmap cannot run: its config directory has no main.cf.
    let empty = tempfile::tempdir().unwrap();
    let cfg = config_file(dir.path(), &db, &node(empty.path()));
    ok(&cfg, &["suppression", "add", "new@example.org"]);
    let o = rebound(&cfg, &["sync"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("build"), "{}", text(&o));
    assert_eq!(std::fs::read(&index).unwrap(), before, "the old table must stay in force");
    assert_eq!(query("new@example.org").status.code(), Some(1), "the new entry must not be in force");
    let v = node_json(&cfg);
    assert!(v[0]["last_error"].as_str().unwrap_or_default().contains("postmap"), "{v}");
}
on_both_backends!(failing_postmap_keeps_the_old_table, failing_postmap_keeps_the_old_table);
