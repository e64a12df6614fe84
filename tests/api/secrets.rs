//! Secrets: a mailbox password given through the API never appears in a response, an error,
//! a log line or the audit log of a real `rebound serve`; keys are generated and rotated;
//! and two `serve` on one PostgreSQL follow each other's mailbox changes.

use super::mailboxes::on_dovecot;
use crate::support::api::{Api, Reply};
use crate::support::serve::{Serve, free_port, serve_config};
use crate::support::{Dovecot, TestDb, count_rows, mail};
use rebound::access::{Role, tokens};
use rebound::audit::Actor;
use rebound::secrets::SealKey;
use serde_json::json;
use std::time::Duration;

/// An admin client for a `serve` listening on `port`, its token made in the database.
fn admin_of(db: &rebound::store::Db, port: u16, name: &str) -> Api {
    let now = chrono::Utc::now().naive_utc();
    let token = tokens::create(&mut db.conn().unwrap(), &Actor::system("test"), name, Role::Admin, now).unwrap().1;
    Api { base: Serve::base(port), token: Some(token), http: reqwest::Client::new() }
}

fn bounce(i: usize) -> Vec<u8> {
    mail::dsn(
        "bounces@sender.example",
        &format!("leak{i}@example.org"),
        "5.1.1",
        "550 5.1.1 User unknown",
        &mail::original(Some("c9"), &format!("s{i}@sender.example")),
        "Tue, 10 Nov 2026 10:00:00 +0000",
    )
}

/// `[secrets]` and a debug log appended to a `serve` config.
fn secrets_section(dir: &std::path::Path) -> String {
    let key = dir.join("key");
    std::fs::write(&key, SealKey::generate().unwrap()).unwrap();
    format!("[secrets]\nkey_file = \"{}\"\n", key.display())
}

async fn a_password_never_leaks(db: TestDb) {
    let d = Dovecot::get();
    let user = d.add_user();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let cfg = serve_config(dir.path(), "rebound.toml", port, db.url(), &secrets_section(dir.path()));
    // Every module at debug: the most a log could ever say.
    std::fs::write(
        &cfg,
        std::fs::read_to_string(&cfg).unwrap().replace("format = \"json\"", "format = \"json\"\nlevel = \"debug\""),
    )
    .unwrap();
    let serve = Serve::start(&cfg, port);
    let store = rebound::store::Db::connect(&db.config()).unwrap();
    let admin = admin_of(&store, port, "leak-admin");
    let wrong = format!("wrong-{}", uuid::Uuid::new_v4().simple());
    let secrets = [user.password.clone(), wrong.clone()];

    user.deliver("INBOX", &bounce(1));
    let mut replies: Vec<Reply> = Vec::new();
    let body = on_dovecot(&d, &user, "leaky");
    let mut unsaved = body.clone();
    unsaved["name"] = json!("check");
    replies.push(admin.post("/api/v1/mailboxes/verify", &unsaved).await);
    unsaved["password"] = json!(wrong);
    replies.push(admin.post("/api/v1/mailboxes/verify", &unsaved).await);
    replies.push(admin.post("/api/v1/mailboxes", &body).await);
    assert_eq!(replies.last().unwrap().status, 201, "{}", replies.last().unwrap().text);
    let mut bad = body.clone();
    bad["port"] = json!(0);
    replies.push(admin.put("/api/v1/mailboxes/leaky", &bad).await);
    replies.push(admin.post("/api/v1/mailboxes", &body).await); // a conflict
    assert!(serve.logged("polled", "leaky", Duration::from_secs(20)).await, "the API mailbox was not polled");
    assert!(count_rows(&store, "events").await >= 1);
    // A wrong password: polls fail at login, in the status row and the log.
    let mut switched = body.clone();
    switched["password"] = json!(wrong);
    replies.push(admin.put("/api/v1/mailboxes/leaky", &switched).await);
    assert!(serve.logged("poll failed", "leaky", Duration::from_secs(20)).await, "the failing poll was not logged");
    let failing = admin.get("/api/v1/mailboxes/leaky").await;
    assert_eq!(failing.body["status"]["last_error_stage"], "login", "{}", failing.text);
    replies.push(failing);
    for path in ["/api/v1/mailboxes", "/api/v1/audit?limit=1000"] {
        replies.push(admin.get(path).await);
    }
    replies.push(admin.post("/api/v1/mailboxes/leaky/verify", &json!({})).await);
    replies.push(admin.post("/api/v1/mailboxes/bulk", &json!({"action": "verify", "names": ["leaky"]})).await);
    replies.push(admin.post("/api/v1/mailboxes/leaky/poll", &json!({})).await);
    replies.push(admin.post("/api/v1/mailboxes/leaky/disable", &json!({})).await);
    replies.push(admin.delete("/api/v1/mailboxes/leaky").await);
    let log = serve.stop();
    assert!(log.lines().count() > 20, "a debug log was captured: {log}");
    for s in &secrets {
        for r in &replies {
            assert!(!r.text.contains(s.as_str()), "a password in a response ({}): {}", r.status, r.text);
        }
        assert!(!log.contains(s.as_str()), "a password in the log");
    }
    let sealed: Vec<String> = {
        use diesel::prelude::*;
        use rebound::store::schema::mailboxes;
        mailboxes::table
            .select(mailboxes::password_sealed)
            .load::<Option<String>>(&mut store.conn().unwrap())
            .unwrap()
            .into_iter()
            .flatten()
            .collect()
    };
    assert!(sealed.is_empty(), "a deleted mailbox keeps no sealed password: {sealed:?}");
}
on_both_backends!(no_leak, a_password_never_leaks);

/// `rebound secrets generate-key` prints a key; `rotate` re-seals every password with a new
/// one in one go, and the mailbox opens with the new key only.
#[test]
fn keys_are_generated_and_rotated() {
    let out =
        std::process::Command::new(env!("CARGO_BIN_EXE_rebound")).args(["secrets", "generate-key"]).output().unwrap();
    assert!(out.status.success());
    let printed = String::from_utf8(out.stdout).unwrap();
    let old = SealKey::parse(printed.trim()).expect("a key alone on stdout");

    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::sqlite();
    let (old_file, new_file) = (dir.path().join("old"), dir.path().join("new"));
    std::fs::write(&old_file, printed.trim()).unwrap();
    let new_text = SealKey::generate().unwrap();
    std::fs::write(&new_file, &new_text).unwrap();
    let new = SealKey::parse(&new_text).unwrap();
    let cfg = dir.path().join("rebound.toml");
    std::fs::write(
        &cfg,
        format!("[database]\nurl = \"{}\"\n[secrets]\nkey_file = \"{}\"\n", db.url(), old_file.display()),
    )
    .unwrap();

    let store = rebound::store::Db::connect(&db.config()).unwrap();
    let mut c = store.conn().unwrap();
    let entry = |name: &str| {
        let mut e = rebound::mailbox::repo::Entry::new(
            toml::from_str(&format!("name = '{name}'\nprotocol = 'imap'\nhost = 'mx.example'\nusername = 'u'"))
                .unwrap(),
        );
        e.password = Some(rebound::config::Secret::new(format!("pw-of-{name}")));
        e
    };
    let by = Actor::system("test");
    let a = rebound::mailbox::repo::create(&mut c, &by, &entry("a"), Some(&old)).unwrap();
    rebound::mailbox::repo::create(&mut c, &by, &entry("b"), Some(&old)).unwrap();
    // An OAuth2 mailbox's client secret is re-sealed alongside.
    let mut oauth = rebound::mailbox::repo::Entry::new(
        toml::from_str(
            "name = 'c'\nprotocol = 'imap'\nhost = 'mx.example'\nusername = 'u'\nauth = 'oauth2'\n\
             oauth2_token_url = 'https://login.example/token'\noauth2_client_id = 'id'",
        )
        .unwrap(),
    );
    oauth.oauth2_client_secret = Some(rebound::config::Secret::new("client-secret-of-c"));
    let oc = rebound::mailbox::repo::create(&mut c, &by, &oauth, Some(&old)).unwrap();

    let rotate = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_rebound"))
            .args(["--config", cfg.to_str().unwrap(), "secrets", "rotate"])
            .args(args)
            .output()
            .unwrap()
    };
    let done = rotate(&["--new-key-file", new_file.to_str().unwrap()]);
    let said = String::from_utf8_lossy(&done.stdout);
    assert!(done.status.success(), "{said}{}", String::from_utf8_lossy(&done.stderr));
    assert!(said.contains("re-sealed 3 secret(s)"), "{said}");
    let c_again = rebound::mailbox::repo::get(&mut c, oc.id).unwrap().config_with(Some(&new)).unwrap();
    assert_eq!(c_again.oauth2.unwrap().inline_client_secret.unwrap().expose(), "client-secret-of-c");
    let again = rebound::mailbox::repo::get(&mut c, a.id).unwrap();
    assert_eq!(again.config_with(Some(&new)).unwrap().inline_password.unwrap().expose(), "pw-of-a");
    let refused = again.config_with(Some(&old)).unwrap_err();
    assert!(refused[0].key == "mailbox.password" && refused[0].message.contains(&new.fingerprint()), "{refused:?}");
    // A key that is not base64 of 32 bytes is refused by name, before anything is written.
    std::fs::write(&new_file, "short").unwrap();
    let bad = rotate(&["--new-key-file", new_file.to_str().unwrap()]);
    assert_eq!(bad.status.code(), Some(2), "{}", String::from_utf8_lossy(&bad.stderr));
    let audit =
        rebound::audit::list(&mut c, &Default::default(), &rebound::store::Page { limit: 5, after: None }).unwrap();
    assert_eq!(audit.rows[0].action, "secrets.rotate");
    // A malformed [secrets] key is a config problem naming its key.
    std::fs::write(&old_file, "not a key").unwrap();
    let check = std::process::Command::new(env!("CARGO_BIN_EXE_rebound"))
        .args(["check-config", cfg.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(check.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&check.stderr).contains("secrets.key_file"));
}

/// Two `serve` on one PostgreSQL: a mailbox created through A's API is polled (once per
/// bounce: the lease) and B sees it; disabled through B's API, A stops it too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_follow_changes_made_through_either() {
    let db = TestDb::postgres();
    let d = Dovecot::get();
    let user = d.add_user();
    let dir = tempfile::tempdir().unwrap();
    let section = secrets_section(dir.path());
    let (pa, pb) = (free_port(), free_port());
    let a = Serve::start(&serve_config(dir.path(), "a.toml", pa, db.url(), &section), pa);
    let b = Serve::start(&serve_config(dir.path(), "b.toml", pb, db.url(), &section), pb);
    let store = rebound::store::Db::connect(&db.config()).unwrap();
    let (api_a, api_b) = (admin_of(&store, pa, "admin-a"), admin_of(&store, pb, "admin-b"));

    api_a.post("/api/v1/mailboxes", &on_dovecot(&d, &user, "shared")).await.expect(201);
    assert!(a.logged("polling", "shared", Duration::from_secs(10)).await, "A did not pick it up");
    assert!(b.logged("polling", "shared", Duration::from_secs(10)).await, "B did not pick it up");
    let seen = api_b.get("/api/v1/mailboxes/shared").await.expect(200);
    assert_eq!(seen["source"], "api");
    for i in 0..3 {
        user.deliver("INBOX", &bounce(100 + i));
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while count_rows(&store, "events").await < 3 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(count_rows(&store, "events").await, 3, "each bounce recorded once: the lease held");

    api_b.post("/api/v1/mailboxes/shared/disable", &json!({})).await.expect(200);
    assert!(a.logged("stopped", "shared", Duration::from_secs(10)).await, "A did not stop it");
    assert!(b.logged("stopped", "shared", Duration::from_secs(10)).await, "B did not stop it");
    assert_eq!(api_a.get("/api/v1/mailboxes/shared").await.expect(200)["state"], "disabled");
    a.stop();
    b.stop();
}
