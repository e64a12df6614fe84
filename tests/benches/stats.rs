//! Part `stats`: delivery statistics at scale, on both backends.
//!
//! Query: `stats_counts` seeded with bulk SQL (not the pipeline) as 10,000,000 events over
//! 30 days would leave it — 13,889 events an hour, 30 campaigns each sending over two days,
//! 500 recipient domains, 300 remote hosts, 5 senders, 4 nodes, 16 vmtas, 32 source IPs, 25
//! status codes, 15 reasons and 400 "why" groups an hour (about 2.9 million rows) — then
//! each query kind through `record::stats_query::query` (the stage the API, CLI and page
//! call), p50 / p99 of 40 runs. The goal is ≤ 200 ms.
//!
//! Ingest cost: 100,000 PowerMTA accounting lines imported with `Pipeline::log_pass` into a
//! fresh database (CPU time of this process: on SQLite that is all of it), then
//! `record::stats::add` alone over the same events in the same 4,000-event transactions:
//! its share is what keeping the statistics costs the ingest.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use rebound::config::{Config, DatabaseConfig};
use rebound::record::stats_query::{self, By, Query};
use rebound::store::{AnyConnection, Backend, Db};
use std::time::Instant;

const HOURS: i64 = 720;
const RUNS: usize = 40;

pub fn run(tmp: &std::path::Path) {
    let sqlite =
        |name: &str| DatabaseConfig { url: format!("sqlite://{}/{name}.db", tmp.display()), ..Default::default() };
    queries("SQLite", sqlite("stats-query"));
    crate::on_postgres("stats queries, PostgreSQL", "bench_stats", |cfg| queries("PostgreSQL", cfg));
    ingest("SQLite", sqlite("stats-ingest"), tmp);
    crate::on_postgres("stats ingest, PostgreSQL", "bench_stats_ingest", |cfg| ingest("PostgreSQL", cfg, tmp));
}

/// The first hour seeded: 2026-11-01 00:00 UTC.
fn h0() -> i64 {
    chrono::NaiveDate::from_ymd_opt(2026, 11, 1).unwrap().and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp() / 3600
}

fn seed(c: &mut AnyConnection) {
    let h0 = h0();
    if c.backend() == Backend::Postgres {
        c.batch_execute("SET statement_timeout = 0").unwrap();
    }
    // Per hour: delivered, deferred, bounced, expired, hard, soft, complained (13,889 events).
    let per_hour = [11_069i64, 1_500, 1_200, 100, 900, 400, 20];
    let cte = "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 719), \
        dims(dim, k) AS (VALUES ('domain', 500), ('remote_host', 300), ('sender', 5), ('node', 4), ('vmta', 16), \
          ('source_ip', 32), ('status', 25), ('reason', 15), ('why', 400), ('all', 1)), \
        keys(dim, k, key) AS (SELECT dims.dim, dims.k, CASE WHEN dims.dim = 'all' THEN '' ELSE dims.dim || '-' || CAST(n.i AS TEXT) END \
          FROM dims JOIN n ON n.i < dims.k), \
        camps(j) AS (SELECT i FROM n WHERE i < 30)";
    // Shares of a cell: `div` campaigns × keys share the hour; `why` holds bounces only.
    let counts = |div: &str, mul: i64| {
        let col = |i: usize, why: bool| {
            let v = if why && (i < 2 || i == 6) { 0 } else { per_hour[i] * mul };
            v.to_string()
        };
        let pick =
            |i: usize| format!("CASE WHEN keys.dim = 'why' THEN {} ELSE {} END / ({div})", col(i, true), col(i, false));
        (0..7).map(pick).collect::<Vec<_>>().join(", ")
    };
    let cols = "dim, campaign, span, bucket, dim_key, delivered, deferred, bounced, expired, hard, soft, complained";
    let t = Instant::now();
    let statements = [
        // Every campaign ('*'), per hour and (not for 'all') per day.
        format!(
            "{cte} INSERT INTO stats_counts ({cols}) SELECT keys.dim, '*', 1, {h0} + n.i, keys.key, {} FROM keys CROSS JOIN n",
            counts("keys.k", 1)
        ),
        format!(
            "{cte} INSERT INTO stats_counts ({cols}) SELECT keys.dim, '*', 24, {h0} + n.i * 24, keys.key, {} FROM keys CROSS JOIN n WHERE n.i < 30 AND keys.dim <> 'all'",
            counts("keys.k", 24)
        ),
        // Campaign j sends over hours 24 j .. 24 j + 47 (two at a time share an hour).
        format!(
            "{cte} INSERT INTO stats_counts ({cols}) SELECT keys.dim, 'c' || CAST(camps.j AS TEXT), 1, {h0} + camps.j * 24 + n.i, keys.key, {} FROM camps CROSS JOIN keys CROSS JOIN n WHERE n.i < 48",
            counts("keys.k * 2", 1)
        ),
        format!(
            "{cte} INSERT INTO stats_counts ({cols}) SELECT keys.dim, 'c' || CAST(camps.j AS TEXT), 24, {h0} + (camps.j + n.i) * 24, keys.key, {} FROM camps CROSS JOIN keys CROSS JOIN n WHERE n.i < 2 AND keys.dim <> 'all'",
            counts("keys.k * 2", 24)
        ),
    ];
    for s in statements {
        c.batch_execute(&format!("BEGIN; {s}; COMMIT;")).unwrap_or_else(|e| panic!("seed: {e}\n{s}"));
    }
    if c.backend() == Backend::Postgres {
        c.batch_execute("ANALYZE stats_counts").unwrap();
    }
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let rows: N = diesel::sql_query("SELECT COUNT(*) AS n FROM stats_counts").get_result(c).unwrap();
    println!("  seeded {} stats rows in {:.1} s", rows.n, t.elapsed().as_secs_f64());
}

fn queries(label: &str, db: DatabaseConfig) {
    let store = Db::connect(&db).expect("the bench database");
    let c = &mut *store.conn().unwrap();
    seed(c);
    let at = |h: i64| chrono::DateTime::from_timestamp((h0() + h) * 3600, 0).unwrap().naive_utc();
    let q = |by: By, campaign: Option<&str>, from: i64, to: i64, offset: i32| Query {
        from: at(from),
        to: at(to),
        campaign: campaign.map(str::to_string),
        by,
        offset_hours: offset,
        top: 50,
    };
    let kinds = [
        ("total, 30 days", q(By::Total, None, 0, HOURS, 0)),
        ("by day", q(By::Day, None, 0, HOURS, 0)),
        ("by month", q(By::Month, None, 0, HOURS, 0)),
        ("by hour, offset +2", q(By::Hour, None, 0, HOURS, 2)),
        ("by day of week", q(By::DayOfWeek, None, 0, HOURS, 0)),
        ("by domain, 30 days", q(By::Domain, None, 0, HOURS, 0)),
        ("by domain, partial first/last day", q(By::Domain, None, 13, HOURS - 13, 0)),
        ("by remote host", q(By::RemoteHost, None, 0, HOURS, 0)),
        ("by source IP", q(By::SourceIp, None, 0, HOURS, 0)),
        ("by status", q(By::Status, None, 0, HOURS, 0)),
        ("campaign, by domain", q(By::Domain, Some("c5"), 0, HOURS, 0)),
        ("campaign, why it failed", q(By::Why, Some("c5"), 0, HOURS, 0)),
    ];
    for (name, query) in &kinds {
        let total = stats_query::query(c, query).unwrap().total.events();
        let mut ms: Vec<f64> = (0..RUNS)
            .map(|_| {
                let t = Instant::now();
                std::hint::black_box(stats_query::query(c, query).unwrap());
                t.elapsed().as_secs_f64() * 1000.0
            })
            .collect();
        ms.sort_by(f64::total_cmp);
        let p = |q: f64| ms[((ms.len() as f64 * q).ceil() as usize).min(ms.len()) - 1];
        println!(
            "stats query {label:<10} {name:<34} p50 {:>7.1} ms  p99 {:>7.1} ms  ({total} events)",
            p(0.5),
            p(0.99)
        );
    }
}

/// CPU seconds of this process so far (user + system).
fn cpu() -> f64 {
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage fills the struct it is given.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let s = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    s(u.ru_utime) + s(u.ru_stime)
}

fn accounting(n: usize) -> String {
    let mut s = String::from(
        "type,timeLogged,rcpt,orig,dsnStatus,dsnDiag,dsnMta,bounceCat,dlvSourceIp,vmta,header_X-Campaign-ID\n",
    );
    for i in 0..n {
        let (ty, status, diag) = match i % 10 {
            0..=6 => ("d", "2.0.0", "smtp;250 2.0.0 OK"),
            7 => ("t", "4.7.0", "smtp;421 4.7.0 try later"),
            8 => ("b", "5.1.1", "smtp;550 5.1.1 user unknown"),
            _ => ("b", "5.7.1", "smtp;550 5.7.1 blocked"),
        };
        let d = (i * 7919) % 200;
        s += &format!(
            "{ty},2026-11-20 {:02}:{:02}:{:02}+0000,u{i}@d{d}.example,bounce@news.example.com,{status} (x),{diag},mx{}.d{d}.example (192.0.2.1),,198.51.100.{},vmta-{},camp-{}\n",
            i / 3600 % 24,
            i / 60 % 60,
            i % 60,
            i % 3,
            i % 8,
            i % 16,
            i / 20_000
        );
    }
    s
}

type Ev = (
    (String, String, Option<String>, Option<String>, Option<i32>, Option<String>, Option<String>, String),
    (Option<String>, chrono::NaiveDateTime, Option<Prov>),
);
type Prov = (Option<String>, Option<String>, Option<String>, Option<String>);

fn ingest(label: &str, db: DatabaseConfig, tmp: &std::path::Path) {
    use rebound::ingest::log::LogContext;
    use rebound::ingest::log_read::LogSource;
    use rebound::logs::{Format, Options};
    use rebound::store::schema::{event_provenance as p, events as e};
    let n = 100_000;
    let file = tmp.join("stats-acct.csv");
    std::fs::write(&file, accounting(n)).unwrap();
    let config = Config { database: db.clone(), ..Default::default() };
    let store = Db::connect(&db).expect("the bench database");
    let c = &mut *store.conn().unwrap();
    rebound::classify::repo::seed_if_empty(c).unwrap();
    let pipeline = rebound::ingest::Pipeline::new(&config).unwrap();
    let src = LogSource {
        source: "import:powermta".into(),
        format: Format::PowerMta,
        options: Options { node: Some("pmta-1".into()), ..Options::default() },
        context: LogContext { node: Some("pmta-1".into()), ..LogContext::default() },
    };
    let (t, cpu0) = (Instant::now(), cpu());
    let done = pipeline.log_pass(c, &src, &file, &mut |_, _| {}).unwrap();
    let (wall, spent) = (t.elapsed().as_secs_f64(), cpu() - cpu0);
    assert_eq!(done.records, n);
    // The same events again, through the statistics alone.
    let rows: Vec<Ev> = e::table
        .left_join(p::table)
        .order(e::id)
        .select((
            (
                e::kind,
                e::classification,
                e::recipient,
                e::status,
                e::reply_code,
                e::remote_mta,
                e::sending_domain,
                e::parsed_reason,
            ),
            (e::campaign_id, e::occurred_at, (p::log_kind.nullable(), p::node, p::vmta, p::source_ip).nullable()),
        ))
        .load(c)
        .unwrap();
    c.batch_execute("DELETE FROM stats_counts").unwrap();
    let events: Vec<rebound::record::events::NewEvent> = rows
        .iter()
        .map(|((kind, class, rcpt, status, code, mta, sending, reason), (campaign, at, ..))| {
            rebound::record::events::NewEvent {
                message_id: None,
                idx: 1,
                recipient: rcpt.as_deref(),
                kind,
                classification: class,
                reason,
                parsed_reason: reason,
                status: status.as_deref(),
                reply_code: *code,
                diagnostic: None,
                remote_mta: mta.as_deref(),
                reporting_mta: None,
                rule_key: None,
                feedback_type: None,
                reporting_isp: None,
                campaign_id: campaign.as_deref(),
                attribution: "header",
                sending_domain: sending.as_deref(),
                source: "bench",
                dialect: "powermta-log",
                occurred_at: *at,
                ingested_at: *at,
                origin: "log",
                origin_ref: None,
                permanent: None,
            }
        })
        .collect();
    let vias: Vec<rebound::record::stats::Via> = rows
        .iter()
        .map(|(_, (_, _, prov))| match prov {
            Some((kind, node, vmta, ip)) => rebound::record::stats::Via {
                expired: kind.as_deref() == Some("expired"),
                node: node.as_deref(),
                vmta: vmta.as_deref(),
                source_ip: ip.as_deref(),
            },
            None => rebound::record::stats::Via::default(),
        })
        .collect();
    let (t, cpu0) = (Instant::now(), cpu());
    for (ev, via) in events.chunks(4000).zip(vias.chunks(4000)) {
        rebound::store::transaction(c, |c| rebound::record::stats::add(c, ev, via)).unwrap();
    }
    let (stats_wall, stats_cpu) = (t.elapsed().as_secs_f64(), cpu() - cpu0);
    println!(
        "stats ingest {label:<10} {n} log records: {:.0} records/s ({wall:.2} s wall, {spent:.2} s CPU here); \
         statistics alone {stats_wall:.2} s wall, {stats_cpu:.2} s CPU = {:.0} % of the wall, {:.0} % of the CPU",
        n as f64 / wall,
        stats_wall / wall * 100.0,
        stats_cpu / spent * 100.0
    );
}
