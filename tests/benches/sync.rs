//! Sync figures (`REBOUND_BENCH_ONLY=sync`): a 1,000,000-entry Postfix cdb table rendered
//! (source and cdb index, written by rebound itself: postmap alone takes ~70 s for this) from
//! memory and from a SQLite list, and the checksum of 1M entries.

use rebound::config::DatabaseConfig;
use rebound::store::Db;
use rebound::sync::Checksum;
use std::path::Path;
use std::time::Instant;

const N: usize = 1_000_000;

fn node(dir: &Path) -> rebound::config::NodeConfig {
    // postmap -c DIR needs a main.cf (for the postmap check below); an empty one means Postfix's defaults.
    std::fs::write(dir.join("main.cf"), "").unwrap();
    let toml = format!(
        "[[node]]\nname = \"bench\"\ntarget = \"postfix\"\npath = \"{}\"\nconfig_dir = \"{}\"\n",
        dir.join("suppressed").display(),
        dir.display()
    );
    rebound::config::load_str("bench", &toml, std::iter::empty()).expect("node config").node[0].clone()
}

pub fn run() {
    if std::process::Command::new("postmap").arg("-h").output().is_err() {
        println!("{:<44} skipped: postmap not installed (tests/support/deps.sh)", "sync: 1M-entry Postfix cdb");
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let n = node(dir.path());
    let mut pairs: Vec<(String, String)> =
        (0..N).map(|i| (format!("user{i:07}@example.org"), "global".into())).collect();
    pairs.sort();

    let t = Instant::now();
    let sum = Checksum::of(pairs.iter().map(|(a, s)| (a.as_str(), s.as_str())));
    println!("{:<44} {:>9.3} s  ({})", "sync: checksum of 1M entries", t.elapsed().as_secs_f64(), sum);

    let t = Instant::now();
    let mut it = pairs.clone().into_iter();
    let (staged, r) = rebound::sync::render::stage(&n, &dir.path().join("suppressed"), &mut it).expect("rendered");
    staged.install(None, &[]).expect("installed");
    println!(
        "{:<44} {:>9.3} s  ({} keys; goal <= 5 s)",
        "sync: 1M-entry Postfix cdb from memory",
        t.elapsed().as_secs_f64(),
        r.written
    );

    let db_cfg = DatabaseConfig { url: format!("sqlite://{}/bench.db", dir.path().display()), ..Default::default() };
    let db = Db::connect(&db_cfg).expect("bench database");
    let mut c = db.conn().expect("connection");
    use diesel::connection::SimpleConnection;
    let c: &mut rebound::store::AnyConnection = &mut c;
    if let rebound::store::AnyConnection::Sqlite(lite) = c {
        lite.batch_execute(&format!(
            "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {}) \
             INSERT INTO suppressions (address, scope, source, created_at) \
             SELECT printf('user%07d@example.org', i), 'global', 'manual', '2026-12-01 00:00:00' FROM n",
            N - 1
        ))
        .expect("1M suppressions");
    }
    let t = Instant::now();
    let a = rebound::sync::render(c, &n, chrono::Utc::now().naive_utc()).expect("rendered from the list");
    println!(
        "{:<44} {:>9.3} s  ({} entries; goal <= 5 s)",
        "sync: 1M-entry Postfix cdb from SQLite",
        t.elapsed().as_secs_f64(),
        a.checksum.count()
    );
    assert_eq!(a.checksum, sum, "the list and the in-memory set are the same set");
    // Postfix reads the table rebound wrote.
    let q = std::process::Command::new("postmap")
        .arg("-c")
        .arg(dir.path())
        .args(["-q", "user0765432@example.org"])
        .arg(format!("cdb:{}", dir.path().join("suppressed").display()))
        .output()
        .expect("postmap -q");
    assert!(String::from_utf8_lossy(&q.stdout).starts_with("REJECT 5.1.1"), "postmap -q reads the cdb: {q:?}");
}
