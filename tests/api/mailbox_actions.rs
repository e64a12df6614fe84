//! Verify (unsaved and saved) against the test Dovecot, its per-token cap, polls started
//! over the API, and API mailboxes polled by the running service without a restart.

use super::mailboxes::{on_dovecot, with_key};
use crate::support::api::assert_error;
use crate::support::{Dovecot, TestDb, app::TestApp, count_rows, mail};
use serde_json::json;
use std::time::Duration;

fn bounce(i: usize) -> Vec<u8> {
    mail::dsn(
        "bounces@sender.example",
        &format!("gone{i}@example.org"),
        "5.1.1",
        "550 5.1.1 User unknown",
        &mail::original(Some("c1"), &format!("m{i}@sender.example")),
        "Tue, 10 Nov 2026 10:00:00 +0000",
    )
}

async fn wait_for_events(app: &TestApp, n: i64, within: Duration) -> i64 {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let got = count_rows(&app.db, "events").await;
        if got >= n || tokio::time::Instant::now() > deadline {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn verify_names_the_login_stage_and_quotes_the_server(db: TestDb) {
    let d = Dovecot::get();
    let user = d.add_user();
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::new(db, with_key(dir.path())).serve().await;
    let admin = app.admin();

    let mut right = on_dovecot(&d, &user, "unsaved-ok");
    right.as_object_mut().unwrap().remove("name");
    let report = admin.post("/api/v1/mailboxes/verify", &right).await.expect(200);
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["mailbox"], "unsaved");
    let stages: Vec<&str> = report["stages"].as_array().unwrap().iter().map(|s| s["stage"].as_str().unwrap()).collect();
    assert!(stages.contains(&"login") && stages.contains(&"select"), "{stages:?}");

    let mut wrong = right.clone();
    wrong["password"] = json!("not-the-password");
    let r = admin.post("/api/v1/mailboxes/verify", &wrong).await;
    assert_eq!(r.status, 200, "a failed check is a report, not an error: {}", r.text);
    assert_eq!(
        (r.body["ok"].as_bool(), r.body["failure"]["stage"].as_str()),
        (Some(false), Some("login")),
        "{}",
        r.text
    );
    let quoted = r.body["failure"]["detail"].as_str().unwrap();
    assert!(quoted.contains("AUTHENTICATIONFAILED") || quoted.contains("Authentication failed"), "{quoted}");
    assert!(!r.text.contains("not-the-password"), "the password is not in the report");
    assert_eq!(app.count("mailboxes").await, 0, "verify saves nothing");

    // Invalid settings are a 422, before any connection.
    let r = admin.post("/api/v1/mailboxes/verify", &json!({"protocol": "imap", "port": 0})).await;
    assert_eq!(r.status, 422, "{}", r.text);

    // Saved: the same report, with the stored (sealed) password.
    admin.post("/api/v1/mailboxes", &on_dovecot(&d, &user, "saved")).await.expect(201);
    admin.post("/api/v1/mailboxes/saved/disable", &json!({})).await.expect(200);
    let saved = admin.post("/api/v1/mailboxes/saved/verify", &json!({})).await.expect(200);
    assert_eq!((saved["ok"].as_bool(), saved["mailbox"].as_str()), (Some(true), Some("saved")), "{saved}");
    let bulk = admin
        .post("/api/v1/mailboxes/bulk", &json!({"action": "verify", "names": ["saved", "missing"]}))
        .await
        .expect(200);
    assert_eq!(bulk["results"][0]["result"]["ok"], true, "{bulk}");
    assert_eq!(bulk["results"][1]["error"]["code"], "not_found");
    assert_eq!(admin.post("/api/v1/mailboxes/missing/verify", &json!({})).await.status, 404);
    app.stop(10).await.unwrap();
}
on_both_backends!(verify, verify_names_the_login_stage_and_quotes_the_server);

/// A server that accepts and never greets holds a verify for its timeout: a second call by
/// the same token over `verify_concurrency_per_token = 1` is a 429 `busy`; another token's is not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_calls_are_capped_per_token() {
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let app = TestApp::new(TestDb::sqlite(), |cfg| cfg.server.verify_concurrency_per_token = 1).serve().await;
    let admin = app.admin();
    let body = json!({"protocol": "imap", "host": "127.0.0.1", "port": port, "security": "none",
                      "username": "u", "password": "p", "timeout_seconds": 2});
    let slow = {
        let (admin, body) = (admin.clone(), body.clone());
        tokio::spawn(async move { admin.post("/api/v1/mailboxes/verify", &body).await })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let second = admin.post("/api/v1/mailboxes/verify", &body).await;
    assert_eq!(second.status, 429, "{}", second.text);
    assert_error(&second.body, "busy");
    let other = tokio::spawn({
        let (other, body) = (app.admin(), body.clone());
        async move { other.post("/api/v1/mailboxes/verify", &body).await }
    });
    let first = slow.await.unwrap();
    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!(first.body["ok"], false);
    assert!(first.body["duration_ms"].as_u64().unwrap() < 15_000, "bounded by the mailbox timeout: {}", first.text);
    assert_eq!(other.await.unwrap().status, 200, "the cap is per token");
    // The slot is given back when the call ends.
    let again = tokio::spawn(async move { admin.post("/api/v1/mailboxes/verify", &body).await });
    assert_eq!(again.await.unwrap().status, 200);
    drop(silent);
    app.stop(10).await.unwrap();
}

/// A mailbox created through the API is polled by the running service (no restart) with its
/// sealed password; once deleted it is polled no more and its mail stays.
async fn api_mailboxes_are_polled_until_deleted(db: TestDb) {
    let d = Dovecot::get();
    let user = d.add_user();
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::new(db, with_key(dir.path())).serve().await;
    let admin = app.admin();
    user.deliver("INBOX", &bounce(1));
    let created = admin.post("/api/v1/mailboxes", &on_dovecot(&d, &user, "live")).await.expect(201);
    assert_eq!(wait_for_events(&app, 1, Duration::from_secs(20)).await, 1, "its bounce was not recorded");
    let view = admin.get("/api/v1/campaigns/c1/bounced").await.expect(200);
    assert!(view.to_string().contains("gone1@example.org"), "{view}");
    let id = created["id"].as_i64().unwrap();
    // The events commit before the poll ends and writes its status row.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let got = loop {
        let got = admin.get("/api/v1/mailboxes/live").await.expect(200);
        if got["state"] == "ok" || tokio::time::Instant::now() > deadline {
            break got;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!((got["state"].as_str(), got["status"]["messages_processed"].as_i64()), (Some("ok"), Some(1)), "{got}");

    admin.delete("/api/v1/mailboxes/live").await.expect(200);
    tokio::time::sleep(rebound::mailbox::supervisor::WATCH_EVERY + Duration::from_secs(1)).await;
    user.deliver("INBOX", &bounce(2));
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(count_rows(&app.db, "events").await, 1, "a deleted mailbox was polled");
    assert_eq!(user.count("INBOX"), 1, "its mail stays");
    let status = rebound::mailbox::state::get(&mut app.conn(), id).unwrap();
    assert!(status.is_some_and(|s| s.messages_processed == 1), "its history stays");
    app.stop(10).await.unwrap();
}
on_both_backends!(polled_until_deleted, api_mailboxes_are_polled_until_deleted);

/// `POST …/poll` answers 202 at once and the poll runs; a lease held elsewhere is a 409
/// `busy` naming the holder.
async fn poll_now_starts_a_poll_and_respects_the_lease(db: TestDb) {
    let d = Dovecot::get();
    let user = d.add_user();
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::new(db, with_key(dir.path())).serve().await;
    let admin = app.admin();
    let mut body = on_dovecot(&d, &user, "manual");
    body["schedule"] = json!("0 0 1 1 *");
    let id = admin.post("/api/v1/mailboxes", &body).await.expect(201)["id"].as_i64().unwrap();
    user.deliver("INBOX", &bounce(7));

    let now = chrono::Utc::now().naive_utc();
    rebound::mailbox::state::acquire_lease(&mut app.conn(), id, "elsewhere", now, chrono::Duration::seconds(60))
        .unwrap();
    let busy = admin.post("/api/v1/mailboxes/manual/poll", &json!({})).await;
    assert_eq!(busy.status, 409, "{}", busy.text);
    assert_error(&busy.body, "busy");
    assert!(busy.text.contains("elsewhere"), "{}", busy.text);
    rebound::mailbox::state::release_lease(&mut app.conn(), id, "elsewhere").unwrap();

    let started = admin.post("/api/v1/mailboxes/manual/poll", &json!({})).await.expect(202);
    assert_eq!(started["status_url"], "/api/v1/mailboxes/manual");
    assert!(started["watch"].as_str().unwrap().contains("last_poll_at"), "{started}");
    assert_eq!(wait_for_events(&app, 1, Duration::from_secs(15)).await, 1);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let status = loop {
        let s = admin.get("/api/v1/mailboxes/manual").await.expect(200);
        if s["state"] == "ok" || tokio::time::Instant::now() > deadline {
            break s;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(status["state"], "ok", "{status}");
    assert!(status["status"]["lease_owner"].is_null(), "the lease is released: {status}");
    assert_eq!(user.count("INBOX"), 0, "committed mail is deleted as configured");
    assert_eq!(admin.post("/api/v1/mailboxes/nope/poll", &json!({})).await.status, 404);
    app.stop(10).await.unwrap();
}
on_both_backends!(poll_now, poll_now_starts_a_poll_and_respects_the_lease);
