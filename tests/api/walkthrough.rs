//! The README's walkthrough ("From `make run` to a removed suppression"), run as written:
//! the shell block is taken from README.md and run by bash with curl against a real
//! `rebound serve` started as `make run` starts it (config.example.toml, a generated
//! `[secrets]` key), with only the mailbox settings, the address and the binary's path
//! swapped for the test's. If the README's commands stop working, this fails.

use crate::support::serve::{Serve, free_port};
use crate::support::{Dovecot, TestDb, mail};
use serde_json::json;
use std::process::Command;

/// The fenced block after the walkthrough marker.
fn readme_block() -> String {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme.find("<!-- walkthrough:").expect("the README has the walkthrough marker");
    let body = &readme[start..];
    let open = body.find("```sh\n").expect("a ```sh block after the marker") + 6;
    let close = body[open..].find("```").expect("the block ends") + open;
    body[open..close].to_string()
}

async fn the_readme_walkthrough_works_as_written(db: TestDb) {
    let d = Dovecot::get();
    let user = d.add_user();
    user.deliver(
        "INBOX",
        &mail::dsn(
            "bounces@sender.example",
            "jane@example.org",
            "5.1.1",
            "550 5.1.1 <jane@example.org>: Recipient address rejected: User unknown",
            &mail::original(Some("spring-sale"), "walk-1@sender.example"),
            "Tue, 10 Nov 2026 10:00:00 +0000",
        ),
    );

    // The directory `make run` runs in: config.example.toml and data/secret.key.
    let home = tempfile::tempdir().unwrap();
    let cfg = home.path().join("config.example.toml");
    std::fs::copy(concat!(env!("CARGO_MANIFEST_DIR"), "/config.example.toml"), &cfg).unwrap();
    std::fs::create_dir(home.path().join("data")).unwrap();
    let key = Command::new(env!("CARGO_BIN_EXE_rebound")).args(["secrets", "generate-key"]).output().unwrap();
    assert!(key.status.success());
    std::fs::write(home.path().join("data/secret.key"), &key.stdout).unwrap();
    let port = free_port();
    let env = [
        ("REBOUND__SERVER__LISTEN", format!("127.0.0.1:{port}")),
        ("REBOUND__DATABASE__URL", db.url().to_string()),
        ("REBOUND__SECRETS__KEY_FILE", "data/secret.key".to_string()),
    ];
    let serve = Serve::start_in(&cfg, port, Some(home.path()), &env);

    // The block, with the test's mailbox, port and binary.
    let block = readme_block();
    let box_line = block.lines().find(|l| l.starts_with("BOX=")).expect("the block sets BOX");
    let mailbox = json!({"name": "bounces-main", "protocol": "imap", "host": "localhost", "port": d.imaps_port,
        "security": "ssl", "ca_file": d.ca_file.display().to_string(), "username": user.name,
        "password": user.password, "timeout_seconds": 10});
    let script = block
        .replace(box_line, &format!("BOX='{mailbox}'"))
        .replace("./target/release/rebound", env!("CARGO_BIN_EXE_rebound"))
        .replace("http://127.0.0.1:8025", &Serve::base(port));
    let out = Command::new("timeout")
        .args(["120", "bash", "-euo", "pipefail", "-c", &format!("shopt -s expand_aliases\n{script}")])
        .current_dir(home.path())
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .expect("bash and curl (make test installs curl)");
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    let log = serve.stop();
    assert!(
        out.status.success(),
        "the walkthrough failed ({:?}): {said}\n{}\nserve log:\n{log}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );

    // Each step answered what the README says it does.
    let objects: Vec<serde_json::Value> =
        serde_json::Deserializer::from_str(&said).into_iter().map(|v| v.expect("each curl prints JSON")).collect();
    let find = |what: &str, pred: &dyn Fn(&serde_json::Value) -> bool| {
        objects.iter().find(|v| pred(v)).unwrap_or_else(|| panic!("no {what} in the walkthrough's output: {said}"))
    };
    find("verify report that passed", &|v| v["ok"] == true && v["stages"].is_array());
    find("created mailbox", &|v| v["name"] == "bounces-main" && v["password_set"] == true);
    let polled = find("polled mailbox", &|v| v["status"]["last_success_at"].is_string());
    assert!(polled["status"]["messages_processed"].as_i64().unwrap_or(0) >= 1, "{polled}");
    let bounced = find("BOUNCED page", &|v| v["rows"].is_array() && v.get("next").is_some());
    assert!(bounced.to_string().contains("jane@example.org"), "jane's bounce in BOUNCED: {bounced}");
    let audit = objects.last().expect("the audit page");
    let text = audit.to_string();
    assert!(text.contains("token:ops") && text.contains("re-subscribed by phone"), "removal audited: {audit}");
    assert!(!said.contains(&user.password), "the mailbox password never comes back");
}
on_both_backends!(readme_walkthrough, the_readme_walkthrough_works_as_written);
