//! `GET /api/v1/status` (instances, jobs, mailbox health, sizes) and `GET /metrics`.

use crate::support::api::assert_error;
use crate::support::{TestDb, app::TestApp, mail};

/// A config mailbox that is never due during a test (once a year), registered like `serve`
/// registers it.
fn quiet_mailbox(name: &str, dir: &std::path::Path) -> rebound::config::MailboxConfig {
    let pw = dir.join(format!("{name}.pw"));
    std::fs::write(&pw, "not-used").unwrap();
    let entry: toml::Table = toml::from_str(&format!(
        "name = \"{name}\"\nprotocol = \"imap\"\nhost = \"localhost\"\nport = 1\nusername = \"u\"\n\
         password_file = \"{}\"\nschedule = \"0 0 1 1 *\"\nidle = false\n",
        pw.display()
    ))
    .unwrap();
    rebound::mailbox::repo::validate(&entry).unwrap_or_else(|e| panic!("{e}"))
}

async fn status_shows_instances_jobs_and_mailbox_health(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let (failing, fine) = (quiet_mailbox("brand-a", dir.path()), quiet_mailbox("brand-b", dir.path()));
    let app = TestApp::new(db, |cfg| cfg.mailbox = vec![failing.clone(), fine.clone()]).serve().await;
    let id = crate::support::id_of(&app.db, &failing);
    let now = chrono::Utc::now().naive_utc();
    rebound::mailbox::state::record_failure(
        &mut app.conn(),
        id,
        "login",
        "the server said: NO [AUTHENTICATIONFAILED] Authentication failed.",
        4,
        0,
        now,
    )
    .unwrap();
    let mut c = app.conn();
    app.ingest(&mut c, "file", "b1", &mail::bounce(1));
    drop(c);

    let viewer = app.viewer();
    let s = viewer.get("/api/v1/status").await.expect(200);
    let instances = s["instances"].as_array().unwrap();
    let me = instances.iter().find(|i| i["this"] == true).unwrap_or_else(|| panic!("this instance: {s}"));
    assert_eq!(me["id"], s["instance"]);
    assert_eq!(me["alive"], true);
    assert_eq!(me["version"], env!("CARGO_PKG_VERSION"));
    assert!(me["heartbeat_at"].is_string() && me["hostname"].is_string());

    let jobs: Vec<&str> = s["jobs"].as_array().unwrap().iter().map(|j| j["name"].as_str().unwrap()).collect();
    for job in ["heartbeat", "expire-suppressions", "purge-raw-messages"] {
        assert!(jobs.contains(&job), "{job} in {jobs:?}");
    }
    let hb = s["jobs"].as_array().unwrap().iter().find(|j| j["name"] == "heartbeat").unwrap();
    assert!(hb["schedule"].is_string() && hb["next_run_at"].is_string(), "{hb}");

    let m = &s["mailboxes"];
    assert_eq!(m["total"], 2, "{m}");
    assert_eq!(m["by_state"]["failing"], 1, "{m}");
    assert_eq!(m["failing"][0]["name"], "brand-a");
    assert_eq!(m["failing"][0]["stage"], "login");
    assert!(m["failing"][0]["error"].as_str().unwrap().contains("AUTHENTICATIONFAILED"));
    assert_eq!(m["failing"][0]["consecutive_failures"], 4);
    assert!(m["failing"][0]["next_attempt_at"].is_string(), "backing off after 4 failures: {m}");

    assert_eq!(s["sizes"]["suppression"], 1, "{s}");
    assert!(s["sizes"]["rules_version"].as_i64().is_some());
    assert_eq!(s["sizes"]["review_queue"], 0);
    assert_eq!(app.api(None).get("/api/v1/status").await.status, 401);
    app.stop(10).await.unwrap();
}
on_both_backends!(status_route, status_shows_instances_jobs_and_mailbox_health);

/// The value of the series `name{labels}` (labels as rendered, e.g. `kind="bounce"`), 0 when
/// absent.
fn sample(text: &str, name: &str, labels: &str) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit_once(' '))
        .find(|(series, _)| {
            series.strip_prefix(name).is_some_and(|rest| {
                (labels.is_empty() && (rest.is_empty() || rest.starts_with('{')))
                    || (rest.starts_with('{') && rest.contains(labels))
            })
        })
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0.0)
}

async fn metrics_move_after_an_ingest(db: TestDb) {
    let app = TestApp::new(db, |_| {}).serve().await;
    let before = app.get("/metrics").await;
    assert_eq!(before.status(), 200, "open by default");
    assert!(before.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    let before = before.text().await.unwrap();
    let mut c = app.conn();
    for i in 0..3 {
        app.ingest(&mut c, "file", &format!("m{i}"), &mail::bounce(100 + i));
    }
    drop(c);
    app.admin().get("/api/v1/suppression?limit=1").await.expect(200);
    // The gauges are the process's: another test's scrape may set them between ours setting
    // and rendering them, so a few tries.
    let mut after = String::new();
    for _ in 0..5 {
        after = app.get("/metrics").await.text().await.unwrap();
        if sample(&after, "rebound_suppression_size", "") == 3.0 {
            break;
        }
    }
    let moved = |name: &str, labels: &str| sample(&after, name, labels) - sample(&before, name, labels);
    // Other tests of this process ingest too: the counters grew by at least ours.
    assert!(moved("rebound_messages_parsed_total", "kind=\"bounce\"") >= 3.0, "{after}");
    assert!(moved("rebound_records_classified_total", "classification=\"hard\"") >= 3.0, "{after}");
    assert!(moved("rebound_suppressions_added_total", "") >= 3.0, "{after}");
    // Gauges from this app's database, refreshed at the scrape.
    assert_eq!(sample(&after, "rebound_suppression_size", ""), 3.0, "{after}");
    assert!(after.contains("rebound_review_queue_size"), "{after}");
    assert!(after.contains("rebound_rules_engine_version"), "{after}");
    assert!(
        sample(&after, "rebound_http_requests_total", "route=\"/api/v1/suppression\"") >= 1.0,
        "requests counted by route pattern: {after}"
    );
    app.stop(10).await.unwrap();
}
on_both_backends!(metrics_counters, metrics_move_after_an_ingest);

async fn metrics_can_require_a_token(db: TestDb) {
    let app = TestApp::new(db, |cfg| cfg.server.metrics_require_token = true).serve().await;
    let open = app.api(None).get("/metrics").await;
    assert_eq!(open.status, 401, "{}", open.text);
    assert_error(&open.body, "unauthorized");
    let viewer = app.viewer().get("/metrics").await;
    assert_eq!(viewer.status, 200);
    assert!(viewer.text.contains("rebound_suppression_size"), "{}", viewer.text);
    app.stop(10).await.unwrap();
}
on_both_backends!(metrics_closed, metrics_can_require_a_token);

/// A Prometheus text line `name{labels} value` parses back (the helper above is right).
#[test]
fn samples_are_read_by_name_and_labels() {
    let text = "# HELP x y\nrebound_a_total{kind=\"bounce\"} 4\nrebound_a_total{kind=\"arf\"} 1\nrebound_b 7\n";
    assert_eq!(sample(text, "rebound_a_total", "kind=\"arf\""), 1.0);
    assert_eq!(sample(text, "rebound_b", ""), 7.0);
    assert_eq!(sample(text, "rebound_c", ""), 0.0);
}
