//! OAuth2 mailboxes over the admin API, on both backends: the client secret given inline is
//! stored sealed and never shown, verify has a token stage, and a poll logs in with a token
//! from the stand-in provider and records the bounce it finds.

use super::mailboxes::with_key;
use crate::support::oauth::provider;
use crate::support::{Dovecot, TestDb, app::TestApp, count_rows, mail};
use serde_json::{Value, json};
use std::time::Duration;

fn body(d: &Dovecot, user: &str, client: &crate::support::oauth::Client, name: &str) -> Value {
    json!({"name": name, "protocol": "pop3", "host": "localhost", "port": d.pop3s_port, "security": "ssl",
           "ca_file": d.ca_file.display().to_string(), "username": user, "auth": "oauth2",
           "oauth2_token_url": client.token_url(), "oauth2_client_id": client.id,
           "oauth2_client_secret": client.secret, "oauth2_scope": "https://mail.example.test/.default",
           "after_processing": "delete", "schedule": "0 0 1 1 *", "timeout_seconds": 10, "lease_seconds": 5})
}

async fn an_oauth2_mailbox_is_sealed_verified_and_polled(db: TestDb) {
    let d = Dovecot::get();
    let user = d.add_user();
    let client = provider().client(&user.name);
    user.deliver(
        "INBOX",
        &mail::dsn(
            "bounces@sender.example",
            "gone-oauth@example.org",
            "5.1.1",
            "550 5.1.1 User unknown",
            &mail::original(Some("c-oauth"), "m-oauth@sender.example"),
            "Tue, 10 Nov 2026 10:00:00 +0000",
        ),
    );
    let dir = tempfile::tempdir().unwrap();

    // Without a [secrets] key the client secret cannot be stored: refused with the fix.
    let keyless = TestApp::new(TestDb::sqlite(), |_| {}).serve().await;
    let r = keyless.admin().post("/api/v1/mailboxes", &body(&d, &user.name, &client, "m365")).await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(r.body["error"]["problems"][0]["field"], "oauth2_client_secret", "{}", r.text);
    assert!(r.text.contains("generate-key") && r.text.contains("oauth2_client_secret_env"), "{}", r.text);
    assert!(!r.text.contains(&client.secret));
    keyless.stop(10).await.unwrap();

    let app = TestApp::new(db, with_key(dir.path())).serve().await;
    let admin = app.admin();
    let report = admin.post("/api/v1/mailboxes/verify", &body(&d, &user.name, &client, "m365")).await.expect(200);
    assert_eq!(report["ok"], true, "{report}");
    let stages: Vec<&str> = report["stages"].as_array().unwrap().iter().map(|s| s["stage"].as_str().unwrap()).collect();
    let at = |s: &str| stages.iter().position(|x| *x == s);
    assert!(at("token").is_some() && at("token") < at("login"), "{stages:?}");

    let created = admin.post("/api/v1/mailboxes", &body(&d, &user.name, &client, "m365")).await.expect(201);
    assert_eq!(
        (created["oauth2_client_secret_set"].as_bool(), created["password_set"].as_bool()),
        (Some(true), Some(false))
    );
    assert_eq!(created["settings"]["auth"], "oauth2", "{created}");
    assert!(created["settings"].get("oauth2_client_secret").is_none());
    for shown in [created.to_string(), admin.get("/api/v1/mailboxes").await.text, admin.get("/api/v1/audit").await.text]
    {
        assert!(!shown.contains(&client.secret), "the client secret is shown: {shown}");
    }
    let id = created["id"].as_i64().unwrap();
    let sealed = rebound::mailbox::repo::get(&mut app.conn(), id).unwrap().oauth2_client_secret_sealed.unwrap();
    assert!(sealed.starts_with("xc20p1") && !sealed.contains(&client.secret), "stored sealed: {sealed}");

    // A poll through OAuth2 records the bounce (and deletes the committed message).
    admin.post("/api/v1/mailboxes/m365/poll", &json!({})).await.expect(202);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while count_rows(&app.db, "events").await < 1 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let view = admin.get("/api/v1/campaigns/c-oauth/bounced").await.expect(200);
    assert!(view.to_string().contains("gone-oauth@example.org"), "{view}");
    assert_eq!(client.grants(), ["client_credentials"], "verify and poll shared one cached token");

    // An update without the secret keeps it; the saved mailbox verifies with it.
    let mut again = body(&d, &user.name, &client, "m365");
    again.as_object_mut().unwrap().remove("oauth2_client_secret");
    again["timeout_seconds"] = json!(9);
    let updated = admin.put("/api/v1/mailboxes/m365", &again).await.expect(200);
    assert_eq!(updated["oauth2_client_secret_set"], true, "{updated}");
    // The client revoked: the saved mailbox's verify names the token stage and the endpoint's words.
    client.revoke_client();
    client.revoke_tokens();
    let r = admin.post("/api/v1/mailboxes/m365/verify", &json!({})).await.expect(200);
    assert_eq!((r["ok"].as_bool(), r["failure"]["stage"].as_str()), (Some(false), Some("token")), "{r}");
    assert!(r["failure"]["detail"].as_str().unwrap().contains("invalid_client"), "{r}");
    assert!(r["failure"]["hint"].as_str().unwrap().contains("oauth2_client_id"), "{r}");
    assert!(!r.to_string().contains(&client.secret));
    app.stop(10).await.unwrap();
}
on_both_backends!(sealed_verified_polled, an_oauth2_mailbox_is_sealed_verified_and_polled);
