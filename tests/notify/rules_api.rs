//! `/api/v1/alerts/rules` over HTTP: create, update, enable/disable, delete, validation
//! errors by field, read-only config-file rules, the audit trail, and a rule made through
//! the API that the running evaluator fires.

use super::alerts::{ingest, many};
use super::support::TestDb;
use super::support::app::TestApp;
use serde_json::{Value, json};
use std::time::Duration;

fn file_rule() -> rebound::config::AlertConfig {
    rebound::config::AlertConfig {
        name: "from-file".into(),
        per: rebound::config::alert::Per::Campaign,
        combine: "all".into(),
        criteria: vec![rebound::config::alert::Criterion::MailboxFailing { polls: 3 }],
        cooldown_minutes: 60,
        channels: vec!["webhook".into()],
        enabled: true,
    }
}

async fn rules_crud(db: TestDb) {
    let app = TestApp::new(db, |c| c.alert.push(file_rule())).serve().await;
    let admin = app.admin();
    // Every problem at once, named by its field.
    let bad = json!({"name": "Bad Name", "match": "most", "channels": ["pager"],
        "criteria": [{"kind": "rate", "metric": "bounce", "window_minutes": 0, "min_volume": 1, "at_least": 5}]});
    let err = admin.post("/api/v1/alerts/rules", &bad).await.expect(422);
    let fields: Vec<&str> =
        err["error"]["problems"].as_array().unwrap().iter().map(|p| p["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["name", "match", "criteria[0]", "criteria[0]", "channels"], "{err}");
    let err =
        admin.post("/api/v1/alerts/rules", &json!({"name": "x", "criteria": [{"kind": "count"}]})).await.expect(422);
    assert!(err["error"]["problems"][0]["field"].as_str().unwrap().starts_with("criteria"), "{err}");
    let err = admin.post("/api/v1/alerts/rules", &json!({"name": "x", "criteria": [], "colour": 1})).await.expect(422);
    let fields: Vec<&str> =
        err["error"]["problems"].as_array().unwrap().iter().map(|p| p["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["colour", "criteria"], "{err}");
    // Pushover is refused while [alerts.pushover] is not configured.
    let body = json!({"name": "blocks", "per": "recipient_domain", "channels": ["pushover"],
        "criteria": [{"kind": "count", "window_minutes": 60, "at_least": 2, "status": "5.7.*"}]});
    let err = admin.post("/api/v1/alerts/rules", &body).await.expect(422);
    assert_eq!(err["error"]["problems"][0]["field"], "channels", "{err}");
    let mut body = body;
    body["channels"] = json!(["webhook"]);
    app.viewer().post("/api/v1/alerts/rules", &body).await.expect(403);
    let created = admin.post("/api/v1/alerts/rules", &body).await.expect(201);
    assert_eq!((created["source"].as_str(), created["enabled"].as_bool()), (Some("api"), Some(true)), "{created}");
    assert_eq!((created["cooldown_minutes"].as_i64(), created["match"].as_str()), (Some(60), Some("all")));
    admin.post("/api/v1/alerts/rules", &body).await.expect(409);
    let mut changed = body.clone();
    changed["criteria"][0]["at_least"] = json!(5);
    changed.as_object_mut().unwrap().remove("name");
    let updated = admin.put("/api/v1/alerts/rules/blocks", &changed).await.expect(200);
    assert_eq!((updated["name"].as_str(), updated["criteria"][0]["at_least"].as_i64()), (Some("blocks"), Some(5)));
    admin.put("/api/v1/alerts/rules/nothing", &body).await.expect(404);
    let off = admin.post("/api/v1/alerts/rules/blocks/disable", &Value::Null).await.expect(200);
    assert_eq!(off["enabled"], false);
    let list = admin.get("/api/v1/alerts/rules").await.expect(200);
    let names: Vec<(&str, &str)> = list["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["name"].as_str().unwrap(), r["source"].as_str().unwrap()))
        .collect();
    assert_eq!(names, [("blocks", "api"), ("from-file", "config")]);
    assert_eq!(admin.get("/api/v1/alerts").await.expect(200)["rules"], list["rules"]);
    // Config-file rules are read-only here, but can be disabled and enabled.
    let ro = admin.put("/api/v1/alerts/rules/from-file", &body).await.expect(409);
    assert_eq!(ro["error"]["code"], "read_only");
    assert!(ro["error"]["message"].as_str().unwrap().contains("config file"), "{ro}");
    admin.delete("/api/v1/alerts/rules/from-file").await.expect(409);
    let off = admin.post("/api/v1/alerts/rules/from-file/disable", &Value::Null).await.expect(200);
    assert_eq!(off["enabled"], false);
    admin.post("/api/v1/alerts/rules/from-file/enable", &Value::Null).await.expect(200);
    assert_eq!(admin.delete("/api/v1/alerts/rules/blocks").await.expect(200)["deleted"], true);
    admin.get("/api/v1/alerts/rules/blocks").await.expect(404);
    let audit = admin.get("/api/v1/audit?target=alert:").await.expect(200);
    let actions: Vec<&str> =
        audit["entries"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    for want in ["alert.create", "alert.update", "alert.disable", "alert.enable", "alert.delete"] {
        assert!(actions.contains(&want), "{want} audited: {actions:?}");
    }
    app.stop(10).await.unwrap();
}
on_both_backends!(alert_rules_crud_validation_and_read_only_config_rules, rules_crud);

/// A rule created through the API is evaluated by the running service from its next round.
async fn api_rule_fires(db: TestDb) {
    let app = TestApp::new(db, |c| c.alerts.evaluate_every_seconds = 5).serve().await;
    let admin = app.admin();
    let body = json!({"name": "unknown-users", "per": "recipient_domain",
        "criteria": [{"kind": "count", "window_minutes": 60, "at_least": 2, "status": "5.1.1"}]});
    admin.post("/api/v1/alerts/rules", &body).await.expect(201);
    ingest(&app, "a", many(2, "a", "5.1.1", "550 5.1.1 user unknown", "isp.example"));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let alerts = loop {
        let alerts = admin.get("/api/v1/alerts").await.expect(200);
        if alerts["active"].as_array().is_some_and(|a| !a.is_empty()) {
            break alerts;
        }
        assert!(tokio::time::Instant::now() < deadline, "never fired: {alerts}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let active = &alerts["active"][0];
    assert_eq!((active["rule"].as_str(), active["group_key"].as_str()), (Some("unknown-users"), Some("isp.example")));
    // Disabling ends the episode.
    admin.post("/api/v1/alerts/rules/unknown-users/disable", &Value::Null).await.expect(200);
    let alerts = admin.get("/api/v1/alerts").await.expect(200);
    assert_eq!(alerts["active"], json!([]), "{alerts}");
    let history = admin.get("/api/v1/alerts/history").await.expect(200);
    assert!(history["episodes"][0]["resolved_at"].is_string(), "{history}");
    app.stop(10).await.unwrap();
}
on_both_backends!(an_alert_rule_made_through_the_api_fires, api_rule_fires);
