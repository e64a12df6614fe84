//! The walk through the web admin, step by step, on one backend.

use crate::browser::{Driver, Page};
use crate::site::{ADMIN, Site, Steps, VIEWER, no_external_url, sign_in, walk_through};
use crate::support::mail::{dsn, original};
use crate::support::{Dovecot, MailUser, TestDb};
use std::time::{Duration, Instant};

const CAMPAIGN: &str = "camp-web";

/// What the steps share.
pub struct Ctx {
    pub dovecot: Dovecot,
    pub user: MailUser,
    steps: Steps,
}

impl Ctx {
    fn step(&self, name: &str) {
        self.steps.step(name);
    }
}

async fn walk(db: TestDb, offset: u16) {
    let started = Instant::now();
    let site = Site::start(&db);
    let driver = Driver::start(offset);
    let dovecot = Dovecot::get();
    let user = dovecot.add_user();
    let page = Page {
        c: driver.session().await,
        base: site.base(),
        name: if offset == 0 { "sqlite" } else { "postgres" }.to_string(),
    };
    let ctx = Ctx { dovecot, user, steps: Steps::default() };
    let log = walk_through("web walk", &site, &page, &ctx.steps, started, steps(&page, &ctx)).await;
    assert!(!log.contains(ADMIN.1) && !log.contains(&ctx.user.password), "a password reached the log");
}

async fn fill_mailbox(page: &Page, ctx: &Ctx, password: &str) {
    page.fill("#f-name", "bounces-web").await;
    page.fill("#f-host", "localhost").await;
    page.select("#f-protocol", "imap").await;
    page.select("#f-security", "ssl").await;
    page.fill("#f-port", &ctx.dovecot.imaps_port.to_string()).await;
    page.fill("#f-ca", ctx.dovecot.ca_file.to_str().unwrap()).await;
    page.fill("#f-username", &ctx.user.name).await;
    page.fill("#f-password", password).await;
}

/// Presses Verify connection and waits for the panel.
async fn verify(page: &Page) -> bool {
    page.js("let r = document.getElementById('verify-report'); if (r) r.remove();").await;
    page.click("#verify-mailbox").await;
    let report = page.css("#verify-report").await;
    report.attr("data-ok").await.unwrap().as_deref() == Some("true")
}

/// Runs the Test panel on `message`; the decision's (rule, outcome).
async fn test_message(page: &Page, message: &str) -> (String, String) {
    page.go("/rules").await;
    page.js(&format!("document.getElementById('test-message').value = {};", serde_json::to_string(message).unwrap()))
        .await;
    page.navigate("#run-test").await;
    let d = page.css("#decision").await;
    (d.attr("data-rule").await.unwrap().unwrap_or_default(), d.attr("data-outcome").await.unwrap().unwrap_or_default())
}

async fn wait_saved(page: &Page, text: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status = page.text("#rules-status").await;
        if status.contains(text) {
            page.js("document.getElementById('rules-status').textContent = ''").await;
            return;
        }
        assert!(Instant::now() < deadline, "not saved: {status}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn steps(page: &Page, ctx: &Ctx) {
    ctx.step("sign in with a wrong password");
    page.go("/mailboxes").await;
    page.fill("#name", "alice").await;
    page.fill("#password", "not-her-password").await;
    page.navigate("#sign-in").await;
    assert!(page.text("#login-error").await.contains("do not match"));

    ctx.step("sign in");
    sign_in(page, ADMIN).await;
    assert_eq!(page.text("h1").await, "Mailboxes");
    let cookie = page.c.get_named_cookie("rebound_session").await.expect("session cookie");
    assert_eq!(cookie.http_only(), Some(true), "the session cookie is HttpOnly");
    assert_eq!(format!("{:?}", cookie.same_site()), "Some(Strict)", "the session cookie is SameSite=Strict");
    assert!(page.js("return document.cookie").await.as_str().unwrap().is_empty(), "script cannot read the session");

    ctx.step("add a mailbox and verify it");
    page.navigate("#add-mailbox").await;
    fill_mailbox(page, ctx, &ctx.user.password).await;
    assert!(verify(page).await, "every stage passes: {}", page.text("#verify-report").await);
    let stages = page.all("#verify-report li.stage").await;
    assert!(stages.len() >= 6, "each stage is shown");
    assert!(page.all("#verify-report li.stage.fail").await.is_empty());
    for stage in ["dns", "connect", "tls", "greeting", "login"] {
        page.css(&format!("#verify-report li.pass[data-stage={stage}]")).await;
    }
    no_external_url(page).await;

    ctx.step("verify with a wrong password");
    page.fill("#f-password", "wrong-password").await;
    assert!(!verify(page).await, "the login stage fails");
    page.css("#verify-report li.fail[data-stage=login]").await;
    let words = page.text("#verify-report .failure").await;
    assert!(
        words.contains("AUTHENTICATIONFAILED") || words.contains("Authentication failed"),
        "the server's words: {words}"
    );
    assert!(words.contains("Fix:"), "and the fix: {words}");

    ctx.step("save with an API error next to its field");
    page.fill("#f-password", &ctx.user.password).await;
    page.fill("#f-schedule", "every tuesday").await;
    page.navigate("#save-mailbox").await;
    let err = page.text("#err-schedule").await;
    assert!(!err.is_empty(), "the schedule's problem is shown next to it");
    page.fill("#f-schedule", "0 0 1 1 *").await;
    page.fill("#f-password", &ctx.user.password).await;
    page.navigate("#save-mailbox").await;
    page.css("tr[data-mailbox=bounces-web]").await;
    assert!(page.text(".notice").await.contains("saved mailbox bounces-web"));

    ctx.step("poll now; the BOUNCED tab");
    let orig = original(Some(CAMPAIGN), "m1@sender.example");
    let diag = "550 5.1.1 <gone@example.org>: Recipient address rejected: User unknown in virtual mailbox table";
    ctx.user.deliver(
        "INBOX",
        &dsn("bounces@sender.example", "gone@example.org", "5.1.1", diag, &orig, "Tue, 10 Nov 2026 10:00:00 +0000"),
    );
    let orig2 = original(Some(CAMPAIGN), "m2@sender.example");
    let diag2 = "552 5.2.2 <full@example.net>: Mailbox full, quota exceeded";
    ctx.user.deliver(
        "INBOX",
        &dsn("bounces@sender.example", "full@example.net", "5.2.2", diag2, &orig2, "Tue, 10 Nov 2026 10:05:00 +0000"),
    );
    page.navigate("tr[data-mailbox=bounces-web] button[value=poll]").await;
    assert!(page.text(".notice").await.contains("poll of bounces-web started"));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        page.go(&format!("/campaigns/{CAMPAIGN}?tab=bounced")).await;
        if page.all("#bounced tbody tr").await.len() >= 2 {
            break;
        }
        assert!(Instant::now() < deadline, "the poll's bounces never showed: {}", page.source().await);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let table = page.text("#bounced").await;
    assert!(table.contains("gone@example.org") && table.contains("Hard"), "{table}");
    assert!(table.contains("full@example.net"), "{table}");
    let rules: Vec<String> =
        futures_util::future::join_all(page.all("#bounced td.rule").await.iter().map(|e| e.text()))
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
    assert!(rules.iter().all(|r| !r.is_empty()), "every bounce names its rule: {rules:?}");
    let words = page
        .js("return [...document.querySelectorAll('#bounced td.words pre')].map(p => p.textContent).join('\\n')")
        .await;
    assert!(
        words.as_str().unwrap().contains("Recipient address rejected: User unknown"),
        "the server's words: {words}"
    );
    no_external_url(page).await;

    ctx.step("summary, why it failed, campaigns list");
    page.navigate("#tab-summary").await;
    page.css("svg.chart").await;
    let why = page.text("#why").await;
    assert!(why.contains("5.1.1") && why.contains("example.org"), "{why}");
    page.navigate("#why a").await;
    assert_eq!(page.all("#bounced tbody tr").await.len(), 1, "the group's link shows its rows");
    page.go("/campaigns?sort=hard&dir=desc").await;
    assert!(page.text("#campaigns").await.contains(CAMPAIGN));
    no_external_url(page).await;

    ctx.step("add a rule with the condition builder");
    page.go("/rules").await;
    let before = page.all("#rules-body tr").await.len();
    page.navigate("#add-rule").await;
    page.fill("#r-key", "web-test-soft").await;
    page.fill("#r-name", "Virtual table misses are soft (test)").await;
    page.select("#r-outcome", "soft").await;
    page.select("#c-field-0", "diagnostic").await;
    page.select("#c-op-0", "contains").await;
    page.fill("#c-value-0", "virtual mailbox table").await;
    page.navigate("#save-rule").await;
    assert!(page.text(".notice").await.contains("saved rule web-test-soft"), "{}", page.text("main").await);
    assert_eq!(page.all("#rules-body tr").await.len(), before + 1);

    ctx.step("test a message; drag a rule above the decider");
    let message = String::from_utf8(dsn(
        "bounces@sender.example",
        "gone@example.org",
        "5.1.1",
        diag,
        &orig,
        "Tue, 10 Nov 2026 10:00:00 +0000",
    ))
    .unwrap();
    let decision = test_message(page, &message).await;
    assert_ne!(decision.0, "web-test-soft", "a rule higher up decides first");
    page.css("#test-report li[data-match=web-test-soft]").await;
    let decider = decision.0.clone();
    let moved = page
        .js(&format!(
            "const src = document.querySelector('#rule-web-test-soft .handle'); const dst = document.getElementById('rule-{decider}');              const dt = new DataTransfer(); const y = dst.getBoundingClientRect().top + 2;              src.dispatchEvent(new DragEvent('dragstart', {{bubbles: true, dataTransfer: dt}}));              dst.dispatchEvent(new DragEvent('dragover', {{bubbles: true, cancelable: true, dataTransfer: dt, clientY: y}}));              dst.dispatchEvent(new DragEvent('drop', {{bubbles: true, cancelable: true, dataTransfer: dt, clientY: y}}));              return document.getElementById('rule-web-test-soft').nextElementSibling.id;"
        ))
        .await;
    assert_eq!(moved, format!("rule-{decider}"), "dropped just above the decider");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !page.text("#rules-status").await.contains("Order saved") {
        assert!(Instant::now() < deadline, "the new order was not saved: {}", page.text("#rules-status").await);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    ctx.step("reload: the order persisted, the decision changed");
    page.c.refresh().await.unwrap();
    let order = page.js("return [...document.querySelectorAll('#rules-body tr')].map(r => r.id)").await;
    let ids: Vec<&str> = order.as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    let at = |id: &str| ids.iter().position(|i| *i == id).unwrap();
    assert_eq!(at("rule-web-test-soft") + 1, at(&format!("rule-{decider}")), "{ids:?}");
    let decision = test_message(page, &message).await;
    assert_eq!(decision, ("web-test-soft".to_string(), "soft".to_string()), "the moved rule decides now");

    ctx.step("keyboard move down and back up");
    let handle = page.css("#rule-web-test-soft .handle").await;
    handle.send_keys("\u{E015}").await.unwrap();
    wait_saved(page, "web-test-soft is now").await;
    let handle = page.css("#rule-web-test-soft .handle").await;
    handle.send_keys("\u{E013}").await.unwrap();
    wait_saved(page, "web-test-soft is now").await;
    page.c.refresh().await.unwrap();
    let next = page.js("return document.getElementById('rule-web-test-soft').nextElementSibling.id").await;
    assert_eq!(next, format!("rule-{decider}"), "down then up leaves it where it was");

    ctx.step("switch the rule off");
    page.navigate("#rule-web-test-soft button.toggle").await;
    assert!(page.text(".notice").await.contains("web-test-soft is off"));
    page.css("#rule-web-test-soft button.toggle.off").await;
    let decision = test_message(page, &message).await;
    assert_eq!(decision.0, decider, "off, it decides nothing");

    ctx.step("re-sync and reset confirmations");
    page.navigate("#resync").await;
    page.css("#what-changes").await;
    page.go("/rules").await;
    page.navigate("#reset").await;
    let listed = page.text("#what-changes").await;
    assert!(listed.contains("1 custom rule(s) removed: web-test-soft"), "{listed}");
    page.go("/rules").await;
    page.css("#rule-web-test-soft").await;
    no_external_url(page).await;

    ctx.step("remove a suppression; find it in the audit log");
    page.go("/suppression?prefix=gone").await;
    page.navigate("#suppressions a").await;
    assert_eq!(page.text("#address").await, "gone@example.org");
    let evidence = page.text(".entry").await;
    assert!(evidence.contains("5.1.1") && evidence.contains("User unknown"), "the evidence: {evidence}");
    page.fill(".remove-note", "customer fixed the mailbox").await;
    page.navigate("button.remove").await;
    assert!(page.text(".notice").await.contains("released gone@example.org"));
    assert!(page.text("#trail").await.contains("customer fixed the mailbox"));
    page.go("/audit?target=suppression:").await;
    let audit = page.text("#audit").await;
    assert!(
        audit.contains("user:alice")
            && audit.contains("gone@example.org")
            && audit.contains("customer fixed the mailbox"),
        "{audit}"
    );
    no_external_url(page).await;

    ctx.step("overview, review queue, settings");
    for path in ["/", "/review", "/settings", "/suppression"] {
        page.go(path).await;
        page.css("main h1").await;
        no_external_url(page).await;
    }
    page.go("/").await;
    page.css("svg.chart").await;
    assert!(page.text("#mailbox-health").await.contains("1 mailbox"));
    page.go("/settings").await;
    assert!(page.text("#effective-config").await.contains("[server]"));

    ctx.step("a forged POST without the CSRF token");
    let status = page
        .js("const r = new XMLHttpRequest(); r.open('POST', '/mailboxes/bounces-web/action', false); \
             r.setRequestHeader('Content-Type', 'application/x-www-form-urlencoded'); r.send('do=disable'); return r.status;")
        .await;
    assert_eq!(status, 403, "refused without the token");
    page.go("/mailboxes").await;
    assert!(page.text("tr[data-mailbox=bounces-web]").await.contains("Disable"), "and nothing changed");

    ctx.step("sign out; a viewer");
    page.navigate(".signout button").await;
    page.css("#login-form").await;
    sign_in(page, VIEWER).await;
    assert!(page.all("#add-mailbox").await.is_empty(), "a viewer sees no Add");
    assert!(page.all("tr[data-mailbox] button").await.is_empty(), "nor row actions");
    assert!(page.all("form[method=post]:not(.signout)").await.is_empty(), "nor any write form");
    let status = page
        .js("const r = new XMLHttpRequest(); r.open('POST', '/mailboxes/bounces-web/action', false); \
             r.setRequestHeader('Content-Type', 'application/x-www-form-urlencoded'); \
             r.send('do=disable&csrf=' + encodeURIComponent(document.body.dataset.csrf)); return r.status;")
        .await;
    assert_eq!(status, 403, "a viewer's write is refused even with the token");
    page.go(&format!("/campaigns/{CAMPAIGN}?tab=bounced")).await;
    page.css("#bounced").await;
    page.go("/rules").await;
    assert!(page.all(".handle, button.toggle, #add-rule, #resync, #reset").await.is_empty(), "no rule write controls");
    page.css("#run-test").await;
    page.go("/suppression").await;
    assert!(page.all("#add-suppression, #allow-form").await.is_empty(), "no suppression write controls");
    page.go("/suppression/address?email=full%40example.net").await;
    assert!(page.all("button.remove").await.is_empty());
    let status = page
        .js("const r = new XMLHttpRequest(); r.open('POST', '/suppression/add', false); \
             r.setRequestHeader('Content-Type', 'application/x-www-form-urlencoded'); \
             r.send('address=x%40example.com&csrf=' + encodeURIComponent(document.body.dataset.csrf)); return r.status;")
        .await;
    assert_eq!(status, 403, "a viewer's suppression is refused");

    ctx.step("phone width");
    page.c.set_window_size(390, 844).await.unwrap();
    page.go("/mailboxes").await;
    let overflow = page.js("return document.documentElement.scrollWidth <= window.innerWidth + 1").await;
    assert_eq!(overflow, true, "no sideways scrolling of the page at phone width (tables scroll in their box)");
    page.c.set_window_size(1280, 900).await.unwrap();
}

on_both_backends!(web_admin_in_chromium, walk_on);

async fn walk_on(db: TestDb) {
    let offset = if matches!(db, TestDb::Sqlite { .. }) { 0 } else { 1 };
    walk(db, offset).await
}
