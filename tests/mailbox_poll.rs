//! Polling real Dovecot mailboxes into the pipeline, on both database backends: every
//! protocol and security, keep and delete modes, size cap, crash mid-poll, two instances.

mod support;

use rebound::config::{AfterProcessing, Config, MailboxConfig, Protocol, Security};
use rebound::ingest::Pipeline;
use rebound::mailbox::{poll_once, state};
use rebound::store::Db;
use std::sync::Arc;
use support::mail::{bounce, original};
use support::{Dovecot, MailUser, TestDb, count_rows};
use tokio_util::sync::CancellationToken;

/// A mailbox config for `user` whose password comes from a file, as operators set it.
fn mailbox(
    d: &Dovecot,
    user: &MailUser,
    protocol: Protocol,
    security: Security,
    dir: &std::path::Path,
) -> MailboxConfig {
    let port = match (protocol, security) {
        (Protocol::Imap, Security::Ssl) => d.imaps_port,
        (Protocol::Imap, Security::Starttls) => d.imap_port,
        (Protocol::Imap, Security::None) => d.plain_imap_port,
        (Protocol::Pop3, Security::Ssl) => d.pop3s_port,
        (Protocol::Pop3, Security::Starttls) => d.pop3_port,
        (Protocol::Pop3, Security::None) => d.plain_pop3_port,
    };
    let pw = dir.join(format!("{}.pw", user.name));
    std::fs::write(&pw, &user.password).unwrap();
    MailboxConfig { password_file: Some(pw.display().to_string()), ..d.mailbox(user, protocol, security, port) }
}

fn setup(db: &TestDb) -> (Db, Arc<Pipeline>) {
    let cfg = Config { database: db.config(), ..Default::default() };
    (Db::connect(&cfg.database).unwrap(), Arc::new(Pipeline::new(&cfg).unwrap()))
}

async fn ingests_a_batch_and_never_twice(db: TestDb, protocol: Protocol, security: Security) {
    let (store, pipeline) = setup(&db);
    let d = Dovecot::get();
    let user = d.add_user();
    for i in 0..3 {
        user.deliver("INBOX", &bounce(i));
    }
    user.deliver("INBOX", &support::sample_message("lunch", "tacos?"));
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = mailbox(&d, &user, protocol, security, dir.path());
    let cancel = CancellationToken::new();

    let o = poll_once(&store, pipeline.clone(), support::id_of(&store, &cfg), &cfg, "i1", &cancel)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((o.stats.messages, o.stats.events, o.stats.review), (4, 3, 1), "{o:?}");
    assert_eq!(count_rows(&store, "suppressions").await, 3);
    // Keep mode: the next poll processes nothing again, and leaves the mail where it is.
    let again = poll_once(&store, pipeline.clone(), support::id_of(&store, &cfg), &cfg, "i1", &cancel).await.unwrap();
    assert_eq!(again.stats.messages + again.fetched, 0, "{again:?}");
    assert_eq!(count_rows(&store, "events").await, 3);
    assert_eq!(user.count("INBOX"), 4);
    // Switched to delete: what was committed is deleted, and nothing is counted again.
    cfg.after_processing = AfterProcessing::Delete;
    let del = poll_once(&store, pipeline.clone(), support::id_of(&store, &cfg), &cfg, "i1", &cancel).await.unwrap();
    assert_eq!((del.recovered, del.stats.messages), (4, 0), "{del:?}");
    assert_eq!(user.count("INBOX"), 0);
    assert_eq!(count_rows(&store, "events").await, 3);
    let mut c = store.conn().unwrap();
    let status = state::get(&mut c, support::id_of(&store, &cfg)).unwrap().unwrap();
    assert_eq!((status.state.as_str(), status.messages_processed, status.lease_owner), ("ok", 4, None));
}

/// `NAME::sqlite` and `NAME::postgres` tests running `FUNCTION(TestDb, ARGS…)`, per line.
macro_rules! on_both_backends_with {
    ($f:ident { $($name:ident: $($arg:expr),*;)* }) => {$(
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() { $f(TestDb::sqlite(), $($arg),*).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() { $f(TestDb::postgres(), $($arg),*).await }
        }
    )*};
}

on_both_backends_with!(ingests_a_batch_and_never_twice {
    imap: Protocol::Imap, Security::None;
    imap_starttls: Protocol::Imap, Security::Starttls;
    imaps: Protocol::Imap, Security::Ssl;
    pop3: Protocol::Pop3, Security::None;
    pop3_stls: Protocol::Pop3, Security::Starttls;
    pop3s: Protocol::Pop3, Security::Ssl;
});

async fn delete_removes_only_committed(db: TestDb) {
    let (store, pipeline) = setup(&db);
    let d = Dovecot::get();
    let user = d.add_user();
    user.deliver("INBOX", &bounce(1));
    user.deliver("INBOX", &bounce(2));
    let mut huge = bounce(3);
    huge.extend(std::iter::repeat_n(b'x', 20_000));
    user.deliver("INBOX", &huge);
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = mailbox(&d, &user, Protocol::Imap, Security::Ssl, dir.path());
    cfg.after_processing = AfterProcessing::Delete;
    cfg.max_message_bytes = 10_000;
    let o =
        poll_once(&store, pipeline, support::id_of(&store, &cfg), &cfg, "i1", &CancellationToken::new()).await.unwrap();
    assert_eq!((o.stats.messages, o.skipped.len()), (2, 1), "{o:?}");
    assert_eq!(user.count("INBOX"), 1, "the oversized message was never committed, so it stays");
    let mut c = store.conn().unwrap();
    let review = rebound::ingest::review::list(&mut c, &rebound::store::Page::first(10)).unwrap().rows;
    assert!(review.iter().any(|r| r.reason.as_deref().is_some_and(|w| w.contains("max_message_bytes"))), "{review:?}");
}
on_both_backends!(delete_only_committed, delete_removes_only_committed);

/// An oversized message goes to the review queue with its headers (IMAP `BODY.PEEK[HEADER]`,
/// POP3 `TOP n 0`) and never its body, and stays in the mailbox.
async fn oversized_goes_to_review_with_its_headers(db: TestDb, protocol: Protocol) {
    use diesel::prelude::*;
    use rebound::store::schema::messages;
    let (store, pipeline) = setup(&db);
    let d = Dovecot::get();
    let user = d.add_user();
    let marker = format!("BODY-MARKER-{}", user.name);
    let body = vec![marker.as_str(); 400].join("\r\n");
    let big = support::sample_message(&format!("{}-huge", user.name), &body);
    user.deliver("INBOX", &big);
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = mailbox(&d, &user, protocol, Security::None, dir.path());
    cfg.max_message_bytes = 2048;
    let cancel = CancellationToken::new();
    let o = poll_once(&store, pipeline.clone(), support::id_of(&store, &cfg), &cfg, "i1", &cancel)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((o.fetched, o.skipped.len()), (0, 1), "{o:?}");

    let mut c = store.conn().unwrap();
    let review = rebound::ingest::review::list(&mut c, &rebound::store::Page::first(10)).unwrap().rows;
    assert_eq!(review.len(), 1, "{review:?}");
    let item = &review[0];
    let reason = item.reason.as_deref().unwrap_or("");
    assert!(reason.contains("max_message_bytes = 2048") && reason.ends_with("left in the mailbox"), "{reason}");
    assert!(!reason.contains("TOP"), "Dovecot offers TOP, so the headers were read: {reason}");
    assert_eq!(item.subject.as_deref(), Some(format!("{}-huge", user.name).as_str()));
    assert_eq!(item.from.as_deref(), Some("MAILER-DAEMON@mx.example.net"));
    let (mid, raw): (Option<String>, Option<Vec<u8>>) =
        messages::table.find(item.id).select((messages::message_id, messages::raw)).first(&mut c).unwrap();
    assert_eq!(mid, Some(format!("<{}-huge@example.net>", user.name)));
    let raw = raw.expect("the header block is kept as the raw message");
    let head_end = big.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert_eq!(support::lf(&raw), support::lf(&big[..head_end]), "{}", String::from_utf8_lossy(&raw));
    assert!(!String::from_utf8_lossy(&raw).contains(&marker), "the body must not be downloaded");
    assert_eq!(user.count("INBOX"), 1, "the message stays in the mailbox");

    // The next poll neither queues it twice nor (IMAP, keep mode: past the checkpoint) lists it.
    let again = poll_once(&store, pipeline.clone(), support::id_of(&store, &cfg), &cfg, "i1", &cancel).await.unwrap();
    if protocol == Protocol::Imap {
        assert_eq!(again.listed, 0, "{again:?}");
    }
    assert_eq!(rebound::ingest::review::list(&mut c, &rebound::store::Page::first(10)).unwrap().rows.len(), 1);
    assert_eq!(user.count("INBOX"), 1);
    // Reprocessing a header block alone must not replace why it is there.
    let actor = rebound::audit::Actor::system("test");
    let still = rebound::ingest::review::reprocess(&mut c, &pipeline, &actor, item.id).unwrap().state == "review";
    let after = rebound::ingest::review::list(&mut c, &rebound::store::Page::first(10)).unwrap().rows;
    assert!(still && after[0].reason.as_deref() == Some(reason), "{after:?}");
}

on_both_backends_with!(oversized_goes_to_review_with_its_headers {
    oversized_imap: Protocol::Imap;
    oversized_pop3: Protocol::Pop3;
});

async fn a_failing_mailbox_shows_its_stage_and_error(db: TestDb) {
    let (store, pipeline) = setup(&db);
    let d = Dovecot::get();
    let user = d.add_user();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = mailbox(&d, &user, Protocol::Imap, Security::Ssl, dir.path());
    std::fs::write(cfg.password_file.as_ref().unwrap(), "wrong").unwrap();
    cfg.timeout_seconds = 10;
    let e = poll_once(&store, pipeline, support::id_of(&store, &cfg), &cfg, "i1", &CancellationToken::new())
        .await
        .unwrap_err();
    assert_eq!(e.stage(), "login", "{e}");
    let mut c = store.conn().unwrap();
    let s = state::get(&mut c, support::id_of(&store, &cfg)).unwrap().unwrap();
    assert_eq!(
        (s.state.as_str(), s.last_error_stage.as_deref(), s.consecutive_failures),
        ("failing", Some("login"), 1)
    );
    assert!(s.last_error.unwrap().contains("AUTHENTICATIONFAILED"));
    assert!(s.lease_owner.is_none(), "the lease is released after a failure");
}
on_both_backends!(failing_status, a_failing_mailbox_shows_its_stage_and_error);

/// Writes a config file for `rebound poll` processes.
fn config_file(dir: &std::path::Path, db_url: &str, m: &MailboxConfig) -> std::path::PathBuf {
    let p = dir.join("rebound.toml");
    let after = match &m.after_processing {
        AfterProcessing::Delete => "delete",
        _ => "keep",
    };
    std::fs::write(
        &p,
        format!(
            "[database]\nurl = \"{db_url}\"\n\n[[mailbox]]\nname = \"{}\"\nprotocol = \"imap\"\nhost = \"localhost\"\nport = {}\nsecurity = \"ssl\"\nca_file = \"{}\"\nusername = \"{}\"\npassword_file = \"{}\"\nafter_processing = \"{after}\"\nmax_messages_per_poll = 100000\ntimeout_seconds = 3\nlease_seconds = 5\n",
            m.name,
            m.port,
            m.ca_file.as_deref().unwrap(),
            m.username,
            m.password_file.as_deref().unwrap()
        ),
    )
    .unwrap();
    p
}

fn deliver_many(user: &MailUser, n: usize) {
    user.drop_into_maildir((0..n).map(|i| support::lf(&bounce(i))));
    assert_eq!(user.count("INBOX"), n);
}

async fn killed_mid_poll_then_rerun_counts_each_message_once(db: TestDb) {
    let d = Dovecot::get();
    let user = d.add_user();
    let n = 400;
    deliver_many(&user, n);
    let dir = tempfile::tempdir().unwrap();
    let mut m = mailbox(&d, &user, Protocol::Imap, Security::Ssl, dir.path());
    m.after_processing = AfterProcessing::Delete;
    let cfg = config_file(dir.path(), db.url(), &m);
    let bin = env!("CARGO_BIN_EXE_rebound");
    let (store, _) = setup(&db);

    let mut child = std::process::Command::new(bin)
        .args(["--config", cfg.to_str().unwrap(), "poll", "--once"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill it once some, but not all, of the mail is committed.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let done = count_rows(&store, "events").await;
        if done >= 40 || std::time::Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let committed = count_rows(&store, "messages").await as usize;
    let left = user.count("INBOX");
    assert!(committed < n, "the kill came too late to test anything ({committed} of {n} committed)");
    assert!(left + committed >= n, "uncommitted mail was deleted: {left} left, {committed} committed of {n}");

    // The dead process's lease still holds: nobody else may poll until it lapses.
    let poll = || std::process::Command::new(bin).args(["--config", cfg.to_str().unwrap(), "poll"]).output().unwrap();
    let early = poll();
    assert!(String::from_utf8_lossy(&early.stdout).contains("holds the lease"), "{early:?}");
    let expires = {
        let mut c = store.conn().unwrap();
        state::get(&mut c, support::id_of(&store, &m)).unwrap().unwrap().lease_expires_at.expect("a lease")
    };
    let wait = (expires - chrono::Utc::now().naive_utc()).to_std().unwrap_or_default();
    tokio::time::sleep(wait + std::time::Duration::from_millis(500)).await;
    let status = poll();
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    assert_eq!(count_rows(&store, "events").await as usize, n, "every record exactly once");
    assert_eq!(count_rows(&store, "messages").await as usize, n);
    assert_eq!(user.count("INBOX"), 0, "everything committed is deleted in the end");
}
on_both_backends!(killed_mid_poll, killed_mid_poll_then_rerun_counts_each_message_once);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_one_postgres_never_process_a_message_twice() {
    let db = TestDb::postgres();
    let d = Dovecot::get();
    let user = d.add_user();
    let n = 300;
    deliver_many(&user, n);
    let dir = tempfile::tempdir().unwrap();
    let m = mailbox(&d, &user, Protocol::Imap, Security::Ssl, dir.path());
    let cfg = config_file(dir.path(), db.url(), &m);
    let bin = env!("CARGO_BIN_EXE_rebound");
    let run = || std::process::Command::new(bin).args(["--config", cfg.to_str().unwrap(), "poll"]).spawn().unwrap();
    let (mut a, mut b) = (run(), run());
    assert!(a.wait().unwrap().success() && b.wait().unwrap().success());
    // Whichever lost the lease found nothing left to do; a third poll finds nothing either.
    assert!(run().wait().unwrap().success());
    let (store, _) = setup(&db);
    assert_eq!(count_rows(&store, "events").await as usize, n);
    assert_eq!(count_rows(&store, "messages").await as usize, n);
}

/// A mailbox renamed through the repository keeps its id, so its checkpoints (nothing fetched
/// again), its ledger (what was committed is recognised and deleted, not counted) and its
/// status row all carry on under the new name.
async fn a_renamed_mailbox_keeps_checkpoints_ledger_and_status(db: TestDb) {
    use rebound::mailbox::repo;
    let (store, pipeline) = setup(&db);
    let d = Dovecot::get();
    let user = d.add_user();
    user.deliver("INBOX", &bounce(1));
    user.deliver("INBOX", &bounce(2));
    let dir = tempfile::tempdir().unwrap();
    let cfg = mailbox(&d, &user, Protocol::Imap, Security::Ssl, dir.path());
    let entry = |name: &str, after: &str| {
        let mut t = repo::settings_of(&cfg);
        t.insert("name".into(), name.into());
        t.insert("after_processing".into(), after.into());
        t
    };
    let mut c = store.conn().unwrap();
    let created =
        repo::create(&mut c, &rebound::audit::Actor::system("test"), &repo::Entry::new(entry("before", "keep")), None)
            .unwrap_or_else(|e| panic!("{e}"));
    let cancel = CancellationToken::new();
    let first = created.config().unwrap();
    let o = poll_once(&store, pipeline.clone(), created.id, &first, "i1", &cancel).await.unwrap();
    assert_eq!(o.stats.messages, 2, "{o:?}");

    let renamed = repo::update(
        &mut c,
        &rebound::audit::Actor::system("test"),
        created.id,
        &repo::Entry::new(entry("after", "keep")),
        None,
    )
    .unwrap();
    assert_eq!((renamed.id, renamed.name.as_str()), (created.id, "after"));
    assert!(matches!(repo::by_name(&mut c, "before"), Err(repo::MailboxError::NotFound(_))));
    let again =
        poll_once(&store, pipeline.clone(), created.id, &renamed.config().unwrap(), "i1", &cancel).await.unwrap();
    assert_eq!((again.listed, again.fetched), (0, 0), "the checkpoint was lost: {again:?}");

    let deleting = repo::update(
        &mut c,
        &rebound::audit::Actor::system("test"),
        created.id,
        &repo::Entry::new(entry("after", "delete")),
        None,
    )
    .unwrap();
    let del = poll_once(&store, pipeline, created.id, &deleting.config().unwrap(), "i1", &cancel).await.unwrap();
    assert_eq!((del.recovered, del.stats.messages), (2, 0), "the ledger was lost: {del:?}");
    assert_eq!(user.count("INBOX"), 0);
    assert_eq!(count_rows(&store, "events").await, 2);
    let s = state::get(&mut c, created.id).unwrap().unwrap();
    assert_eq!((s.state.as_str(), s.messages_processed), ("ok", 2));
}
on_both_backends!(renamed_mailbox, a_renamed_mailbox_keeps_checkpoints_ledger_and_status);

async fn the_complaints_view_names_the_mailbox_a_report_came_from(db: TestDb) {
    let (store, pipeline) = setup(&db);
    let d = Dovecot::get();
    let user = d.add_user();
    user.deliver(
        "INBOX",
        &support::mail::arf("reader@example.org", "abuse", &original(Some("fb1"), "f1@sender.example")),
    );
    let dir = tempfile::tempdir().unwrap();
    let cfg = mailbox(&d, &user, Protocol::Imap, Security::Ssl, dir.path());
    poll_once(&store, pipeline, support::id_of(&store, &cfg), &cfg, "i1", &CancellationToken::new()).await.unwrap();
    let mut c = store.conn().unwrap();
    let rows = rebound::record::views::complaints(&mut c, "fb1", &Default::default(), &rebound::store::Page::first(10))
        .unwrap()
        .rows;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].mailbox, cfg.name, "the mailbox's name, not its internal id");
}
on_both_backends!(complaint_mailbox_name, the_complaints_view_names_the_mailbox_a_report_came_from);
