//! The OpenAPI document covers every route, and every documented route exists.
//!
//! The router is built from the documented handlers only (`api::routes` splits one list into
//! both), so a route cannot be served undocumented; this test checks the other direction and
//! that the resources are all there.

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
    // Unknown routes answer in the API's error shape.
    let reply = admin.get("/api/v1/no-such-thing").await;
    assert_eq!(reply.status, 404);
    crate::support::api::assert_error(&reply.body, "not_found");
    app.stop(10).await.unwrap();
}

/// `/a/{id}/b` with a placeholder value for each parameter.
fn concrete(path: &str) -> String {
    path.split('/').map(|seg| if seg.starts_with('{') { "x" } else { seg }).collect::<Vec<_>>().join("/")
}
