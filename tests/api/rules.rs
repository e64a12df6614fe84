//! `/api/v1/rules`: the ordered list over HTTP on both backends — edits and their order,
//! validation, roles, testing a message, resync/reset, export/import, and a change reaching
//! the running pipeline.

use crate::support::api::{Api, assert_error};
use crate::support::mail::{bounce, dsn, original};
use crate::support::{TestDb, app::TestApp};
use rebound::record::views;
use rebound::store::Page;
use serde_json::{Value, json};

fn keys(list: &Value) -> Vec<String> {
    list["rules"].as_array().unwrap().iter().map(|r| r["key"].as_str().unwrap().to_string()).collect()
}

async fn order(api: &Api) -> Vec<String> {
    keys(&api.get("/api/v1/rules").await.expect(200))
}

fn custom(key: &str, outcome: &str, when: Value) -> Value {
    json!({"key": key, "name": format!("custom {key}"), "outcome": outcome, "when": when})
}

async fn audit_actions(api: &Api, target: &str) -> Vec<String> {
    let log = api.get(&format!("/api/v1/audit?target={target}")).await.expect(200);
    log["entries"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap().to_string()).collect()
}

async fn edit_move_and_order(db: TestDb) {
    let app = TestApp::new(db, |_| {}).serve().await;
    let admin = app.admin();
    let list = admin.get("/api/v1/rules").await.expect(200);
    let v0 = list["rules_version"].as_i64().unwrap();
    let n = list["count"].as_u64().unwrap() as usize;
    assert!(n > 100, "the library is listed: {n}");
    let first = list["rules"][0].clone();
    assert_eq!(first["position"], 1);
    assert!(first["hit_count"].is_number() && first["enabled"].is_boolean() && first["when"].is_array(), "{first}");
    assert_eq!(list["rules"][n - 1]["key"], "global", "the Global rule is last");
    let first_key = first["key"].as_str().unwrap().to_string();

    // Create at a position, with text conditions; and before a key, with object conditions.
    let made = admin
        .post(
            "/api/v1/rules",
            &json!({"key": "vip", "name": "VIP", "outcome": "ignore", "position": 1,
            "when": ["recipient_domain in vip.example, vip2.example"]}),
        )
        .await
        .expect(201);
    assert_eq!(made["rule"]["position"], 1);
    assert_eq!(made["rule"]["origin"], "custom");
    assert_eq!(made["rule"]["when"][0]["values"], json!(["vip.example", "vip2.example"]));
    assert!(made["rules_version"].as_i64().unwrap() > v0, "a write bumps the version");
    let spec = custom("quota", "soft", json!([{"field": "diagnostic", "op": "matches", "value": "quota\\s+exceeded"}]));
    let mut body = spec.clone();
    body["before"] = json!(first_key);
    admin.post("/api/v1/rules", &body).await.expect(201);
    assert_eq!(order(&admin).await[..3], ["vip".to_string(), "quota".into(), first_key.clone()]);
    admin.post("/api/v1/rules", &custom("tail", "hard", json!(["subject contains zz"]))).await.expect(201);
    let all = order(&admin).await;
    assert_eq!(all[all.len() - 2..], ["tail".to_string(), "global".into()], "default place: above Global");

    // Move to a position, and before a key.
    let moved = admin.post("/api/v1/rules/vip/move", &json!({"position": 3})).await.expect(200);
    assert_eq!(moved["rule"]["position"], 3);
    assert_eq!(order(&admin).await[..3], ["quota".to_string(), first_key.clone(), "vip".into()]);
    admin.post("/api/v1/rules/tail/move", &json!({"before": "quota"})).await.expect(200);
    assert_eq!(order(&admin).await[..4], ["tail".to_string(), "quota".into(), first_key.clone(), "vip".into()]);
    let got = admin.get("/api/v1/rules/vip").await.expect(200);
    assert_eq!((got["key"].as_str(), got["position"].as_u64()), (Some("vip"), Some(4)));
    let list = admin.get("/api/v1/rules").await.expect(200);
    let positions: Vec<u64> =
        list["rules"].as_array().unwrap().iter().map(|r| r["position"].as_u64().unwrap()).collect();
    assert_eq!(positions, (1..=positions.len() as u64).collect::<Vec<_>>(), "positions stay dense");

    // Update: what GET gave, changed, goes back with PUT (read-only fields ignored).
    let mut edited = admin.get("/api/v1/rules/quota").await.expect(200);
    edited["outcome"] = json!("hard");
    edited["reason"] = json!("mailboxfull");
    let put = admin.put("/api/v1/rules/quota", &edited).await.expect(200);
    assert_eq!((put["rule"]["outcome"].as_str(), put["rule"]["position"].as_u64()), (Some("hard"), Some(2)));
    let renamed = admin
        .put(
            "/api/v1/rules/quota",
            &json!({"key": "other", "name": "n", "outcome": "soft",
        "when": ["subject contains x"]}),
        )
        .await;
    assert_eq!(renamed.status, 422, "{}", renamed.text);
    assert_eq!(renamed.body["error"]["problems"][0]["field"], "key");

    // Disable and enable; the Global rule refuses both disable and delete.
    let off = admin.post("/api/v1/rules/vip/disable", &json!({})).await.expect(200);
    assert_eq!(off["rule"]["enabled"], false);
    admin.post("/api/v1/rules/vip/enable", &json!({})).await.expect(200);
    assert_error(&admin.post("/api/v1/rules/global/disable", &json!({})).await.body, "conflict");
    assert_error(&admin.delete("/api/v1/rules/global").await.body, "conflict");

    // Delete; a missing rule is a 404 naming it.
    let gone = admin.delete("/api/v1/rules/tail").await.expect(200);
    assert_eq!(gone["rule"]["key"], "tail");
    let missing = admin.get("/api/v1/rules/tail").await;
    assert_eq!(missing.status, 404);
    assert!(missing.text.contains("tail"), "{}", missing.text);
    assert_eq!(order(&admin).await[0], "quota");

    // Every write is audited with its states.
    let actions = audit_actions(&admin, "rule:vip").await;
    for want in ["rule.create", "rule.move", "rule.disable", "rule.enable"] {
        assert!(actions.iter().any(|a| a == want), "{want} in {actions:?}");
    }
    let log = admin.get("/api/v1/audit?target=rule:quota&action=rule.update").await.expect(200);
    let entry = &log["entries"][0];
    assert_eq!((entry["before"]["outcome"].as_str(), entry["after"]["outcome"].as_str()), (Some("soft"), Some("hard")));
    assert!(entry["actor"].as_str().unwrap().starts_with("token:admin-"), "{entry}");
    let log = admin.get("/api/v1/audit?target=rule:vip&action=rule.move").await.expect(200);
    assert_eq!(
        (log["entries"][0]["before"]["position"].as_u64(), log["entries"][0]["after"]["position"].as_u64()),
        (Some(1), Some(3))
    );
    assert_eq!(audit_actions(&admin, "rule:tail").await[0], "rule.delete");
    app.stop(10).await.unwrap();
}
on_both_backends!(edit_and_move, edit_move_and_order);

async fn every_mistake_at_once(db: TestDb) {
    let app = TestApp::new(db, |_| {}).serve().await;
    let admin = app.admin();
    let v0 = admin.get("/api/v1/rules").await.expect(200)["rules_version"].clone();
    let bad = admin
        .post(
            "/api/v1/rules",
            &json!({"key": "Bad Key!", "outcome": "harsh", "reason": "deadish",
            "when": [{"field": "diagnostic", "op": "matches", "value": "over (quota"},
                     {"field": "diagnostic", "op": "like", "value": "5.1.*"},
                     "status like 5.x.1", "bodyy contains x"]}),
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.text);
    assert_error(&bad.body, "invalid");
    let problems = bad.body["error"]["problems"].as_array().unwrap();
    let field = |f: &str| problems.iter().find(|p| p["field"] == f).map(|p| p["message"].as_str().unwrap().to_string());
    for f in ["key", "name", "outcome", "reason", "when[0].value", "when[1].op", "when[2].value", "when[3]"] {
        assert!(field(f).is_some(), "{f} among {problems:?}");
    }
    assert!(field("when[0].value").unwrap().contains("over (quota"), "the regex is named");
    assert!(field("when[3]").unwrap().contains("unknown field"), "{problems:?}");
    // Other refusals, each naming its field or rule.
    let both = admin
        .post(
            "/api/v1/rules",
            &json!({"key": "x1", "name": "x", "outcome": "soft",
        "when": ["subject contains a"], "position": 1, "before": "global"}),
        )
        .await;
    assert_eq!(both.status, 422);
    let far = admin
        .post(
            "/api/v1/rules",
            &json!({"key": "x2", "name": "x", "outcome": "soft",
        "when": ["subject contains a"], "position": 100000}),
        )
        .await;
    assert_eq!((far.status, far.body["error"]["problems"][0]["field"].as_str()), (422, Some("position")));
    let nowhere = admin
        .post(
            "/api/v1/rules",
            &json!({"key": "x3", "name": "x", "outcome": "soft",
        "when": ["subject contains a"], "before": "no-such-rule"}),
        )
        .await;
    assert_eq!((nowhere.status, nowhere.body["error"]["problems"][0]["field"].as_str()), (422, Some("before")));
    let reserved = admin.post("/api/v1/rules", &custom("export", "soft", json!(["subject contains a"]))).await;
    assert_eq!((reserved.status, reserved.body["error"]["problems"][0]["field"].as_str()), (422, Some("key")));
    let global = admin.post("/api/v1/rules", &json!({"key": "global", "name": "g", "outcome": "soft"})).await;
    assert_eq!(global.status, 409, "{}", global.text);
    admin.post("/api/v1/rules", &custom("dup", "soft", json!(["subject contains a"]))).await.expect(201);
    assert_eq!(admin.post("/api/v1/rules", &custom("dup", "soft", json!(["subject contains a"]))).await.status, 409);
    let unmoved = admin.post("/api/v1/rules/dup/move", &json!({})).await;
    assert_eq!(unmoved.status, 422, "{}", unmoved.text);
    let after = admin.get("/api/v1/rules").await.expect(200)["rules_version"].clone();
    assert_eq!(after.as_i64().unwrap(), v0.as_i64().unwrap() + 1, "only the one good create changed the list");
    app.stop(10).await.unwrap();
}
on_both_backends!(validation, every_mistake_at_once);

async fn viewers_read_and_test_admins_write(db: TestDb) {
    let app = TestApp::new(db, |_| {}).serve().await;
    let (viewer, nobody) = (app.viewer(), app.api(None));
    assert_error(&nobody.get("/api/v1/rules").await.body, "unauthorized");
    assert_eq!(nobody.post("/api/v1/rules/test", &json!({"message": "x"})).await.status, 401);
    viewer.get("/api/v1/rules").await.expect(200);
    viewer.get("/api/v1/rules/global").await.expect(200);
    viewer.get("/api/v1/rules/export").await.expect(200);
    let raw = String::from_utf8(bounce(1)).unwrap();
    viewer.post("/api/v1/rules/test", &json!({"message": raw})).await.expect(200);
    let rule = custom("v", "soft", json!(["subject contains a"]));
    for reply in [
        viewer.post("/api/v1/rules", &rule).await,
        viewer.put("/api/v1/rules/global", &json!({"name": "g", "outcome": "soft"})).await,
        viewer.delete("/api/v1/rules/global").await,
        viewer.post("/api/v1/rules/global/disable", &json!({})).await,
        viewer.post("/api/v1/rules/resync", &json!({})).await,
        viewer.post("/api/v1/rules/reset", &json!({"confirm": "reset"})).await,
        viewer.post("/api/v1/rules/import", &json!({"rules": [rule.clone()]})).await,
    ] {
        assert_eq!(reply.status, 403, "{}", reply.text);
        assert_error(&reply.body, "forbidden");
    }
    app.stop(10).await.unwrap();
}
on_both_backends!(roles, viewers_read_and_test_admins_write);

async fn test_a_real_dsn(db: TestDb) {
    let app = TestApp::new(db, |_| {}).serve().await;
    let admin = app.admin();
    let raw = dsn(
        "bounces@sender.example",
        "gone@example.org",
        "5.1.1",
        "550 5.1.1 <gone@example.org>: Recipient address rejected: User unknown",
        &original(Some("c1"), "m1@sender.example"),
        "Tue, 10 Nov 2026 10:00:00 +0000",
    );
    let as_json = admin
        .post("/api/v1/rules/test", &json!({"message": String::from_utf8(raw.clone()).unwrap()}))
        .await
        .expect(200);
    let resp = admin
        .http
        .post(format!("{}/api/v1/rules/test", admin.base))
        .bearer_auth(admin.token.as_ref().unwrap())
        .header("content-type", "message/rfc822")
        .body(raw.clone())
        .send()
        .await
        .unwrap();
    let as_raw = crate::support::api::Reply::read(resp).await.expect(200);
    assert_eq!(as_json, as_raw, "both ways of sending give one answer");
    let x = as_json;
    assert_eq!((x["kind"].as_str(), x["campaign"].as_str()), (Some("bounce"), Some("c1")), "{x}");
    let rec = &x["records"][0];
    let f = &rec["fields"];
    assert_eq!(f["recipient"], "gone@example.org");
    assert_eq!(f["status"], "5.1.1");
    assert_eq!(f["reply_code"], 550);
    assert_eq!(f["reason"], "userunknown");
    assert_eq!(f["remote_mta"], "in.example.org");
    assert!(f["diagnostic"].as_str().unwrap().contains("User unknown") && f["dialect"].is_string(), "{f}");
    let matches = rec["matches"].as_array().unwrap();
    assert!(matches.len() >= 2, "several rules match: {matches:?}");
    assert_eq!(matches.last().unwrap()["key"], "global", "the Global rule matches everything, last");
    let deciding: Vec<&Value> = matches.iter().filter(|m| m["decides"] == true).collect();
    assert_eq!(deciding.len(), 1);
    let d = &rec["decision"];
    assert_eq!(d["rule"], deciding[0]["key"]);
    assert_eq!(
        (d["outcome"].as_str(), d["effect"]["permanent"].as_bool(), d["effect"]["suppresses"].as_bool()),
        (Some("hard"), Some(true), Some(true))
    );
    let positions: Vec<u64> = matches.iter().map(|m| m["position"].as_u64().unwrap()).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "in order: {positions:?}");
    assert!(
        deciding[0]["why"].as_array().unwrap().iter().all(|w| w["condition"].is_string() && w["value"].is_string())
    );

    // A custom rule above it, then disabled: listed, not deciding.
    admin
        .post(
            "/api/v1/rules",
            &json!({"key": "lenient", "name": "lenient", "outcome": "soft", "position": 1,
        "when": ["diagnostic contains \"recipient address rejected\""]}),
        )
        .await
        .expect(201);
    let x = admin
        .post("/api/v1/rules/test", &json!({"message": String::from_utf8(raw.clone()).unwrap()}))
        .await
        .expect(200);
    let rec = &x["records"][0];
    assert_eq!(
        (rec["matches"][0]["key"].as_str(), rec["matches"][0]["decides"].as_bool()),
        (Some("lenient"), Some(true))
    );
    assert_eq!(rec["matches"][0]["why"][0]["value"], f["diagnostic"]);
    assert_eq!(rec["decision"]["outcome"], "soft");
    assert!(rec["decision"]["effect"]["description"].as_str().unwrap().contains("soft threshold"), "{rec}");
    admin.post("/api/v1/rules/lenient/disable", &json!({})).await.expect(200);
    let x = admin.post("/api/v1/rules/test", &json!({"message": String::from_utf8(raw).unwrap()})).await.expect(200);
    let rec = &x["records"][0];
    assert_eq!(
        (rec["matches"][0]["enabled"].as_bool(), rec["matches"][0]["decides"].as_bool()),
        (Some(false), Some(false))
    );
    assert_eq!(rec["decision"]["outcome"], "hard");
    // Nothing was written by testing.
    assert_eq!(app.count("events").await, 0);
    assert_eq!(admin.post("/api/v1/rules/test", &json!({"msg": "x"})).await.status, 422);
    assert_eq!(admin.post("/api/v1/rules/test", &json!({"message": ""})).await.status, 422);
    app.stop(10).await.unwrap();
}
on_both_backends!(test_message, test_a_real_dsn);

async fn resync_and_a_confirmed_reset(db: TestDb) {
    use diesel::prelude::*;
    use rebound::store::schema::rules;
    let app = TestApp::new(db, |_| {}).serve().await;
    let admin = app.admin();
    let fresh = admin.post("/api/v1/rules/resync", &json!({})).await.expect(200);
    let n = admin.get("/api/v1/rules").await.expect(200)["count"].as_u64().unwrap();
    assert_eq!(fresh["summary"]["unchanged"].as_u64(), Some(n), "{fresh}");
    // The user disables a default rule the library then changes: a conflict, with both versions.
    admin.post("/api/v1/rules/phrase-spam/disable", &json!({})).await.expect(200);
    diesel::update(rules::table.find("phrase-spam"))
        .set(rules::shipped_hash.eq(Some("old")))
        .execute(&mut app.conn())
        .unwrap();
    let s = admin.post("/api/v1/rules/resync", &json!({})).await.expect(200);
    assert_eq!(s["summary"]["conflicts"], json!(["phrase-spam"]));
    let c = &s["summary"]["conflict_detail"][0];
    assert_eq!((c["yours"]["enabled"].as_bool(), c["shipped"]["enabled"].as_bool()), (Some(false), Some(true)));
    // A shipped rule missing from the list (an older library) comes back, audited.
    diesel::delete(rules::table.find("status-5.7.30")).execute(&mut app.conn()).unwrap();
    let s = admin.post("/api/v1/rules/resync", &json!({})).await.expect(200);
    assert_eq!(s["summary"]["added"], json!(["status-5.7.30"]));

    admin.post("/api/v1/rules", &custom("mine", "hard", json!(["subject contains x"]))).await.expect(201);
    for body in [json!({}), json!({"confirm": "yes"}), json!({"confirm": true})] {
        let refused = admin.post("/api/v1/rules/reset", &body).await;
        assert_eq!(refused.status, 422, "{}", refused.text);
        assert_eq!(refused.body["error"]["problems"][0]["field"], "confirm");
        assert!(refused.text.contains(r#"{\"confirm\": \"reset\"}"#), "says what to send: {}", refused.text);
    }
    let bare = admin.call(reqwest::Method::POST, "/api/v1/rules/reset", None).await;
    assert_eq!(bare.status, 422, "{}", bare.text);
    assert!(order(&admin).await.contains(&"mine".to_string()), "nothing reset yet");
    let done = admin.post("/api/v1/rules/reset", &json!({"confirm": "reset"})).await.expect(200);
    assert_eq!(done["summary"]["removed_custom"], 1);
    assert!(!order(&admin).await.contains(&"mine".to_string()));
    assert_eq!(admin.get("/api/v1/rules/phrase-spam").await.expect(200)["enabled"], true);
    let log = admin.get("/api/v1/audit?action=rules.reset").await.expect(200);
    let before = log["entries"][0]["before"]["rules"].as_array().unwrap();
    assert!(
        before.iter().any(|r| r["rule"] == "mine"),
        "the audit log keeps what reset removed: {}",
        log["entries"][0]
    );
    // A resync that only finds conflicts changes nothing and logs nothing.
    assert_eq!(audit_actions(&admin, "rules").await, ["rules.reset".to_string(), "rules.resync".into()]);
    app.stop(10).await.unwrap();
}
on_both_backends!(resync_reset, resync_and_a_confirmed_reset);

async fn export_then_import_round_trips(db: TestDb) {
    let app = TestApp::new(db, |_| {}).serve().await;
    let admin = app.admin();
    admin
        .post(
            "/api/v1/rules",
            &json!({"key": "mine", "name": "mine", "outcome": "hard", "position": 2,
        "when": ["subject contains x", "status like 5.*.*"], "reason": "userunknown"}),
        )
        .await
        .expect(201);
    admin.post("/api/v1/rules/phrase-spam/disable", &json!({})).await.expect(200);
    let doc = admin.get("/api/v1/rules/export").await.expect(200);
    let listed = |v: &Value| {
        v["rules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["key"].clone(),
                    r["enabled"].clone(),
                    r["outcome"].clone(),
                    r["when"].clone(),
                    r["reason"].clone(),
                    r["origin"].clone(),
                )
            })
            .collect::<Vec<_>>()
    };
    let exported = listed(&doc);

    // Reset, then import the JSON export with replace: the very same list.
    admin.post("/api/v1/rules/reset", &json!({"confirm": "reset"})).await.expect(200);
    let imported = admin.post("/api/v1/rules/import?mode=replace", &doc).await.expect(200);
    assert_eq!(imported["summary"]["added"], json!(["mine"]), "{imported}");
    assert_eq!(listed(&admin.get("/api/v1/rules").await.expect(200)), exported);
    assert_eq!(admin.get("/api/v1/rules/mine").await.expect(200)["origin"], "custom");
    assert_eq!(admin.get("/api/v1/rules/phrase-spam").await.expect(200)["edited"], true);

    // TOML the same way (the CLI's format), merged: nothing changes.
    let toml = admin.get("/api/v1/rules/export?format=toml").await;
    assert!(
        toml.content_type.starts_with("application/toml") && toml.text.contains("[[rule]]"),
        "{}",
        toml.content_type
    );
    let resp = admin
        .http
        .post(format!("{}/api/v1/rules/import", admin.base))
        .bearer_auth(admin.token.as_ref().unwrap())
        .header("content-type", "application/toml")
        .body(toml.text.clone())
        .send()
        .await
        .unwrap();
    let merged = crate::support::api::Reply::read(resp).await.expect(200);
    assert_eq!(merged["summary"]["mode"], "merge");
    assert_eq!(listed(&admin.get("/api/v1/rules").await.expect(200)), exported);

    // Replace with a shorter list removes the rest but keeps Global last.
    let short = json!({"version": 1, "rules": [custom("only", "soft", json!(["subject contains y"]))]});
    let s = admin.post("/api/v1/rules/import?mode=replace", &short).await.expect(200);
    assert!(s["summary"]["removed"].as_array().unwrap().len() > 100);
    assert_eq!(order(&admin).await, ["only".to_string(), "global".into()]);

    // A bad document: every problem by its place, nothing written.
    let v = admin.get("/api/v1/rules").await.expect(200)["rules_version"].clone();
    let bad = json!({"rules": [
        custom("a", "soft", json!(["subject contains y"])),
        custom("a", "sideways", json!([{"field": "diagnostic", "op": "matches", "value": "(("}])),
        {"key": "global", "name": "g", "outcome": "soft"},
        custom("b", "soft", json!(["status like 9"]))
    ]});
    let refused = admin.post("/api/v1/rules/import?mode=replace", &bad).await;
    assert_eq!(refused.status, 422, "{}", refused.text);
    let fields: Vec<&str> =
        refused.body["error"]["problems"].as_array().unwrap().iter().map(|p| p["field"].as_str().unwrap()).collect();
    for want in ["rules[1].key", "rules[1].outcome", "rules[1].when[0].value", "rules[2].key", "rules[3].when[0].value"]
    {
        assert!(fields.contains(&want), "{want} in {fields:?}");
    }
    assert_eq!(admin.get("/api/v1/rules").await.expect(200)["rules_version"], v, "nothing imported");
    assert_eq!(admin.post("/api/v1/rules/import?mode=sideways", &short).await.status, 422);
    app.stop(10).await.unwrap();
}
on_both_backends!(export_import, export_then_import_round_trips);

async fn an_api_change_reaches_the_running_pipeline(db: TestDb) {
    let app = TestApp::new(db, |_| {}).serve().await;
    let admin = app.admin();
    let rows =
        |app: &TestApp| views::bounced(&mut app.conn(), "c1", &Default::default(), &Page::first(50), &[]).unwrap().rows;
    app.ingest(&mut app.conn(), "ops", "1", &bounce(1));
    assert_eq!(rows(&app)[0].classification, "hard");
    // The served pipeline has built its engine (a test runs it), at the current version.
    let raw = String::from_utf8(bounce(2)).unwrap();
    let before = admin.post("/api/v1/rules/test", &json!({"message": raw})).await.expect(200);
    assert_eq!(before["records"][0]["decision"]["outcome"], "hard");

    let change = admin
        .post(
            "/api/v1/rules",
            &json!({"key": "maybe-later", "name": "Treat 'User unknown' as soft",
        "outcome": "soft", "position": 1, "when": ["diagnostic contains \"user unknown\""]}),
        )
        .await
        .expect(201);
    let version = change["rules_version"].as_i64().unwrap();
    // The next bounce ingested is classified by the new rule, with no restart.
    app.ingest(&mut app.conn(), "ops", "2", &bounce(2));
    let now = rows(&app);
    let second = now.iter().find(|r| r.email == "gone2@example.org").expect("the second bounce");
    assert_eq!((second.classification.as_str(), second.rule.as_deref()), ("soft", Some("maybe-later")));
    // And the running server's own engine moved to the new version on its next use.
    let after = admin.post("/api/v1/rules/test", &json!({"message": raw})).await.expect(200);
    assert_eq!(
        (after["records"][0]["decision"]["rule"].as_str(), after["rules_version"].as_i64()),
        (Some("maybe-later"), Some(version))
    );
    let list = admin.get("/api/v1/rules").await.expect(200);
    assert_eq!(list["loaded_version"].as_i64(), Some(version), "{}", list["loaded_version"]);
    assert!(list["rules"][0]["hit_count"].as_i64().unwrap() >= 1, "the hit is counted");
    app.stop(10).await.unwrap();
}
on_both_backends!(change_reaches_pipeline, an_api_change_reaches_the_running_pipeline);
