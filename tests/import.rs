//! `rebound import` as operators run it: a second run changes nothing, and a run killed
//! half-way then run again yields every record exactly once.

mod support;

use rebound::store::Db;
use support::mail::{dsn, original};
use support::{TestDb, count_rows};

fn write_bounces(dir: &std::path::Path, n: usize) {
    for i in 0..n {
        let d = dir.join(format!("{}", i / 500));
        std::fs::create_dir_all(&d).unwrap();
        let m = dsn(
            "bounces@sender.example",
            &format!("gone{i}@example.org"),
            "5.1.1",
            "550 5.1.1 User unknown",
            &original(Some("c"), &format!("m{i}@sender.example")),
            "Tue, 10 Nov 2026 10:00:00 +0000",
        );
        std::fs::write(d.join(format!("{i}.eml")), m).unwrap();
    }
}

fn import(db: &TestDb, dir: &std::path::Path) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_rebound"));
    cmd.args(["--config", "config.example.toml", "import"]).arg(dir).env("REBOUND__DATABASE__URL", db.url());
    cmd
}

async fn killed_import_then_rerun_counts_each_record_once(db: TestDb) {
    let n = 4000;
    let dir = tempfile::tempdir().unwrap();
    write_bounces(dir.path(), n);
    let store = Db::connect(&db.config()).unwrap();
    let mut child = import(&db, dir.path()).stdout(std::process::Stdio::null()).spawn().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while count_rows(&store, "events").await < 300 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let partial = count_rows(&store, "events").await;
    assert!(partial > 0 && (partial as usize) < n, "the kill should land mid-import ({partial} of {n})");
    assert_eq!(partial, count_rows(&store, "messages").await, "a batch is all or nothing");

    let out = import(&db, dir.path()).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(count_rows(&store, "events").await as usize, n, "every record exactly once");
    assert_eq!(count_rows(&store, "suppressions").await as usize, n);

    let again = import(&db, dir.path()).output().unwrap();
    let text = String::from_utf8_lossy(&again.stdout);
    assert!(text.starts_with(&format!("0 new messages ({n} already imported")), "{text}");
    assert_eq!(count_rows(&store, "events").await as usize, n);
}
on_both_backends!(killed_import, killed_import_then_rerun_counts_each_record_once);
