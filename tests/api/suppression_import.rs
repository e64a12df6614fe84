//! `POST /api/v1/suppression/import`: a gateway's CSV export with extra columns, invalid
//! lines, repeats and allowlisted addresses; present entries keep their evidence; a rerun
//! adds nothing; a dry run writes nothing; the additions reach the change feed.

use crate::support::api::{Reply, assert_error};
use crate::support::{TestDb, app::TestApp};
use serde_json::json;

async fn upload(app: &TestApp, token: &str, query: &str, body: &str) -> Reply {
    let r = reqwest::Client::new()
        .post(app.url(&format!("/api/v1/suppression/import{query}")))
        .bearer_auth(token)
        .header("content-type", "text/csv")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    Reply::read(r).await
}

const EXPORT: &str = "\u{feff}Email Address,First Name,SuppressionReason,CreatedAt\n\
    jane@example.org,Jane,HardBounce,2025-03-01T10:00:00Z\n\
    BOB@Example.org,Bob,SpamComplaint,2025-03-02 11:00:00\n\
    not an address,X,HardBounce,2025-03-03\n\
    vip@partner.example,V,HardBounce,\n\
    jane@example.org,Jane again,HardBounce,\n\
    kept@example.org,K,HardBounce,yesterday\n\
    ,,,\n";

async fn a_gateway_export_is_imported_once(db: TestDb) {
    let app = TestApp::new(db, |_| {}).serve().await;
    let admin = app.admin();
    let token = admin.token.clone().unwrap();
    admin.post("/api/v1/allowlist", &json!({"entry": "partner.example"})).await.expect(201);
    admin.post("/api/v1/suppression", &json!({"address": "kept@example.org", "note": "by hand"})).await.expect(201);
    let head = admin.get("/api/v1/suppression/changes?after=0&limit=1000").await.expect(200)["head"].as_i64().unwrap();

    let dry = upload(&app, &token, "?dry_run=true", EXPORT).await;
    assert_eq!(dry.status, 200, "{}", dry.text);
    assert_eq!(dry.body["added"], 2, "{}", dry.text);
    assert_eq!(app.count("suppressions").await, 1, "a dry run writes nothing");

    let r = upload(&app, &token, "?name=postmark.csv", EXPORT).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let b = &r.body;
    assert_eq!((b["rows"].as_i64(), b["added"].as_i64()), (Some(6), Some(2)), "{b}");
    assert_eq!(b["already_present"], 1, "{b}");
    assert_eq!(b["duplicates"], 1, "{b}");
    assert_eq!(b["allowlisted"], 1, "{b}");
    assert_eq!(b["allowlisted_addresses"], json!(["vip@partner.example"]), "{b}");
    assert_eq!(b["invalid"], 1, "{b}");
    assert_eq!(b["invalid_rows"][0]["line"], 4, "{b}");
    assert_eq!(b["dates_unread"], 1, "{b}");

    let jane = admin.get("/api/v1/suppression/jane@example.org").await.expect(200);
    let e = &jane["entries"][0];
    assert_eq!((e["source"].as_str(), e["reason"].as_str()), (Some("import"), Some("HardBounce")), "{jane}");
    assert!(e["created_at"].as_str().unwrap().starts_with("2025-03-01T10:00:00"), "the file's date is kept: {jane}");
    let kept = admin.get("/api/v1/suppression/kept@example.org").await.expect(200);
    assert_eq!(kept["entries"][0]["source"], "manual", "present entries keep their evidence: {kept}");
    assert_eq!(kept["entries"][0]["note"], "by hand");

    let feed = admin.get(&format!("/api/v1/suppression/changes?after={head}&limit=1000")).await.expect(200);
    let mut added: Vec<&str> =
        feed["changes"].as_array().unwrap().iter().map(|c| c["address"].as_str().unwrap()).collect();
    added.sort();
    assert_eq!(added, ["bob@example.org", "jane@example.org"], "every addition reaches the nodes' feed");
    let audit = admin.get("/api/v1/audit?action=import").await.expect(200);
    assert!(audit.to_string().contains("postmark.csv"), "{audit}");

    let again = upload(&app, &token, "", EXPORT).await;
    assert_eq!(
        (again.body["added"].as_i64(), again.body["already_present"].as_i64()),
        (Some(0), Some(3)),
        "{}",
        again.text
    );
    assert_eq!(app.count("suppressions").await, 3);
    app.stop(10).await.unwrap();
}
on_both_backends!(gateway_export, a_gateway_export_is_imported_once);

async fn bad_uploads_are_refused_with_the_fix(db: TestDb) {
    let app = TestApp::new(db, |c| c.server.max_import_bytes = 2048).serve().await;
    let admin = app.admin();
    let token = admin.token.clone().unwrap();
    let r = upload(&app, &token, "?format=csv", "who,when\njane@example.org,now\n").await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_error(&r.body, "invalid");
    assert!(r.text.contains("who, when") && r.text.contains("column"), "{}", r.text);
    let named = upload(&app, &token, "?format=csv&column=who", "who,when\njane@example.org,now\n").await;
    assert_eq!(named.body["added"], 1, "{}", named.text);

    let big: String = (0..500).map(|i| format!("user{i}@example.org\n")).collect();
    let r = upload(&app, &token, "", &big).await;
    assert_eq!(r.status, 413, "{}", r.text);
    assert!(r.text.contains("max_import_bytes"), "{}", r.text);
    let r = upload(&app, &token, "?source=hard_bounce", "a@example.org\n").await;
    assert_eq!(r.status, 422, "{}", r.text);
    let viewer = app.viewer();
    let r = upload(&app, viewer.token.as_ref().unwrap(), "", "a@example.org\n").await;
    assert_eq!(r.status, 403, "{}", r.text);
    assert_eq!(app.count("suppressions").await, 1);
    app.stop(10).await.unwrap();
}
on_both_backends!(bad_uploads, bad_uploads_are_refused_with_the_fix);

/// More than one batch, with half of the second batch repeating the first (on PostgreSQL the
/// two are written at once, on two connections), a lapsed entry that the import renews and an
/// entry in force that it keeps; then the rerun.
async fn batches_in_flight_with_repeats_and_lapsed_entries(db: TestDb) {
    use rebound::suppress::import::{self, BATCH, Format, Options};
    use rebound::suppress::{Allowlist, Suppression, list, manual::Actor};
    let store = rebound::store::Db::connect(&db.config()).unwrap();
    let now = chrono::Utc::now().naive_utc();
    let entry = |address: &str, source: &str, expires| Suppression {
        address: address.into(),
        scope: "global".into(),
        source: source.into(),
        event_id: None,
        reason: None,
        note: Some("before the import".into()),
        created_at: now - chrono::Duration::days(30),
        expires_at: expires,
    };
    let mut c = store.conn().unwrap();
    list::add(&mut c, &entry("lapsed@example.org", "soft_threshold", Some(now - chrono::Duration::days(1))), None)
        .unwrap();
    list::add(&mut c, &entry("kept@example.org", "manual", None), None).unwrap();
    let head = list_changes(&mut c);

    let half = BATCH / 2;
    let mut file = String::new();
    for i in (0..BATCH).chain(half..BATCH + half) {
        file.push_str(&format!("u{i}@example.org\n"));
    }
    file.push_str("lapsed@example.org\nkept@example.org\n");
    let opts = Options { format: Format::Plain, label: "two-batches.txt".into(), ..Options::default() };
    let run = |c: &rebound::store::Db| {
        import::run(c, &Actor::system("test"), file.as_bytes(), &opts, &Allowlist::default(), now, &mut |_| {}).unwrap()
    };
    let r = run(&store);
    let unique = (BATCH + half) as u64;
    assert_eq!(r.rows, unique + half as u64 + 2);
    assert_eq!(r.added, unique + 1, "every new address once, and the lapsed one renewed: {r:?}");
    assert_eq!(r.already_present, half as u64 + 1, "repeats of an earlier batch and the entry in force: {r:?}");
    assert_eq!(r.duplicates, 0, "{r:?}");
    assert_eq!(list_changes(&mut c) - head, r.added as i64, "one change per addition, none for a repeat");
    let renewed = list::get(&mut c, "lapsed@example.org", "global").unwrap().unwrap();
    assert_eq!((renewed.source.as_str(), renewed.expires_at), ("import", None), "{renewed:?}");
    let kept = list::get(&mut c, "kept@example.org", "global").unwrap().unwrap();
    assert_eq!(kept.note.as_deref(), Some("before the import"), "an entry in force keeps its evidence");

    let again = run(&store);
    assert_eq!((again.added, again.already_present), (0, unique + half as u64 + 2), "{again:?}");
    assert_eq!(list_changes(&mut c) - head, r.added as i64, "a rerun logs nothing");
}
on_both_backends!(batches_in_flight, batches_in_flight_with_repeats_and_lapsed_entries);

fn list_changes(c: &mut rebound::store::AnyConnection) -> i64 {
    rebound::suppress::changes::since(c, 0, i64::MAX).unwrap().len() as i64
}
