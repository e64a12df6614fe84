//! `make bench` (part `sync`): the node agents' protocol served by a real `rebound serve`
//! child on SQLite over 1,000,000 suppression entries: the snapshot of the whole set
//! (seconds, and the server's peak RSS before and after: flat memory means it does not grow
//! with the set), and a delta of 10,000 changes in one `changes` answer (p50 of 20).

use super::api::{Server, rss_mib, seed_sql, serve, summary};
use std::path::Path;
use std::time::Instant;

const ENTRIES: i64 = 1_000_000;
const DELTA: i64 = 10_000;

async fn snapshot(http: &reqwest::Client, s: &Server) -> (f64, usize, usize) {
    use futures_util::StreamExt;
    let t = Instant::now();
    let r = http
        .get(format!("{}/api/v1/sync/snapshot?node=bench", s.base))
        .bearer_auth(&s.token)
        .send()
        .await
        .expect("snapshot");
    assert_eq!(r.status(), 200, "snapshot status");
    let (mut bytes, mut lines) = (0, 0);
    let mut body = r.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.expect("snapshot body");
        bytes += chunk.len();
        lines += memchr::memchr_iter(b'\n', &chunk).count();
    }
    (t.elapsed().as_secs_f64(), bytes, lines)
}

async fn protocol(bin: &Path, dir: &Path) {
    let url = format!("sqlite://{}/sync.db", dir.display());
    let db_cfg = rebound::config::DatabaseConfig { url: url.clone(), ..Default::default() };
    let db = rebound::store::Db::connect(&db_cfg).expect("bench database");
    {
        use diesel::RunQueryDsl;
        let mut c = db.conn().expect("connection");
        for sql in seed_sql("sqlite", ENTRIES) {
            diesel::sql_query(sql).execute(&mut *c).expect("seed");
        }
    }
    drop(db);
    let s = serve(bin, dir, &url);
    let http = reqwest::Client::new();
    let created = http
        .post(format!("{}/api/v1/nodes", s.base))
        .bearer_auth(&s.token)
        .json(&serde_json::json!({"name": "bench", "target": "file"}))
        .send()
        .await
        .expect("node create");
    assert_eq!(created.status(), 201, "node create: {:?}", created.text().await);
    let (peak_before, _) = rss_mib(s.child.id());
    let mut best = f64::MAX;
    let mut seen = (0, 0);
    for _ in 0..3 {
        let (secs, bytes, lines) = snapshot(&http, &s).await;
        best = best.min(secs);
        seen = (bytes, lines);
    }
    let (peak, now) = rss_mib(s.child.id());
    println!(
        "{:<44} {best:>6.2} s  {:.1} MB, {} lines; server peak RSS {peak:.0} MiB (before {peak_before:.0}, now {now:.0}); goal <= 2 s",
        "sync: snapshot of 1M entries (SQLite)",
        seen.0 as f64 / 1e6,
        seen.1
    );

    // 10,000 changes after the head, as 10,000 removes and adds would log them.
    let head = {
        let db = rebound::store::Db::connect(&db_cfg).expect("bench database");
        let mut c = db.conn().expect("connection");
        let head = rebound::sync::set::head(&mut c).expect("head");
        use diesel::RunQueryDsl;
        diesel::sql_query(format!(
            "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {}) \
             INSERT INTO suppression_changes (address, scope, op, source, at) \
             SELECT printf('d%07d@delta.example', i), 'global', 'add', 'manual', '2026-12-01 00:00:00' FROM n",
            DELTA - 1
        ))
        .execute(&mut *c)
        .expect("delta");
        head
    };
    let mut times = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        let r = http
            .get(format!("{}/api/v1/sync/changes?node=bench&after={head}&limit={DELTA}", s.base))
            .bearer_auth(&s.token)
            .send()
            .await
            .expect("changes");
        assert_eq!(r.status(), 200);
        let v: serde_json::Value = r.json().await.expect("feed");
        assert_eq!(v["changes"].as_array().map(Vec::len), Some(DELTA as usize));
        times.push(t.elapsed().as_secs_f64());
    }
    println!("{:<44} {}; goal <= 100 ms", "sync: delta of 10,000 changes (SQLite)", summary(times));
}

pub fn run() {
    let bin = Path::new(env!("CARGO_BIN_EXE_rebound"));
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    rt.block_on(protocol(bin, dir.path()));
}
