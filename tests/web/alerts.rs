//! The alerts page in Chromium against a real `rebound serve`: a bounce imported by
//! `rebound import` fires a config-file rule, the page lists it as active with its rule and
//! group, the webhook endpoint is shown, and "Send test event" reaches a local receiver and
//! lists its attempt.

use crate::browser::{Driver, Page};
use crate::site::rebound;
use crate::support::TestDb;
use crate::support::mail::{dsn, original};
use crate::support::serve::{Serve, free_port, serve_config};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A receiver that answers 200 and keeps each body.
async fn receiver() -> (String, Arc<Mutex<Vec<String>>>) {
    let got: Arc<Mutex<Vec<String>>> = Arc::default();
    let keep = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |body: String| {
            let keep = keep.clone();
            async move {
                keep.lock().unwrap().push(body);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, got)
}

/// Reloads `path` until `css` holds `text` (the evaluator and the worker run on their own pace).
async fn wait_for(page: &Page, path: &str, css: &str, text: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        page.go(path).await;
        let found = page.all(css).await;
        let mut all = String::new();
        for e in found {
            all.push_str(&e.text().await.unwrap_or_default());
            all.push('\n');
        }
        if all.contains(text) {
            return all;
        }
        if Instant::now() > deadline {
            page.screenshot("alerts").await;
            panic!("`{text}` never appeared in `{css}` of {path}: {all}");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn alerts_page(db: TestDb, offset: u16) {
    let (url, got) = receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("hook-secret");
    std::fs::write(&secret, "whsec_YnJvd3Nlci10ZXN0LXNlY3JldA==\n").unwrap();
    let port = free_port();
    let extra = format!(
        "[alerts]\nevaluate_every_seconds = 5\n\n[[webhook]]\nname = \"crm\"\nurl = \"{url}\"\nsecret_file = \"{}\"\n\
         events = [\"webhook.test\"]\n\n[[alert]]\nname = \"unknown-users\"\nper = \"recipient_domain\"\n\
         [[alert.criteria]]\nkind = \"count\"\nwindow_minutes = 60\nat_least = 1\nstatus = \"5.1.1\"\n",
        secret.display()
    );
    let cfg = serve_config(dir.path(), "rebound.toml", port, db.url(), &extra);
    rebound(&cfg, &["migrate"], "");
    rebound(&cfg, &["user", "create", "alice", "--role", "admin"], "alice-password-1\n");
    let serve = Serve::start(&cfg, port);
    let now = chrono::Utc::now().to_rfc2822();
    let mail = dsn(
        "bounces@sender.example",
        "gone@isp.example",
        "5.1.1",
        "550 5.1.1 user unknown",
        &original(Some("spring"), "m1@sender.example"),
        &now,
    );
    let eml = dir.path().join("bounce.eml");
    std::fs::write(&eml, mail).unwrap();
    rebound(&cfg, &["import", eml.to_str().unwrap()], "");
    let driver = Driver::start(offset);
    let page = Page { c: driver.session().await, base: Serve::base(port), name: format!("alerts-{offset}") };
    page.go("/alerts").await;
    assert!(page.url().await.contains("/login"), "the page needs a session");
    page.fill("#name", "alice").await;
    page.fill("#password", "alice-password-1").await;
    page.navigate("#sign-in").await;
    page.css("body[data-csrf]").await;
    // The menu leads there.
    page.go("/").await;
    page.navigate("header nav a[href='/alerts']").await;
    assert_eq!(page.text("h1").await, "Alerts");
    let active = wait_for(&page, "/alerts", "#active-alerts tbody tr", "unknown-users").await;
    assert!(active.contains("isp.example") && active.contains("1 matching events"), "{active}");
    let rules = page.text("#alert-rules").await;
    assert!(rules.contains("unknown-users") && rules.contains("config"), "{rules}");
    assert!(page.text("section[data-webhook='crm'] h3").await.contains("ok"));
    // The episode row is where a Pushover link points.
    let id = page.js("return document.querySelector('#active-alerts tbody tr').id").await;
    assert!(id.as_str().unwrap().starts_with("episode-"), "{id}");
    page.navigate("section[data-webhook='crm'] form button").await;
    assert!(page.text("p.notice").await.contains("test event"), "the notice says what was done");
    let attempts = wait_for(&page, "/alerts", "section[data-webhook='crm'] table.attempts tbody tr", "delivered").await;
    assert!(attempts.contains("200"), "{attempts}");
    let bodies = got.lock().unwrap().clone();
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    assert!(bodies[0].contains("webhook.test"), "{bodies:?}");
    let _ = page.c.clone().close().await;
    let log = serve.stop();
    assert!(!log.contains("alice-password-1") && !log.contains("YnJvd3Nlci10ZXN0"), "no secret in the log");
}

on_both_backends!(the_alerts_page_lists_a_fired_alert, alerts_on);

async fn alerts_on(db: TestDb) {
    // Its own chromedriver ports: 0–1 walk, 2–3 actions, 4–5 stats.
    let offset = if matches!(db, TestDb::Sqlite { .. }) { 6 } else { 7 };
    alerts_page(db, offset).await
}
