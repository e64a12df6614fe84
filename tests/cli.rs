//! The command line as operators use it: exit codes and messages.

mod support;

use std::process::{Command, Output};

fn rebound(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rebound"));
    cmd.args(args).env_remove("REBOUND_CONFIG");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run rebound")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

#[test]
fn check_config_accepts_the_example() {
    let o = rebound(&["check-config", "config.example.toml"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("configuration is valid"));
}

#[test]
fn check_config_reports_all_mistakes_with_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.toml");
    std::fs::write(&p, "[server]\nlisten = \"x\"\n[database]\nurl = \"ftp://x\"\n[logg]\n").unwrap();
    let o = rebound(&["check-config", p.to_str().unwrap()], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let t = text(&o);
    assert!(
        t.contains("3 problems") && t.contains("server.listen") && t.contains("database.url") && t.contains("logg"),
        "{t}"
    );
}

#[test]
fn a_missing_config_file_is_a_config_error() {
    let o = rebound(&["--config", "/nonexistent/rebound.toml", "migrate"], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("/nonexistent/rebound.toml"), "{}", text(&o));
}

#[test]
fn usage_errors_exit_2_and_help_explains_commands() {
    assert_eq!(rebound(&["no-such-command"], &[]).status.code(), Some(2));
    let help = text(&rebound(&["--help"], &[]));
    for cmd in ["serve", "migrate", "check-config"] {
        assert!(help.contains(cmd), "{help}");
    }
}

#[test]
fn migrate_creates_a_new_sqlite_file() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/new.db", dir.path().display());
    let o = rebound(&["--config", "config.example.toml", "migrate"], &[("REBOUND__DATABASE__URL", &url)]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("applied"), "{}", text(&o));
    let again = rebound(&["--config", "config.example.toml", "migrate"], &[("REBOUND__DATABASE__URL", &url)]);
    assert!(text(&again).contains("up to date"), "{}", text(&again));
}

#[test]
fn migrate_creates_the_schema_in_a_new_postgres_database() {
    let admin = support::pg_admin_url();
    let name = format!("rebound_mig_{}", uuid::Uuid::new_v4().simple());
    support::psql(&admin, &format!("CREATE DATABASE {name}"));
    let url = format!("{}/{name}", admin.rsplit_once('/').unwrap().0);
    let o = rebound(&["--config", "config.example.toml", "migrate"], &[("REBOUND__DATABASE__URL", &url)]);
    support::psql(&admin, &format!("DROP DATABASE {name} WITH (FORCE)"));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("applied"), "{}", text(&o));
}

#[test]
fn a_dead_database_fails_with_exit_1_and_the_cause() {
    let o = rebound(
        &["--config", "config.example.toml", "migrate"],
        &[("REBOUND__DATABASE__URL", "postgres://rebound@127.0.0.1:1/rebound")],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("Connection refused"), "{}", text(&o));
}

#[test]
fn rules_commands_edit_the_list_and_refuse_mistakes() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/r.db", dir.path().display());
    let env = [("REBOUND__DATABASE__URL", url.as_str())];
    let run = |args: &[&str]| {
        let mut all = vec!["--config", "config.example.toml", "rules"];
        all.extend_from_slice(args);
        rebound(&all, &env)
    };
    let o = run(&[
        "add",
        "--key",
        "vip",
        "--name",
        "VIP",
        "--when",
        "recipient_domain in vip.example",
        "--outcome",
        "soft",
        "--to",
        "1",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let list = text(&run(&["list"]));
    let first = list.lines().nth(1).unwrap();
    assert!(first.contains("vip") && first.contains("[custom]"), "{list}");

    let bad = run(&["add", "--key", "bad", "--name", "x", "--when", "diagnostic matches a(b", "--outcome", "soft"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(text(&bad).contains("rule `bad`") && text(&bad).contains("invalid regex"), "{}", text(&bad));

    let g = run(&["delete", "global"]);
    assert_eq!(g.status.code(), Some(1));
    assert!(text(&g).contains("Global rule cannot be deleted"), "{}", text(&g));

    // Export, reset (custom rule gone), import (custom rule back).
    let exported = run(&["export"]);
    let file = dir.path().join("rules.toml");
    std::fs::write(&file, &exported.stdout).unwrap();
    assert_eq!(run(&["reset"]).status.code(), Some(2), "reset needs --yes");
    assert!(text(&run(&["reset", "--yes"])).contains("custom removed 1"));
    assert!(!text(&run(&["list"])).contains("vip"));
    let o = run(&["import", file.to_str().unwrap()]);
    assert!(text(&o).contains("1 added"), "{}", text(&o));
    let json: serde_json::Value = serde_json::from_slice(&run(&["list", "--json"]).stdout).unwrap();
    assert!(json.as_array().unwrap().iter().any(|r| r["key"] == "vip"));
}

#[test]
fn parse_stores_nothing_and_creates_no_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("never.db");
    let msg = dir.path().join("b.eml");
    std::fs::write(
        &msg,
        support::mail::dsn(
            "b@s.example",
            "gone@example.org",
            "5.1.1",
            "550 5.1.1 User unknown",
            "",
            "Tue, 10 Nov 2026 10:00:00 +0000",
        ),
    )
    .unwrap();
    let url = format!("sqlite://{}", db.display());
    let o = rebound(
        &["--config", "config.example.toml", "parse", "--json", msg.to_str().unwrap()],
        &[("REBOUND__DATABASE__URL", &url)],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("\"classification\":\"hard\""), "{}", text(&o));
    assert!(!db.exists(), "parse created (and so migrated and seeded) a database");
}

#[test]
fn logs_to_a_file_carry_no_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/r.db", dir.path().display());
    let err = std::fs::File::create(dir.path().join("stderr")).unwrap();
    let mut serve = Command::new(env!("CARGO_BIN_EXE_rebound"))
        .args(["--config", "config.example.toml", "serve"])
        .env("REBOUND__DATABASE__URL", &url)
        .env("REBOUND__SERVER__LISTEN", "127.0.0.1:0")
        .stdout(std::process::Stdio::null())
        .stderr(err)
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let log = loop {
        let log = std::fs::read_to_string(dir.path().join("stderr")).unwrap();
        if log.contains("rebound serving") || std::time::Instant::now() > deadline {
            break log;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let _ = serve.kill();
    let _ = serve.wait();
    assert!(log.contains("rebound serving"), "{log}");
    assert!(!log.contains('\u{1b}'), "escape codes in a log file: {log:?}");
}
