//! Webhook delivery: every event type signed and shaped, retries until a receiver is back,
//! order where asked, 410, two workers, the API.

use super::receiver::Receiver;
use super::support::TestDb;
use super::support::app::TestApp;
use super::support::mail::{arf, dsn, original};
use rebound::config::Config;
use serde_json::{Value, json};
use std::time::Duration;

pub const SECRET: &str = "whsec_dGVzdC1zZWNyZXQtZm9yLXJlYm91bmQ=";
const ARRIVAL: &str = "Tue, 10 Nov 2026 10:00:00 +0000";

/// A secret file holding [`SECRET`] (kept as long as the returned dir).
pub fn secret_file() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("secret");
    std::fs::write(&p, format!("{SECRET}\n")).unwrap();
    let path = p.display().to_string();
    (dir, path)
}

pub use super::support::notify::webhook as hook;

/// Fast retries, for tests that wait on them.
pub fn quick(c: &mut Config) {
    c.notify.retry_initial_seconds = 1;
    c.notify.retry_max_seconds = 1;
}

pub fn bounce(rcpt: &str, status: &str, diag: &str, n: usize) -> Vec<u8> {
    dsn(
        "bounces@sender.example",
        rcpt,
        status,
        diag,
        &original(Some("spring"), &format!("m{n}@sender.example")),
        ARRIVAL,
    )
}

fn of_type<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["type"] == kind).collect()
}

async fn every_type_signed_and_shaped(db: TestDb) {
    let rx = Receiver::start(0, SECRET, 200).await;
    let (_dir, secret) = secret_file();
    let work = tempfile::tempdir().unwrap();
    let node_path = work.path().join("suppressed.txt").display().to_string();
    let url = rx.url();
    let app = TestApp::new(db, |c| {
        c.webhook.push(hook("all", &url, &secret));
        c.node = vec![
            rebound::config::node::resolve_table(
                format!("name = \"mta-1\"\ntarget = \"file\"\npath = \"{node_path}\"\nschedule = \"0 0 1 1 *\"")
                    .parse()
                    .unwrap(),
            )
            .unwrap(),
        ];
    })
    .serve()
    .await;
    {
        let mut c = app.conn();
        app.ingest(&mut c, "mailbox:test", "1", &bounce("gone@example.org", "5.1.1", "550 5.1.1 user unknown", 1));
        app.ingest(&mut c, "mailbox:test", "2", &bounce("later@example.org", "4.4.1", "451 4.4.1 try later", 2));
        let delivered = String::from_utf8(bounce("fine@example.org", "2.0.0", "250 2.0.0 ok", 3))
            .unwrap()
            .replace("Action: failed", "Action: delivered");
        app.ingest(&mut c, "mailbox:test", "3", delivered.as_bytes());
        app.ingest(
            &mut c,
            "fbl:test",
            "4",
            &arf("angry@example.org", "abuse", &original(Some("spring"), "m4@sender.example")),
        );
        app.ingest(&mut c, "mailbox:test", "5", &super::support::sample_message("Hello", "nothing to see"));
    }
    let admin = app.admin();
    admin.post("/api/v1/suppression", &json!({"address": "manual@example.org"})).await.expect(201);
    admin.delete("/api/v1/suppression/manual@example.org").await.expect(200);
    let mailbox = rebound::config::MailboxConfig {
        name: "bounces".into(),
        purpose: rebound::config::Purpose::Bounce,
        protocol: rebound::config::Protocol::Imap,
        host: "localhost".into(),
        port: 1,
        security: rebound::config::Security::None,
        verify_certificate: true,
        ca_file: None,
        username: "u".into(),
        password_env: None,
        password_file: None,
        folders: vec!["INBOX".into()],
        after_processing: rebound::config::AfterProcessing::Keep,
        schedule: "0 0 1 1 *".into(),
        idle: false,
        enabled: false,
        max_messages_per_poll: 500,
        max_message_bytes: 1024 * 1024,
        timeout_seconds: 10,
        lease_seconds: 30,
        inline_password: None,
        auth: rebound::config::Auth::Password,
        oauth2: None,
    };
    let mailbox_id = super::support::id_of(&app.db, &mailbox);
    let node_id = rebound::sync::status::find(&mut app.conn(), "mta-1").unwrap().unwrap().id;
    {
        let mut c = app.conn();
        let now = chrono::Utc::now().naive_utc();
        let state = rebound::mailbox::state::record_failure;
        state(&mut c, mailbox_id, "connect", "connection refused by localhost:1", 1, 0, now).unwrap();
        // A second failure in a row is no new episode.
        state(&mut c, mailbox_id, "connect", "connection refused by localhost:1", 1, 0, now).unwrap();
        rebound::mailbox::state::record_success(&mut c, mailbox_id, 0, now).unwrap();
        rebound::sync::status::record_failure(&mut c, node_id, "disk full", now).unwrap();
        rebound::sync::status::record_success(&mut c, node_id, 1, 0, "00", true, now).unwrap();
    }
    let types = [
        "bounce.recorded",
        "delivery.delayed",
        "delivery.delivered",
        "complaint.recorded",
        "review.added",
        "suppression.added",
        "suppression.removed",
        "mailbox.failing",
        "mailbox.recovered",
        "node.lagging",
        "node.recovered",
    ];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let events = loop {
        let events = rx.events();
        if types.iter().all(|t| !of_type(&events, t).is_empty()) {
            break events;
        }
        assert!(tokio::time::Instant::now() < deadline, "not every type arrived: {events:#?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // Give stragglers a moment, then count exactly.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let events = if rx.events().len() > events.len() { rx.events() } else { events };
    let got = rx.got();
    assert!(got.iter().all(|g| g.signed), "every POST is signed with the endpoint's secret: {got:#?}");
    for g in &got {
        assert_eq!(g.webhook_id, g.body["id"], "webhook-id is the event id");
        assert!(g.body["id"].as_str().unwrap().starts_with("evt_"));
        assert!(g.attempt_id.parse::<i64>().is_ok(), "{g:?}");
    }
    let one = |kind: &str| -> Value {
        let found = of_type(&events, kind);
        assert_eq!(found.len(), 1, "exactly one {kind}: {events:#?}");
        found[0]["data"].clone()
    };
    let b = one("bounce.recorded");
    assert_eq!(b["recipient"], "gone@example.org");
    assert_eq!(b["classification"], "hard");
    assert_eq!(b["campaign_id"], "spring");
    assert_eq!(b["status"], "5.1.1");
    assert!(b["diagnostic"].as_str().unwrap().contains("user unknown"), "{b}");
    assert_eq!(b["remote_mta"], "in.example.org");
    assert_eq!(b["source"], "mailbox:test");
    assert!(b["rule"].is_string() && b["reason"].is_string(), "{b}");
    assert_eq!(one("delivery.delayed")["recipient"], "later@example.org");
    assert_eq!(one("delivery.delivered")["recipient"], "fine@example.org");
    let complaint = one("complaint.recorded");
    assert_eq!(complaint["feedback_type"], "abuse");
    assert_eq!(complaint["recipient"], "angry@example.org");
    assert!(one("review.added")["reason"].is_string());
    // Hard bounce and complaint suppress; so does the manual add.
    let added = of_type(&events, "suppression.added");
    let addresses: Vec<&str> = added.iter().map(|e| e["data"]["address"].as_str().unwrap()).collect();
    for a in ["gone@example.org", "angry@example.org", "manual@example.org"] {
        assert!(addresses.contains(&a), "{a} added: {addresses:?}");
    }
    let manual = added.iter().find(|e| e["data"]["address"] == "manual@example.org").unwrap();
    assert!(manual["data"]["who"].as_str().unwrap().starts_with("token:"), "{manual}");
    let hard = added.iter().find(|e| e["data"]["address"] == "gone@example.org").unwrap();
    assert_eq!(hard["data"]["source"], "hard_bounce");
    assert_eq!(hard["data"]["event_id"], b["event_id"]);
    let removed = one("suppression.removed");
    assert_eq!((removed["address"].as_str(), removed["source"].as_str()), (Some("manual@example.org"), Some("manual")));
    let failing = one("mailbox.failing");
    assert_eq!((failing["name"].as_str(), failing["stage"].as_str()), (Some("bounces"), Some("connect")));
    assert!(failing["error"].as_str().unwrap().contains("refused"));
    assert_eq!(one("mailbox.recovered")["state"], "ok");
    assert_eq!(one("node.lagging")["error"], "disk full");
    assert_eq!(one("node.recovered")["name"], "mta-1");
    // The API lists every attempt, delivered.
    let attempts = admin.get("/api/v1/webhooks/all/attempts?limit=1000").await.expect(200);
    let attempts = attempts["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), got.len(), "{attempts:#?}");
    assert!(attempts.iter().all(|a| a["outcome"] == "delivered" && a["status_code"] == 200), "{attempts:#?}");
    app.stop(10).await.unwrap();
}
on_both_backends!(every_type_is_signed_and_shaped, every_type_signed_and_shaped);

/// The hot ingest events store no JSON: their payload is rebuilt from the events row at
/// delivery, and still says what was committed after a reclassification changed that row.
async fn recorded_payload_as_committed(db: TestDb) {
    use diesel::RunQueryDsl;
    let rx = Receiver::start(0, SECRET, 200).await;
    let (_dir, secret) = secret_file();
    let hooks = vec![hook("all", &rx.url(), &secret)];
    let app = TestApp::new(db, |_| {});
    let mut c = app.conn();
    rebound::notify::endpoints::sync_config(&mut c, &hooks, None, chrono::Utc::now().naive_utc()).unwrap();
    app.ingest(&mut c, "mailbox:test", "1", &bounce("gone@example.org", "5.1.1", "550 5.1.1 user unknown", 1));
    // One bundle row for the statement (its events and the suppressions they caused), holding
    // references to the events row, no JSON.
    let both = "notify_outbox WHERE kind = 'bundle' AND payload LIKE '%bounce.recorded%' \
                AND payload LIKE '%suppression.added%'";
    assert_eq!(app.count(both).await, 1);
    assert_eq!(app.count("notify_outbox").await, 1, "no row of their own before the fan-out");
    assert_eq!(app.count("notify_outbox WHERE payload LIKE '%gone@example.org%'").await, 0, "no payload stored");
    #[derive(diesel::QueryableByName)]
    struct Committed {
        #[diesel(sql_type = diesel::sql_types::Text)]
        classification: String,
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
        rule_key: Option<String>,
        #[diesel(sql_type = diesel::sql_types::Text)]
        reason: String,
    }
    let was: Committed =
        diesel::sql_query("SELECT classification, rule_key, reason FROM events").get_result(&mut c).unwrap();
    // What a reclassification changes, before the worker ran.
    diesel::sql_query("UPDATE events SET classification = 'soft', rule_key = 'later-rule', reason = 'later'")
        .execute(&mut c)
        .unwrap();
    drop(c);
    let worker = rebound::notify::worker::Worker::new(app.db.clone(), app.config.notify.clone(), "t".into());
    while worker.round().await.unwrap() > 0 {}
    let events = rx.wait_events(2, 10).await;
    assert!(rx.got().iter().all(|g| g.signed));
    let stubs = "notify_outbox WHERE record_id IS NOT NULL AND payload = '' \
                 AND kind IN ('bounce.recorded', 'suppression.added')";
    assert_eq!(app.count(stubs).await, 2, "the fan-out gave each hot event its own row, as a reference");
    assert_eq!(app.count("notify_outbox WHERE kind = 'bundle'").await, 0, "and dropped the bundle");
    let keys = |v: &Value| -> Vec<String> {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    for e in &events {
        assert_eq!(keys(e), ["data", "id", "timestamp", "type"], "{e}");
        let at = chrono::DateTime::parse_from_rfc3339(e["timestamp"].as_str().unwrap()).unwrap();
        assert!((chrono::Utc::now() - at.to_utc()).num_seconds() < 60, "{e}");
    }
    let b = &of_type(&events, "bounce.recorded")[0]["data"];
    let fields = [
        "classification",
        "campaign_id",
        "diagnostic",
        "event_id",
        "feedback_type",
        "message_id",
        "occurred_at",
        "permanent",
        "reason",
        "recipient",
        "remote_mta",
        "reply_code",
        "reporting_isp",
        "rule",
        "sending_domain",
        "source",
        "status",
    ];
    let mut want: Vec<String> = fields.iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(keys(b), want, "{b}");
    assert_eq!(
        (b["classification"].as_str(), b["reason"].as_str()),
        (Some(was.classification.as_str()), Some(was.reason.as_str()))
    );
    assert_eq!(b["rule"].as_str(), was.rule_key.as_deref());
    assert_eq!((b["recipient"].as_str(), b["status"].as_str()), (Some("gone@example.org"), Some("5.1.1")));
    assert_eq!((b["campaign_id"].as_str(), b["source"].as_str()), (Some("spring"), Some("mailbox:test")));
    assert_eq!((b["permanent"].as_bool(), b["feedback_type"].is_null()), (Some(true), true), "{b}");
    assert!(b["occurred_at"].as_str().is_some_and(|t| t.starts_with("2026-11-10T")), "{b}");
    let s = &of_type(&events, "suppression.added")[0]["data"];
    let expected = json!({
        "address": "gone@example.org",
        "scope": "global",
        "source": "hard_bounce",
        "event_id": b["event_id"],
        "reason": was.reason,
        "note": null,
        "who": null,
    });
    assert_eq!(s, &expected);
}
on_both_backends!(a_recorded_payload_is_the_committed_one, recorded_payload_as_committed);
