//! A bounce seen both in the MTA's log and as a DSN in the bounce mailbox is one bounce,
//! whichever arrives first: one event (the other kept as its evidence), one campaign count,
//! one alert count, one webhook event, one suppression. Both arrival orders, both backends.

use super::support::{TestDb, mail, outbox_waiting};
use super::{count, text};
use rebound::config::Config;
use rebound::ingest::log::LogContext;
use rebound::ingest::log_read::LogSource;
use rebound::ingest::{Item, Pipeline};
use rebound::logs::{Format, Options};
use rebound::store::Db;

const HEADER: &str = "type,timeLogged,orig,rcpt,dsnAction,dsnStatus,dsnDiag,dsnMta,bounceCat,dlvSourceIp,vmta,jobId,header_X-Campaign-ID\n";

fn line(kind: &str, time: &str, rcpt: &str, status: &str, diag: &str) -> String {
    format!(
        "{kind},{time},bounce-42@news.example.com,{rcpt},failed,{status} (x),smtp;{diag},mx.example.net (192.0.2.10),bad-mailbox,198.51.100.7,vmta-7,job-1,camp-42\n"
    )
}

/// The log: bob and eve bounce (both also come back by mail), carl only here, ann delivered.
fn accounting() -> String {
    let mut s = String::from(HEADER);
    s += &line("d", "2026-12-01 10:00:01+0000", "ann@example.net", "2.0.0", "250 2.0.0 OK");
    s += &line("b", "2026-12-01 10:00:02+0000", "bob@example.net", "5.1.1", "550 5.1.1 user unknown");
    s += &line("b", "2026-12-01 10:00:03+0000", "carl@example.net", "5.1.1", "550 5.1.1 user unknown");
    s += &line("b", "2026-12-01 10:00:04+0000", "eve@example.net", "5.1.1", "550 5.1.1 user unknown");
    s
}

/// The mailbox: bob's DSN five minutes after the log line; dora only here; eve's DSN four
/// days after her logged bounce (outside the 72-hour window: a bounce of its own).
fn dsns() -> Vec<Vec<u8>> {
    let orig = mail::original(Some("camp-42"), "m-1@news.example.com");
    let dsn = |rcpt: &str, at: &str| {
        mail::dsn("bounce-42@news.example.com", rcpt, "5.1.1", "550 5.1.1 user unknown", &orig, at)
    };
    vec![
        dsn("bob@example.net", "Tue, 1 Dec 2026 10:05:00 +0000"),
        dsn("dora@example.net", "Tue, 1 Dec 2026 10:06:00 +0000"),
        dsn("eve@example.net", "Sat, 5 Dec 2026 10:00:00 +0000"),
    ]
}

async fn log(
    store: &Db,
    pipeline: &std::sync::Arc<Pipeline>,
    path: &std::path::Path,
) -> rebound::ingest::log::LogStats {
    let src = LogSource {
        source: "log:pmta".into(),
        format: Format::PowerMta,
        options: Options { node: Some("pmta-1".into()), ..Default::default() },
        context: LogContext { node: Some("pmta-1".into()), ..Default::default() },
    };
    let (p, path) = (pipeline.clone(), path.to_path_buf());
    store.run(move |c| p.log_pass(c, &src, &path, &mut |_, _| {})).await.unwrap()
}

async fn mailbox(store: &Db, pipeline: &std::sync::Arc<Pipeline>) -> rebound::ingest::Stats {
    let p = pipeline.clone();
    store
        .run(move |c| {
            let raws = dsns();
            let ids: Vec<String> = (0..raws.len()).map(|i| format!("1:{i}")).collect();
            let items: Vec<Item> =
                raws.iter().zip(&ids).map(|(raw, id)| Item { source: "bounces", source_id: id, raw }).collect();
            p.ingest(c, &items).map(|(_, s)| s)
        })
        .await
        .unwrap()
}

async fn counts_once(db: TestDb, log_first: bool) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("acct.csv");
    std::fs::write(&file, accounting()).unwrap();
    let secret = dir.path().join("hook.secret");
    std::fs::write(&secret, "0123456789abcdef0123456789abcdef").unwrap();
    let cfg = Config { database: db.config(), ..Default::default() };
    let store = Db::connect(&cfg.database).unwrap();
    let hook = super::support::notify::webhook("hook", "http://127.0.0.1:9/", secret.to_str().unwrap());
    store
        .run(move |c| rebound::notify::endpoints::sync_config(c, &[hook], None, chrono::Utc::now().naive_utc()))
        .await
        .unwrap();
    let pipeline = std::sync::Arc::new(Pipeline::new(&cfg).unwrap());

    let (logged, mailed) = if log_first {
        let l = log(&store, &pipeline, &file).await;
        (l, mailbox(&store, &pipeline).await)
    } else {
        let m = mailbox(&store, &pipeline).await;
        (log(&store, &pipeline, &file).await, m)
    };
    // The second input's sighting of bob is evidence, not a bounce.
    assert_eq!(logged.corroborated + mailed.corroborated, 1, "{logged:?} {mailed:?}");
    assert_eq!(if log_first { mailed.corroborated } else { logged.corroborated }, 1);
    assert_eq!(count(&store, "events WHERE recipient = 'bob@example.net'").await, 1);
    let later = if log_first { "mail" } else { "log" };
    let first = if log_first { "log" } else { "mail" };
    let bob = format!(
        "event_evidence v JOIN events e ON e.id = v.event_id WHERE e.recipient = 'bob@example.net' \
         AND e.origin = '{first}' AND v.origin = '{later}' AND v.status = '5.1.1'"
    );
    assert_eq!(count(&store, &bob).await, 1, "both sources kept");
    // Whichever came first, bob's event carries the log's provenance.
    let prov = "event_provenance p JOIN events e ON e.id = p.event_id WHERE e.recipient = 'bob@example.net' \
                AND p.vmta = 'vmta-7' AND p.node = 'pmta-1' AND p.source_ip = '198.51.100.7'";
    assert_eq!(count(&store, prov).await, 1);
    // Eve's two bounces are four days apart: two bounces.
    assert_eq!(count(&store, "events WHERE recipient = 'eve@example.net' AND kind = 'bounce'").await, 2);
    assert_eq!(count(&store, "event_evidence").await, 1);

    // bob, carl, dora and eve twice: five bounces, counted everywhere as five.
    let hard = text(&store, "SELECT CAST(hard AS TEXT) AS s FROM campaigns WHERE id = 'camp-42'").await;
    assert_eq!(hard.as_deref(), Some("5"));
    let days =
        text(&store, "SELECT CAST(SUM(hard) AS TEXT) AS s FROM campaign_days WHERE campaign_id = 'camp-42'").await;
    assert_eq!(days.as_deref(), Some("5"));
    let alerts =
        text(&store, "SELECT CAST(SUM(n) AS TEXT) AS s FROM alert_counts WHERE scope = 'all' AND kind = 'bounce'")
            .await;
    assert_eq!(alerts.as_deref(), Some("5"));
    assert_eq!(outbox_waiting(&store, "bounce.recorded").await, 5);
    assert_eq!(count(&store, "suppressions").await, 4);
    assert_eq!(count(&store, "suppression_changes WHERE address = 'bob@example.net'").await, 1);

    // Read again, both inputs change nothing.
    let again = log(&store, &pipeline, &file).await;
    assert_eq!((again.records, again.corroborated), (0, 0), "{again:?}");
    let same = mailbox(&store, &pipeline).await;
    assert_eq!((same.events, same.corroborated, same.seen), (0, 0, 3), "{same:?}");
    let relog = {
        // The same lines in a fresh copy (another inode): known by their origin refs.
        let copy = dir.path().join("acct-copy.csv");
        std::fs::write(&copy, accounting()).unwrap();
        log(&store, &pipeline, &copy).await
    };
    assert_eq!((relog.records, relog.recorded_before), (0, 4), "{relog:?}");
    assert_eq!(count(&store, "events").await, 6);
}

async fn log_then_mailbox(db: TestDb) {
    counts_once(db, true).await
}
async fn mailbox_then_log(db: TestDb) {
    counts_once(db, false).await
}
on_both_backends!(same_bounce_log_first, log_then_mailbox);
on_both_backends!(same_bounce_mailbox_first, mailbox_then_log);
