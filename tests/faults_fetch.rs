//! Faults of issue #16 on the fetch side, against the real test Dovecot (through the
//! fault-injecting proxy where the network has to misbehave): secrets in trace logs (4), a
//! malformed IMAP response dumped whole into errors (6), bytes injected into plain POP3 (9).

mod support;

use rebound::config::{AfterProcessing, Config, MailboxConfig, Protocol, Security};
use rebound::fetch::{Source, Stage};
use rebound::mailbox::{poll_once, state};
use rebound::record::Pipeline;
use rebound::store::Db;
use std::net::SocketAddr;
use std::sync::Arc;
use support::proxy::{Fault, Proxy};
use support::{Dovecot, MailUser, TestDb, count_rows, sample_message};
use tokio_util::sync::CancellationToken;

fn upstream(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// `user`'s mailbox reached through `proxy` instead of directly.
fn via(proxy: &Proxy, mut cfg: MailboxConfig) -> MailboxConfig {
    cfg.host = "127.0.0.1".into();
    cfg.port = proxy.port();
    cfg.timeout_seconds = 5;
    cfg
}

fn setup(db: &TestDb) -> (Db, Arc<Pipeline>) {
    let cfg = Config { database: db.config(), ..Default::default() };
    (Db::connect(&cfg.database).unwrap(), Arc::new(Pipeline::new(&cfg).unwrap()))
}

fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in bytes.chunks(3) {
        let n = (u32::from(c[0]) << 16) | (u32::from(*c.get(1).unwrap_or(&0)) << 8) | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            out.push(if i <= c.len() { A[(n >> (18 - 6 * i)) as usize & 63] as char } else { '=' });
        }
    }
    out
}

// ---- Fault 4: the password in trace logs ---------------------------------------------------

/// A config file with one IMAP and one POP3 mailbox of `user` (password from a file) on
/// SQLite, at log level `level`.
fn cli_config(d: &Dovecot, user: &MailUser, dir: &std::path::Path, level: &str) -> std::path::PathBuf {
    let pw = dir.join("pw");
    std::fs::write(&pw, &user.password).unwrap();
    let mailbox = |name: &str, protocol: &str, port: u16, security: &str| {
        format!(
            "[[mailbox]]\nname = \"{name}\"\nprotocol = \"{protocol}\"\nhost = \"localhost\"\nport = {port}\n\
             security = \"{security}\"\n{ca}username = \"{u}\"\npassword_file = \"{pw}\"\n\
             timeout_seconds = 5\n\n",
            ca = if security == "none" { String::new() } else { format!("ca_file = \"{}\"\n", d.ca_file.display()) },
            u = user.name,
            pw = pw.display(),
        )
    };
    let conf = dir.join("rebound.toml");
    let text = format!(
        "[database]\nurl = \"sqlite://{db}\"\n\n[log]\nlevel = \"{level}\"\n\n{imap}{imaps}{pop3}",
        db = dir.join("rebound.db").display(),
        imap = mailbox("imap-starttls", "imap", d.imap_port, "starttls"),
        imaps = mailbox("imap-plain", "imap", d.plain_imap_port, "none"),
        pop3 = mailbox("pop3-plain", "pop3", d.plain_pop3_port, "none"),
    );
    std::fs::write(&conf, text).unwrap();
    conf
}

#[test]
fn no_log_level_shows_the_mailbox_password() {
    let d = Dovecot::get();
    let user = d.add_user();
    user.deliver("INBOX", &sample_message(&format!("{}-trace", user.name), "hello"));
    let secrets = [
        user.password.clone(),
        base64(format!("\0{}\0{}", user.name, user.password).as_bytes()),
        base64(format!("{0}\0{0}\0{1}", user.name, user.password).as_bytes()),
        base64(user.password.as_bytes()),
    ];
    let dir = tempfile::tempdir().unwrap();
    // Every way of turning tracing up: the config file, RUST_LOG for all, RUST_LOG aimed at
    // the IMAP crate itself.
    let ways: [(&str, Option<&str>); 3] =
        [("trace", None), ("info", Some("trace")), ("info", Some("debug,async_imap=trace,async_imap::imap_stream=trace"))];
    for (level, rust_log) in ways {
        let conf = cli_config(&d, &user, dir.path(), level);
        for args in [
            vec!["verify", "imap-starttls"],
            vec!["verify", "imap-plain"],
            vec!["verify", "pop3-plain"],
            vec!["poll", "imap-plain"],
            vec!["poll", "pop3-plain"],
        ] {
            let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_rebound"));
            cmd.arg("--config").arg(&conf).args(&args).env_remove("RUST_LOG");
            if let Some(v) = rust_log {
                cmd.env("RUST_LOG", v);
            }
            let out = cmd.output().expect("run rebound");
            let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
            let what = format!("{args:?} at level {level}, RUST_LOG={rust_log:?}");
            assert!(out.status.success(), "{what}: {stdout}{stderr}");
            // The log really was at debug or finer, and the login really happened: a test
            // that saw no log at all would prove nothing.
            assert!(stderr.contains("mailbox stage passed") && stderr.contains("logged in as"), "{what}: {stderr}");
            for s in &secrets {
                assert!(!stderr.contains(s.as_str()), "{what}: stderr shows `{s}`:\n{stderr}");
                assert!(!stdout.contains(s.as_str()), "{what}: stdout shows `{s}`:\n{stdout}");
            }
        }
    }
}
