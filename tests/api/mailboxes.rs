//! `/api/v1/mailboxes`: the list with sources and status, writes (validated, audited, sealed
//! passwords), config-file mailboxes read-only, roles, and bulk actions.

use crate::support::api::assert_error;
use crate::support::{Dovecot, MailUser, TestDb, app::TestApp};
use rebound::config::Config;
use serde_json::{Value, json};
use std::path::Path;

/// A fresh `[secrets]` key in a file under `dir`; gives the config tweak naming it.
pub fn with_key(dir: &Path) -> impl FnOnce(&mut Config) + use<> {
    let file = dir.join("secrets.key");
    std::fs::write(&file, rebound::secrets::SealKey::generate().unwrap() + "\n").unwrap();
    let file = file.display().to_string();
    move |cfg: &mut Config| cfg.secrets.key_file = Some(file)
}

/// A mailbox entry as JSON on a host that is never contacted.
pub fn offline(name: &str) -> Value {
    json!({"name": name, "protocol": "imap", "host": "mail.example.com", "username": "bounces",
           "password": "offline-pw-1", "after_processing": "move:Processed", "schedule": "*/5 * * * *"})
}

/// A mailbox entry as JSON for `user` on the test Dovecot (IMAPS, every second, delete).
pub fn on_dovecot(d: &Dovecot, user: &MailUser, name: &str) -> Value {
    json!({"name": name, "protocol": "imap", "host": "localhost", "port": d.imaps_port, "security": "ssl",
           "ca_file": d.ca_file.display().to_string(), "username": user.name, "password": user.password,
           "after_processing": "delete", "schedule": "* * * * * *", "timeout_seconds": 10, "lease_seconds": 5})
}

async fn create_read_update_disable_delete(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::new(db, with_key(dir.path())).serve().await;
    let admin = app.admin();

    let created = admin.post("/api/v1/mailboxes", &offline("ops")).await.expect(201);
    assert_eq!((created["name"].as_str(), created["source"].as_str()), (Some("ops"), Some("api")));
    assert_eq!(created["password_set"], true);
    assert_eq!(created["state"], "new");
    assert_eq!(created["settings"]["port"], 993, "defaults are filled in: {created}");
    assert!(created["settings"].get("password").is_none() && !created.to_string().contains("offline-pw-1"));
    let dup = admin.post("/api/v1/mailboxes", &offline("ops")).await;
    assert_eq!(dup.status, 409);
    assert_error(&dup.body, "conflict");

    let list = admin.get("/api/v1/mailboxes").await.expect(200);
    let ops = list["mailboxes"].as_array().unwrap().iter().find(|m| m["name"] == "ops").expect("listed").clone();
    assert_eq!(ops["id"], created["id"]);
    assert!(ops.get("status").is_some(), "the status row is part of every item: {ops}");

    // Update without `password` keeps the stored one; the sealed text is untouched.
    let sealed = || sealed_of(&app, "ops");
    let before = sealed();
    assert!(before.as_deref().is_some_and(|s| s.starts_with("xc20p1.") && !s.contains("offline-pw-1")));
    let mut change = offline("ops");
    change.as_object_mut().unwrap().remove("password");
    change["schedule"] = json!("*/10 * * * *");
    let updated = admin.put("/api/v1/mailboxes/ops", &change).await.expect(200);
    assert_eq!(
        (updated["settings"]["schedule"].as_str(), updated["password_set"].as_bool()),
        (Some("*/10 * * * *"), Some(true))
    );
    assert_eq!(sealed(), before, "an update without password keeps the stored one");
    // Naming a reference instead drops the sealed password.
    change["password_env"] = json!("PATH");
    admin.put("/api/v1/mailboxes/ops", &change).await.expect(200);
    assert_eq!(sealed(), None);
    // A rename by body keeps the id.
    change["name"] = json!("ops-renamed");
    let renamed = admin.put("/api/v1/mailboxes/ops", &change).await.expect(200);
    assert_eq!(renamed["id"], created["id"]);
    assert_eq!(admin.get("/api/v1/mailboxes/ops").await.status, 404);

    let off = admin.post("/api/v1/mailboxes/ops-renamed/disable", &json!({})).await.expect(200);
    assert_eq!((off["enabled"].as_bool(), off["state"].as_str()), (Some(false), Some("disabled")));
    let on = admin.post("/api/v1/mailboxes/ops-renamed/enable", &json!({})).await.expect(200);
    assert_eq!(on["enabled"], true);

    let gone = admin.delete("/api/v1/mailboxes/ops-renamed").await.expect(200);
    assert!(gone["deleted_at"].is_string(), "{gone}");
    assert_eq!(admin.get("/api/v1/mailboxes/ops-renamed").await.status, 404);
    assert!(!admin.get("/api/v1/mailboxes").await.text.contains("ops-renamed"));
    assert_eq!(app.count("mailboxes").await, 1, "the row (and its history) stays");

    // Every write is in the audit log, in order, with no password in it.
    let audit = admin.get("/api/v1/audit?target=mailbox:").await.expect(200);
    let actions: Vec<&str> =
        audit["entries"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(
        actions,
        [
            "mailbox.delete",
            "mailbox.enable",
            "mailbox.disable",
            "mailbox.update",
            "mailbox.update",
            "mailbox.update",
            "mailbox.create"
        ],
        "{audit}"
    );
    assert!(audit["entries"][6]["actor"].as_str().unwrap().starts_with("token:admin-"));
    assert_eq!(audit["entries"][6]["after"]["password_set"], true);
    assert!(!audit.to_string().contains("offline-pw-1") && !audit.to_string().contains("xc20p1"));
    app.stop(10).await.unwrap();
}
on_both_backends!(crud, create_read_update_disable_delete);

/// The sealed password column of mailbox `name`, read straight from the table.
pub fn sealed_of(app: &TestApp, name: &str) -> Option<String> {
    let mut c = app.conn();
    rebound::mailbox::repo::by_name(&mut c, name).unwrap().password_sealed
}

async fn several_mistakes_are_reported_at_once(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::new(db, with_key(dir.path())).serve().await;
    let admin = app.admin();
    let bad = json!({"name": "Bad Name", "protocol": "imap", "host": "", "port": 0, "username": "b",
                     "password": "pw", "schedule": "every minute", "foo": 1, "idle": "yes"});
    let r = admin.post("/api/v1/mailboxes", &bad).await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_error(&r.body, "invalid");
    let fields: Vec<&str> =
        r.body["error"]["problems"].as_array().unwrap().iter().map(|p| p["field"].as_str().unwrap()).collect();
    for f in ["name", "host", "port", "schedule", "foo", "idle"] {
        assert!(fields.contains(&f), "{f} missing from {fields:?}");
    }
    assert!(!r.text.contains("\"pw\""), "the password is not echoed");
    // Password and a reference together, and no password at all.
    let mut both = offline("both");
    both["password_env"] = json!("PATH");
    let r = admin.post("/api/v1/mailboxes", &both).await;
    assert_eq!((r.status, r.body["error"]["problems"][0]["field"].as_str()), (422, Some("password")), "{}", r.text);
    let mut none = offline("none");
    none.as_object_mut().unwrap().remove("password");
    let r = admin.post("/api/v1/mailboxes", &none).await;
    assert_eq!(r.status, 422);
    assert!(r.text.contains("password"), "{}", r.text);
    let r = admin.post("/api/v1/mailboxes", &json!(["not", "an", "object"])).await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(app.count("mailboxes").await, 0, "nothing was stored");
    app.stop(10).await.unwrap();
}
on_both_backends!(validation, several_mistakes_are_reported_at_once);

async fn a_password_without_a_key_is_refused_with_the_fix(db: TestDb) {
    let app = TestApp::new(db, |_| {}).serve().await;
    let mut bad = offline("nokey");
    bad["port"] = json!(0);
    let r = app.admin().post("/api/v1/mailboxes", &bad).await;
    assert_eq!(r.status, 422, "{}", r.text);
    let problems = r.body["error"]["problems"].as_array().unwrap();
    let pw = problems.iter().find(|p| p["field"] == "password").expect("a password problem");
    let msg = pw["message"].as_str().unwrap();
    assert!(
        msg.contains("[secrets]") && msg.contains("key_env") && msg.contains("rebound secrets generate-key"),
        "{msg}"
    );
    assert!(problems.iter().any(|p| p["field"] == "port"), "the other problems come with it: {problems:?}");
    // With a reference instead, no key is needed.
    let mut by_env = offline("nokey");
    by_env.as_object_mut().unwrap().remove("password");
    by_env["password_env"] = json!("PATH");
    let ok = app.admin().post("/api/v1/mailboxes", &by_env).await.expect(201);
    assert_eq!(ok["password_set"], true);
    assert_eq!(ok["settings"]["password_env"], "PATH", "a reference's name is not a secret");
    app.stop(10).await.unwrap();
}
on_both_backends!(no_key, a_password_without_a_key_is_refused_with_the_fix);

async fn viewers_read_and_strangers_get_nothing(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::new(db, with_key(dir.path())).serve().await;
    app.admin().post("/api/v1/mailboxes", &offline("ops")).await.expect(201);
    let none = app.api(None);
    for r in [none.get("/api/v1/mailboxes").await, none.post("/api/v1/mailboxes", &offline("x")).await] {
        assert_eq!(r.status, 401, "{}", r.text);
        assert_error(&r.body, "unauthorized");
    }
    let viewer = app.viewer();
    viewer.get("/api/v1/mailboxes").await.expect(200);
    viewer.get("/api/v1/mailboxes/ops").await.expect(200);
    let writes = [
        viewer.post("/api/v1/mailboxes", &offline("x")).await,
        viewer.put("/api/v1/mailboxes/ops", &offline("ops")).await,
        viewer.delete("/api/v1/mailboxes/ops").await,
        viewer.post("/api/v1/mailboxes/ops/disable", &json!({})).await,
        viewer.post("/api/v1/mailboxes/ops/verify", &json!({})).await,
        viewer.post("/api/v1/mailboxes/verify", &offline("x")).await,
        viewer.post("/api/v1/mailboxes/ops/poll", &json!({})).await,
        viewer.post("/api/v1/mailboxes/bulk", &json!({"action": "disable", "names": ["ops"]})).await,
    ];
    for r in writes {
        assert_eq!(r.status, 403, "{}", r.text);
        assert_error(&r.body, "forbidden");
    }
    assert_eq!(app.admin().get("/api/v1/mailboxes/ops").await.expect(200)["enabled"], true);
    app.stop(10).await.unwrap();
}
on_both_backends!(roles, viewers_read_and_strangers_get_nothing);

/// A `[[mailbox]]` of the config file: listed with its source and file, never written.
async fn config_mailboxes_are_read_only(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rebound.toml");
    let entry = "name = \"from-file\"\nprotocol = \"imap\"\nhost = \"mail.example.com\"\nusername = \"b\"\n\
                 password_env = \"PATH\"\n";
    std::fs::write(&file, format!("[[mailbox]]\n{entry}")).unwrap();
    let m = rebound::config::MailboxConfig::from_value(toml::from_str(entry).unwrap(), "mailbox[0]").unwrap();
    let key = with_key(dir.path());
    let app = TestApp::new(db, |cfg| {
        key(cfg);
        cfg.mailbox.push(m);
    })
    .serve_from(Some(&file))
    .await;
    let admin = app.admin();
    admin.post("/api/v1/mailboxes", &offline("api-one")).await.expect(201);
    let list = admin.get("/api/v1/mailboxes").await.expect(200);
    let sources: Vec<(&str, &str)> = list["mailboxes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["name"].as_str().unwrap(), m["source"].as_str().unwrap()))
        .collect();
    assert_eq!(sources, [("api-one", "api"), ("from-file", "config")]);
    assert_eq!(list["mailboxes"][1]["config_file"], file.display().to_string());
    assert_eq!(list["mailboxes"][1]["password_set"], true);

    let named = file.display().to_string();
    let refused = [
        admin.put("/api/v1/mailboxes/from-file", &offline("from-file")).await,
        admin.delete("/api/v1/mailboxes/from-file").await,
        admin.post("/api/v1/mailboxes/from-file/disable", &json!({})).await,
        admin.post("/api/v1/mailboxes/from-file/enable", &json!({})).await,
    ];
    for r in refused {
        assert_eq!(r.status, 409, "{}", r.text);
        assert_error(&r.body, "read_only");
        assert!(r.body["error"]["message"].as_str().unwrap().contains(&named), "{}", r.text);
    }
    // The file's name cannot be taken by an API mailbox either.
    let clash = admin.post("/api/v1/mailboxes", &offline("from-file")).await;
    assert_eq!(clash.status, 409, "{}", clash.text);

    // Bulk: per-name results; a config mailbox and an unknown name are items' errors.
    let r = admin
        .post("/api/v1/mailboxes/bulk", &json!({"action": "disable", "names": ["api-one", "from-file", "nope"]}))
        .await
        .expect(200);
    assert_eq!((r["succeeded"].as_u64(), r["failed"].as_u64()), (Some(1), Some(2)), "{r}");
    let codes: Vec<Value> = r["results"].as_array().unwrap().iter().map(|i| i["error"]["code"].clone()).collect();
    assert_eq!(codes, [Value::Null, json!("read_only"), json!("not_found")]);
    assert_eq!(r["results"][0]["result"]["enabled"], false);
    let r = admin.post("/api/v1/mailboxes/bulk", &json!({"action": "enable", "names": ["api-one"]})).await.expect(200);
    assert_eq!(r["results"][0]["result"]["enabled"], true);
    let r = admin.post("/api/v1/mailboxes/bulk", &json!({"action": "explode", "names": ["api-one"]})).await;
    assert_eq!(r.status, 422, "{}", r.text);
    let r = admin.post("/api/v1/mailboxes/bulk", &json!({"action": "enable", "names": []})).await;
    assert_eq!((r.status, r.body["error"]["problems"][0]["field"].as_str()), (422, Some("names")));
    app.stop(10).await.unwrap();
}
on_both_backends!(read_only, config_mailboxes_are_read_only);
