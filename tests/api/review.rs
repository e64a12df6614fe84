//! `/api/v1/review`: the queue, one item and its raw message, reprocess (one, all) after
//! the parser learned more, discard (audited, raw bytes kept until retention), roles.

use crate::support::api::assert_error;
use crate::support::mail::bounce;
use crate::support::{TestDb, app::TestApp};
use rebound::ingest::Disposition;
use rebound::record::ledger;

const JUNK: &[u8] = b"Subject: lunch?\r\nFrom: a@example.org\r\n\r\nTacos at noon.\r\n";

fn queued(app: &TestApp, id: &str, raw: &[u8]) -> i64 {
    match app.ingest(&mut app.conn(), "file", id, raw) {
        Disposition::New { message, review: Some(_), .. } => message,
        d => panic!("{id} should be queued for review: {d:?}"),
    }
}

/// A valid bounce left in the queue by an older rebound whose parser could not read it:
/// today's parser can.
fn legacy_item(app: &TestApp, raw: &[u8]) -> i64 {
    crate::support::review::legacy_item(&mut app.conn(), raw)
}

async fn the_review_queue_over_http(db: TestDb) {
    let app = TestApp::new(db, |_| {}).serve().await;
    let junk = queued(&app, "junk.eml", JUNK);
    let (admin, viewer) = (app.admin(), app.viewer());

    let list = viewer.get("/api/v1/review").await.expect(200);
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(list["items"][0]["id"], junk);
    let item = viewer.get(&format!("/api/v1/review/{junk}")).await.expect(200);
    assert!(item["item"]["reason"].as_str().is_some_and(|r| !r.is_empty()), "why it is there: {item}");
    assert_eq!(item["item"]["state"], "review");
    assert_eq!(item["seen_at"][0], "file:junk.eml");
    assert_eq!(item["raw_available"], true);
    let raw = viewer.get(item["raw_url"].as_str().unwrap()).await;
    assert_eq!((raw.status, raw.content_type.as_str()), (200, "message/rfc822"));
    assert_eq!(raw.text.as_bytes(), JUNK);
    let disposition = reqwest::Client::new()
        .get(app.url(&format!("/api/v1/review/{junk}/raw")))
        .bearer_auth(viewer.token.as_deref().unwrap())
        .send()
        .await
        .unwrap();
    let cd = disposition.headers()["content-disposition"].to_str().unwrap().to_string();
    assert_eq!(cd, format!("attachment; filename=\"message-{junk}.eml\""));

    // Writes need an admin.
    for path in [
        format!("/api/v1/review/{junk}/reprocess"),
        "/api/v1/review/reprocess".into(),
        format!("/api/v1/review/{junk}/discard"),
    ] {
        let r = viewer.post(&path, &serde_json::json!({})).await;
        assert_eq!(r.status, 403, "{path}: {}", r.text);
        assert_error(&r.body, "forbidden");
        assert_eq!(app.api(None).post(&path, &serde_json::json!({})).await.status, 401);
    }

    // After a parser fix: the legacy item leaves the queue and its bounce is recorded.
    let legacy = legacy_item(&app, &bounce(1));
    let done = admin.post(&format!("/api/v1/review/{legacy}/reprocess"), &serde_json::json!({})).await.expect(200);
    assert_eq!(
        (done["state"].as_str(), done["events"].as_i64(), done["suppressed"].as_i64()),
        (Some("processed"), Some(1), Some(1)),
        "{done}"
    );
    assert!(done["reason"].is_null());
    let bounced = viewer.get("/api/v1/campaigns/c1/bounced").await.expect(200);
    assert_eq!(bounced["rows"][0]["email"], "gone1@example.org");
    let again = admin.post(&format!("/api/v1/review/{legacy}/reprocess"), &serde_json::json!({})).await;
    assert_eq!(again.status, 409, "no longer in the queue: {}", again.text);
    assert_error(&again.body, "conflict");
    let audit = viewer.get(&format!("/api/v1/audit?action=review.reprocess&target=review:{legacy}")).await.expect(200);
    assert_eq!(audit["entries"].as_array().unwrap().len(), 1, "{audit}");
    assert_eq!(audit["entries"][0]["after"]["state"], "processed");

    // All: junk stays (nothing to make of it), another legacy item leaves.
    let legacy2 = legacy_item(&app, &bounce(2));
    let all = admin.post("/api/v1/review/reprocess", &serde_json::json!({})).await.expect(200);
    assert_eq!(
        (all["reprocessed"].as_i64(), all["resolved"].as_i64(), all["events"].as_i64()),
        (Some(2), Some(1), Some(1)),
        "{all}"
    );
    assert_eq!(viewer.get(&format!("/api/v1/review/{legacy2}")).await.expect(200)["item"]["state"], "processed");

    // Discard: audited with its note; out of the queue, raw bytes kept.
    let gone = admin
        .post(&format!("/api/v1/review/{junk}/discard"), &serde_json::json!({"note": "lunch, not a bounce"}))
        .await
        .expect(200);
    assert_eq!(gone["state"], "discarded");
    assert!(viewer.get("/api/v1/review").await.expect(200)["items"].as_array().unwrap().is_empty());
    assert_eq!(viewer.get(&format!("/api/v1/review/{junk}/raw")).await.text.as_bytes(), JUNK);
    let audit = viewer.get("/api/v1/audit?action=review.discard").await.expect(200);
    let entry = &audit["entries"][0];
    assert_eq!(
        (entry["target"].as_str(), entry["note"].as_str()),
        (Some(format!("review:{junk}").as_str()), Some("lunch, not a bounce"))
    );
    assert!(entry["actor"].as_str().unwrap().starts_with("token:admin-"), "{entry}");
    assert_eq!(
        (entry["before"]["state"].as_str(), entry["after"]["state"].as_str()),
        (Some("review"), Some("discarded"))
    );
    let twice = admin.post(&format!("/api/v1/review/{junk}/discard"), &serde_json::json!({})).await;
    assert_eq!(twice.status, 409);
    let reprocess = admin.post(&format!("/api/v1/review/{junk}/reprocess"), &serde_json::json!({})).await;
    assert_eq!(reprocess.status, 409);
    // Discarded mail is purged like processed mail once its retention passes.
    let later = chrono::Utc::now().naive_utc() + chrono::Duration::days(400);
    assert!(ledger::purge_raw(&mut app.conn(), later).unwrap() >= 1);
    assert_eq!(viewer.get(&format!("/api/v1/review/{junk}/raw")).await.status, 404);

    assert_eq!(viewer.get("/api/v1/review/999999").await.status, 404);
    assert_eq!(admin.post("/api/v1/review/999999/discard", &serde_json::json!({})).await.status, 404);
    assert_eq!(viewer.get("/api/v1/review/x").await.status, 400);
    app.stop(10).await.unwrap();
}
on_both_backends!(review_queue, the_review_queue_over_http);

async fn review_pages(db: TestDb) {
    let app = TestApp::new(db, |_| {}).serve().await;
    let ids: Vec<i64> = (0..5)
        .map(|i| {
            queued(
                &app,
                &format!("j{i}"),
                format!("Subject: note {i}\r\nFrom: a@example.org\r\n\r\nhi {i}\r\n").as_bytes(),
            )
        })
        .collect();
    let api = app.viewer();
    let p1 = api.get("/api/v1/review?limit=2").await.expect(200);
    let next = p1["next"].as_str().unwrap().to_string();
    // Arriving between pages: it comes last (oldest first), after the existing ones.
    let late = queued(&app, "late", b"Subject: late\r\nFrom: a@example.org\r\n\r\nlate\r\n");
    let p2 = api.get(&format!("/api/v1/review?limit=10&after={next}")).await.expect(200);
    let seen: Vec<i64> = p1["items"]
        .as_array()
        .unwrap()
        .iter()
        .chain(p2["items"].as_array().unwrap())
        .map(|i| i["id"].as_i64().unwrap())
        .collect();
    assert_eq!(seen, [&ids[..], &[late]].concat());
    app.stop(10).await.unwrap();
}
on_both_backends!(review_list_pages, review_pages);
