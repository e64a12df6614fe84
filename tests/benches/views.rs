//! `REBOUND_BENCH_ONLY=views`: a campaign's BOUNCED view at scale, through the HTTP API.
//!
//! Seeds, with bulk SQL (not the pipeline), 1,000,000 events in one campaign (95 % bounces
//! over 30 days and 20 domains, 5 % complaints) and 1,000,000 suppression entries (one per
//! permanent failure, as evidence, the rest manual), then times pages of 50 rows through a
//! served rebound: the first page, a deep page (a cursor half way down) and filtered pages.
//! Prints p50 / p99 per page kind and backend (`REBOUND_BENCH_VIEWS_EVENTS` resizes it).

use diesel::connection::SimpleConnection;
use rebound::access::{Role, tokens};
use rebound::audit::Actor;
use rebound::config::{Config, DatabaseConfig};
use rebound::store::{AnyConnection, Backend, Cursor, Db};
use std::time::Instant;

const REQUESTS: usize = 300;

pub fn run(tmp: &std::path::Path) {
    let n: i64 = std::env::var("REBOUND_BENCH_VIEWS_EVENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let sqlite = DatabaseConfig { url: format!("sqlite://{}/views.db", tmp.display()), ..Default::default() };
    measure("SQLite", sqlite, n);
    crate::on_postgres("BOUNCED pages, PostgreSQL", "bench_views", |cfg| measure("PostgreSQL", cfg, n));
}

/// Bulk rows: event i is a bounce unless i % 20 == 0; permanent when i % 3 != 0; at
/// 2026-10-01 + 2.6 i seconds; to u<i>@d<i % 20>.example.
pub(crate) fn seed(c: &mut AnyConnection, n: i64) {
    let (series, time, text) = match c.backend() {
        Backend::Sqlite => (
            format!("WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {n})"),
            "datetime('2026-10-01', '+' || (i * 26 / 10) || ' seconds')",
            "CAST(i AS TEXT)",
        ),
        Backend::Postgres => (String::new(), "timestamp '2026-10-01' + (i * 26 / 10) * interval '1 second'", "i::text"),
    };
    let from = match c.backend() {
        Backend::Sqlite => "FROM s".to_string(),
        Backend::Postgres => format!("FROM generate_series(1, {n}::bigint) AS i"),
    };
    let events = format!(
        "{series} INSERT INTO events (message_id, idx, recipient, kind, classification, reason, parsed_reason, status, \
         reply_code, diagnostic, remote_mta, rule_key, feedback_type, campaign_id, attribution, source, dialect, \
         occurred_at, ingested_at, origin, permanent) \
         SELECT NULL, 0, 'u' || {text} || '@d' || CAST(i % 20 AS TEXT) || '.example', \
           CASE WHEN i % 20 = 0 THEN 'complaint' ELSE 'bounce' END, \
           CASE WHEN i % 20 = 0 THEN 'complaint' WHEN i % 3 <> 0 THEN 'hard' ELSE 'soft' END, \
           CASE WHEN i % 3 <> 0 THEN 'user_unknown' WHEN i % 2 = 0 THEN 'mailbox_full' ELSE 'blocked' END, \
           'user_unknown', CASE WHEN i % 3 <> 0 THEN '5.1.1' ELSE '4.2.2' END, 550, '550 5.1.1 User unknown', \
           'mx' || CAST(i % 7 AS TEXT) || '.d' || CAST(i % 20 AS TEXT) || '.example', \
           CASE WHEN i % 3 <> 0 THEN 'user-unknown' ELSE 'mailbox-full' END, \
           CASE WHEN i % 20 = 0 THEN 'abuse' ELSE NULL END, 'big', 'header', 'file', 'postfix', \
           {time}, {time}, 'mail', CASE WHEN i % 20 = 0 THEN NULL WHEN i % 3 <> 0 THEN 1 ELSE 0 END {from}"
    );
    let t = Instant::now();
    if c.backend() == Backend::Postgres {
        // Seeding a million rows takes longer than a request may (database.query_timeout_seconds).
        c.batch_execute("SET statement_timeout = 0").expect("no statement timeout");
    }
    c.batch_execute(&format!("BEGIN; {events}; COMMIT;")).expect("seed events");
    let evidence = "INSERT INTO suppressions (address, scope, source, event_id, reason, created_at) \
        SELECT recipient, 'global', 'hard_bounce', id, reason, occurred_at FROM events WHERE permanent = 1";
    let manual = format!(
        "{series} INSERT INTO suppressions (address, scope, source, reason, note, created_at) \
         SELECT 'm' || {text} || '@manual.example', 'global', 'manual', NULL, 'bench', {time} {from} \
         WHERE i <= {n} - (SELECT COUNT(*) FROM suppressions)"
    );
    let campaign = "INSERT INTO campaigns (id, hard, soft, complaints, ignored, failed_permanent, failed_temporary, \
        first_event_at, last_event_at) SELECT 'big', \
        SUM(CASE WHEN classification = 'hard' THEN 1 ELSE 0 END), SUM(CASE WHEN classification = 'soft' THEN 1 ELSE 0 END), \
        SUM(CASE WHEN kind = 'complaint' THEN 1 ELSE 0 END), 0, \
        SUM(CASE WHEN permanent = 1 THEN 1 ELSE 0 END), SUM(CASE WHEN permanent = 0 THEN 1 ELSE 0 END), \
        MIN(occurred_at), MAX(occurred_at) FROM events";
    // The campaign's sent map: twice as many messages as events, as `sent import` keeps it
    // (the map and its per-campaign count), so SUMMARY and the list read the count, not the map.
    let sent = format!(
        "{} INSERT INTO sent_messages (message_id, campaign_id, recipient, sent_at) \
         SELECT 'm' || {text} || '@sender.example', 'big', NULL, {time} {from_sent}; \
         INSERT INTO campaign_sent (campaign_id, sent) SELECT campaign_id, COUNT(*) FROM sent_messages GROUP BY campaign_id",
        series.replace(&format!("i < {n}"), &format!("i < {}", 2 * n)),
        from_sent = from.replace(&format!("{n}::bigint"), &format!("{}::bigint", 2 * n)),
    );
    c.batch_execute(&format!("BEGIN; {evidence}; {manual}; {campaign}; {sent}; COMMIT;")).expect("seed suppressions");
    // The events went around ingest: their report counters are recounted from them.
    rebound::store::transaction(c, rebound::record::counters::rebuild).expect("report counters");
    if c.backend() == Backend::Postgres {
        c.batch_execute("ANALYZE events; ANALYZE suppressions;").expect("analyze");
    } else {
        c.batch_execute("ANALYZE;").expect("analyze");
    }
    println!(
        "  seeded {n} events, {n} suppression entries and {} sent messages in {:.1} s",
        2 * n,
        t.elapsed().as_secs_f64()
    );
}

fn measure(label: &str, db: DatabaseConfig, n: i64) {
    let mut config = Config { database: db, ..Default::default() };
    config.server.listen = "127.0.0.1:0".into();
    let store = match Db::connect(&config.database) {
        Ok(s) => s,
        Err(e) => return println!("BOUNCED pages, {label}: skipped: {e}"),
    };
    let mut c = store.conn().expect("connection");
    println!("BOUNCED pages of 50 rows, {label}:");
    seed(&mut c, n);
    let now = chrono::Utc::now().naive_utc();
    let token = tokens::create(&mut c, &Actor::system("bench"), "bench", Role::Viewer, now).expect("token").1;
    // A cursor half way down the view: the row at depth n / 2.
    let deep: (chrono::NaiveDateTime, i64) = {
        use diesel::prelude::*;
        use rebound::store::schema::events;
        events::table
            .filter(events::campaign_id.eq("big"))
            .filter(events::kind.eq("bounce"))
            .order((events::occurred_at.desc(), events::id.desc()))
            .offset(n / 2)
            .select((events::occurred_at, events::id))
            .first(&mut c)
            .expect("a row half way")
    };
    drop(c);
    let cursor = Cursor::time_id(deep.0, deep.1).0.replace('|', "%7C").replace(':', "%3A");
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    rt.block_on(async move {
        let app = rebound::app::App::build(config).await.expect("the app builds");
        let base = format!("http://{}/api/v1/campaigns/big/bounced?limit=50", app.local_addr());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(app.run(async move {
            let _ = stopped.await;
        }));
        let http = reqwest::Client::new();
        for (what, query) in [
            ("first page", String::new()),
            ("deep page (cursor at n/2)", format!("&after={cursor}")),
            ("filtered: type=soft&domain=d7.example", "&type=soft&domain=d7.example".into()),
            ("filtered: reason=blocked, deep", format!("&reason=blocked&after={cursor}")),
            ("filtered: date range (one day)", "&from=2026-10-15&to=2026-10-15".into()),
        ] {
            let url = format!("{base}{query}");
            let mut times = Vec::with_capacity(REQUESTS);
            for i in 0..REQUESTS + 20 {
                let t = Instant::now();
                let resp = http.get(&url).bearer_auth(&token).send().await.expect("request");
                assert_eq!(resp.status(), 200, "{url}");
                let body: serde_json::Value = resp.json().await.expect("json");
                let rows = body["rows"].as_array().map_or(0, Vec::len);
                assert_eq!(rows, 50, "{url}: a full page");
                if i >= 20 {
                    times.push(t.elapsed().as_secs_f64() * 1e3);
                }
            }
            times.sort_by(f64::total_cmp);
            let p = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)];
            println!("  {what:<42} p50 {:>6.2} ms  p99 {:>6.2} ms", p(0.50), p(0.99));
        }
        // Once each: the campaign report (grouped over every event) and the whole view as CSV.
        let report = base.replace("/bounced?limit=50", "");
        let t = Instant::now();
        let resp = http.get(&report).bearer_auth(&token).send().await.expect("report");
        assert_eq!(resp.status(), 200);
        let _ = resp.bytes().await.expect("report body");
        println!("  {:<42} {:>8.0} ms", "campaign report (days, bounce groups)", t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        let mut resp = http.get(base.replace("limit=50", "format=csv")).bearer_auth(&token).send().await.expect("csv");
        let (mut bytes, mut lines) = (0usize, 0usize);
        while let Some(chunk) = resp.chunk().await.expect("csv chunk") {
            bytes += chunk.len();
            lines += chunk.iter().filter(|b| **b == b'\n').count();
        }
        println!(
            "  {:<42} {:>8.2} s   ({} rows, {:.0} MB; peak RSS of server + client {} MiB)",
            "whole BOUNCED view as CSV",
            t.elapsed().as_secs_f64(),
            lines - 1,
            bytes as f64 / 1e6,
            peak_rss_kib() / 1024
        );
        let _ = stop.send(());
        let _ = task.await;
    });
}

/// This process's peak resident memory (Linux), in KiB.
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}
