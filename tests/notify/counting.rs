//! Alert counting that must neither miss nor repeat an event: a week-long count testing the
//! server's words (its matcher back-filled once, new events counted at commit, a
//! reclassification moving the count), and on PostgreSQL events whose transactions commit
//! out of id order.

use super::alerts::{ingest, many};
use super::support::TestDb;
use super::support::app::TestApp;
use diesel::RunQueryDsl;
use diesel::connection::SimpleConnection;
use rebound::config::alert::{Criterion, Per};
use rebound::config::{AlertConfig, AlertsConfig};
use rebound::notify::alert::{Evaluator, round};

fn rule(name: &str, per: Per, criterion: Criterion) -> AlertConfig {
    AlertConfig {
        name: name.into(),
        per,
        combine: "all".into(),
        criteria: vec![criterion],
        cooldown_minutes: 60,
        channels: vec![],
        enabled: true,
    }
}

#[derive(diesel::QueryableByName)]
struct N {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

fn scalar(app: &TestApp, sql: &str) -> i64 {
    diesel::sql_query(sql).get_result::<N>(&mut app.conn()).unwrap().n
}

const WORDS: &str = "550 5.7.1 delivery not authorized, message refused";

async fn week_of_words(db: TestDb) {
    let app = TestApp::new(db, |_| {});
    // Before the rule exists: two matching from one provider, one from another, and two
    // that do not match (other words; another status).
    ingest(&app, "a", many(2, "a", "5.7.1", WORDS, "isp.example"));
    ingest(&app, "b", many(1, "b", "5.7.1", WORDS, "other.example"));
    ingest(&app, "c", many(1, "c", "5.7.1", "550 5.7.1 spam detected", "isp.example"));
    ingest(&app, "d", many(1, "d", "5.1.1", "550 5.1.1 not authorized user", "isp.example"));
    let reason: String = {
        #[derive(diesel::QueryableByName)]
        struct R {
            #[diesel(sql_type = diesel::sql_types::Text)]
            reason: String,
        }
        let sql = "SELECT reason FROM events WHERE status = '5.7.1' AND diagnostic LIKE '%not authorized%' LIMIT 1";
        diesel::sql_query(sql).get_result::<R>(&mut app.conn()).unwrap().reason
    };
    let blocks = Criterion::Count {
        window_minutes: 7 * 24 * 60,
        at_least: 3,
        status: Some("5.7.*".into()),
        reason: Some(reason.clone()),
        rule: None,
        text: Some("(?i)not authori[sz]ed".into()),
    };
    let rules = vec![rule("week-blocks", Per::RecipientDomain, blocks)];
    let cfg = AlertsConfig::default();
    let mut ev = Evaluator::new(&rules);
    // The first round makes the matcher and back-fills it: 2 of 3 from isp.example.
    assert!(round(&app.db, &mut ev, &cfg, "me").await.unwrap().is_empty());
    assert_eq!(scalar(&app, "SELECT CAST(SUM(n) AS BIGINT) AS n FROM alert_matches"), 3);
    // The third, counted by the write path at commit, fires for that provider only.
    ingest(&app, "e", many(1, "e", "5.7.1", WORDS, "isp.example"));
    let fired = round(&app.db, &mut ev, &cfg, "me").await.unwrap();
    assert_eq!(fired.len(), 1, "{fired:?}");
    assert_eq!(fired[0].group_key, "isp.example");
    assert!(fired[0].summary.starts_with("3 matching events in 10080 min"), "{}", fired[0].summary);
    // A new evaluator (a restart) reads the same counts, back-filling nothing again.
    let mut again = Evaluator::new(&rules);
    assert_eq!(again.prepare(&mut app.conn(), chrono::Utc::now().naive_utc()).unwrap(), 0);
    let held = again.holding(&mut app.conn(), chrono::Utc::now().naive_utc()).unwrap();
    assert!(held[0]["isp.example"].starts_with("3 matching"), "{held:?}");
    assert_eq!(scalar(&app, "SELECT CAST(SUM(n) AS BIGINT) AS n FROM alert_matches"), 4);
    // A reclassification as `ingest::reclassify` makes it: the event leaves the count.
    let id = scalar(
        &app,
        "SELECT MAX(id) AS n FROM events WHERE recipient_domain = 'isp.example' AND diagnostic LIKE '%not authorized,%'",
    );
    let mut c = app.conn();
    rebound::store::transaction(&mut c, |c| {
        rebound::notify::alert::counts::event(c, id, -1)?;
        diesel::sql_query(format!("UPDATE events SET reason = 'other_{reason}' WHERE id = {id}")).execute(c)?;
        rebound::notify::alert::counts::event(c, id, 1)
    })
    .unwrap();
    drop(c);
    let held = again.holding(&mut app.conn(), chrono::Utc::now().naive_utc()).unwrap();
    assert!(held[0].is_empty(), "2 of 3 after the reclassification: {held:?}");
}
on_both_backends!(a_week_long_count_of_the_servers_words_counts_each_event_once, week_of_words);

/// An event written by raw SQL in the caller's transaction (the test controls the commits).
fn insert_event(c: &mut rebound::store::AnyConnection, tag: &str) {
    c.batch_execute(&format!(
        "INSERT INTO events (message_id, idx, recipient, kind, classification, reason, parsed_reason, status, \
         reply_code, diagnostic, rule_key, campaign_id, attribution, source, dialect, occurred_at, ingested_at, \
         origin, origin_ref, permanent) VALUES (NULL, 0, '{tag}@isp.example', 'bounce', 'hard', 'user_unknown', \
         'user_unknown', '5.1.1', 550, '550 5.1.1 user unknown', 'user-unknown', 'spring', 'header', 'log:test', \
         'postfix', now() at time zone 'utc', now() at time zone 'utc', 'log', '{tag}', 1)"
    ))
    .unwrap();
}

/// Ids are drawn at insert, not at commit: the event of the transaction that inserted first
/// but committed last is still counted, and nothing twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_committed_out_of_id_order_are_each_counted_once_on_postgres() {
    let app = TestApp::new(TestDb::postgres(), |_| {});
    let count = |name: &str, n| {
        let c =
            Criterion::Count { window_minutes: 60, at_least: n, status: None, reason: None, rule: None, text: None };
        rule(name, Per::All, c)
    };
    let rules = vec![count("two", 2), count("three", 3)];
    let cfg = AlertsConfig::default();
    let mut ev = Evaluator::new(&rules);
    assert!(round(&app.db, &mut ev, &cfg, "me").await.unwrap().is_empty(), "no event yet");
    let (mut first, mut second) = (app.conn(), app.conn());
    first.batch_execute("BEGIN").unwrap();
    insert_event(&mut first, "early-id");
    second.batch_execute("BEGIN").unwrap();
    insert_event(&mut second, "late-id");
    second.batch_execute("COMMIT").unwrap();
    // The later id is committed; the earlier one is still in flight.
    let fired = round(&app.db, &mut ev, &cfg, "me").await.unwrap();
    assert!(fired.is_empty(), "{fired:?}");
    first.batch_execute("COMMIT").unwrap();
    let fired = round(&app.db, &mut ev, &cfg, "me").await.unwrap();
    let names: Vec<&str> = fired.iter().map(|e| e.rule.as_str()).collect();
    assert_eq!(names, ["two"], "both events, each once: {fired:?}");
    assert!(fired[0].summary.starts_with("2 matching events"), "{}", fired[0].summary);
    let fired = round(&app.db, &mut ev, &cfg, "me").await.unwrap();
    assert!(fired.is_empty(), "nothing read twice: {fired:?}");
}
