//! The OpenAPI document covers every route, and every documented route exists — the admin
//! API's and the web admin's pages and forms (tag `web`).
//!
//! Both routers are built from the documented handlers only (`api::routes` and `web::routes`
//! each split one list into both), so a route cannot be served undocumented; this test
//! checks the other direction, that the issue's resources are all there, and that every
//! link and form on the web pages goes to a documented route.

use crate::support::{TestDb, app::TestApp};
use serde_json::Value;

/// Every (method, path) the admin API must serve.
const EXPECTED: &[(&str, &str)] = &[
    ("get", "/healthz"),
    ("get", "/api/v1/openapi.json"),
    ("get", "/api/v1/audit"),
    // Campaigns, addresses, review.
    ("get", "/api/v1/campaigns"),
    ("get", "/api/v1/campaigns/{id}"),
    ("get", "/api/v1/campaigns/{id}/bounced"),
    ("get", "/api/v1/campaigns/{id}/complaints"),
    ("get", "/api/v1/addresses/{email}"),
    ("get", "/api/v1/review"),
    ("get", "/api/v1/review/{id}"),
    ("get", "/api/v1/review/{id}/raw"),
    ("post", "/api/v1/review/{id}/reprocess"),
    ("post", "/api/v1/review/reprocess"),
    ("post", "/api/v1/review/{id}/discard"),
    // rules
    ("get", "/api/v1/rules"),
    ("post", "/api/v1/rules"),
    ("get", "/api/v1/rules/{key}"),
    ("put", "/api/v1/rules/{key}"),
    ("delete", "/api/v1/rules/{key}"),
    ("post", "/api/v1/rules/{key}/move"),
    ("post", "/api/v1/rules/{key}/enable"),
    ("post", "/api/v1/rules/{key}/disable"),
    ("post", "/api/v1/rules/test"),
    ("post", "/api/v1/rules/resync"),
    ("post", "/api/v1/rules/reset"),
    ("get", "/api/v1/rules/export"),
    // MTA log sources.
    ("get", "/api/v1/logs"),
    ("get", "/api/v1/logs/{name}"),
    ("post", "/api/v1/rules/import"),
    // Suppression, allowlist, status and metrics.
    ("get", "/api/v1/suppression"),
    ("post", "/api/v1/suppression"),
    ("get", "/api/v1/suppression/{address}"),
    ("delete", "/api/v1/suppression/{address}"),
    ("get", "/api/v1/suppression/export"),
    ("post", "/api/v1/suppression/import"),
    ("get", "/api/v1/suppression/changes"),
    ("get", "/api/v1/allowlist"),
    ("post", "/api/v1/allowlist"),
    ("delete", "/api/v1/allowlist/{entry}"),
    ("get", "/api/v1/status"),
    ("get", "/metrics"),
    // Mailboxes.
    ("get", "/api/v1/mailboxes"),
    ("post", "/api/v1/mailboxes"),
    ("get", "/api/v1/mailboxes/{name}"),
    ("put", "/api/v1/mailboxes/{name}"),
    ("delete", "/api/v1/mailboxes/{name}"),
    ("post", "/api/v1/mailboxes/{name}/enable"),
    ("post", "/api/v1/mailboxes/{name}/disable"),
    ("post", "/api/v1/mailboxes/verify"),
    ("post", "/api/v1/mailboxes/{name}/verify"),
    ("post", "/api/v1/mailboxes/{name}/poll"),
    ("post", "/api/v1/mailboxes/bulk"),
    // Nodes and the node agents' pull protocol.
    ("get", "/api/v1/nodes"),
    ("post", "/api/v1/nodes"),
    ("get", "/api/v1/nodes/{name}"),
    ("put", "/api/v1/nodes/{name}"),
    ("delete", "/api/v1/nodes/{name}"),
    ("post", "/api/v1/nodes/{name}/enable"),
    ("post", "/api/v1/nodes/{name}/disable"),
    ("post", "/api/v1/nodes/{name}/sync"),
    ("get", "/api/v1/sync/snapshot"),
    ("get", "/api/v1/sync/changes"),
    ("post", "/api/v1/sync/report"),
    // The web admin: every page and form.
    ("get", "/"),
    ("get", "/assets/{file}"),
    ("get", "/login"),
    ("post", "/login"),
    ("post", "/logout"),
    ("get", "/mailboxes"),
    ("get", "/mailboxes/new"),
    ("post", "/mailboxes/save"),
    ("post", "/mailboxes/verify"),
    ("post", "/mailboxes/bulk"),
    ("get", "/mailboxes/{name}/edit"),
    ("post", "/mailboxes/{name}/action"),
    ("get", "/campaigns"),
    ("get", "/campaigns/{id}"),
    ("get", "/campaigns/{id}/export"),
    ("get", "/rules"),
    ("get", "/rules/new"),
    ("post", "/rules/save"),
    ("post", "/rules/move"),
    ("post", "/rules/test"),
    ("get", "/rules/resync"),
    ("post", "/rules/resync"),
    ("get", "/rules/reset"),
    ("post", "/rules/reset"),
    ("get", "/rules/{key}/edit"),
    ("post", "/rules/{key}/toggle"),
    ("get", "/suppression"),
    ("get", "/suppression/address"),
    ("post", "/suppression/add"),
    ("post", "/suppression/remove"),
    ("get", "/suppression/export"),
    ("post", "/allowlist/add"),
    ("post", "/allowlist/remove"),
    ("get", "/review"),
    ("get", "/review/{id}"),
    ("post", "/review/{id}/action"),
    ("get", "/audit"),
    ("get", "/settings"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_is_documented_and_served() {
    let app = TestApp::new(TestDb::sqlite(), |_| {}).serve().await;
    let doc: Value = app.get("/api/v1/openapi.json").await.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"), "OpenAPI 3.1: {}", doc["openapi"]);
    let paths = doc["paths"].as_object().expect("paths");
    for (method, path) in EXPECTED {
        assert!(
            paths.get(*path).and_then(|p| p.get(*method)).is_some(),
            "{method} {path} is not in the OpenAPI document"
        );
    }
    // Every documented operation is served: none answers with the router's fallback.
    let admin = app.admin();
    let mut operations = 0;
    for (path, item) in paths {
        for method in item.as_object().unwrap().keys() {
            let Ok(m) = method.to_uppercase().parse::<reqwest::Method>() else { continue };
            let concrete = concrete(path);
            let reply = admin.call(m.clone(), &concrete, None).await;
            let fallback = reply.status == 405
                || (reply.status == 404
                    && reply.body["error"]["message"].as_str().is_some_and(|s| s.starts_with("no route")));
            assert!(!fallback, "{method} {path} is documented but not served ({}: {})", reply.status, reply.text);
            operations += 1;
        }
        assert!(
            item.as_object().unwrap().values().all(|op| op.get("responses").is_some()),
            "{path}: responses documented"
        );
    }
    assert!(operations >= EXPECTED.len());
    let web: Vec<_> =
        paths.iter().filter(|(_, item)| item.as_object().unwrap().values().any(|op| op["tags"][0] == "web")).collect();
    assert!(web.len() >= 30, "the web pages are documented with tag `web`: {}", web.len());
    for (path, item) in web {
        for op in item.as_object().unwrap().values() {
            let security = op["security"]
                .as_array()
                .map(|s| s.iter().map(|s| s.as_object().unwrap().keys().cloned().collect::<Vec<_>>()));
            assert!(security.is_some(), "{path}: a web operation says how it is signed in (the session, or open)");
        }
    }
    assert!(doc["components"]["securitySchemes"]["session"].is_object(), "the session cookie scheme");
    // Unknown routes answer in the API's error shape.
    let reply = admin.get("/api/v1/no-such-thing").await;
    assert_eq!(reply.status, 404);
    crate::support::api::assert_error(&reply.body, "not_found");
    app.stop(10).await.unwrap();
}

/// Whether `path` (concrete, no query) is an instance of the documented `template`.
fn instance_of(path: &str, template: &str) -> bool {
    let (p, t): (Vec<&str>, Vec<&str>) = (path.split('/').collect(), template.split('/').collect());
    p.len() == t.len() && p.iter().zip(&t).all(|(p, t)| p == t || (t.starts_with('{') && !p.is_empty()))
}

/// Every link and form action on the web pages (as an admin sees them, on a database with a
/// mailbox, a campaign, a suppression and a review item) is a documented operation: a route
/// added to the web router some other way, or a page linking to a path nobody serves, fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_web_link_and_form_is_documented() {
    use rebound::access::{Role, sessions, users};
    use rebound::audit::Actor;
    let app = TestApp::new(TestDb::sqlite(), |_| {}).serve().await;
    let cookie = {
        let c = &mut *app.conn();
        let now = chrono::Utc::now().naive_utc();
        users::create(c, &Actor::system("test"), "alice", Role::Admin, "alice-password-1", now).unwrap();
        let p = users::sign_in(c, "alice", "alice-password-1", now).unwrap().unwrap();
        let (secret, _) = sessions::open(c, &p, now).unwrap();
        app.ingest(c, "file", "b1", &crate::support::mail::bounce(1));
        app.ingest(c, "file", "junk", b"Subject: lunch?\r\nFrom: a@example.org\r\n\r\nTacos.\r\n");
        format!("{}={secret}", rebound::web::SESSION_COOKIE)
    };
    let doc: Value = app.get("/api/v1/openapi.json").await.json().await.unwrap();
    let documented: Vec<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| item.as_object().unwrap().keys().map(move |m| (m.clone(), path.clone())))
        .collect();
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let tag = regex::Regex::new(r#"<(a|link|script|form)\b([^>]*)>"#).unwrap();
    let target = regex::Regex::new(r#"\b(?:href|src|action)="([^"]*)""#).unwrap();
    let method = regex::Regex::new(r#"\bmethod="(\w+)""#).unwrap();
    let mut pages = vec!["/".to_string()];
    let mut seen = std::collections::BTreeSet::new();
    let mut checked = 0;
    while let Some(page) = pages.pop() {
        if !seen.insert(page.clone()) {
            continue;
        }
        let resp = http.get(app.url(&page)).header("cookie", &cookie).send().await.unwrap();
        let html_page =
            resp.headers().get("content-type").is_some_and(|t| t.to_str().unwrap().starts_with("text/html"));
        assert!(resp.status().is_success() || resp.status().is_redirection(), "{page}: {}", resp.status());
        if !html_page || !resp.status().is_success() {
            continue;
        }
        let html = resp.text().await.unwrap();
        for m in tag.captures_iter(&html) {
            let Some(t) = target.captures(&m[2]) else { continue };
            let href = t[1].replace("&amp;", "&");
            let target = href.split(['?', '#']).next().unwrap_or_default().to_string();
            if !target.starts_with('/') {
                continue;
            }
            let verb = if &m[1] == "form" {
                method.captures(&m[2]).map_or("get".to_string(), |v| v[1].to_lowercase())
            } else {
                "get".to_string()
            };
            let ok = documented.iter().any(|(dm, dp)| *dm == verb && instance_of(&target, dp));
            assert!(ok, "{page} links to {verb} {target}, which the OpenAPI document does not have");
            checked += 1;
            // Follow the site's own pages (not files, not the API), a few levels deep.
            let page_like = verb == "get" && !target.starts_with("/api") && !target.starts_with("/assets");
            if page_like && !target.ends_with("/export") && seen.len() < 60 {
                pages.push(href);
            }
        }
    }
    assert!(seen.len() >= 12 && checked >= 100, "walked {} pages, {checked} links and forms", seen.len());
    app.stop(10).await.unwrap();
}

/// `/a/{id}/b` with a placeholder value for each parameter.
fn concrete(path: &str) -> String {
    path.split('/').map(|seg| if seg.starts_with('{') { "x" } else { seg }).collect::<Vec<_>>().join("/")
}
