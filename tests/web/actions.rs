//! The second walk, on both backends: what the first leaves out — bulk actions on ticked
//! mailbox rows, the CSV export of BOUNCED and COMPLAINTS, the review queue's reprocess and
//! discard, the allowlist's add and remove, and a rule built with the condition builder's
//! add / remove buttons that then matches in the Test panel.

use crate::browser::{Driver, Page};
use crate::site::{ADMIN, Site, Steps, no_external_url, sign_in, walk_through};
use crate::support::TestDb;
use crate::support::mail::{arf, dsn, original};
use serde_json::json;
use std::time::Instant;

const CAMPAIGN: &str = "camp-csv";
const JUNK: &[u8] = b"Subject: lunch?\r\nFrom: a@example.org\r\n\r\nTacos at noon.\r\n";

fn bounce(rcpt: &str, status: &str, diag: &str, id: &str) -> Vec<u8> {
    let orig = original(Some(CAMPAIGN), &format!("{id}@sender.example"));
    dsn("bounces@sender.example", rcpt, status, diag, &orig, "Tue, 10 Nov 2026 10:00:00 +0000")
}

/// A bounce left in the review queue by an older parser (today's reads it).
fn legacy_item(db: &TestDb, raw: &[u8]) -> i64 {
    let store = rebound::store::Db::connect(&db.config()).unwrap();
    crate::support::review::legacy_item(&mut store.conn().unwrap(), raw)
}

/// GETs `path` in the page's own session (as following the link does); gives the body.
async fn fetch_text(page: &Page, path: &str) -> String {
    let script = format!(
        "const r = new XMLHttpRequest(); r.open('GET', {}, false); r.send(); return r.status + '\\n' + r.responseText;",
        serde_json::to_string(path).unwrap()
    );
    let got = page.js(&script).await.as_str().unwrap().to_string();
    let (status, body) = got.split_once('\n').unwrap();
    assert_eq!(status, "200", "GET {path}: {body}");
    body.to_string()
}

async fn has_button(page: &Page, mailbox: &str, label: &str) -> bool {
    page.text(&format!("tr[data-mailbox={mailbox}]")).await.contains(label)
}

async fn steps(page: &Page, site: &Site, db: &TestDb, s: &Steps) {
    s.step("seed: mailboxes, bounces, a complaint, review items");
    let http = reqwest::Client::new();
    let token = site.token("seed", "admin");
    for name in ["mb-a", "mb-b", "mb-c"] {
        let body = json!({"name": name, "protocol": "imap", "host": "mail.example.com", "username": "bounces",
                          "password": "offline-pw-1", "schedule": "0 0 1 1 *"});
        let r = http.post(format!("{}/api/v1/mailboxes", site.base())).bearer_auth(&token).json(&body).send().await;
        assert_eq!(r.unwrap().status(), 201);
    }
    let complaint = arf("angry@example.com", "abuse", &original(Some(CAMPAIGN), "c1@sender.example"));
    site.import(&[
        ("hard.eml", bounce("gone@example.org", "5.1.1", "550 5.1.1 User unknown", "m1")),
        ("full.eml", bounce("full@example.net", "5.2.2", "552 5.2.2 Mailbox full", "m2")),
        ("arf.eml", complaint),
        ("junk.eml", JUNK.to_vec()),
    ]);
    let legacy = legacy_item(db, &bounce("late@example.org", "5.1.1", "550 5.1.1 User unknown", "m3"));

    s.step("sign in");
    sign_in(page, ADMIN).await;

    s.step("bulk disable, then enable, ticked mailboxes");
    page.go("/mailboxes").await;
    for name in ["mb-a", "mb-b"] {
        page.click(&format!("input[name=names][value={name}]")).await;
    }
    page.select("#bulk-action", "disable").await;
    page.navigate("#bulk-form button[type=submit]").await;
    let notice = page.text(".notice").await;
    assert!(notice.contains("2 succeeded, 0 failed") && notice.contains("mb-a: done"), "{notice}");
    assert!(has_button(page, "mb-a", "Enable").await && has_button(page, "mb-b", "Enable").await);
    assert!(has_button(page, "mb-c", "Disable").await, "an unticked row is left alone");
    page.click("input[name=names][value=mb-a]").await;
    page.select("#bulk-action", "enable").await;
    page.navigate("#bulk-form button[type=submit]").await;
    assert!(page.text(".notice").await.contains("1 succeeded"));
    assert!(has_button(page, "mb-a", "Disable").await && has_button(page, "mb-b", "Enable").await);

    s.step("CSV export of BOUNCED, filtered, and of COMPLAINTS");
    page.go(&format!("/campaigns/{CAMPAIGN}?tab=bounced")).await;
    let href = page.css("#export").await.attr("href").await.unwrap().unwrap();
    let csv = fetch_text(page, &href).await;
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].starts_with("id,email,type,classification,action,rule"), "{csv}");
    assert_eq!(lines.len(), 3, "a header and both bounces: {csv}");
    assert!(csv.contains("gone@example.org") && csv.contains("full@example.net") && csv.contains("User unknown"));
    page.go(&format!("/campaigns/{CAMPAIGN}?tab=bounced&status=5.1.1")).await;
    let href = page.css("#export").await.attr("href").await.unwrap().unwrap();
    assert!(href.contains("status=5.1.1"), "the export keeps the tab's filters: {href}");
    let csv = fetch_text(page, &href).await;
    assert!(csv.contains("gone@example.org") && !csv.contains("full@example.net"), "{csv}");
    page.navigate("#tab-complaints").await;
    let href = page.css("#export").await.attr("href").await.unwrap().unwrap();
    let csv = fetch_text(page, &href).await;
    assert!(csv.starts_with("id,email,feedback_type,reporting_isp,mailbox"), "{csv}");
    assert!(csv.contains("angry@example.com") && csv.contains("abuse"), "{csv}");
    no_external_url(page).await;

    s.step("review queue: reprocess a message today's parser reads");
    page.go("/review").await;
    let queued = page.text("#review").await;
    assert!(queued.contains(&legacy.to_string()), "{queued}");
    page.navigate(&format!("#review a[href='/review/{legacy}']")).await;
    page.navigate("#reprocess").await;
    let notice = page.text(".notice").await;
    assert!(notice.contains(&format!("reprocessed message {legacy}")) && notice.contains("processed"), "{notice}");
    assert!(!page.text("#review").await.contains(&format!("/review/{legacy}")));
    page.go(&format!("/campaigns/{CAMPAIGN}?tab=bounced")).await;
    assert!(page.text("#bounced").await.contains("late@example.org"), "its bounce is recorded");

    s.step("review queue: reprocess junk (stays), then discard it with a note");
    page.go("/review").await;
    page.navigate("#review tbody a").await;
    let junk_url = page.url().await;
    page.navigate("#reprocess").await;
    assert!(page.text(".notice").await.contains("\"state\":\"review\""), "nothing to make of it: it stays");
    page.go(junk_url.trim_start_matches(&page.base)).await;
    page.fill("#discard-note", "lunch, not a bounce").await;
    page.js("window.confirm = () => true;").await;
    page.navigate("#discard").await;
    assert!(page.text(".notice").await.contains("is discarded"));
    assert!(page.all("#review tbody a").await.is_empty(), "the queue is empty");
    page.go("/audit?action=review.discard").await;
    assert!(page.text("#audit").await.contains("lunch, not a bounce"));

    s.step("allowlist: add and remove");
    page.go("/suppression").await;
    page.fill("#allow-form input[name=entry]", "@partner.example").await;
    page.fill("#allow-form input[name=note]", "our own domain").await;
    page.navigate("#allow-form button[type=submit]").await;
    let allowed = page.text("#allowed").await;
    assert!(allowed.contains("partner.example — our own domain"), "a domain, stored without its @: {allowed}");
    page.navigate("#allowed li form button").await;
    assert!(!page.text("main").await.contains("partner.example — our own domain"), "removed");
    page.go("/audit?target=allowlist:").await;
    let audit = page.text("#audit").await;
    assert!(audit.contains("allow allowlist:partner.example our own domain") && audit.contains("disallow"), "{audit}");

    s.step("condition builder: add, remove, operator fit");
    page.go("/rules/new").await;
    assert_eq!(page.all("#condition-rows .condition").await.len(), 1, "one blank row when rows can be added");
    page.fill("#r-key", "web-builder").await;
    page.fill("#r-name", "Plugh refusals are soft (test)").await;
    page.select("#r-outcome", "soft").await;
    page.select("#c-field-0", "diagnostic").await;
    let like_off = page.js("return document.querySelector('#c-op-0 option[value=like]').disabled").await;
    assert_eq!(like_off, true, "`like` (a status pattern) is not offered for the diagnostic");
    page.select("#c-op-0", "contains").await;
    page.fill("#c-value-0", "plugh").await;
    page.click("#add-condition").await;
    page.click("#add-condition").await;
    assert_eq!(page.all("#condition-rows .condition").await.len(), 3);
    page.select("#c-field-1", "status").await;
    let like_on = page.js("return document.querySelector('#c-op-1 option[value=like]').disabled").await;
    assert_eq!(like_on, false, "and is for the status");
    page.select("#c-op-1", "like").await;
    page.fill("#c-value-1", "5.7.*").await;
    page.select("#c-field-2", "recipient_domain").await;
    page.fill("#c-value-2", "never.example").await;
    page.click("#condition-rows .condition[data-index='2'] .remove-condition").await;
    assert_eq!(page.all("#condition-rows .condition").await.len(), 2, "the third row is gone");
    page.navigate("#save-rule").await;
    assert!(page.text(".notice").await.contains("saved rule web-builder"), "{}", page.text("main").await);
    let when = page.text("#rule-web-builder .when").await;
    assert!(when.contains("diagnostic contains plugh") && when.contains("status like 5.7.*"), "{when}");
    assert!(!when.contains("never.example"), "the removed row is not part of the rule: {when}");

    s.step("the built rule matches in the Test panel");
    let test = |diag: &'static str| async move {
        let m = String::from_utf8(bounce("x@example.org", "5.7.9", diag, "t1")).unwrap();
        page.go("/rules").await;
        let set = format!("document.getElementById('test-message').value = {};", serde_json::to_string(&m).unwrap());
        page.js(&set).await;
        page.navigate("#run-test").await;
        page.css("#test-report").await;
        !page.all("#test-report li[data-match=web-builder]").await.is_empty()
    };
    assert!(test("550 5.7.9 plugh: refused").await, "both conditions hold: it matches");
    assert!(!test("550 5.7.9 refused").await, "without the diagnostic's word it does not");
}

async fn actions(db: TestDb, offset: u16) {
    let started = Instant::now();
    let site = Site::start(&db);
    let driver = Driver::start(offset);
    let page = Page {
        c: driver.session().await,
        base: site.base(),
        name: if offset == 2 { "actions-sqlite" } else { "actions-postgres" }.to_string(),
    };
    let s = Steps::default();
    walk_through("web actions", &site, &page, &s, started, steps(&page, &site, &db, &s)).await;
}

on_both_backends!(web_actions_in_chromium, actions_on);

async fn actions_on(db: TestDb) {
    let offset = if matches!(db, TestDb::Sqlite { .. }) { 2 } else { 3 };
    actions(db, offset).await
}
