//! `/api/v1/suppression` and `/api/v1/allowlist`: search, evidence, audited add and remove,
//! the streamed export, the change feed's exact cursor, roles.

use crate::support::api::assert_error;
use crate::support::{TestDb, app::TestApp, mail};
use rebound::audit::Actor;
use rebound::suppress::{Suppression, list, manual};
use serde_json::{Value, json};

fn now() -> chrono::NaiveDateTime {
    chrono::Utc::now().naive_utc()
}

/// `n` entries `{prefix}{i}@{domain}` (source `import`), written in one transaction.
fn seed(app: &TestApp, prefix: &str, domain: &str, n: usize) {
    let at = now();
    let rows: Vec<Suppression> = (0..n)
        .map(|i| Suppression {
            address: format!("{prefix}{i:05}@{domain}"),
            scope: "global".into(),
            source: "import".into(),
            event_id: None,
            reason: None,
            note: None,
            created_at: at,
            expires_at: None,
        })
        .collect();
    let mut c = app.conn();
    rebound::store::transaction(&mut c, |c| list::insert_many(c, &rows)).unwrap();
}

fn addresses(page: &Value) -> Vec<String> {
    page["entries"].as_array().unwrap().iter().map(|e| e["address"].as_str().unwrap().to_string()).collect()
}

async fn add_get_search_remove_with_audit_and_feed(db: TestDb) {
    let app = TestApp::new(db, |_| {}).serve().await;
    let admin = app.admin();
    let admin_name = {
        let audit = admin.get("/api/v1/audit?action=token.create").await.expect(200);
        audit["entries"][0]["target"].as_str().unwrap().trim_start_matches("token:").to_string()
    };

    // A hard bounce suppresses with its event as evidence.
    let mut c = app.conn();
    app.ingest(&mut c, "file", "b1", &mail::bounce(1));
    drop(c);
    let got = admin.get("/api/v1/suppression/gone1@example.org").await.expect(200);
    let e = &got["entries"][0];
    assert_eq!((e["scope"].as_str(), e["source"].as_str()), (Some("global"), Some("hard_bounce")), "{got}");
    assert_eq!(e["evidence"]["classification"], "hard");
    assert_eq!(e["evidence"]["status"], "5.1.1");
    assert_eq!(e["evidence"]["campaign_id"], "c1");
    assert!(e["evidence"]["diagnostic"].as_str().unwrap().contains("User unknown"), "{got}");
    assert_eq!(e["active"], true);

    // Manual add: 201, then 200 with added=false; a bad address is a 422 naming the field.
    let body = json!({"address": " <Jane@Example.COM> ", "scope": "news.sender.example", "note": "asked by phone"});
    let added = admin.post("/api/v1/suppression", &body).await.expect(201);
    assert_eq!(added["added"], true);
    assert_eq!(added["entry"]["address"], "jane@example.com");
    assert_eq!(added["entry"]["source"], "manual");
    let again = admin.post("/api/v1/suppression", &body).await.expect(200);
    assert_eq!(again["added"], false);
    let bad = admin.post("/api/v1/suppression", &json!({"address": "jane"})).await;
    assert_eq!(bad.status, 422, "{}", bad.text);
    assert_eq!(bad.body["error"]["problems"][0]["field"], "address");
    admin.post("/api/v1/suppression", &json!({"address": "jane@example.com"})).await.expect(201);
    let both = admin.get("/api/v1/suppression/JANE@example.com").await.expect(200);
    let scopes: Vec<&str> = both["entries"].as_array().unwrap().iter().map(|e| e["scope"].as_str().unwrap()).collect();
    assert_eq!(scopes, ["global", "news.sender.example"]);
    assert_eq!(both["entries"][1]["note"], "asked by phone");
    assert!(both["entries"][1]["evidence"].is_null());
    assert_error(&admin.get("/api/v1/suppression/nobody@example.com").await.body, "not_found");

    // Search: prefix, domain, source, scope, pages.
    seed(&app, "p", "bulk.example", 25);
    let viewer = app.viewer();
    let prefix = viewer.get("/api/v1/suppression?prefix=P0001&limit=100").await.expect(200);
    assert_eq!(addresses(&prefix), (10..20).map(|i| format!("p{i:05}@bulk.example")).collect::<Vec<_>>());
    let domain = viewer.get("/api/v1/suppression?domain=example.com").await.expect(200);
    assert_eq!(addresses(&domain), ["jane@example.com", "jane@example.com"]);
    let scoped = viewer.get("/api/v1/suppression?domain=example.com&scope=news.sender.example").await.expect(200);
    assert_eq!(scoped["entries"].as_array().unwrap().len(), 1);
    let hard = viewer.get("/api/v1/suppression?source=hard_bounce").await.expect(200);
    assert_eq!(addresses(&hard), ["gone1@example.org"]);
    let bad = viewer.get("/api/v1/suppression?source=spam&order=sideways").await;
    assert_eq!(bad.status, 422);
    let fields: Vec<&str> =
        bad.body["error"]["problems"].as_array().unwrap().iter().map(|p| p["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["source", "order"], "every problem at once");
    let mut seen = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let after = next.as_ref().map(|n| format!("&after={}", urlencode(n))).unwrap_or_default();
        let page = viewer.get(&format!("/api/v1/suppression?domain=bulk.example&limit=10{after}")).await.expect(200);
        seen.extend(addresses(&page));
        match page["next"].as_str() {
            Some(n) => next = Some(n.to_string()),
            None => break,
        }
    }
    assert_eq!(seen, (0..25).map(|i| format!("p{i:05}@bulk.example")).collect::<Vec<_>>(), "pages in address order");
    let newest = viewer.get("/api/v1/suppression?order=newest&limit=2").await.expect(200);
    assert_eq!(newest["entries"].as_array().unwrap().len(), 2);
    assert!(newest["next"].is_string());

    // Remove: audited with the token's name, before/after; 404 the second time.
    let feed_before = viewer.get("/api/v1/suppression/changes").await.expect(200)["next"].as_i64().unwrap();
    let gone = admin
        .delete("/api/v1/suppression/jane@example.com?scope=news.sender.example&note=customer%20re-subscribed")
        .await
        .expect(200);
    assert_eq!(gone["scope"], "news.sender.example");
    assert_error(
        &admin.delete("/api/v1/suppression/jane@example.com?scope=news.sender.example").await.body,
        "not_found",
    );
    let audit = admin.get("/api/v1/audit?target=suppression:jane@example.com").await.expect(200);
    let entries = audit["entries"].as_array().unwrap();
    let release = entries.iter().find(|e| e["action"] == "release").expect("the remove is audited");
    assert_eq!(release["actor"], format!("token:{admin_name}"));
    assert_eq!(release["target"], "suppression:jane@example.com/news.sender.example");
    assert_eq!(release["note"], "customer re-subscribed");
    assert_eq!(release["before"]["source"], "manual");
    assert!(release["after"].is_null());
    let suppress = entries
        .iter()
        .find(|e| e["action"] == "suppress" && e["target"] == "suppression:jane@example.com/news.sender.example")
        .expect("the add is audited");
    assert_eq!(suppress["actor"], format!("token:{admin_name}"));
    assert_eq!(suppress["note"], "asked by phone");
    assert!(suppress["before"].is_null());
    assert_eq!(suppress["after"]["address"], "jane@example.com");

    // The remove is in the change feed, after the cursor taken before it.
    let feed = viewer.get(&format!("/api/v1/suppression/changes?after={feed_before}")).await.expect(200);
    let changes = feed["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1, "{feed}");
    assert_eq!(changes[0]["op"], "remove");
    assert_eq!(changes[0]["address"], "jane@example.com");
    assert_eq!(changes[0]["scope"], "news.sender.example");
    assert_eq!(changes[0]["source"], "manual");
    assert_eq!(feed["next"], changes[0]["seq"]);
    assert_eq!(feed["more"], false);
    assert_eq!(feed["head"], changes[0]["seq"]);
    let bad = viewer.get("/api/v1/suppression/changes?limit=0").await;
    assert_eq!(bad.status, 422);

    // Roles: a viewer reads but cannot write; no token, nothing.
    let denied = viewer.post("/api/v1/suppression", &json!({"address": "x@example.com"})).await;
    assert_eq!(denied.status, 403);
    assert_error(&denied.body, "forbidden");
    assert_eq!(viewer.delete("/api/v1/suppression/gone1@example.org").await.status, 403);
    assert_eq!(viewer.post("/api/v1/allowlist", &json!({"entry": "example.net"})).await.status, 403);
    assert_eq!(viewer.delete("/api/v1/allowlist/example.net").await.status, 403);
    let anonymous = app.api(None);
    for path in
        ["/api/v1/suppression", "/api/v1/suppression/export", "/api/v1/suppression/changes", "/api/v1/allowlist"]
    {
        let r = anonymous.get(path).await;
        assert_eq!(r.status, 401, "{path}: {}", r.text);
        assert_error(&r.body, "unauthorized");
    }
    app.stop(10).await.unwrap();
}
on_both_backends!(suppression_routes, add_get_search_remove_with_audit_and_feed);

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn allowlist_add_list_remove(db: TestDb) {
    let app = TestApp::new(db, |cfg| cfg.suppression.allowlist = vec!["@partner.example".into()]).serve().await;
    let admin = app.admin();
    for a in ["ceo@vip.example", "cfo@mail.vip.example", "ceo@notvip.example"] {
        admin.post("/api/v1/suppression", &json!({"address": a})).await.expect(201);
    }
    let head = admin.get("/api/v1/suppression/changes?after=0").await.expect(200)["head"].as_i64().unwrap();
    let added = admin.post("/api/v1/allowlist", &json!({"entry": "@VIP.example", "note": "board"})).await.expect(201);
    assert_eq!(added["entry"], "vip.example");
    // What the entry covers is released, and the nodes are told; a look-alike domain is not.
    let mut released: Vec<&str> =
        added["released"].as_array().unwrap().iter().map(|e| e["address"].as_str().unwrap()).collect();
    released.sort();
    assert_eq!(released, ["ceo@vip.example", "cfo@mail.vip.example"], "{added}");
    let feed = admin.get(&format!("/api/v1/suppression/changes?after={head}")).await.expect(200);
    let removes: Vec<(&str, &str)> = feed["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["op"].as_str().unwrap(), c["source"].as_str().unwrap()))
        .collect();
    assert_eq!(removes, [("remove", "allowlist"), ("remove", "allowlist")], "{feed}");
    admin.get("/api/v1/suppression/ceo@notvip.example").await.expect(200);
    assert_eq!(admin.get("/api/v1/suppression/ceo@vip.example").await.status, 404);
    let listed = admin.get("/api/v1/allowlist").await.expect(200);
    assert_eq!(listed["entries"][0]["entry"], "vip.example");
    assert_eq!(listed["entries"][0]["note"], "board");
    assert_eq!(listed["configured"], json!(["@partner.example"]));
    let bad = admin.post("/api/v1/allowlist", &json!({"entry": "not a domain"})).await;
    assert_eq!(bad.status, 422);
    assert_eq!(bad.body["error"]["problems"][0]["field"], "entry");
    let configured = admin.delete("/api/v1/allowlist/partner.example").await;
    assert_eq!(configured.status, 409, "{}", configured.text);
    assert_error(&configured.body, "read_only");
    let gone = admin.delete("/api/v1/allowlist/vip.example?note=left%20the%20board").await.expect(200);
    assert_eq!(gone["entry"], "vip.example");
    assert_eq!(admin.delete("/api/v1/allowlist/vip.example").await.status, 404);
    let audit = admin.get("/api/v1/audit?target=allowlist:vip.example").await.expect(200);
    let actions: Vec<&str> =
        audit["entries"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["disallow", "allow"]);
    assert_eq!(audit["entries"][0]["before"]["note"], "board");
    assert_eq!(audit["entries"][0]["note"], "left the board");
    app.stop(10).await.unwrap();
}
on_both_backends!(allowlist_routes, allowlist_add_list_remove);

async fn export_streams_every_format(db: TestDb) {
    let app = TestApp::new(db, |_| {}).serve().await;
    // More than one export page, so the stream's later chunks are read too.
    let n = rebound::suppress::export::PAGE as usize + 7;
    seed(&app, "e", "export.example", n);
    let mut c = app.conn();
    // Stored as a bounce could leave it (a manual add refuses such an address): CSV must quote it.
    let odd = Suppression {
        address: "quote\"d,comma@export.example".into(),
        scope: "global".into(),
        source: "manual".into(),
        event_id: None,
        reason: None,
        note: Some("a \"note\", with comma".into()),
        created_at: now(),
        expires_at: None,
    };
    list::add(&mut c, &odd, None).unwrap();
    // A lapsed entry is not exported.
    let lapsed = Suppression {
        address: "lapsed@export.example".into(),
        scope: "global".into(),
        source: "hard_bounce".into(),
        event_id: None,
        reason: Some("user_unknown".into()),
        note: None,
        created_at: now() - chrono::Duration::days(10),
        expires_at: Some(now() - chrono::Duration::days(1)),
    };
    list::add(&mut c, &lapsed, None).unwrap();
    drop(c);
    let viewer = app.viewer();

    let plain = viewer.get("/api/v1/suppression/export").await;
    assert_eq!(plain.status, 200);
    assert!(plain.content_type.starts_with("text/plain"), "{}", plain.content_type);
    let lines: Vec<&str> = plain.text.lines().collect();
    assert_eq!(lines.len(), n + 1);
    assert_eq!(lines[0], "e00000@export.example");
    assert!(lines.windows(2).all(|w| w[0] < w[1]), "in address order, each once");
    assert!(!plain.text.contains("lapsed@"));

    let csv = viewer.get("/api/v1/suppression/export?format=csv").await;
    assert!(csv.content_type.starts_with("text/csv"), "{}", csv.content_type);
    let mut reader = csv::Reader::from_reader(csv.text.as_bytes());
    assert_eq!(
        reader.headers().unwrap().iter().collect::<Vec<_>>(),
        ["address", "scope", "source", "reason", "event_id", "note", "created", "expires"]
    );
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(records.len(), n + 1);
    let quoted = records.iter().find(|r| &r[0] == "quote\"d,comma@export.example").expect("quoted row");
    assert_eq!((&quoted[2], &quoted[5]), ("manual", "a \"note\", with comma"));

    let json = viewer.get("/api/v1/suppression/export?format=json").await;
    assert_eq!(json.content_type, "application/json");
    let all = json.body.as_array().unwrap_or_else(|| panic!("a JSON array: {}", &json.text[..200]));
    assert_eq!(all.len(), n + 1);
    assert_eq!(all[0]["address"], "e00000@export.example");
    assert_eq!(all[0]["source"], "import");

    let bad = viewer.get("/api/v1/suppression/export?format=xml").await;
    assert_eq!(bad.status, 422, "{}", bad.text);
    app.stop(10).await.unwrap();
}
on_both_backends!(export_formats, export_streams_every_format);

/// Writers add and release while a reader follows the feed in small pages: the reader sees
/// every change exactly once, in order, however the writes and the reads interleave.
async fn the_change_feed_cursor_is_exact(db: TestDb) {
    let app = TestApp::new(db, |_| {}).serve().await;
    let viewer = app.viewer();
    let writers: Vec<_> = (0..3)
        .map(|w| {
            let db = app.db.clone();
            tokio::spawn(async move {
                for i in 0..40 {
                    db.run(move |c| -> Result<(), manual::ManualError> {
                        let (actor, at) = (Actor::system("test"), now());
                        let a = format!("w{w}-{i}@feed.example");
                        manual::suppress(c, &actor, &a, "global", None, at)?;
                        if i % 3 == 0 {
                            manual::release(c, &actor, &a, "global", None, at)?;
                        }
                        Ok(())
                    })
                    .await
                    .unwrap();
                }
            })
        })
        .collect();
    let mut seqs: Vec<i64> = Vec::new();
    let mut after = 0;
    let mut idle_rounds = 0;
    loop {
        let writing = writers.iter().any(|w| !w.is_finished());
        let page = viewer.get(&format!("/api/v1/suppression/changes?after={after}&limit=7")).await.expect(200);
        let changes = page["changes"].as_array().unwrap();
        seqs.extend(changes.iter().map(|c| c["seq"].as_i64().unwrap()));
        after = page["next"].as_i64().unwrap();
        if changes.is_empty() && !writing {
            idle_rounds += 1;
            if idle_rounds == 2 {
                break;
            }
        }
    }
    for w in writers {
        w.await.unwrap();
    }
    let all: Vec<i64> = {
        let mut c = app.conn();
        rebound::suppress::changes::since(&mut c, 0, 100_000).unwrap().into_iter().map(|c| c.seq).collect()
    };
    assert_eq!(all.len(), 3 * (40 + 14), "every add and release is logged");
    assert_eq!(seqs, all, "the reader saw every change once, in commit order");
    app.stop(10).await.unwrap();
}
on_both_backends!(change_feed_cursor, the_change_feed_cursor_is_exact);
