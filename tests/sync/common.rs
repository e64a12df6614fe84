//! Helpers: the test Postfix, an SMTP RCPT probe, the CLI on a config file of the test's own.

use crate::support::TestDb;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub use crate::support::postfix::{POSTFIX_TABLE, Postfix};

/// A config file for `db` with `nodes` (TOML text of [[node]] blocks) in `dir`.
pub fn config_file(dir: &Path, db: &TestDb, nodes: &str) -> PathBuf {
    let p = dir.join("rebound.toml");
    std::fs::write(&p, format!("[database]\nurl = \"{}\"\n\n[log]\nlevel = \"warn\"\n\n{nodes}", db.url())).unwrap();
    p
}

pub fn rebound(config: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rebound"))
        .arg("--config")
        .arg(config)
        .args(args)
        .env_remove("REBOUND_CONFIG")
        .output()
        .expect("run rebound")
}

pub fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// Runs the CLI and insists on exit 0.
pub fn ok(config: &Path, args: &[&str]) -> String {
    let o = rebound(config, args);
    assert_eq!(o.status.code(), Some(0), "rebound {args:?}: {}", text(&o));
    text(&o)
}

/// Imports a hard bounce (5.1.1) for `rcpt` through the real pipeline (`rebound import`).
pub fn import_hard_bounce(config: &Path, dir: &Path, rcpt: &str) {
    let raw = crate::support::mail::dsn(
        "bounces@sender.example",
        rcpt,
        "5.1.1",
        "550 5.1.1 User unknown",
        &crate::support::mail::original(Some("c1"), &format!("{rcpt}-m@sender.example")),
        "Tue, 10 Nov 2026 10:00:00 +0000",
    );
    let file = dir.join(format!("{rcpt}.eml"));
    std::fs::write(&file, raw).unwrap();
    ok(config, &["import", file.to_str().unwrap()]);
}

/// The names of the files in `dir` whose name contains `needle` (temporary files left behind).
pub fn files_named(dir: &Path, needle: &str) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(needle))
        .collect()
}
