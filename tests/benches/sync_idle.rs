//! `make bench` (part `sync`): from a bounce landing in Dovecot to Postfix refusing the
//! address, end to end: a real `rebound serve` child whose IMAP mailbox has `idle = true` and
//! whose Postfix node has `push = true`, the test Dovecot and the test Postfix (both started
//! by tests/support/bench.sh). 20 bounces, one at a time: each is saved into the mailbox with
//! doveadm, then `RCPT TO:` the bounced address is tried every 50 ms until smtpd answers 554.

use super::api::summary;
use super::support::Dovecot;
use super::support::postfix::Postfix;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BOUNCES: usize = 20;

pub fn run() {
    let label = "sync: bounce in Dovecot -> Postfix refuses";
    let dovecot_env = std::env::var("REBOUND_TEST_DOVECOT_DIR").unwrap_or_else(|_| "/tmp/rebound-test-dovecot".into());
    let postfix_env = std::env::var("REBOUND_TEST_POSTFIX_DIR").unwrap_or_else(|_| "/tmp/rebound-test-postfix".into());
    for dir in [&dovecot_env, &postfix_env] {
        if !std::path::Path::new(dir).join("env").exists() {
            return println!(
                "{label:<44} skipped: no test Dovecot/Postfix at {dir} (tests/support/bench.sh starts them)"
            );
        }
    }
    let (d, pf) = (Dovecot::get(), Postfix::get());
    let user = d.add_user();
    let dir = tempfile::tempdir().expect("temp dir");
    let pw = dir.path().join("pw");
    std::fs::write(&pw, &user.password).expect("password file");
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("port").port();
    let cfg = dir.path().join("rebound.toml");
    std::fs::write(
        &cfg,
        format!(
            "[server]\nlisten = \"127.0.0.1:{port}\"\n[database]\nurl = \"sqlite://{db}/idle.db\"\n[log]\nlevel = \"warn\"\n\n\
             [[mailbox]]\nname = \"bounces\"\nprotocol = \"imap\"\nhost = \"localhost\"\nport = {imap}\nsecurity = \"none\"\n\
             username = \"{u}\"\npassword_file = \"{pw}\"\nafter_processing = \"delete\"\nschedule = \"0 0 1 1 *\"\nidle = true\n\n\
             [[node]]\nname = \"pf\"\ntarget = \"postfix\"\npath = \"{table}\"\npush = true\nschedule = \"0 0 1 1 *\"\n",
            db = dir.path().display(),
            imap = d.plain_imap_port,
            u = user.name,
            pw = pw.display(),
            table = pf.table.display(),
        ),
    )
    .expect("config");
    let mut serve = Command::new(env!("CARGO_BIN_EXE_rebound"))
        .arg("--config")
        .arg(&cfg)
        .arg("serve")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("rebound serve");
    // Up, with its first render done and the IDLE session open.
    std::thread::sleep(Duration::from_secs(5));
    let mut times = Vec::new();
    for i in 0..BOUNCES {
        let rcpt = format!("idle{i}-{}@example.org", std::process::id());
        let raw = super::support::mail::dsn(
            "bounces@sender.example",
            &rcpt,
            "5.1.1",
            "550 5.1.1 User unknown",
            &super::support::mail::original(Some("c1"), &format!("{rcpt}-m@sender.example")),
            "Tue, 10 Nov 2026 10:00:00 +0000",
        );
        let t = Instant::now();
        user.deliver("INBOX", &raw);
        loop {
            if pf.rcpt(&rcpt).starts_with("554") {
                times.push(t.elapsed().as_secs_f64());
                break;
            }
            if t.elapsed() > Duration::from_secs(60) {
                println!("{label:<44} bounce {i} not refused within 60 s");
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    let _ = serve.kill();
    let _ = serve.wait();
    let mut sorted = times.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted.get(sorted.len() / 2).copied().unwrap_or(f64::NAN);
    println!("{label:<44} median {median:.2} s over {} bounces; goal <= 10 s; {}", times.len(), summary(times));
}
