//! Helpers: the test Postfix, an SMTP RCPT probe, the CLI on a config file of the test's own.

use crate::support::TestDb;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The test Postfix started by `tests/support/postfix.sh` (`make test` does it).
pub struct Postfix {
    pub dir: PathBuf,
    pub port: u16,
    pub table: PathBuf,
}

/// Tests that rewrite the one table the test Postfix reads take turns.
pub static POSTFIX_TABLE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

impl Postfix {
    pub fn get() -> Postfix {
        let dir = PathBuf::from(
            std::env::var("REBOUND_TEST_POSTFIX_DIR").unwrap_or_else(|_| "/tmp/rebound-test-postfix".into()),
        );
        let env = std::fs::read_to_string(dir.join("env")).unwrap_or_else(|e| {
            panic!(
                "the test Postfix is not running ({}: {e}); run `make test` or `tests/support/postfix.sh start`",
                dir.join("env").display()
            )
        });
        let get = |k: &str| env.lines().find_map(|l| l.strip_prefix(&format!("{k}="))).expect(k).to_string();
        Postfix {
            port: get("REBOUND_TEST_SMTP_PORT").parse().expect("port"),
            table: PathBuf::from(get("REBOUND_TEST_POSTFIX_TABLE")),
            dir,
        }
    }

    /// The server's reply to `RCPT TO:<address>` (its last line), on a fresh connection.
    pub fn rcpt(&self, address: &str) -> String {
        let s = TcpStream::connect(("127.0.0.1", self.port)).expect("connect to the test Postfix");
        s.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
        let mut r = BufReader::new(s.try_clone().unwrap());
        let mut w = s;
        let reply = |r: &mut BufReader<TcpStream>| {
            let mut line = String::new();
            loop {
                line.clear();
                r.read_line(&mut line).expect("SMTP reply");
                if line.len() < 4 || line.as_bytes()[3] != b'-' {
                    return line.trim_end().to_string();
                }
            }
        };
        reply(&mut r);
        for cmd in ["EHLO test.example", "MAIL FROM:<news@sender.example>"] {
            writeln!(w, "{cmd}\r").unwrap();
            let got = reply(&mut r);
            assert!(got.starts_with('2'), "{cmd}: {got}");
        }
        writeln!(w, "RCPT TO:<{address}>\r").unwrap();
        let got = reply(&mut r);
        let _ = writeln!(w, "QUIT\r");
        got
    }
}

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
