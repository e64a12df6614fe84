//! The node agents' pull protocol: snapshot (NDJSON, ETag, 304), changes by cursor in the
//! node's scopes with long-poll, 410 when compacted or when a report did not match, reports
//! checked against the list; who may call it.

use crate::support::api::{Api, assert_error};
use crate::support::{TestDb, app::TestApp};
use rebound::access::{Role, tokens};
use rebound::audit::Actor;
use rebound::sync::Checksum;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const NODES: &str = "[[node]]\nname = \"mta-1\"\ntarget = \"postfix\"\n\n\
[[node]]\nname = \"brand\"\ntarget = \"file\"\nscopes = [\"brand.example\"]\n";

async fn app(db: TestDb) -> TestApp {
    let nodes = rebound::config::load_str("t", NODES, std::iter::empty()).unwrap().node;
    TestApp::new(db, |c| c.node = nodes).serve().await
}

fn node_api(app: &TestApp, name: &str, node: Option<&str>) -> Api {
    let now = chrono::Utc::now().naive_utc();
    let t = tokens::create_bound(&mut app.conn(), &Actor::system("test"), name, Role::Node, node, now).unwrap().1;
    app.api(Some(t))
}

/// The snapshot's lines: header, entries, end.
async fn snapshot(api: &Api, query: &str) -> (Value, Vec<(String, String)>, Value, String) {
    let r = api.http.get(format!("{}/api/v1/sync/snapshot{query}", api.base)).bearer_auth(api.token.as_ref().unwrap());
    let resp = r.send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/x-ndjson");
    let etag = resp.headers()["etag"].to_str().unwrap().to_string();
    let text = resp.text().await.unwrap();
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let entries = lines[1..lines.len() - 1]
        .iter()
        .map(|v| (v[0].as_str().unwrap().to_string(), v[1].as_str().unwrap().to_string()))
        .collect();
    (lines[0].clone(), entries, lines.last().unwrap().clone(), etag)
}

async fn add(admin: &Api, address: &str, scope: &str) {
    admin.post("/api/v1/suppression", &json!({"address": address, "scope": scope})).await.expect(201);
}

async fn snapshot_changes_and_long_poll(db: TestDb) {
    let app = app(db).await;
    let admin = app.admin();
    add(&admin, "a@example.org", "global").await;
    add(&admin, "b@example.org", "brand.example").await;
    add(&admin, "c@example.org", "other.example").await;
    let agent = node_api(&app, "mta-1-agent", Some("mta-1"));

    let (head, entries, end, etag) = snapshot(&agent, "").await;
    assert_eq!(head["node"], "mta-1");
    let seq = head["seq"].as_i64().unwrap();
    assert_eq!(seq, 3, "{head}");
    assert_eq!(entries.len(), 3, "every scope: {entries:?}");
    let sum = Checksum::of(entries.iter().map(|(a, s)| (a.as_str(), s.as_str())));
    assert_eq!((end["count"].as_u64().unwrap(), end["checksum"].as_str().unwrap()), (3, sum.hex().as_str()));
    // Unchanged: 304 with If-None-Match.
    let again = agent
        .http
        .get(format!("{}/api/v1/sync/snapshot", agent.base))
        .bearer_auth(agent.token.as_ref().unwrap())
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);

    // A node of narrower scopes: global plus its domain only.
    let brand = node_api(&app, "brand-agent", Some("brand"));
    let (_, b_entries, _, b_etag) = snapshot(&brand, "").await;
    let got: Vec<&str> = b_entries.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(got, ["a@example.org", "b@example.org"]);
    assert_ne!(b_etag, etag, "the scopes are part of the tag");

    let empty = agent.get(&format!("/api/v1/sync/changes?after={seq}")).await.expect(200);
    assert_eq!((empty["changes"].as_array().unwrap().len(), empty["next"].as_i64()), (0, Some(seq)));
    // A change of another scope moves the brand node's cursor without a change for it.
    add(&admin, "d@example.org", "other.example").await;
    let passed = brand.get(&format!("/api/v1/sync/changes?after={seq}")).await.expect(200);
    assert_eq!(passed["changes"].as_array().unwrap().len(), 0, "{passed}");
    assert_eq!(passed["next"].as_i64(), Some(seq + 1));

    // Long-poll: woken by a commit long before `wait` runs out.
    let waiting = {
        let agent = agent.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let r = agent.get(&format!("/api/v1/sync/changes?after={}&wait=30", seq + 1)).await;
            (r, started.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(700)).await;
    add(&admin, "e@example.org", "global").await;
    let (r, took) = waiting.await.unwrap();
    let feed = r.expect(200);
    assert_eq!(feed["changes"][0]["address"], "e@example.org", "{feed}");
    assert_eq!(feed["changes"][0]["op"], "add");
    assert!(took < Duration::from_secs(5), "the long-poll answers when the change commits: {took:?}");
    assert_eq!(feed["next"].as_i64(), Some(seq + 2));
    // An empty long-poll ends at `wait`.
    let started = Instant::now();
    let none = agent.get(&format!("/api/v1/sync/changes?after={}&wait=1", seq + 2)).await.expect(200);
    assert!(none["changes"].as_array().unwrap().is_empty() && started.elapsed() >= Duration::from_millis(900));
    // Pages: `more` and the cursor of the last change given.
    let p = agent.get("/api/v1/sync/changes?after=0&limit=2").await.expect(200);
    assert_eq!((p["more"].as_bool(), p["next"].as_i64()), (Some(true), Some(2)));
    app.stop(10).await.unwrap();
}
on_both_backends!(snapshot_changes_and_long_poll, snapshot_changes_and_long_poll);

async fn who_may_pull_what(db: TestDb) {
    let app = app(db).await;
    let bound = node_api(&app, "mta-1-agent", Some("mta-1"));
    let other = bound.get("/api/v1/sync/changes?after=0&node=brand").await;
    assert_eq!(other.status, 403, "{}", other.text);
    assert!(other.text.contains("bound to node `mta-1`"), "{}", other.text);
    let viewer = app.viewer().get("/api/v1/sync/changes?after=0&node=mta-1").await;
    assert_eq!(viewer.status, 403, "{}", viewer.text);
    assert_error(&viewer.body, "forbidden");
    let admin = app.admin();
    admin.get("/api/v1/sync/changes?after=0&node=brand").await.expect(200);
    let unnamed = admin.get("/api/v1/sync/changes?after=0").await;
    assert_eq!(unnamed.status, 422, "{}", unnamed.text);
    assert_eq!(unnamed.body["error"]["problems"][0]["field"], "node");
    let unknown = admin.get("/api/v1/sync/changes?after=0&node=nope").await;
    assert_eq!(unknown.status, 404, "{}", unknown.text);
    // An unbound node token names its node.
    let any = node_api(&app, "fleet", None);
    any.get("/api/v1/sync/changes?after=0&node=brand").await.expect(200);
    let bad = any.get("/api/v1/sync/changes?after=0&node=brand&wait=301").await;
    assert_eq!(bad.status, 422);
    // The contact is noted.
    let nodes = rebound::sync::view::all(&mut app.conn(), chrono::Utc::now().naive_utc()).unwrap();
    assert!(nodes.iter().find(|n| n.name == "brand").unwrap().last_contact_at.is_some());
    app.stop(10).await.unwrap();
}
on_both_backends!(who_may_pull_what, who_may_pull_what);

async fn reports_are_checked_and_a_mismatch_means_rebuild(db: TestDb) {
    let app = app(db).await;
    let admin = app.admin();
    add(&admin, "a@example.org", "global").await;
    add(&admin, "b@example.org", "brand.example").await;
    let agent = node_api(&app, "mta-1-agent", Some("mta-1"));
    let (head, _, end, _) = snapshot(&agent, "").await;
    let seq = head["seq"].as_i64().unwrap();
    let good = json!({"seq": seq, "count": end["count"], "checksum": end["checksum"],
        "applied_at": "2026-12-01T10:00:00", "error": null});
    let r = agent.post("/api/v1/sync/report", &good).await.expect(200);
    assert_eq!((r["verified"].as_bool(), r["rebuild"].as_bool()), (Some(true), Some(false)), "{r}");
    let view = |app: &TestApp| {
        let all = rebound::sync::view::all(&mut app.conn(), chrono::Utc::now().naive_utc()).unwrap();
        all.into_iter().find(|n| n.name == "mta-1").unwrap()
    };
    let v = view(&app);
    assert_eq!((v.applied_seq, v.entries, v.verified), (Some(seq), Some(2), Some(true)));

    // One entry short: not what it should hold.
    let one = Checksum::of([("a@example.org", "global")]);
    let bad = json!({"seq": seq, "count": 1, "checksum": one.hex(), "applied_at": null, "error": null});
    let r = agent.post("/api/v1/sync/report", &bad).await.expect(200);
    assert_eq!((r["verified"].as_bool(), r["rebuild"].as_bool()), (Some(false), Some(true)), "{r}");
    let v = view(&app);
    assert_eq!(v.verified, Some(false));
    assert!(v.last_error.as_deref().unwrap_or_default().contains("checksum mismatch"), "{v:?}");
    let gone = agent.get(&format!("/api/v1/sync/changes?after={seq}")).await;
    assert_eq!(gone.status, 410, "{}", gone.text);
    assert_error(&gone.body, "rebuild");
    // A fresh snapshot clears it.
    snapshot(&agent, "").await;
    agent.get(&format!("/api/v1/sync/changes?after={seq}")).await.expect(200);

    // Behind the head: recorded, not checked.
    add(&admin, "c@example.org", "global").await;
    let r = agent.post("/api/v1/sync/report", &good).await.expect(200);
    assert!(r["verified"].is_null(), "{r}");
    // A failed apply keeps what the node held and shows the error.
    let failed = json!({"seq": seq, "count": 0, "checksum": "", "error": "postmap: boom"});
    agent.post("/api/v1/sync/report", &failed).await.expect(200);
    let v = view(&app);
    assert_eq!((v.applied_seq, v.entries), (Some(seq), Some(2)));
    assert_eq!(v.last_error.as_deref(), Some("agent: postmap: boom"));
    let malformed = agent.post("/api/v1/sync/report", &json!({"seq": 1, "count": 1, "checksum": "zz"})).await;
    assert_eq!(malformed.status, 422, "{}", malformed.text);
    app.stop(10).await.unwrap();
}
on_both_backends!(reports_are_checked, reports_are_checked_and_a_mismatch_means_rebuild);

async fn a_compacted_cursor_is_gone(db: TestDb) {
    let app = app(db).await;
    let admin = app.admin();
    for i in 0..3 {
        add(&admin, &format!("x{i}@example.org"), "global").await;
    }
    let later = chrono::Utc::now().naive_utc() + chrono::Duration::days(40);
    let n = rebound::sync::retention::compact(&mut app.conn(), 30, later).unwrap();
    assert_eq!(n, 2, "all but the newest change");
    let agent = node_api(&app, "mta-1-agent", Some("mta-1"));
    let gone = agent.get("/api/v1/sync/changes?after=1").await;
    assert_eq!(gone.status, 410, "{}", gone.text);
    assert_error(&gone.body, "gone");
    assert!(gone.text.contains("snapshot"), "{}", gone.text);
    // At the floor it is followed.
    let ok = agent.get("/api/v1/sync/changes?after=2").await.expect(200);
    assert_eq!(ok["changes"].as_array().unwrap().len(), 1);
    let (head, entries, _, _) = snapshot(&agent, "").await;
    assert_eq!((head["seq"].as_i64(), entries.len()), (Some(3), 3));
    app.stop(10).await.unwrap();
}
on_both_backends!(a_compacted_cursor_is_gone, a_compacted_cursor_is_gone);
