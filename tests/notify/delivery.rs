//! Durability and exactly-one-sender: a receiver down then up, order, 410, two workers on
//! one database, a `serve` killed between commit and delivery.

use super::receiver::Receiver;
use super::support::TestDb;
use super::support::app::TestApp;
use super::support::serve::{Serve, free_port, serve_config};
use super::webhooks::{SECRET, bounce, hook, quick, secret_file};
use rebound::notify::worker::Worker;
use serde_json::Value;
use std::collections::HashSet;
use std::time::Duration;

fn ingest_bounces(app: &TestApp, from: usize, n: usize, per_batch: usize) {
    let mut c = app.conn();
    let raws: Vec<(String, Vec<u8>)> = (from..from + n)
        .map(|i| (format!("{i}"), bounce(&format!("r{i}@example.org"), "5.1.1", "550 5.1.1 user unknown", i)))
        .collect();
    for chunk in raws.chunks(per_batch) {
        let items: Vec<rebound::ingest::Item> = chunk
            .iter()
            .map(|(id, raw)| rebound::ingest::Item { source: "mailbox:test", source_id: id, raw })
            .collect();
        app.pipeline.ingest(&mut c, &items).expect("ingest");
    }
}

fn recipients(events: &[Value]) -> Vec<String> {
    events.iter().map(|e| e["data"]["recipient"].as_str().unwrap_or_default().to_string()).collect()
}

/// No attempt id arrives twice, and none from a POST the receiver did not answer 2xx.
fn assert_unique_attempts(rx: &Receiver) {
    let got = rx.got();
    let mut seen = HashSet::new();
    for g in &got {
        assert!(seen.insert(g.attempt_id.clone()), "attempt {} sent twice: {got:#?}", g.attempt_id);
    }
}

async fn down_then_up_in_order(db: TestDb) {
    let port = free_port();
    let (_dir, secret) = secret_file();
    let url = format!("http://127.0.0.1:{port}/hook");
    let app = TestApp::new(db, |c| {
        quick(c);
        let mut h = hook("ordered", &url, &secret);
        h.events = vec!["bounce.recorded".into()];
        h.ordered = true;
        c.webhook.push(h);
    })
    .serve()
    .await;
    let admin = app.admin();
    ingest_bounces(&app, 0, 12, 1);
    // Nobody listens: attempts fail and are kept, the endpoint is retrying.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let w = admin.get("/api/v1/webhooks/ordered").await.expect(200);
    assert_eq!(w["state"], "retrying", "{w}");
    assert_eq!(w["pending"], 12, "{w}");
    let attempts = admin.get("/api/v1/webhooks/ordered/attempts").await.expect(200);
    let attempts = attempts["attempts"].as_array().unwrap().clone();
    assert!(attempts.len() >= 2, "{attempts:#?}");
    assert!(attempts.iter().all(|a| a["outcome"] == "failed" && a["error"].is_string()), "{attempts:#?}");
    // Ordered: only the first event was ever tried.
    let first: HashSet<&str> = attempts.iter().map(|a| a["event_ids"].as_str().unwrap()).collect();
    assert_eq!(first.len(), 1, "an ordered endpoint retries its head only: {attempts:#?}");
    let rx = Receiver::start(port, SECRET, 200).await;
    let events = rx.wait_events(12, 20).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let events = if rx.events().len() > events.len() { rx.events() } else { events };
    let want: Vec<String> = (0..12).map(|i| format!("r{i}@example.org")).collect();
    assert_eq!(recipients(&events), want, "every event once, in order");
    assert_unique_attempts(&rx);
    let w = admin.get("/api/v1/webhooks/ordered").await.expect(200);
    assert_eq!((w["state"].as_str(), w["pending"].as_i64()), (Some("ok"), Some(0)), "{w}");
    app.stop(10).await.unwrap();
}
on_both_backends!(a_receiver_down_then_up_gets_every_event_in_order, down_then_up_in_order);

async fn gone_disables(db: TestDb) {
    let rx = Receiver::start(0, SECRET, 410).await;
    let (_dir, secret) = secret_file();
    let url = rx.url();
    let app = TestApp::new(db, |c| {
        quick(c);
        let mut h = hook("gone", &url, &secret);
        h.events = vec!["bounce.recorded".into()];
        c.webhook.push(h);
    })
    .serve()
    .await;
    let admin = app.admin();
    ingest_bounces(&app, 0, 1, 1);
    rx.wait_events(1, 10).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let w = loop {
        let w = admin.get("/api/v1/webhooks/gone").await.expect(200);
        if w["state"] == "gone" {
            break w;
        }
        assert!(tokio::time::Instant::now() < deadline, "{w}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(w["enabled"], false, "{w}");
    assert!(w["last_error"].as_str().unwrap().contains("410"), "{w}");
    // Disabled: new events are not sent to it.
    ingest_bounces(&app, 1, 2, 1);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(rx.got().len(), 1, "nothing after the 410: {:#?}", rx.got());
    let attempts = admin.get("/api/v1/webhooks/gone/attempts").await.expect(200);
    assert_eq!(attempts["attempts"][0]["outcome"], "gone", "{attempts}");
    assert_eq!(attempts["attempts"][0]["status_code"], 410);
    assert_eq!(attempts["attempts"][0]["response_excerpt"], "receiver answered 410", "{attempts}");
    // Enabling resumes it (for events committed from then on).
    rx.set_status(200);
    let w = admin.post("/api/v1/webhooks/gone/enable", &Value::Null).await.expect(200);
    assert_eq!((w["state"].as_str(), w["enabled"].as_bool()), (Some("ok"), Some(true)), "{w}");
    ingest_bounces(&app, 3, 1, 1);
    let events = rx.wait_events(2, 10).await;
    assert_eq!(events[1]["data"]["recipient"], "r3@example.org");
    app.stop(10).await.unwrap();
}
on_both_backends!(a_410_disables_the_endpoint, gone_disables);

async fn two_workers(db: TestDb) {
    let one = Receiver::start(0, SECRET, 200).await;
    let many = Receiver::start(0, SECRET, 200).await;
    let (_dir, secret) = secret_file();
    let app = TestApp::new(db, quick);
    let mut single = hook("one", &one.url(), &secret);
    single.events = vec!["bounce.recorded".into()];
    let mut batched = hook("many", &many.url(), &secret);
    batched.events = vec!["bounce.recorded".into()];
    batched.batch = true;
    let now = chrono::Utc::now().naive_utc();
    rebound::notify::endpoints::sync_config(&mut app.conn(), &[single, batched], None, now).unwrap();
    ingest_bounces(&app, 0, 300, 50);
    let stop = tokio_util::sync::CancellationToken::new();
    let mut tasks = Vec::new();
    for owner in ["instance-a", "instance-b"] {
        let w = Worker::new(app.db.clone(), app.config.notify.clone(), owner.into());
        let stop = stop.clone();
        tasks.push(tokio::spawn(async move { w.run(stop).await }));
    }
    let singles = one.wait_events(300, 30).await;
    let batched = many.wait_events(300, 30).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.cancel();
    for t in tasks {
        t.await.unwrap();
    }
    for (rx, events) in [(&one, singles), (&many, batched)] {
        assert_unique_attempts(rx);
        let events = if rx.events().len() > events.len() { rx.events() } else { events };
        let ids: HashSet<&str> = events.iter().map(|e| e["id"].as_str().unwrap()).collect();
        assert_eq!((ids.len(), events.len()), (300, 300), "every event exactly once");
        assert!(rx.got().iter().all(|g| g.signed));
    }
    let posts = many.got();
    assert!(posts.len() < 300 && posts.iter().any(|g| g.body.as_array().is_some_and(|a| a.len() > 1)), "batched");
    let first = &posts[0];
    let n = first.body.as_array().unwrap().len();
    assert_eq!(first.webhook_id, format!("{}+{}", first.body[0]["id"].as_str().unwrap(), n - 1));
    // Every POST is one attempt row, each made by one of the two instances.
    let rows = super::support::count_rows(&app.db, "notify_attempts").await as usize;
    assert_eq!(rows, one.got().len() + many.got().len());
}
on_both_backends!(two_workers_never_send_one_attempt_twice, two_workers);

async fn killed_serve_delivers_after_restart(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let (_secret_dir, secret) = secret_file();
    let rx_port = free_port();
    let extra = format!(
        "[notify]\nretry_initial_seconds = 1\nretry_max_seconds = 1\ntimeout_seconds = 1\nlease_seconds = 6\n\n[[webhook]]\nname = \"crm\"\n\
         url = \"http://127.0.0.1:{rx_port}/hook\"\nsecret_file = \"{secret}\"\nevents = [\"suppression.added\"]\n"
    );
    let port = free_port();
    let cfg = serve_config(dir.path(), "rebound.toml", port, db.url(), &extra);
    let serve = Serve::start(&cfg, port);
    let store = rebound::store::Db::connect(&db.config()).unwrap();
    let now = chrono::Utc::now().naive_utc();
    let actor = rebound::audit::Actor::system("test");
    rebound::suppress::manual::suppress(&mut store.conn().unwrap(), &actor, "crash@example.org", "", None, now)
        .unwrap();
    // Committed; the receiver is down, so the serve can only fail to deliver. Kill it.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    serve.kill();
    let rx = Receiver::start(rx_port, SECRET, 200).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(rx.got().is_empty(), "nothing is sent while no serve runs");
    let again = Serve::start(&cfg, port);
    // The dead instance's lease lapses (lease_seconds), then the new one delivers.
    let events = rx.wait_events(1, 20).await;
    assert_eq!(events[0]["type"], "suppression.added");
    assert_eq!(events[0]["data"]["address"], "crash@example.org");
    assert!(rx.got()[0].signed);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(rx.events().len(), 1, "once: {:#?}", rx.got());
    again.stop();
}
on_both_backends!(a_killed_serve_delivers_after_restart, killed_serve_delivers_after_restart);

/// An endpoint failing for `failing_after_seconds` shows `failing` and is listed by the
/// status API beside failing mailboxes; a success clears it there.
async fn failing_raises_status(db: TestDb) {
    let rx = Receiver::start(0, SECRET, 500).await;
    let (_dir, secret) = secret_file();
    let url = rx.url();
    let app = TestApp::new(db, |c| {
        quick(c);
        c.notify.failing_after_seconds = 1;
        let mut h = hook("flaky", &url, &secret);
        h.events = vec!["bounce.recorded".into()];
        c.webhook.push(h);
    })
    .serve()
    .await;
    let admin = app.admin();
    let status = admin.get("/api/v1/status").await.expect(200);
    assert_eq!(status["webhooks"]["failing"], serde_json::json!([]), "{status}");
    assert_eq!(status["webhooks"]["by_state"]["ok"], 1, "{status}");
    ingest_bounces(&app, 0, 1, 1);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let status = loop {
        let status = admin.get("/api/v1/status").await.expect(200);
        if status["webhooks"]["failing"].as_array().is_some_and(|f| !f.is_empty()) {
            break status;
        }
        assert!(tokio::time::Instant::now() < deadline, "never failing: {status}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let failing = &status["webhooks"]["failing"][0];
    assert_eq!((failing["name"].as_str(), failing["state"].as_str()), (Some("flaky"), Some("failing")), "{status}");
    assert!(failing["last_error"].as_str().unwrap().contains("500"), "{status}");
    assert!(failing["failing_since"].is_string(), "{status}");
    assert_eq!(status["webhooks"]["by_state"]["failing"], 1, "{status}");
    assert!(!status.to_string().contains(SECRET), "no secret in the status");
    rx.set_status(200);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let status = admin.get("/api/v1/status").await.expect(200);
        if status["webhooks"]["failing"] == serde_json::json!([]) {
            assert_eq!(status["webhooks"]["by_state"]["ok"], 1, "{status}");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "still failing: {status}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    app.stop(10).await.unwrap();
}
on_both_backends!(a_failing_endpoint_raises_the_status, failing_raises_status);
