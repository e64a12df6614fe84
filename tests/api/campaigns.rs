//! `/api/v1/campaigns` and `/api/v1/addresses`: views over events made by ingesting real
//! bounces and complaints, their filters, keyset pages while events arrive, and CSV.

use crate::support::api::{Api, assert_error};
use crate::support::mail::{arf, dsn, original};
use crate::support::{TestDb, app::TestApp};
use serde_json::Value;

/// A bounce of campaign `campaign` for `rcpt` at `arrival`; a 4.x.x status is a temporary
/// failure the MTA gave up on (Action: failed), so it is in the BOUNCED view.
fn bounce_of(campaign: &str, rcpt: &str, status: &str, diag: &str, arrival: &str) -> Vec<u8> {
    let headers = original(Some(campaign), &format!("{rcpt}-{status}-{arrival}@sender.example"));
    let raw = dsn("bounces@sender.example", rcpt, status, diag, &headers, arrival);
    String::from_utf8(raw).unwrap().replace("Action: delayed", "Action: failed").into_bytes()
}

fn ingest(app: &TestApp, id: &str, raw: &[u8]) {
    let d = app.ingest(&mut app.conn(), "file", id, raw);
    assert!(format!("{d:?}").contains("review: None"), "{id} ingested with its records: {d:?}");
}

const DAY1: &str = "Tue, 10 Nov 2026 10:00:00 +0000";
const DAY2: &str = "Wed, 11 Nov 2026 09:00:00 +0000";

/// Campaign `c1`: 3 user-unknown (example.org, day 1), 2 temporary failures (other.example,
/// day 2), 1 complaint; campaign `c2`: 1 bounce.
fn seed(app: &TestApp) {
    for i in 0..3 {
        let raw = bounce_of("c1", &format!("gone{i}@example.org"), "5.1.1", "550 5.1.1 User unknown", DAY1);
        ingest(app, &format!("u{i}"), &raw);
    }
    for i in 0..2 {
        let raw = bounce_of("c1", &format!("busy{i}@other.example"), "4.4.1", "421 4.4.1 Connection timed out", DAY2);
        ingest(app, &format!("t{i}"), &raw);
    }
    ingest(app, "arf", &arf("angry@example.org", "abuse", &original(Some("c1"), "fbl1@sender.example")));
    ingest(app, "c2", &bounce_of("c2", "x@example.org", "5.1.1", "550 5.1.1 User unknown", DAY1));
}

async fn rows(api: &Api, path: &str) -> Vec<Value> {
    api.get(path).await.expect(200)["rows"].as_array().unwrap().clone()
}

async fn campaigns_summaries_and_views(db: TestDb) {
    let app = TestApp::new(db, |_| {}).serve().await;
    seed(&app);
    let api = app.viewer();

    let list = api.get("/api/v1/campaigns").await.expect(200);
    let c1 = list["campaigns"].as_array().unwrap().iter().find(|c| c["id"] == "c1").expect("c1 listed").clone();
    assert_eq!((c1["failed_permanent"].as_i64(), c1["failed_temporary"].as_i64()), (Some(3), Some(2)), "{c1}");
    assert_eq!(c1["complaints"], 1);
    assert!(c1["bounce_rate"].is_null(), "no sent map, no rate: {c1}");

    // A sent map of 100 messages for c1 and 10 for c2, imported twice (the second adds
    // nothing): rates are over the messages sent, in the list and the summary alike.
    let dir = tempfile::tempdir().unwrap();
    let map = dir.path().join("sent.csv");
    let mut csv = String::from("message_id,campaign_id\n");
    for i in 0..110 {
        csv += &format!("<m{i}@sender.example>,{}\n", if i < 100 { "c1" } else { "c2" });
    }
    std::fs::write(&map, csv).unwrap();
    for added in [110, 0] {
        let done = rebound::record::sent::import(&mut app.conn(), &map).unwrap();
        assert_eq!(done.added, added);
    }
    let list = api.get("/api/v1/campaigns").await.expect(200);
    let sent_of =
        |id: &str| list["campaigns"].as_array().unwrap().iter().find(|c| c["id"] == id).unwrap()["sent"].clone();
    assert_eq!((sent_of("c1"), sent_of("c2")), (Value::from(100), Value::from(10)), "{list}");
    let one = api.get("/api/v1/campaigns/c1").await.expect(200);
    assert_eq!(one["campaign"]["sent"], 100, "{one}");
    assert_eq!(one["campaign"]["bounce_rate"].as_f64(), Some(0.05), "5 failed of 100 sent: {one}");

    let report = api.get("/api/v1/campaigns/c1").await.expect(200);
    let days = report["days"].as_array().unwrap();
    assert_eq!(days.len(), 2, "two days of events: {report}");
    assert_eq!((days[0]["date"].as_str(), days[0]["failed_permanent"].as_i64()), (Some("2026-11-10"), Some(3)));
    assert_eq!((days[1]["date"].as_str(), days[1]["failed_temporary"].as_i64()), (Some("2026-11-11"), Some(2)));
    let groups = report["bounce_groups"].as_array().unwrap();
    assert_eq!(groups[0]["status"], "5.1.1", "{report}");
    assert_eq!((groups[0]["domain"].as_str(), groups[0]["count"].as_i64()), (Some("example.org"), Some(3)));
    assert_eq!(groups[0]["remote_mta"], "in.example.org");
    assert_eq!((groups[1]["domain"].as_str(), groups[1]["permanent"].as_i64()), (Some("other.example"), Some(0)));
    assert_eq!(api.get("/api/v1/campaigns/c1?top=1").await.expect(200)["bounce_groups"].as_array().unwrap().len(), 1);

    // BOUNCED: the CLI's columns, newest first.
    let all = rows(&api, "/api/v1/campaigns/c1/bounced").await;
    assert_eq!(all.len(), 5);
    assert_eq!(all[0]["type"], "soft", "the temporary failures are newest: {:?}", all[0]);
    for col in ["email", "type", "action", "rule", "reason", "status", "diagnostic", "date"] {
        assert!(all[0].get(col).is_some(), "column {col}: {:?}", all[0]);
    }
    let hard = &all[4];
    assert_eq!((hard["type"].as_str(), hard["action"].as_str()), (Some("hard"), Some("suppressed")), "{hard}");

    // Filters, alone and together.
    assert_eq!(rows(&api, "/api/v1/campaigns/c1/bounced?type=hard").await.len(), 3);
    assert_eq!(rows(&api, "/api/v1/campaigns/c1/bounced?type=soft").await.len(), 2);
    assert_eq!(rows(&api, "/api/v1/campaigns/c1/bounced?domain=other.example").await.len(), 2);
    assert_eq!(rows(&api, "/api/v1/campaigns/c1/bounced?domain=@Example.ORG&type=hard").await.len(), 3);
    assert_eq!(rows(&api, "/api/v1/campaigns/c1/bounced?domain=example.org&type=soft").await.len(), 0);
    let reason = hard["reason"].as_str().unwrap();
    let by_reason = rows(&api, &format!("/api/v1/campaigns/c1/bounced?reason={reason}")).await;
    assert_eq!(by_reason.len(), 3, "reason {reason}");
    let rule = hard["rule"].as_str().unwrap();
    assert_eq!(rows(&api, &format!("/api/v1/campaigns/c1/bounced?rule={rule}")).await.len(), 3, "rule {rule}");
    assert_eq!(rows(&api, "/api/v1/campaigns/c1/bounced?from=2026-11-11").await.len(), 2);
    assert_eq!(rows(&api, "/api/v1/campaigns/c1/bounced?to=2026-11-10").await.len(), 3, "`to` day included");
    let window = "/api/v1/campaigns/c1/bounced?from=2026-11-10T09:00:00Z&to=2026-11-10T11:00:00Z";
    assert_eq!(rows(&api, window).await.len(), 3);

    // Every mistake at once.
    let bad = api.get("/api/v1/campaigns/c1/bounced?type=medium&domain=a%25b&from=never&format=xml").await;
    assert_eq!(bad.status, 422, "{}", bad.text);
    assert_error(&bad.body, "invalid");
    let fields: Vec<&str> =
        bad.body["error"]["problems"].as_array().unwrap().iter().map(|p| p["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["type", "domain", "from", "format"]);
    let bad = api.get("/api/v1/campaigns/c1/complaints?type=hard").await;
    assert_eq!(bad.status, 422);

    // COMPLAINTS.
    let complaints = rows(&api, "/api/v1/campaigns/c1/complaints").await;
    assert_eq!(complaints.len(), 1);
    assert_eq!(
        (complaints[0]["email"].as_str(), complaints[0]["feedback_type"].as_str()),
        (Some("angry@example.org"), Some("abuse"))
    );
    assert_eq!(complaints[0]["mailbox"], "file");
    assert_eq!(rows(&api, "/api/v1/campaigns/c1/complaints?feedback_type=not-spam").await.len(), 0);

    // Unknown campaign, no token.
    let none = api.get("/api/v1/campaigns/nope/bounced").await;
    assert_eq!(none.status, 404);
    assert_error(&none.body, "not_found");
    assert_eq!(api.get("/api/v1/campaigns/nope").await.status, 404);
    for path in
        ["/api/v1/campaigns", "/api/v1/campaigns/c1", "/api/v1/campaigns/c1/bounced", "/api/v1/addresses/a@b.example"]
    {
        let anon = app.api(None).get(path).await;
        assert_eq!(anon.status, 401, "{path}");
    }
    app.stop(10).await.unwrap();
}
on_both_backends!(campaign_views, campaigns_summaries_and_views);

async fn csv_streams_the_whole_filtered_view(db: TestDb) {
    let app = TestApp::new(db, |_| {}).serve().await;
    seed(&app);
    // More rows than one chunk of the stream, so it pages on the server side.
    let many = crate::support::mail::dsn_many(
        "bounces@sender.example",
        (0..2500).map(|i| format!("list{i}@big.example")),
        &original(Some("c1"), "many@sender.example"),
    );
    ingest(&app, "many", &many);
    let api = app.viewer();
    let csv = api.get("/api/v1/campaigns/c1/bounced?format=csv").await;
    assert_eq!(csv.status, 200, "{}", csv.text);
    assert!(csv.content_type.starts_with("text/csv"), "{}", csv.content_type);
    let lines: Vec<&str> = csv.text.lines().collect();
    assert_eq!(lines[0], "id,email,type,classification,action,rule,reason,status,diagnostic,date");
    assert_eq!(lines.len(), 1 + 5 + 2500, "header and every row");
    let ids: std::collections::HashSet<&str> = lines[1..].iter().map(|l| l.split(',').next().unwrap()).collect();
    assert_eq!(ids.len(), 2505, "no row twice");

    let filtered = api.get("/api/v1/campaigns/c1/bounced?format=csv&domain=other.example").await;
    assert_eq!(filtered.text.lines().count(), 1 + 2);
    let empty = api.get("/api/v1/campaigns/c2/complaints?format=csv").await;
    assert_eq!(
        empty.text.lines().collect::<Vec<_>>(),
        ["id,email,feedback_type,reporting_isp,mailbox,classification,timestamp"]
    );
    app.stop(10).await.unwrap();
}
on_both_backends!(campaign_csv, csv_streams_the_whole_filtered_view);

async fn keyset_pages_stay_right_while_events_arrive(db: TestDb) {
    let app = TestApp::new(db, |_| {}).serve().await;
    let at = |h: usize| format!("Tue, 10 Nov 2026 {:02}:00:00 +0000", 10 + h);
    for i in 0..7 {
        // Two bounces share each hour: ties are broken by id.
        let raw = bounce_of("k", &format!("r{i}@example.org"), "5.1.1", "550 5.1.1 User unknown", &at(i / 2));
        ingest(&app, &format!("k{i}"), &raw);
    }
    let api = app.viewer();
    let page = |after: Option<String>| {
        let api = api.clone();
        async move {
            let q = after.map(|a| format!("&after={}", urlencode(&a))).unwrap_or_default();
            api.get(&format!("/api/v1/campaigns/k/bounced?limit=3{q}")).await.expect(200)
        }
    };
    let p1 = page(None).await;
    let emails = |p: &Value| -> Vec<String> {
        p["rows"].as_array().unwrap().iter().map(|r| r["email"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(emails(&p1), ["r6@example.org", "r5@example.org", "r4@example.org"]);
    // Between pages: a newer bounce (it belongs before page 1: never shown later) and an
    // older one (it belongs after the cursor: shown in its place).
    ingest(&app, "new", &bounce_of("k", "newer@example.org", "5.1.1", "550 5.1.1 User unknown", &at(9)));
    ingest(
        &app,
        "old",
        &bounce_of("k", "older@example.org", "5.1.1", "550 5.1.1 User unknown", "Tue, 10 Nov 2026 09:00:00 +0000"),
    );
    // And one at the very instant of the cursor row (r4's): ties go newest id first, so it
    // sorts before r4, on the page already read, and never shows up later either.
    ingest(&app, "tie", &bounce_of("k", "tie@example.org", "5.1.1", "550 5.1.1 User unknown", &at(2)));
    let p2 = page(p1["next"].as_str().map(String::from)).await;
    assert_eq!(emails(&p2), ["r3@example.org", "r2@example.org", "r1@example.org"], "{p2}");
    let p3 = page(p2["next"].as_str().map(String::from)).await;
    assert_eq!(emails(&p3), ["r0@example.org", "older@example.org"]);
    // A fresh first page has both newcomers in their places.
    let fresh = page(None).await;
    assert_eq!(emails(&fresh), ["newer@example.org", "r6@example.org", "tie@example.org"]);
    assert!(p3["next"].is_null(), "last page: {p3}");
    // Filtered pages use the same cursor.
    let f1 = api.get("/api/v1/campaigns/k/bounced?limit=2&to=2026-11-10T11:00:00Z").await.expect(200);
    assert_eq!(emails(&f1), ["r1@example.org", "r0@example.org"]);
    let next = f1["next"].as_str().unwrap();
    let f2 = api
        .get(&format!("/api/v1/campaigns/k/bounced?limit=2&to=2026-11-10T11:00:00Z&after={}", urlencode(next)))
        .await
        .expect(200);
    assert_eq!(emails(&f2), ["older@example.org"]);
    let bad = api.get("/api/v1/campaigns/k/bounced?after=garbage").await;
    assert_eq!((bad.status, bad.body["error"]["problems"][0]["field"].as_str()), (422, Some("after")));
    app.stop(10).await.unwrap();
}
on_both_backends!(campaign_keyset_pages, keyset_pages_stay_right_while_events_arrive);

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") }
        })
        .collect()
}

async fn an_address_with_its_events_suppressions_and_allowlist(db: TestDb) {
    let app = TestApp::new(db, |cfg| cfg.suppression.allowlist = vec!["partner.example".into()]).serve().await;
    seed(&app);
    ingest(&app, "again", &bounce_of("c2", "gone0@example.org", "5.1.1", "550 5.1.1 User unknown", DAY2));
    ingest(&app, "vip", &bounce_of("c1", "boss@mail.partner.example", "5.1.1", "550 5.1.1 User unknown", DAY1));
    let api = app.viewer();

    let r = api.get("/api/v1/addresses/%3CGone0@Example.org%3E").await.expect(200);
    assert_eq!(r["address"], "gone0@example.org");
    assert_eq!((r["suppressed"].as_bool(), r["allowlisted"].as_bool()), (Some(true), Some(false)));
    let events = r["events"].as_array().unwrap();
    assert_eq!(events.len(), 2, "both campaigns: {r}");
    assert_eq!((events[0]["campaign"].as_str(), events[1]["campaign"].as_str()), (Some("c2"), Some("c1")));
    let entry = &r["suppressions"][0];
    assert_eq!((entry["scope"].as_str(), entry["source"].as_str()), (Some("global"), Some("hard_bounce")), "{r}");
    assert_eq!(entry["event"]["id"], events[1]["id"], "the first hard bounce is the evidence: {r}");
    assert_eq!(entry["event"]["status"], "5.1.1");
    let paged = api.get("/api/v1/addresses/gone0@example.org?limit=1").await.expect(200);
    assert_eq!(paged["events"].as_array().unwrap().len(), 1);
    let next = paged["next"].as_str().expect("a second page").to_string();
    let rest =
        api.get(&format!("/api/v1/addresses/gone0@example.org?limit=1&after={}", urlencode(&next))).await.expect(200);
    assert_eq!(rest["events"][0]["campaign"], "c1");

    let vip = api.get("/api/v1/addresses/boss@mail.partner.example").await.expect(200);
    assert_eq!((vip["allowlisted"].as_bool(), vip["suppressed"].as_bool()), (Some(true), Some(false)), "{vip}");
    assert_eq!(vip["events"].as_array().unwrap().len(), 1);
    let unknown = api.get("/api/v1/addresses/nobody@example.net").await.expect(200);
    assert_eq!((unknown["events"].as_array().unwrap().len(), unknown["suppressed"].as_bool()), (0, Some(false)));
    let bad = api.get("/api/v1/addresses/not-an-address").await;
    assert_eq!((bad.status, bad.body["error"]["problems"][0]["field"].as_str()), (422, Some("email")));
    app.stop(10).await.unwrap();
}
on_both_backends!(address_report, an_address_with_its_events_suppressions_and_allowlist);
