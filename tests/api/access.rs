//! Tokens and roles: 401 without a live token, 403 for a viewer writing; the audit log.

use crate::support::api::assert_error;
use crate::support::{TestDb, app::TestApp};
use rebound::access::{Role, tokens};
use rebound::audit::Actor;

async fn every_api_route_needs_a_live_token(db: TestDb) {
    let app = TestApp::new(db, |_| {}).serve().await;
    let none = app.api(None).get("/api/v1/audit").await;
    assert_eq!(none.status, 401, "{}", none.text);
    assert_error(&none.body, "unauthorized");

    let garbage = app.api(Some("not-a-token".into())).get("/api/v1/audit").await;
    assert_eq!(garbage.status, 401);
    let forged = app.api(Some(format!("rbd_{}", "A".repeat(43)))).get("/api/v1/audit").await;
    assert_eq!(forged.status, 401);
    assert!(!forged.text.contains("AAAA"), "a presented token is never echoed: {}", forged.text);

    let viewer = app.viewer();
    viewer.get("/api/v1/audit").await.expect(200);

    // Revoked: refused once the cache lifetime has passed.
    let t = app.token("short-lived", Role::Viewer);
    let api = app.api(Some(t));
    api.get("/api/v1/audit").await.expect(200);
    let now = chrono::Utc::now().naive_utc();
    tokens::revoke(&mut app.conn(), &Actor::system("test"), "short-lived", now).unwrap();
    tokio::time::sleep(rebound::api::auth_cache_ttl() + std::time::Duration::from_millis(300)).await;
    let after = api.get("/api/v1/audit").await;
    assert_eq!(after.status, 401, "a revoked token is refused: {}", after.text);

    // Open routes stay open.
    assert_eq!(app.get("/healthz").await.status(), 200);
    assert_eq!(app.get("/api/v1/openapi.json").await.status(), 200);
    app.stop(10).await.unwrap();
}
on_both_backends!(tokens_guard_the_api, every_api_route_needs_a_live_token);

async fn token_lifecycle_is_audited_and_never_shows_the_token(db: TestDb) {
    let app = TestApp::new(db, |_| {}).serve().await;
    let now = chrono::Utc::now().naive_utc();
    let (info, token) = tokens::create(&mut app.conn(), &Actor::system("test"), "ops-bot", Role::Admin, now).unwrap();
    assert_eq!(info.role, Role::Admin);
    assert!(token.starts_with("rbd_") && token.len() == 47, "{token}");
    let dup = tokens::create(&mut app.conn(), &Actor::system("test"), "ops-bot", Role::Viewer, now);
    assert!(dup.unwrap_err().to_string().contains("revoke it first"));
    assert!(tokens::create(&mut app.conn(), &Actor::system("test"), "bad name", Role::Viewer, now).is_err());

    let audit = app.api(Some(token.clone())).get("/api/v1/audit?action=token.create").await.expect(200);
    let entries = audit["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{audit}");
    assert_eq!(entries[0]["target"], "token:ops-bot");
    assert_eq!(entries[0]["after"]["role"], "admin");
    assert!(!audit.to_string().contains(&token[4..]), "the token is not in the audit log");

    // Pages: newest first, the cursor continues, a foreign cursor is a 422 naming `after`.
    for i in 0..5 {
        tokens::create(&mut app.conn(), &Actor::system("test"), &format!("t{i}"), Role::Viewer, now).unwrap();
    }
    let api = app.api(Some(token));
    let p1 = api.get("/api/v1/audit?limit=4").await.expect(200);
    assert_eq!(p1["entries"][0]["target"], "token:t4");
    let next = p1["next"].as_str().expect("a next page").to_string();
    let p2 = api.get(&format!("/api/v1/audit?limit=4&after={next}")).await.expect(200);
    assert_eq!(p2["entries"].as_array().unwrap().len(), 2, "{p2}");
    assert!(p2["next"].is_null());
    let bad = api.get("/api/v1/audit?after=yesterday").await;
    assert_eq!(bad.status, 422);
    assert_eq!(bad.body["error"]["problems"][0]["field"], "after");
    let bad = api.get("/api/v1/audit?limit=0").await;
    assert_eq!(bad.status, 422, "{}", bad.text);
    app.stop(10).await.unwrap();
}
on_both_backends!(token_lifecycle, token_lifecycle_is_audited_and_never_shows_the_token);

/// Bodies above `[server] max_body_bytes` get 413 `too_large` in the error shape, raw or
/// JSON, and nothing is stored; a body just under the cap is read as usual.
async fn bodies_over_the_cap_get_413(db: TestDb) {
    let app = TestApp::new(db, |c| c.server.max_body_bytes = 4096).serve().await;
    let admin = app.admin();
    let token = admin.token.clone().unwrap();
    let http = reqwest::Client::new();
    let raw_of = |n: usize| {
        let mut m = b"From: MAILER-DAEMON@mx.example\r\nSubject: Undelivered\r\n\r\n".to_vec();
        m.resize(n, b'x');
        m
    };
    let post_raw = |n: usize| {
        http.post(app.url("/api/v1/rules/test"))
            .bearer_auth(&token)
            .header("content-type", "message/rfc822")
            .body(raw_of(n))
            .send()
    };
    let over = crate::support::api::Reply::read(post_raw(8192).await.unwrap()).await;
    assert_eq!(over.status, 413, "{}", over.text);
    assert_error(&over.body, "too_large");
    assert!(over.text.contains("max_body_bytes"), "the error names the setting: {}", over.text);
    let under = post_raw(2048).await.unwrap();
    assert_eq!(under.status(), 200, "{}", under.text().await.unwrap());

    // A JSON write over the cap stores nothing.
    let before = app.count("suppressions").await;
    let big = serde_json::json!({"address": "big@example.org", "note": "n".repeat(8192)});
    let r = admin.post("/api/v1/suppression", &big).await;
    assert_eq!(r.status, 413, "{}", r.text);
    assert_error(&r.body, "too_large");
    assert_eq!(app.count("suppressions").await, before, "a refused body changes nothing");
    app.stop(10).await.unwrap();
}
on_both_backends!(body_cap, bodies_over_the_cap_get_413);

async fn node_tokens_are_refused_outside_the_sync_routes(db: TestDb) {
    let app = TestApp::new(db, |_| {}).serve().await;
    let now = chrono::Utc::now().naive_utc();
    let (info, token) =
        tokens::create_bound(&mut app.conn(), &Actor::system("test"), "mta-1-agent", Role::Node, Some("mta-1"), now)
            .unwrap();
    assert_eq!((info.role, info.node.as_deref()), (Role::Node, Some("mta-1")));
    let node = app.api(Some(token));
    for path in ["/api/v1/audit", "/api/v1/suppression", "/api/v1/suppression/changes", "/api/v1/status"] {
        let r = node.get(path).await;
        assert_eq!(r.status, 403, "GET {path} with a node token: {}", r.text);
        assert_error(&r.body, "forbidden");
        assert!(r.text.contains("sync routes"), "the refusal says where a node token may go: {}", r.text);
    }
    let w = node.post("/api/v1/allowlist", &serde_json::json!({"entry": "a@example.org"})).await;
    assert_eq!(w.status, 403, "{}", w.text);
    // Only a node token is bound to a node.
    let bound_admin =
        tokens::create_bound(&mut app.conn(), &Actor::system("test"), "x", Role::Admin, Some("mta-1"), now);
    assert!(bound_admin.unwrap_err().to_string().contains("--role node"));
    let listed = tokens::list(&mut app.conn()).unwrap();
    assert!(listed.iter().any(|t| t.name == "mta-1-agent" && t.node.as_deref() == Some("mta-1")));
    app.stop(10).await.unwrap();
}
on_both_backends!(node_tokens_refused_elsewhere, node_tokens_are_refused_outside_the_sync_routes);
