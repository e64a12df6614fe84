//! Faults of issue #16 on the fetch side, against the real test Dovecot (through the
//! fault-injecting proxy where the network has to misbehave): secrets in trace logs (4), a
//! malformed IMAP response dumped whole into errors (6), bytes injected into plain POP3 (9).

mod support;

use rebound::config::{AfterProcessing, Config, MailboxConfig, Protocol, Security};
use rebound::fetch::{Session, Stage};
use rebound::ingest::Pipeline;
use rebound::mailbox::{poll_once, state};
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
        let n =
            (u32::from(c[0]) << 16) | (u32::from(*c.get(1).unwrap_or(&0)) << 8) | u32::from(*c.get(2).unwrap_or(&0));
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
    let ways: [(&str, Option<&str>); 3] = [
        ("trace", None),
        ("info", Some("trace")),
        ("info", Some("debug,async_imap=trace,async_imap::imap_stream=trace")),
    ];
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

// ---- Fault 6: a malformed IMAP response dumped whole into the error ----------------------

/// 300 KB of text inside an unterminated IMAP quoted string, spliced into the FETCH answer
/// before the body literal: imap-proto waits for the rest of the string through all of it,
/// then fails on the control byte, with the whole buffer (mail text included) in its error.
fn imap_garbage() -> Fault {
    let mut bytes = b"\"".to_vec();
    while bytes.len() < 300_000 {
        bytes.extend_from_slice(b"Final-Recipient: rfc822; private-recipient@example.org ");
    }
    bytes.extend_from_slice(b"\x01\r\n");
    Fault::InjectAfter { marker: b"BODY[] ".to_vec(), bytes }
}

/// What an operator must never see in an error: the mail text, or the decimal-byte dump
/// nom's error carries.
fn assert_bounded(text: &str, limit: usize) {
    assert!(text.len() <= limit, "{} bytes: {}…", text.len(), text.chars().take(400).collect::<String>());
    assert!(text.matches("private-recipient").count() <= 6, "{text}");
    assert!(!text.contains("34, 70, 105"), "the decimal dump of `\"Fi…` is shown: {text}");
}

async fn a_malformed_imap_response_gives_a_short_error_and_last_error(db: TestDb) {
    let (store, pipeline) = setup(&db);
    let d = Dovecot::get();
    let user = d.add_user();
    user.deliver("INBOX", &sample_message(&format!("{}-garbled", user.name), "hello"));
    let proxy = Proxy::start(upstream(d.plain_imap_port), imap_garbage());
    let cfg = via(&proxy, d.mailbox(&user, Protocol::Imap, Security::None, d.plain_imap_port));
    let cfg = MailboxConfig { ca_file: None, ..cfg };

    let mut src = Session::open(&cfg, &user.secret()).await.unwrap();
    let refs = src.list().await.unwrap();
    assert_eq!(refs.len(), 1);
    let e = src.fetch(&refs).await.expect_err("the garbled answer must be an error");
    assert_eq!(e.stage, Stage::Fetch, "{e}");
    let shown = e.to_string();
    assert!(shown.contains("failed at fetch") && shown.contains("not valid IMAP"), "{shown}");
    assert_bounded(&shown, 1024);
    assert_bounded(&e.hint(), 1024);

    // The same through a poll: the mailbox's stored last_error is as short.
    proxy.set_fault(imap_garbage());
    let pw = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(pw.path(), &user.password).unwrap();
    let cfg = MailboxConfig { password_file: Some(pw.path().display().to_string()), ..cfg };
    let err = poll_once(&store, pipeline, support::id_of(&store, &cfg), &cfg, "i1", &CancellationToken::new())
        .await
        .unwrap_err();
    assert_eq!(err.stage(), "fetch", "{err}");
    let mut c = store.conn().unwrap();
    let s = state::get(&mut c, support::id_of(&store, &cfg)).unwrap().unwrap();
    assert_eq!(s.last_error_stage.as_deref(), Some("fetch"));
    assert_bounded(s.last_error.as_deref().unwrap_or(""), 1024);
    assert_eq!(count_rows(&store, "messages").await, 0);
    assert_eq!(user.count("INBOX"), 1);

    // Whatever produced it, a stored error is capped (pipeline and database errors too).
    let huge = "database said: ".to_string() + &"é".repeat(200_000);
    state::record_failure(
        &mut c,
        support::id_of(&store, &cfg),
        "database",
        &huge,
        1,
        0,
        chrono::Utc::now().naive_utc(),
    )
    .unwrap();
    let stored = state::get(&mut c, support::id_of(&store, &cfg)).unwrap().unwrap().last_error.unwrap();
    assert!(stored.chars().count() <= 1100 && stored.starts_with("database said: é"), "{} chars", stored.len());
    assert!(stored.contains("omitted"), "a cut error says so: …{}", &stored[stored.len().saturating_sub(80)..]);
}
on_both_backends!(malformed_imap_response, a_malformed_imap_response_gives_a_short_error_and_last_error);

// ---- Fault 9: bytes injected into plain POP3 -----------------------------------------------

/// `n` bytes of fixed pseudo-random noise (xorshift), any byte value.
fn noise(n: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// The raw bytes stored for the message with this subject.
fn stored_raw(store: &Db, subject: &str) -> Vec<Vec<u8>> {
    use diesel::prelude::*;
    use rebound::store::schema::messages;
    let mut c = store.conn().unwrap();
    let raws: Vec<Option<Vec<u8>>> =
        messages::table.filter(messages::subject.eq(subject)).select(messages::raw).load(&mut c).unwrap();
    raws.into_iter().map(|r| r.expect("the raw message is kept")).collect()
}

async fn bytes_injected_into_plain_pop3_are_never_committed(db: TestDb) {
    let (store, pipeline) = setup(&db);
    let d = Dovecot::get();
    let user = d.add_user();
    let (tampered_subject, clean_subject) = (format!("{}-tampered", user.name), format!("{}-clean", user.name));
    let tampered = sample_message(&tampered_subject, "the original text\r\nsecond line");
    let clean = sample_message(&clean_subject, "nobody touched this one");
    user.deliver("INBOX", &tampered);
    user.deliver("INBOX", &clean);
    // Mid-RETR of the first message: right after its Subject line.
    let marker = format!("Subject: {tampered_subject}\r\n").into_bytes();
    let proxy = Proxy::start(upstream(d.plain_pop3_port), Fault::InjectAfter { marker, bytes: noise(64) });
    let pw = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(pw.path(), &user.password).unwrap();
    let cfg = MailboxConfig {
        ca_file: None,
        password_file: Some(pw.path().display().to_string()),
        after_processing: AfterProcessing::Delete,
        ..via(&proxy, d.mailbox(&user, Protocol::Pop3, Security::None, d.plain_pop3_port))
    };
    let cancel = CancellationToken::new();

    let first = poll_once(&store, pipeline.clone(), support::id_of(&store, &cfg), &cfg, "i1", &cancel)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // Only the damaged message is held back; the rest of the mailbox goes on.
    assert_eq!((first.fetched, first.skipped.len()), (1, 1), "{first:?}");
    let (id, why) = &first.skipped[0];
    let sizes = format!("LIST announced {} bytes, RETR delivered {}", tampered.len(), tampered.len() + 64);
    assert!(id.starts_with("pop3:") && why.contains(&sizes) && why.contains("left on the server"), "{why}");
    assert!(stored_raw(&store, &tampered_subject).is_empty(), "the tampered message was committed");
    assert_eq!(stored_raw(&store, &clean_subject).len(), 1);
    assert_eq!(user.subjects("INBOX"), vec![tampered_subject.clone()], "only the committed one is deleted");

    // Without the fault, the next poll takes it, once, byte for byte.
    proxy.set_fault(Fault::None);
    let second = poll_once(&store, pipeline, support::id_of(&store, &cfg), &cfg, "i1", &cancel)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((second.fetched, second.skipped.len()), (1, 0), "{second:?}");
    let raws = stored_raw(&store, &tampered_subject);
    assert_eq!(raws.len(), 1);
    assert_eq!(support::lf(&raws[0]), support::lf(&tampered));
    assert_eq!(count_rows(&store, "messages").await, 2);
    assert_eq!(user.count("INBOX"), 0);
}
on_both_backends!(injected_pop3_bytes, bytes_injected_into_plain_pop3_are_never_committed);

/// An injected terminating line ends a RETR early: the rest of that message is still on the
/// wire, so the session is dropped and the poll fails, with nothing committed or deleted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retr_cut_short_by_an_injected_terminator_fails_the_poll() {
    let db = TestDb::sqlite();
    let (store, pipeline) = setup(&db);
    let d = Dovecot::get();
    let user = d.add_user();
    let subject = format!("{}-short", user.name);
    let message = sample_message(&subject, "the rest of the message is still on the wire");
    user.deliver("INBOX", &message);
    user.deliver("INBOX", &sample_message(&format!("{}-next", user.name), "next"));
    let marker = format!("Subject: {subject}\r\n").into_bytes();
    let proxy = Proxy::start(upstream(d.plain_pop3_port), Fault::InjectAfter { marker, bytes: b".\r\n".to_vec() });
    let pw = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(pw.path(), &user.password).unwrap();
    let cfg = MailboxConfig {
        ca_file: None,
        password_file: Some(pw.path().display().to_string()),
        after_processing: AfterProcessing::Delete,
        ..via(&proxy, d.mailbox(&user, Protocol::Pop3, Security::None, d.plain_pop3_port))
    };
    let e = poll_once(&store, pipeline, support::id_of(&store, &cfg), &cfg, "i1", &CancellationToken::new())
        .await
        .unwrap_err();
    assert_eq!(e.stage(), "fetch", "{e}");
    assert!(e.to_string().contains(&format!("LIST announced {} bytes", message.len())), "{e}");
    assert_eq!(count_rows(&store, "messages").await, 0);
    assert_eq!(user.count("INBOX"), 2);
}

/// The size check must not hold back a message stored without a final line end: Dovecot
/// adds a CRLF before the terminating dot that LIST does not count.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_pop3_still_takes_a_message_without_a_final_line_end() {
    let db = TestDb::sqlite();
    let (store, pipeline) = setup(&db);
    let d = Dovecot::get();
    let user = d.add_user();
    let subject = format!("{}-unterminated", user.name);
    let mut message = sample_message(&subject, "no line end after this");
    message.truncate(message.len() - 2);
    user.deliver("INBOX", &message);
    let pw = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(pw.path(), &user.password).unwrap();
    let cfg = MailboxConfig {
        ca_file: None,
        password_file: Some(pw.path().display().to_string()),
        ..d.mailbox(&user, Protocol::Pop3, Security::None, d.plain_pop3_port)
    };
    let o = poll_once(&store, pipeline, support::id_of(&store, &cfg), &cfg, "i1", &CancellationToken::new())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((o.fetched, o.skipped.len()), (1, 0), "{o:?}");
    assert_eq!(stored_raw(&store, &subject), vec![message]);
}

/// `security = "none"` is pointed out wherever `verify_certificate = false` is: by
/// check-config, in verify's report, and in the log at every connection.
#[test]
fn plain_mailboxes_are_warned_about() {
    let d = Dovecot::get();
    let user = d.add_user();
    let dir = tempfile::tempdir().unwrap();
    let conf = cli_config(&d, &user, dir.path(), "info");
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_rebound"))
            .arg("--config")
            .arg(&conf)
            .args(args)
            .env_remove("RUST_LOG")
            .output()
            .expect("run rebound");
        assert!(out.status.success(), "{args:?}: {out:?}");
        (String::from_utf8_lossy(&out.stdout).to_string(), String::from_utf8_lossy(&out.stderr).to_string())
    };
    let (checked, _) = run(&["check-config", conf.to_str().unwrap()]);
    for name in ["imap-plain", "pop3-plain"] {
        let line = format!("# warning: mailbox {name}: security = \"none\": NOT ENCRYPTED");
        assert!(checked.contains(&line), "{checked}");
    }
    assert!(!checked.contains("mailbox imap-starttls:"), "{checked}");
    for name in ["imap-plain", "pop3-plain"] {
        let (report, log) = run(&["verify", name]);
        assert!(report.contains("NOT ENCRYPTED"), "{report}");
        assert!(log.contains("WARN") && log.contains("NOT ENCRYPTED"), "{log}");
    }
    let (report, log) = run(&["verify", "imap-starttls"]);
    assert!(!report.contains("NOT ENCRYPTED") && !log.contains("NOT ENCRYPTED"), "{report}{log}");
}
