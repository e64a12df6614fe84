//! `make bench` (part `api`): the admin API over a 1,000,000-entry suppression list, served by
//! a real `rebound serve` child on SQLite and on PostgreSQL.
//!
//! Seeds the list (and 10,000 audit entries) with one bulk SQL statement each, starts the
//! server, makes a token with `rebound token create`, then measures over HTTP from this
//! process: search pages (prefix, domain; 50 rows) one at a time for p50/p99; the CSV export
//! of the whole list streamed (seconds, and the server's peak RSS, VmHWM, before and after);
//! on SQLite, 200 concurrent clients looping on list endpoints (p50/p99, requests/s).
//! Client and server share the machine: figures are per this box, not per core.
//! `REBOUND_BENCH_SUPPRESSION=N` seeds N entries instead; `REBOUND_BENCH_API_BACKEND=sqlite`
//! or `postgres` runs one backend only.

use std::io::BufRead;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const ENTRIES: i64 = 1_000_000;

fn entries() -> i64 {
    std::env::var("REBOUND_BENCH_SUPPRESSION").ok().and_then(|v| v.parse().ok()).unwrap_or(ENTRIES)
}

/// The bulk seed: addresses `uNNNNNNN@dNNN.example` in a scattered order (7919 is prime to
/// 10^n), 1,000 domains, 80% hard bounces, then complaints and manual entries.
pub(crate) fn seed_sql(backend: &str, n: i64) -> Vec<String> {
    match backend {
        "sqlite" => vec![
            format!(
                "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {last}) \
                 INSERT INTO suppressions (address, scope, source, reason, created_at) \
                 SELECT printf('u%07d@d%03d.example', (i * 7919) % {n}, ((i * 7919) % {n}) % 1000), 'global', \
                 CASE i % 10 WHEN 0 THEN 'fbl_complaint' WHEN 1 THEN 'manual' ELSE 'hard_bounce' END, 'user_unknown', \
                 datetime('2026-01-01', '+' || (i % 8640000) || ' seconds') FROM n",
                last = n - 1
            ),
            "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 9999) \
             INSERT INTO audit_log (at, actor, action, subject, detail) \
             SELECT datetime('2026-01-01', '+' || i || ' minutes'), 'cli:bench', 'suppress', \
             printf('suppression:u%07d@d000.example/global', i), NULL FROM n"
                .into(),
            "ANALYZE".into(),
        ],
        _ => vec![
            format!(
                "INSERT INTO suppressions (address, scope, source, reason, created_at) \
                 SELECT format('u%s@d%s.example', lpad(((i * 7919) % {n})::text, 7, '0'), \
                 lpad((((i * 7919) % {n}) % 1000)::text, 3, '0')), 'global', \
                 CASE i % 10 WHEN 0 THEN 'fbl_complaint' WHEN 1 THEN 'manual' ELSE 'hard_bounce' END, 'user_unknown', \
                 timestamp '2026-01-01' + (i % 8640000) * interval '1 second' FROM generate_series(0::bigint, {last}) i",
                last = n - 1
            ),
            "INSERT INTO audit_log (at, actor, action, subject) SELECT timestamp '2026-01-01' + i * interval '1 minute', \
             'cli:bench', 'suppress', format('suppression:u%s@d000.example/global', lpad(i::text, 7, '0')) \
             FROM generate_series(0, 9999) i"
                .into(),
            // What autovacuum does to a table this size soon after a bulk load: statistics,
            // and the visibility map that lets the export read the list from its index.
            "VACUUM ANALYZE suppressions".into(),
            "ANALYZE".into(),
        ],
    }
}

/// The server's peak and current resident size in MiB (VmHWM, VmRSS of /proc/PID/status).
pub(crate) fn rss_mib(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .map_or(-1.0, |kb| kb / 1024.0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// Milliseconds p50 / p99 / max of `times` (seconds).
pub(crate) fn summary(mut times: Vec<f64>) -> String {
    times.sort_by(f64::total_cmp);
    format!(
        "p50 {:>6.2} ms  p99 {:>6.2} ms  max {:>7.2} ms  ({} requests)",
        percentile(&times, 0.5) * 1e3,
        percentile(&times, 0.99) * 1e3,
        times.last().copied().unwrap_or(f64::NAN) * 1e3,
        times.len()
    )
}

pub(crate) struct Server {
    pub child: Child,
    pub base: String,
    pub token: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

/// `rebound serve` on `url`, with a fresh admin token.
pub(crate) fn serve(bin: &Path, dir: &Path, url: &str) -> Server {
    let port = free_port();
    let cfg = dir.join("rebound.toml");
    std::fs::write(
        &cfg,
        format!("[database]\nurl = \"{url}\"\npool_size = 16\n[server]\nlisten = \"127.0.0.1:{port}\"\n[log]\nlevel = \"warn\"\n"),
    )
    .expect("config");
    let out = Command::new(bin)
        .args(["--config"])
        .arg(&cfg)
        .args(["token", "create", "--name", "bench", "--role", "admin"])
        .output()
        .expect("rebound token create");
    assert!(out.status.success(), "token create: {}", String::from_utf8_lossy(&out.stderr));
    let token = String::from_utf8_lossy(&out.stdout).lines().last().unwrap_or_default().trim().to_string();
    let child = Command::new(bin)
        .args(["--config"])
        .arg(&cfg)
        .arg("serve")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("rebound serve");
    let base = format!("http://127.0.0.1:{port}");
    let server = Server { child, base, token };
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return server;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut s = server;
    let _ = s.child.kill();
    let mut err = String::new();
    if let Some(e) = s.child.stderr.take() {
        for l in std::io::BufReader::new(e).lines().map_while(Result::ok).take(20) {
            err.push_str(&l);
            err.push('\n');
        }
    }
    panic!("rebound serve did not listen within 60 s: {err}");
}

async fn timed_get(http: &reqwest::Client, s: &Server, path: &str) -> (f64, u16) {
    let t = Instant::now();
    let r = http.get(format!("{}{path}", s.base)).bearer_auth(&s.token).send().await.expect("request");
    let status = r.status().as_u16();
    let _ = r.bytes().await;
    (t.elapsed().as_secs_f64(), status)
}

/// Search pages one at a time: `n` random prefixes, `n` random domains.
async fn searches(label: &str, s: &Server, n: usize) {
    let http = reqwest::Client::new();
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    // Warm the server and the database's cache.
    for _ in 0..50 {
        timed_get(&http, s, "/api/v1/suppression?limit=50&prefix=u0").await;
    }
    for (what, path) in [("prefix", "prefix=u"), ("domain", "domain=")] {
        let mut times = Vec::with_capacity(n);
        for _ in 0..n {
            let q = match what {
                // Five characters of an address: about 1,000 entries start with it.
                "prefix" => format!("{path}{}", &format!("{:07}", next() % 1_000_000)[..4]),
                _ => format!("{path}d{:03}.example", next() % 1000),
            };
            let (t, status) = timed_get(&http, s, &format!("/api/v1/suppression?limit=50&{q}")).await;
            assert_eq!(status, 200, "search {q}");
            times.push(t);
        }
        println!("{:<44} {}", format!("{label}: search by {what}, 50 rows"), summary(times));
    }
}

/// The whole list as CSV over HTTP: seconds, bytes, lines, and the server's peak RSS.
async fn export(label: &str, s: &Server) {
    let (peak_before, _) = rss_mib(s.child.id());
    let http = reqwest::Client::new();
    let t = Instant::now();
    let mut r = http
        .get(format!("{}/api/v1/suppression/export?format=csv", s.base))
        .bearer_auth(&s.token)
        .send()
        .await
        .expect("export request");
    assert_eq!(r.status().as_u16(), 200);
    let (mut bytes, mut lines, mut chunks) = (0usize, 0usize, 0usize);
    while let Some(chunk) = r.chunk().await.expect("export chunk") {
        bytes += chunk.len();
        lines += memchr::memchr_iter(b'\n', &chunk).count();
        chunks += 1;
    }
    let secs = t.elapsed().as_secs_f64();
    let (peak, now) = rss_mib(s.child.id());
    println!(
        "{:<44} {secs:>6.2} s  {:>6.1} MB in {chunks} chunks, {} rows; server peak RSS {peak:.0} MiB (before {peak_before:.0}, now {now:.0})",
        format!("{label}: CSV export, streamed"),
        bytes as f64 / 1e6,
        lines.saturating_sub(1)
    );
}

/// `clients` tasks looping for `secs` over list endpoints (those this server has).
async fn concurrent(label: &str, s: &Server, clients: usize, secs: u64) {
    let http = reqwest::Client::builder().pool_max_idle_per_host(clients).build().expect("client");
    let candidates = [
        "/api/v1/suppression?limit=50",
        "/api/v1/suppression?limit=50&prefix=u12",
        "/api/v1/suppression?limit=50&domain=d042.example",
        "/api/v1/audit?limit=50",
        "/api/v1/mailboxes",
        "/api/v1/campaigns",
        "/api/v1/review?limit=50",
    ];
    let mut paths = Vec::new();
    for p in candidates {
        if timed_get(&http, s, p).await.1 == 200 {
            paths.push(p.to_string());
        }
    }
    let deadline = Instant::now() + Duration::from_secs(secs);
    let tasks: Vec<_> = (0..clients)
        .map(|i| {
            let (http, base, token, paths) = (http.clone(), s.base.clone(), s.token.clone(), paths.clone());
            tokio::spawn(async move {
                let mut times = Vec::new();
                let mut errors = 0usize;
                let mut k = i;
                while Instant::now() < deadline {
                    let t = Instant::now();
                    let ok =
                        match http.get(format!("{base}{}", paths[k % paths.len()])).bearer_auth(&token).send().await {
                            Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
                            Err(_) => false,
                        };
                    times.push(t.elapsed().as_secs_f64());
                    errors += usize::from(!ok);
                    k += 1;
                }
                (times, errors)
            })
        })
        .collect();
    let (mut all, mut errors) = (Vec::new(), 0);
    for t in tasks {
        let (times, e) = t.await.expect("client task");
        all.extend(times);
        errors += e;
    }
    let rate = all.len() as f64 / secs as f64;
    println!(
        "{:<44} {}  {rate:.0} req/s, {errors} errors over {}",
        format!("{label}: {clients} concurrent clients"),
        summary(all),
        paths.join(" ")
    );
}

async fn one_backend(label: &str, url: &str, bin: &Path, dir: &Path) {
    let cfg = rebound::config::DatabaseConfig { url: url.to_string(), ..Default::default() };
    let db = match rebound::store::Db::connect(&cfg) {
        Ok(db) => db,
        Err(e) => return println!("{label:<44} skipped: {e}"),
    };
    let n = entries();
    let backend = if url.starts_with("sqlite") { "sqlite" } else { "postgres" };
    let t = Instant::now();
    {
        use diesel::RunQueryDsl;
        let mut c = db.conn().expect("connection");
        if backend == "postgres" {
            // The pool's statement timeout (database.query_timeout_seconds) is for requests,
            // not for a bulk seed of a million rows.
            diesel::sql_query("SET statement_timeout = 0").execute(&mut *c).expect("no statement timeout");
        }
        for sql in seed_sql(backend, n) {
            diesel::sql_query(sql).execute(&mut *c).expect("seed");
        }
    }
    println!("{:<44} {:.1} s for {n} entries", format!("{label}: seed (bulk SQL)"), t.elapsed().as_secs_f64());
    drop(db);
    let server = serve(bin, dir, url);
    let (peak, _) = rss_mib(server.child.id());
    println!("{:<44} {peak:.0} MiB", format!("{label}: server peak RSS after start"));
    searches(label, &server, 1000).await;
    export(label, &server).await;
    if backend == "sqlite" {
        concurrent(label, &server, 200, 15).await;
    }
}

pub fn run() {
    let bin = Path::new(env!("CARGO_BIN_EXE_rebound"));
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let only = std::env::var("REBOUND_BENCH_API_BACKEND").unwrap_or_default();
    if only != "postgres" {
        rt.block_on(one_backend("API, SQLite", &format!("sqlite://{}/api.db", dir.path().display()), bin, dir.path()));
    }
    if only == "sqlite" {
        return;
    }
    let admin =
        std::env::var("REBOUND_TEST_PG_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let schema = format!("bench_api_{}", std::process::id());
    use diesel::{Connection, PgConnection, connection::SimpleConnection};
    let ready = PgConnection::establish(&admin)
        .ok()
        .is_some_and(|mut c| c.batch_execute(&format!("CREATE SCHEMA {schema}")).is_ok());
    if !ready {
        return println!("{:<44} skipped: PostgreSQL not reachable at {admin}", "API, PostgreSQL");
    }
    let sep = if admin.contains('?') { '&' } else { '?' };
    let url = format!("{admin}{sep}options=-csearch_path%3D{schema}");
    let pg_dir = tempfile::tempdir().expect("temp dir");
    rt.block_on(one_backend("API, PostgreSQL", &url, bin, pg_dir.path()));
    if let Ok(mut c) = PgConnection::establish(&admin) {
        let _ = c.batch_execute(&format!("DROP SCHEMA {schema} CASCADE"));
    }
}
