//! `REBOUND_BENCH_ONLY=notify`: events out.
//!
//! - Import with and without an enabled webhook endpoint (20,000 one-recipient hard bounces
//!   through the pipeline in batches of 500, each a `bounce.recorded` and a
//!   `suppression.added` event): outbox events enqueued per second inside the ingest
//!   transaction, and the import slowdown they cost.
//! - Deliveries per second from the worker to a local receiver (axum on loopback), one event
//!   per POST (`concurrency` 8) and batched (100 per POST), and of recorded events (bundles
//!   unpacked at the fan-out, payloads rebuilt from the events rows), one per POST.
//!   Wall time and this process's CPU time (all of SQLite's work; PostgreSQL's server time
//!   is not in it), best of two alternating runs.
//! - Alert evaluation over 1,000,000 events seeded in a 7-day window: the one-off back-fill
//!   of the matcher a rule testing the server's words needs, then per rule the first
//!   evaluation of a new evaluator (a restart, a lease taken over), a steady one after 1,000
//!   new events and an idle one.
//!
//! Both backends. `REBOUND_BENCH_NOTIFY_EVENTS` resizes the alert seed.

use crate::support::mail::{dsn, original};
use crate::support::notify::webhook as endpoint;
use diesel::connection::SimpleConnection;
use rebound::config::alert::{Criterion, Metric, Per};
use rebound::config::{AlertConfig, AlertsConfig, Config, DatabaseConfig};
use rebound::ingest::{Item, Pipeline};
use rebound::store::{AnyConnection, Backend, Db};
use std::time::Instant;

const MESSAGES: usize = 20_000;
const BATCH: usize = 500;
const DELIVERIES: usize = 5_000;

pub fn run(tmp: &std::path::Path) {
    let sqlite =
        |name: &str| DatabaseConfig { url: format!("sqlite://{}/{name}.db", tmp.display()), ..Default::default() };
    let secret = tmp.join("secret");
    std::fs::write(&secret, "whsec_YmVuY2gtc2VjcmV0\n").unwrap();
    let secret = secret.display().to_string();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let mails = bounces();
    // Alternating, best of several each (two unless REBOUND_BENCH_NOTIFY_ROUNDS says): the
    // machine is shared, and the first run warms it.
    let rounds: usize = std::env::var("REBOUND_BENCH_NOTIFY_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(2);
    let best = |a: Run, b: Run| Run { wall: a.wall.min(b.wall), cpu: a.cpu.min(b.cpu), enqueued: b.enqueued };
    let none = Run { wall: f64::MAX, cpu: f64::MAX, enqueued: 0 };
    let (mut base, mut with) = (none, none);
    for round in 0..rounds {
        let b = import(sqlite(&format!("plain{round}")), &mails, None);
        let w = import(sqlite(&format!("hooked{round}")), &mails, Some(&secret));
        eprintln!("  SQLite round {round}: CPU {:.2} → {:.2} s, wall {:.2} → {:.2} s", b.cpu, w.cpu, b.wall, w.wall);
        (base, with) = (best(base, b), best(with, w));
    }
    report("SQLite", base, with);
    let (mut base, mut with) = (none, none);
    for round in 0..rounds {
        let (mut b, mut w) = (none, none);
        crate::on_postgres("notify import, PostgreSQL", &format!("bench_notify_a{round}"), |cfg| {
            b = import(cfg, &mails, None);
        });
        crate::on_postgres("notify import, PostgreSQL", &format!("bench_notify_b{round}"), |cfg| {
            w = import(cfg, &mails, Some(&secret));
        });
        eprintln!(
            "  PostgreSQL round {round}: CPU {:.2} → {:.2} s, wall {:.2} → {:.2} s",
            b.cpu, w.cpu, b.wall, w.wall
        );
        (base, with) = (best(base, b), best(with, w));
    }
    if base.wall < f64::MAX && with.wall < f64::MAX {
        report("PostgreSQL", base, with);
    }
    rt.block_on(deliveries("SQLite", sqlite("deliver"), &secret, &mails));
    crate::on_postgres("notify deliveries, PostgreSQL", "bench_notify_c", |cfg| {
        rt.block_on(deliveries("PostgreSQL", cfg, &secret, &mails))
    });
    let n: i64 = std::env::var("REBOUND_BENCH_NOTIFY_EVENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    rt.block_on(alerts("SQLite", sqlite("alerts"), n));
    crate::on_postgres("alert evaluation, PostgreSQL", "bench_notify_d", |cfg| {
        rt.block_on(alerts("PostgreSQL", cfg, n))
    });
}

fn bounces() -> Vec<Vec<u8>> {
    (0..MESSAGES)
        .map(|i| {
            let orig = original(Some(&format!("c{}", i % 10)), &format!("b{i}@sender.example"));
            dsn(
                "bounces@sender.example",
                &format!("u{i}@d{}.example", i % 50),
                "5.1.1",
                "550 5.1.1 user unknown",
                &orig,
                "Tue, 10 Nov 2026 10:00:00 +0000",
            )
        })
        .collect()
}

/// One import: wall and CPU seconds, events enqueued.
#[derive(Clone, Copy)]
struct Run {
    wall: f64,
    cpu: f64,
    enqueued: usize,
}

/// This process's CPU time (user and system, every thread), in seconds.
fn cpu_seconds() -> f64 {
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage only writes the struct it is given.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let t = |v: libc::timeval| v.tv_sec as f64 + v.tv_usec as f64 / 1e6;
    t(u.ru_utime) + t(u.ru_stime)
}

/// Imports every mail (with an endpoint when `secret` is given).
fn import(db: DatabaseConfig, mails: &[Vec<u8>], secret: Option<&str>) -> Run {
    let cfg = Config { database: db, ..Default::default() };
    let store = Db::connect(&cfg.database).expect("bench database");
    let mut c = store.conn().unwrap();
    rebound::classify::repo::seed_if_empty(&mut c).unwrap();
    if let Some(s) = secret {
        // Nobody listens: the events stay in the outbox (the worker is not running).
        let e = endpoint("bench", "http://127.0.0.1:9/hook", s);
        rebound::notify::endpoints::sync_config(&mut c, &[e], None, chrono::Utc::now().naive_utc()).unwrap();
    }
    let pipeline = Pipeline::new(&cfg).unwrap();
    let ids: Vec<String> = (0..mails.len()).map(|i| i.to_string()).collect();
    let (t, cpu) = (Instant::now(), cpu_seconds());
    for (chunk, id) in mails.chunks(BATCH).zip(ids.chunks(BATCH)) {
        let items: Vec<Item> =
            chunk.iter().zip(id).map(|(raw, id)| Item { source: "bench", source_id: id, raw }).collect();
        pipeline.ingest(&mut c, &items).expect("ingest");
    }
    let (wall, cpu) = (t.elapsed().as_secs_f64(), cpu_seconds() - cpu);
    Run { wall, cpu, enqueued: queued(&mut c) as usize }
}

/// Events waiting to be fanned out: rows of their own, and those a bundle row holds.
fn queued(c: &mut AnyConnection) -> i64 {
    let length = match c {
        AnyConnection::Postgresql(_) => "json_array_length(payload::json)",
        AnyConnection::Sqlite(_) => "json_array_length(payload)",
    };
    count(c, "notify_outbox WHERE fanned = 0 AND kind <> 'bundle'")
        + sum(
            c,
            &format!("SELECT COALESCE(SUM({length}), 0) AS n FROM notify_outbox WHERE fanned = 0 AND kind = 'bundle'"),
        )
}

fn sum(c: &mut AnyConnection, sql: &str) -> i64 {
    use diesel::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    diesel::sql_query(sql).get_result::<N>(c).unwrap().n
}

fn count(c: &mut AnyConnection, table: &str) -> i64 {
    use diesel::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {table}")).get_result::<N>(c).unwrap().n
}

fn report(label: &str, base: Run, with: Run) {
    println!(
        "{:<44} {:>9.0} events/s enqueued in ingest; import {:.0} → {:.0} msgs/s ({:+.1}% wall); \
         CPU {:.2} → {:.2} s ({:+.1}%)",
        format!("webhook outbox, {label}"),
        with.enqueued as f64 / with.wall,
        MESSAGES as f64 / base.wall,
        MESSAGES as f64 / with.wall,
        (with.wall / base.wall - 1.0) * 100.0,
        base.cpu,
        with.cpu,
        (with.cpu / base.cpu - 1.0) * 100.0,
    );
}

async fn deliveries(label: &str, db: DatabaseConfig, secret: &str, mails: &[Vec<u8>]) {
    let app = axum::Router::new().route("/hook", axum::routing::post(|| async { "ok" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let cfg = Config { database: db, ..Default::default() };
    let store = Db::connect(&cfg.database).expect("bench database");
    for batch in [false, true] {
        let name = if batch { "batched" } else { "single" };
        let mut e = endpoint(name, &url, secret);
        e.batch = batch;
        e.events = vec!["webhook.test".into()];
        let mut c = store.conn().unwrap();
        rebound::notify::endpoints::sync_config(&mut c, &[e], None, chrono::Utc::now().naive_utc()).unwrap();
        let actor = rebound::audit::Actor::system("bench");
        for _ in 0..DELIVERIES {
            rebound::notify::endpoints::send_test(&mut c, &actor, name).unwrap();
        }
        drop(c);
        let (posts, secs) = drain(&store, &cfg).await;
        println!(
            "{:<44} {:>9.0} deliveries/s  ({DELIVERIES} events in {posts} POSTs, {secs:.2} s)",
            format!("webhook deliveries, {name}, {label}"),
            DELIVERIES as f64 / secs
        );
    }
    // Recorded bounces and the suppressions they caused: bundles unpacked at the fan-out, each
    // payload rebuilt from its events row, one event per POST.
    let mut c = store.conn().unwrap();
    rebound::classify::repo::seed_if_empty(&mut c).unwrap();
    let e = endpoint("recorded", &url, secret);
    rebound::notify::endpoints::sync_config(&mut c, &[e], None, chrono::Utc::now().naive_utc()).unwrap();
    let pipeline = Pipeline::new(&cfg).unwrap();
    let mails = &mails[..DELIVERIES / 2];
    let ids: Vec<String> = (0..mails.len()).map(|i| format!("d{i}")).collect();
    for (chunk, id) in mails.chunks(BATCH).zip(ids.chunks(BATCH)) {
        let items: Vec<Item> =
            chunk.iter().zip(id).map(|(raw, id)| Item { source: "bench", source_id: id, raw }).collect();
        pipeline.ingest(&mut c, &items).expect("ingest");
    }
    let queued = queued(&mut c) as usize;
    drop(c);
    let (posts, secs) = drain(&store, &cfg).await;
    println!(
        "{:<44} {:>9.0} deliveries/s  ({queued} events in {posts} POSTs, {secs:.2} s)",
        format!("webhook deliveries, recorded, {label}"),
        queued as f64 / secs
    );
}

/// Worker rounds until nothing is left to send: POSTs made, seconds taken.
async fn drain(store: &Db, cfg: &Config) -> (usize, f64) {
    let worker = rebound::notify::worker::Worker::new(store.clone(), cfg.notify.clone(), "bench".into());
    let t = Instant::now();
    let mut posts = 0;
    loop {
        let n = worker.round().await.unwrap();
        posts += n;
        if n == 0 {
            return (posts, t.elapsed().as_secs_f64());
        }
    }
}

/// `n` events over the last 7 days: 90% bounces (2/3 hard), 5% complaints, 5% deliveries,
/// over 10 campaigns and 50 recipient domains, a tenth of the bounces 5.7.1.
fn seed(c: &mut AnyConnection, n: i64, from: i64, ago_seconds: i64) {
    let (series, text) = match c.backend() {
        Backend::Sqlite => (
            format!("WITH RECURSIVE s(i) AS (SELECT {from} UNION ALL SELECT i + 1 FROM s WHERE i < {})", from + n - 1),
            "CAST(i AS TEXT)",
        ),
        Backend::Postgres => (String::new(), "i::text"),
    };
    let (time, src) = match c.backend() {
        Backend::Sqlite => (
            format!("datetime('now', '-' || (({ago_seconds} * (i - {from})) / {n}) || ' seconds')"),
            "FROM s".to_string(),
        ),
        Backend::Postgres => (
            format!("(now() at time zone 'utc') - ((({ago_seconds} * (i - {from})) / {n}) * interval '1 second')"),
            format!("FROM generate_series({from}::bigint, {}::bigint) AS i", from + n - 1),
        ),
    };
    let sql = format!(
        "{series} INSERT INTO events (message_id, idx, recipient, kind, classification, reason, parsed_reason, status, \
         reply_code, diagnostic, remote_mta, rule_key, campaign_id, attribution, source, dialect, occurred_at, \
         ingested_at, origin, origin_ref, permanent) \
         SELECT NULL, 0, 'u' || {text} || '@d' || CAST(i % 50 AS TEXT) || '.example', \
           CASE WHEN i % 20 = 0 THEN 'complaint' WHEN i % 20 = 1 THEN 'delivered' ELSE 'bounce' END, \
           CASE WHEN i % 20 = 0 THEN 'complaint' WHEN i % 20 = 1 THEN 'ignore' WHEN i % 3 <> 0 THEN 'hard' ELSE 'soft' END, \
           'user_unknown', 'user_unknown', CASE WHEN i % 10 = 2 THEN '5.7.1' ELSE '5.1.1' END, 550, \
           CASE WHEN i % 10 = 2 THEN '550 5.7.1 delivery not authorized' ELSE '550 5.1.1 user unknown' END, \
           'mx.d' || CAST(i % 50 AS TEXT) || '.example', 'user-unknown', 'c' || CAST(i % 10 AS TEXT), 'header', \
           'mailbox:bench', 'postfix', {time}, {time}, 'log', {text}, 1 {src}"
    );
    if c.backend() == Backend::Postgres {
        c.batch_execute("SET statement_timeout = 0").unwrap();
    }
    // The alert counters of the seeded events, as the write path keeps them.
    let hour = match c.backend() {
        Backend::Sqlite => "CAST(strftime('%s', occurred_at) AS INTEGER) / 3600",
        Backend::Postgres => "floor(extract(epoch FROM occurred_at) / 3600)::bigint",
    };
    let scopes = [
        ("all", "''"),
        ("campaign", "campaign_id"),
        ("sending_domain", "sending_domain"),
        ("recipient_domain", "recipient_domain"),
        ("remote_mta", "remote_mta"),
        ("source", "source"),
    ];
    let counters: Vec<String> = scopes
        .iter()
        .map(|(scope, col)| {
            format!(
                "INSERT INTO alert_counts (scope, scope_key, hour, kind, classification, status, reason, rule_key, n) \
                 SELECT '{scope}', COALESCE({col}, ''), {hour}, kind, classification, COALESCE(status, ''), reason, \
                 COALESCE(rule_key, ''), COUNT(*) FROM events WHERE id >= (SELECT MAX(id) FROM events) - {} \
                 GROUP BY 2, 3, 4, 5, 6, 7, 8 \
                 ON CONFLICT (scope, hour, scope_key, kind, classification, status, reason, rule_key) \
                 DO UPDATE SET n = alert_counts.n + excluded.n",
                n - 1
            )
        })
        .collect();
    c.batch_execute(&format!("BEGIN; {sql}; {}; COMMIT;", counters.join("; "))).expect("seed events");
    if c.backend() == Backend::Postgres {
        c.batch_execute("ANALYZE events").unwrap();
    }
}

async fn alerts(label: &str, db: DatabaseConfig, n: i64) {
    let store = Db::connect(&db).expect("bench database");
    let t = Instant::now();
    seed(&mut store.conn().unwrap(), n, 1, 7 * 86400 - 600);
    println!("{:<44} {:>9.1} s to seed {n} events", format!("alert evaluation, {label}"), t.elapsed().as_secs_f64());
    let week = 7 * 24 * 60;
    let rule = |name: &str, per, c| AlertConfig {
        name: name.into(),
        per,
        combine: "all".into(),
        criteria: vec![c],
        cooldown_minutes: 60,
        channels: vec!["webhook".into()],
        enabled: true,
    };
    let rules = vec![
        rule(
            "bounce-rate",
            Per::Campaign,
            Criterion::Rate { metric: Metric::Bounce, window_minutes: week, min_volume: 200, at_least: 0.05 },
        ),
        rule(
            "complaint-rate",
            Per::Campaign,
            Criterion::Rate { metric: Metric::Complaint, window_minutes: week, min_volume: 1000, at_least: 0.001 },
        ),
        rule(
            "hard-by-provider",
            Per::RecipientDomain,
            Criterion::Rate { metric: Metric::HardBounce, window_minutes: week, min_volume: 200, at_least: 0.5 },
        ),
        rule(
            "provider-block",
            Per::RecipientDomain,
            Criterion::Count {
                window_minutes: week,
                at_least: 30,
                status: Some("5.7.*".into()),
                reason: None,
                rule: None,
                text: Some("(?i)not authori[sz]ed".into()),
            },
        ),
    ];
    let k = rules.len() as f64;
    let cfg = AlertsConfig::default();
    // The rule testing the server's words needs a matcher: made and back-filled once.
    let mut ev = rebound::notify::alert::Evaluator::new(&rules);
    let t = Instant::now();
    let filled = {
        let now = chrono::Utc::now().naive_utc();
        ev.prepare(&mut store.conn().unwrap(), now).unwrap()
    };
    println!(
        "{:<44} {:>9.1} s to back-fill the text matcher once ({filled} events read)",
        format!("alert evaluation, {label}"),
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let fired = rebound::notify::alert::round(&store, &mut ev, &cfg, "bench").await.unwrap();
    let cold = t.elapsed().as_secs_f64() * 1000.0;
    // Raw rows, as seeded: the counters follow, the text matcher does not (it costs the same).
    seed(&mut store.conn().unwrap(), 1000, n + 1, 60);
    let t = Instant::now();
    rebound::notify::alert::round(&store, &mut ev, &cfg, "bench").await.unwrap();
    let warm = t.elapsed().as_secs_f64() * 1000.0;
    let t = Instant::now();
    rebound::notify::alert::round(&store, &mut ev, &cfg, "bench").await.unwrap();
    let idle = t.elapsed().as_secs_f64() * 1000.0;
    println!(
        "{:<44} {:>9.1} ms/rule steady (+1,000 events), {:.1} ms/rule idle; first {:.1} ms/rule ({} episodes)",
        format!("alert evaluation over {n} events, {label}"),
        warm / k,
        idle / k,
        cold / k,
        fired.len()
    );
    // Each rule alone in a new evaluator (a restart): best of three.
    for r in &rules {
        let mut best = f64::MAX;
        for _ in 0..3 {
            let mut ev = rebound::notify::alert::Evaluator::new(std::slice::from_ref(r));
            let t = Instant::now();
            rebound::notify::alert::round(&store, &mut ev, &cfg, "bench").await.unwrap();
            best = best.min(t.elapsed().as_secs_f64() * 1000.0);
        }
        println!(
            "{:<44} {:>9.1} ms first evaluation of rule {}",
            format!("alert evaluation over {n} events, {label}"),
            best,
            r.name
        );
    }
}
