//! `/api/v1/webhooks` and `/api/v1/alerts` over HTTP: CRUD, validation, the test event, the
//! attempts list, read-only config endpoints, and the OpenAPI document.

use super::receiver::Receiver;
use super::support::TestDb;
use super::support::app::TestApp;
use super::webhooks::{SECRET, hook, secret_file};
use serde_json::{Value, json};

async fn crud_and_test_event(db: TestDb) {
    let rx = Receiver::start(0, SECRET, 200).await;
    let (_dir, secret) = secret_file();
    let url = rx.url();
    let app = TestApp::new(db, |c| c.webhook.push(hook("from-file", &url, &secret))).serve().await;
    let admin = app.admin();
    // Every problem at once, by field.
    let bad = admin
        .post("/api/v1/webhooks", &json!({"name": "Bad", "url": "ftp://x", "secret_env": "REBOUND_TEST_SURELY_UNSET"}))
        .await
        .expect(422);
    let fields: Vec<&str> =
        bad["error"]["problems"].as_array().unwrap().iter().map(|p| p["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["name", "url", "secret_env"], "{bad}");
    assert!(bad.to_string().contains("REBOUND_TEST_SURELY_UNSET"), "names the variable: {bad}");
    let body = json!({"name": "crm", "url": url, "secret_file": secret, "events": ["bounce.recorded"]});
    app.viewer().post("/api/v1/webhooks", &body).await.expect(403);
    let created = admin.post("/api/v1/webhooks", &body).await.expect(201);
    assert_eq!((created["source"].as_str(), created["state"].as_str()), (Some("api"), Some("ok")), "{created}");
    assert!(!created.to_string().contains(SECRET), "the secret never leaves the server");
    admin.post("/api/v1/webhooks", &body).await.expect(409);
    let mut changed = body.clone();
    changed["events"] = json!(["bounce.recorded", "complaint.recorded"]);
    changed["ordered"] = json!(true);
    let updated = admin.put("/api/v1/webhooks/crm", &changed).await.expect(200);
    assert_eq!(updated["events"], json!(["bounce.recorded", "complaint.recorded"]));
    assert_eq!(updated["ordered"], true);
    let list = admin.get("/api/v1/webhooks").await.expect(200);
    let names: Vec<&str> = list["webhooks"].as_array().unwrap().iter().map(|w| w["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["crm", "from-file"]);
    // The test event goes to that endpoint alone, signed.
    let sent = admin.post("/api/v1/webhooks/crm/test", &Value::Null).await.expect(202);
    assert_eq!(sent["type"], "webhook.test");
    let events = rx.wait_events(1, 10).await;
    assert_eq!(events[0]["id"], sent["id"]);
    assert_eq!(events[0]["data"]["webhook"], "crm");
    assert!(rx.got()[0].signed);
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(rx.events().len(), 1, "not to the other endpoint");
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    let attempts = loop {
        let a = admin.get("/api/v1/webhooks/crm/attempts").await.expect(200);
        if a["attempts"][0]["outcome"] == "delivered" || tokio::time::Instant::now() > deadline {
            break a;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    let a = &attempts["attempts"][0];
    assert_eq!((a["outcome"].as_str(), a["status_code"].as_i64()), (Some("delivered"), Some(200)), "{attempts}");
    assert_eq!(a["id"].to_string(), rx.got()[0].attempt_id);
    assert!(a["latency_ms"].as_i64().unwrap() >= 0 && a["event_ids"] == sent["id"], "{a}");
    admin.get("/api/v1/webhooks/crm/attempts?after=nonsense").await.expect(422);
    // Config-file endpoints are read-only here, but can be disabled and enabled.
    let ro = admin.put("/api/v1/webhooks/from-file", &body).await.expect(409);
    assert_eq!(ro["error"]["code"], "read_only");
    let off = admin.post("/api/v1/webhooks/from-file/disable", &Value::Null).await.expect(200);
    assert_eq!(off["enabled"], false);
    admin.delete("/api/v1/webhooks/from-file").await.expect(409);
    assert_eq!(admin.delete("/api/v1/webhooks/crm").await.expect(200)["deleted"], true);
    admin.get("/api/v1/webhooks/crm").await.expect(404);
    // Every write is audited.
    let audit = admin.get("/api/v1/audit?target=webhook:").await.expect(200);
    let actions: Vec<&str> =
        audit["entries"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    for want in ["webhook.create", "webhook.update", "webhook.disable", "webhook.delete"] {
        assert!(actions.contains(&want), "{want} audited: {actions:?}");
    }
    let alerts = admin.get("/api/v1/alerts").await.expect(200);
    assert_eq!(
        (alerts["rules"].as_array().map(Vec::len), alerts["active"].as_array().map(Vec::len)),
        (Some(0), Some(0))
    );
    admin.get("/api/v1/alerts/history").await.expect(200);
    app.stop(10).await.unwrap();
}
on_both_backends!(webhooks_crud_validation_and_test_event, crud_and_test_event);

#[tokio::test]
async fn the_openapi_document_has_the_routes_and_every_event_shape() {
    let app = TestApp::new(TestDb::sqlite(), |_| {}).serve().await;
    let doc = app.get("/api/v1/openapi.json").await.json::<Value>().await.unwrap();
    for path in [
        "/api/v1/webhooks",
        "/api/v1/webhooks/{name}",
        "/api/v1/webhooks/{name}/enable",
        "/api/v1/webhooks/{name}/disable",
        "/api/v1/webhooks/{name}/attempts",
        "/api/v1/webhooks/{name}/test",
        "/api/v1/alerts",
        "/api/v1/alerts/history",
        "/api/v1/alerts/rules",
        "/api/v1/alerts/rules/{name}",
        "/api/v1/alerts/rules/{name}/enable",
        "/api/v1/alerts/rules/{name}/disable",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} documented");
    }
    let schemas = &doc["components"]["schemas"];
    for s in
        ["Event", "EventData", "RecordData", "SuppressionData", "ReviewData", "MailboxData", "NodeData", "AlertData"]
    {
        assert!(schemas[s].is_object(), "schema {s}");
    }
    assert!(schemas["RecordData"]["properties"]["diagnostic"].is_object());
    app.stop(10).await.unwrap();
}
