//! The fault suite: rebound attacked the way its users' infrastructure will attack it, on
//! both backends with a real Dovecot and PostgreSQL. Each test reproduces one of the faults
//! of issue #16 (and failed before its fix) or one of the behaviours that held.
//!
//! `make test` runs short versions of the loops; `make chaos` sets `REBOUND_CHAOS_ROUNDS`
//! for longer ones.

mod support;

use rebound::config::{AfterProcessing, Config, MailboxConfig, Protocol, Security};
use rebound::ingest::{Disposition, Item, Pipeline};
use rebound::mailbox::{poll_once, state};
use rebound::store::{AnyConnection, Db};
use rebound::suppress::list;
use std::process::{Command, Stdio};
use std::sync::Arc;
use support::mail::{bounce, dsn, dsn_many, original};
use support::proxy::{Direction, Fault, Proxy};
use support::{Dovecot, MailUser, TestDb, count_rows};
use tokio_util::sync::CancellationToken;

const T0: &str = "Tue, 10 Nov 2026 10:00:00 +0000";
const BIN: &str = env!("CARGO_BIN_EXE_rebound");

/// Rounds of the randomised loops: a few in `make test`, more in `make chaos`.
fn rounds(short: usize) -> usize {
    std::env::var("REBOUND_CHAOS_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(short)
}

fn pipeline(db: &TestDb, tweak: impl FnOnce(&mut Config)) -> (Db, Arc<Pipeline>) {
    let mut cfg = Config { database: db.config(), ..Default::default() };
    cfg.parse.max_message_bytes = 64 * 1024 * 1024;
    tweak(&mut cfg);
    (Db::connect(&cfg.database).unwrap(), Arc::new(Pipeline::new(&cfg).unwrap()))
}

/// An IMAPS mailbox for `user`, password in a file, deleting what is committed.
fn imap_mailbox(d: &Dovecot, user: &MailUser, dir: &std::path::Path) -> MailboxConfig {
    let pw = dir.join(format!("{}.pw", user.name));
    std::fs::write(&pw, &user.password).unwrap();
    MailboxConfig {
        password_file: Some(pw.display().to_string()),
        after_processing: AfterProcessing::Delete,
        max_message_bytes: 64 * 1024 * 1024,
        max_messages_per_poll: 100_000,
        ..d.mailbox(user, Protocol::Imap, Security::Ssl, d.imaps_port)
    }
}

/// A config file for `rebound` processes polling `m` on `db_url` (every 2 s when serving);
/// `database` adds keys to `[database]`, `tail` adds sections at the end.
fn config_file(
    dir: &std::path::Path,
    db_url: &str,
    m: &MailboxConfig,
    database: &str,
    tail: &str,
) -> std::path::PathBuf {
    let p = dir.join("rebound.toml");
    std::fs::write(
        &p,
        format!(
            "[database]\nurl = \"{db_url}\"\n{database}\n[parse]\nmax_message_bytes = 67108864\n\n[[mailbox]]\nname = \"{}\"\n\
             protocol = \"imap\"\nhost = \"localhost\"\nport = {}\nsecurity = \"ssl\"\nca_file = \"{}\"\n\
             username = \"{}\"\npassword_file = \"{}\"\nafter_processing = \"delete\"\nmax_messages_per_poll = 100000\n\
             max_message_bytes = 67108864\ntimeout_seconds = 5\nlease_seconds = 3\nschedule = \"*/2 * * * * *\"\n\n{tail}",
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

fn rebound(cfg: &std::path::Path, args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.arg("--config").arg(cfg).args(args);
    c
}

/// Runs SQL of the test's own (a trigger standing in for a row the database refuses).
fn exec(c: &mut AnyConnection, sql: &str) {
    use diesel::connection::SimpleConnection;
    c.batch_execute(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// A trigger that refuses events for one recipient, with the database's own words.
fn refuse_recipient(c: &mut AnyConnection, recipient: &str, words: &str) {
    match c {
        AnyConnection::Sqlite(_) => exec(
            c,
            &format!(
                "CREATE TRIGGER refuse BEFORE INSERT ON events WHEN NEW.recipient = '{recipient}' \
                 BEGIN SELECT RAISE(ABORT, '{words}'); END;"
            ),
        ),
        AnyConnection::Postgresql(_) => exec(
            c,
            &format!(
                "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN \
                 IF NEW.recipient = '{recipient}' THEN RAISE EXCEPTION '{words}'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql; \
                 CREATE TRIGGER refuse BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION refuse();"
            ),
        ),
    }
}

// Fault 1: a message with many recipients blocked its mailbox forever (65,535 bind
// parameters on PostgreSQL, "too many SQL variables" on SQLite).

async fn a_100000_recipient_dsn_is_imported(db: TestDb) {
    let n = 100_000;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("huge.eml");
    let rcpts = (0..n).map(|i| format!("user{i}@list.example.org"));
    std::fs::write(&file, dsn_many("bounces@sender.example", rcpts, &original(Some("big"), "big@sender.example")))
        .unwrap();
    let out = Command::new(BIN)
        .args(["--config", "config.example.toml", "import"])
        .arg(&file)
        .env("REBOUND__DATABASE__URL", db.url())
        .env("REBOUND__PARSE__MAX_MESSAGE_BYTES", "67108864")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let store = Db::connect(&db.config()).unwrap();
    assert_eq!(count_rows(&store, "events").await, n as i64);
    assert_eq!(count_rows(&store, "suppressions").await, n as i64, "every recipient suppressed");
    assert_eq!(count_rows(&store, "suppression_changes").await, n as i64);
}
on_both_backends!(huge_dsn_imported, a_100000_recipient_dsn_is_imported);

async fn a_100000_recipient_dsn_is_polled_and_the_mailbox_moves_on(db: TestDb) {
    let d = Dovecot::get();
    let user = d.add_user();
    let rcpts = (0..100_000).map(|i| format!("member{i}@list.example.org"));
    user.deliver("INBOX", &dsn_many("bounces@sender.example", rcpts, &original(Some("big"), "big@sender.example")));
    for i in 0..5 {
        user.deliver("INBOX", &bounce(i));
    }
    let dir = tempfile::tempdir().unwrap();
    let m = imap_mailbox(&d, &user, dir.path());
    // One transaction writes 100,000 events, suppressions and changes with every index; a
    // debug build on a loaded 2-core machine may take longer than the 60 s default.
    let (store, p) = pipeline(&db, |c| c.database.query_timeout_seconds = 600);
    let o = poll_once(&store, p, support::id_of(&store, &m), &m, "i1", &CancellationToken::new()).await.unwrap();
    assert_eq!((o.stats.messages, o.stats.events, o.stats.review), (6, 100_005, 0));
    assert_eq!(count_rows(&store, "suppressions").await, 100_005);
    assert_eq!(user.count("INBOX"), 0, "committed, then deleted");
}
on_both_backends!(huge_dsn_polled, a_100000_recipient_dsn_is_polled_and_the_mailbox_moves_on);

async fn three_hundred_50_recipient_dsns_commit_in_one_batch(db: TestDb) {
    let (store, p) = pipeline(&db, |_| {});
    let raws: Vec<Vec<u8>> = (0..300)
        .map(|m| {
            let rcpts = (0..50).map(move |r| format!("r{r}.m{m}@example.net"));
            dsn_many("bounces@sender.example", rcpts, &original(Some("c"), &format!("o{m}@sender.example")))
        })
        .collect();
    let ids: Vec<String> = (0..raws.len()).map(|i| format!("1:{i}")).collect();
    let items: Vec<Item> = raws.iter().zip(&ids).map(|(raw, id)| Item { source: "box", source_id: id, raw }).collect();
    let c = &mut *store.conn().unwrap();
    let (d, stats) = p.ingest(c, &items).unwrap();
    assert_eq!((d.len(), stats.events, stats.suppressed), (300, 15_000, 15_000));
}
on_both_backends!(many_recipients_per_batch, three_hundred_50_recipient_dsns_commit_in_one_batch);

async fn a_message_the_database_refuses_goes_to_review_alone(db: TestDb) {
    let d = Dovecot::get();
    let user = d.add_user();
    for i in 0..4 {
        user.deliver("INBOX", &bounce(i));
    }
    let poison = dsn("bounces@sender.example", "poison@example.org", "5.1.1", "550 5.1.1 unknown", "", T0);
    user.deliver("INBOX", &poison);
    for i in 4..8 {
        user.deliver("INBOX", &bounce(i));
    }
    let dir = tempfile::tempdir().unwrap();
    let m = imap_mailbox(&d, &user, dir.path());
    let (store, p) = pipeline(&db, |_| {});
    refuse_recipient(&mut store.conn().unwrap(), "poison@example.org", "row refused by a check");

    let o =
        poll_once(&store, p.clone(), support::id_of(&store, &m), &m, "i1", &CancellationToken::new()).await.unwrap();
    assert_eq!((o.stats.messages, o.stats.events, o.stats.review), (9, 8, 1), "{o:?}");
    assert_eq!(user.count("INBOX"), 0, "the batch and the mailbox moved on");
    let c = &mut *store.conn().unwrap();
    let queue = rebound::ingest::review::list(c, &rebound::store::Page::first(10)).unwrap().rows;
    assert_eq!(queue.len(), 1);
    let why = queue[0].reason.as_deref().unwrap_or_default();
    assert!(why.contains("could not be committed") && why.contains("row refused by a check"), "{why}");
    assert!(list::get(c, "poison@example.org", "global").unwrap().is_none());
    assert!(list::get(c, "gone7@example.org", "global").unwrap().is_some());

    // A second poll finds nothing, and the next message is not held up either.
    user.deliver("INBOX", &bounce(9));
    let again = poll_once(&store, p, support::id_of(&store, &m), &m, "i1", &CancellationToken::new()).await.unwrap();
    assert_eq!((again.stats.messages, again.stats.review), (1, 0));
}
on_both_backends!(refused_message_to_review, a_message_the_database_refuses_goes_to_review_alone);

// Fault 7: ordinary failures read "database task panicked or was cancelled".

async fn a_full_disk_is_reported_as_what_it_is_and_loses_nothing(db: TestDb) {
    let d = Dovecot::get();
    let user = d.add_user();
    user.deliver("INBOX", &bounce(1));
    let dir = tempfile::tempdir().unwrap();
    let m = imap_mailbox(&d, &user, dir.path());
    let (store, p) = pipeline(&db, |_| {});
    // The database's own words for a full disk, from the one statement a batch cannot skip.
    refuse_recipient(&mut store.conn().unwrap(), "gone1@example.org", "database or disk is full");
    let e = poll_once(&store, p, support::id_of(&store, &m), &m, "i1", &CancellationToken::new()).await.unwrap_err();
    let text = e.to_string();
    assert!(!text.contains("panicked") && !text.contains("cancelled"), "{text}");
    assert!(text.contains("database or disk is full"), "{text}");
    assert_eq!(e.stage(), "database");
    assert_eq!(user.count("INBOX"), 1, "a transient failure keeps the message on the server");
    assert_eq!(count_rows(&store, "messages").await, 0, "and does not quarantine it");
    let s = state::get(&mut store.conn().unwrap(), support::id_of(&store, &m)).unwrap().unwrap();
    assert_eq!(s.last_error_stage.as_deref(), Some("database"));
    assert!(!s.last_error.unwrap_or_default().contains("panicked"));
}
on_both_backends!(disk_full_wording, a_full_disk_is_reported_as_what_it_is_and_loses_nothing);

// Fault 2: two processes starting on a new database raced on seeding the rules.

async fn two_processes_on_an_empty_database_both_start(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.eml"), dir.path().join("b.eml"));
    std::fs::write(&a, bounce(1)).unwrap();
    std::fs::write(&b, bounce(2)).unwrap();
    let import = |file: &std::path::Path, url: &str| {
        Command::new(BIN)
            .args(["--config", "config.example.toml", "import"])
            .arg(file)
            .env("REBOUND__DATABASE__URL", url)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let library = {
        let reference = TestDb::sqlite();
        let store = Db::connect(&reference.config()).unwrap();
        rebound::classify::repo::seed_if_empty(&mut store.conn().unwrap()).unwrap()
    };
    for round in 0..rounds(3) {
        // A fresh database each round: a new SQLite file, or a new PostgreSQL schema.
        let fresh = match &db {
            TestDb::Sqlite { .. } => TestDb::sqlite(),
            TestDb::Postgres { .. } => TestDb::postgres(),
        };
        let (pa, pb) = (import(&a, fresh.url()), import(&b, fresh.url()));
        for (name, p) in [("first", pa), ("second", pb)] {
            let out = p.wait_with_output().unwrap();
            assert!(out.status.success(), "round {round}, {name}: {}", String::from_utf8_lossy(&out.stderr));
        }
        let store = Db::connect(&fresh.config()).unwrap();
        assert_eq!(count_rows(&store, "rules").await as usize, library, "seeded once, completely");
        assert_eq!(count_rows(&store, "events").await, 2);
    }
}
on_both_backends!(seeding_race, two_processes_on_an_empty_database_both_start);

// Fault 3: a second SQLite writer failed at once with "database is locked".

#[test]
fn two_sqlite_writers_wait_for_each_other() {
    let db = TestDb::sqlite();
    let dir = tempfile::tempdir().unwrap();
    let n = 1500;
    for (k, part) in ["a", "b"].iter().enumerate() {
        let d = dir.path().join(part);
        std::fs::create_dir_all(&d).unwrap();
        for i in 0..n {
            std::fs::write(d.join(format!("{i}.eml")), bounce(k * n + i)).unwrap();
        }
    }
    // Migrated and seeded first, so the two imports meet in their batches, not at start.
    drop(Db::connect(&db.config()).unwrap());
    let spawn = |part: &str| {
        Command::new(BIN)
            .args(["--config", "config.example.toml", "import"])
            .arg(dir.path().join(part))
            .env("REBOUND__DATABASE__URL", db.url())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn("a"), spawn("b"));
    for p in [a, b] {
        let out = p.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    let store = Db::connect(&db.config()).unwrap();
    assert_eq!(rt.block_on(count_rows(&store, "events")) as usize, 2 * n);
}

// Fault 5: with verp_secret set, forged bounces still suppressed real subscribers.

async fn forged_bounces_cannot_suppress_with_signed_verp(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("verp.key");
    std::fs::write(&key, "s3cret-verp-key").unwrap();
    let pattern = r"^b\+(?P<campaign>\w+)-(?P<recipient>[^@=]+=[^@]+)-(?P<sig>[0-9a-f]+)@";
    let (store, p) = pipeline(&db, |cfg| {
        cfg.attribution.verp_pattern = pattern.into();
        cfg.attribution.verp_secret_file = Some(key.display().to_string());
        cfg.attribution.verp_signature_length = 16;
    });
    let secret = rebound::config::Secret::new("s3cret-verp-key".to_string());
    let signed = |campaign: &str, rcpt: &str| {
        let sig = &rebound::ingest::attribute::sign(&secret, &format!("{campaign}:{rcpt}"))[..16];
        format!("b+{campaign}-{}-{sig}@bounce.sender.example", rcpt.replace('@', "="))
    };
    let c = &mut *store.conn().unwrap();
    let ingest = |c: &mut AnyConnection, id: &str, to: &str, rcpt: &str| -> Disposition {
        let raw = dsn(to, rcpt, "5.1.1", "550 5.1.1 User unknown", &original(None, &format!("{id}@s")), T0);
        p.ingest(c, &[Item { source: "box", source_id: id, raw: &raw }]).unwrap().0.remove(0)
    };
    // (a) the attacker's own, correctly signed address, naming a victim as Final-Recipient.
    let a = ingest(c, "a", &signed("c1", "attacker@evil.example"), "victim@example.org");
    // (b) a VERP-shaped address without a signature.
    let b = ingest(c, "b", "b+c1-victim=example.org@bounce.sender.example", "victim@example.org");
    // (c) the plain bounce address.
    let c_ = ingest(c, "c", "bounces@sender.example", "victim@example.org");
    for (case, d) in [("a", &a), ("b", &b), ("c", &c_)] {
        assert!(matches!(d, Disposition::New { events: 0, review: Some(_), .. }), "case {case}: {d:?}");
    }
    // A genuine signed bounce still suppresses its own recipient.
    let good = ingest(c, "good", &signed("c1", "real@example.org"), "real@example.org");
    assert!(matches!(good, Disposition::New { events: 1, review: None, .. }), "{good:?}");
    assert!(list::get(c, "victim@example.org", "global").unwrap().is_none(), "the victim is not suppressed");
    assert!(list::get(c, "real@example.org", "global").unwrap().is_some());
    assert_eq!(rebound::ingest::review::list(c, &rebound::store::Page::first(10)).unwrap().rows.len(), 3);
}
on_both_backends!(forged_verp, forged_bounces_cannot_suppress_with_signed_verp);

#[test]
fn require_signed_verp_without_a_key_is_a_config_error() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("r.toml");
    std::fs::write(&cfg, "[attribution]\nrequire_signed_verp = true\n").unwrap();
    let out = Command::new(BIN).arg("check-config").arg(&cfg).output().unwrap();
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("attribution.require_signed_verp") && text.contains("verp_secret"), "{text}");
}

// Fault 8: a killed `rebound poll` blocked its mailbox for 4 × timeout_seconds, silently.
// Behaviour that held, kept honest: kill -9 of import and of poll at random points, then
// exactly once.

async fn killed_polls_block_briefly_say_by_whom_and_lose_nothing(db: TestDb) {
    let d = Dovecot::get();
    let user = d.add_user();
    let n = 600;
    user.drop_into_maildir((0..n).map(|i| support::lf(&bounce(i))));
    let dir = tempfile::tempdir().unwrap();
    let m = imap_mailbox(&d, &user, dir.path());
    let cfg = config_file(dir.path(), db.url(), &m, "", "");
    let store = Db::connect(&db.config()).unwrap();
    let mut seed = 0x9e37_79b9_u64 ^ u64::from(std::process::id());
    let mut leases_seen = 0;
    for round in 0..rounds(2) {
        let mut child = rebound(&cfg, &["poll", "--once"]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        // Even rounds kill once the poll holds its lease (a loaded machine may take longer
        // than any fixed delay to get there), odd rounds at a random moment 50–800 ms in;
        // both then wait a random 0–400 ms more.
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        if round % 2 == 0 {
            let id = support::id_of(&store, &m);
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
            while state::lease_holder(&mut store.conn().unwrap(), id, chrono::Utc::now().naive_utc()).unwrap().is_none()
                && std::time::Instant::now() < deadline
            {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        } else {
            std::thread::sleep(std::time::Duration::from_millis(50 + seed % 750));
        }
        std::thread::sleep(std::time::Duration::from_millis((seed >> 16) % 400));
        child.kill().unwrap();
        child.wait().unwrap();
        let committed = count_rows(&store, "messages").await as usize;
        assert!(user.count("INBOX") + committed >= n, "round {round}: uncommitted mail was deleted");

        let now = chrono::Utc::now().naive_utc();
        if let Some((owner, until)) =
            state::lease_holder(&mut store.conn().unwrap(), support::id_of(&store, &m), now).unwrap()
        {
            leases_seen += 1;
            // The dead poll's lease is short, listed, and named when a poll meets it.
            assert!(until <= now + chrono::Duration::seconds(3), "lease until {until}, now {now}");
            let list = rebound(&cfg, &["mailbox", "list"]).output().unwrap();
            assert!(String::from_utf8_lossy(&list.stdout).contains(&owner[..20]), "{list:?}");
            let early = rebound(&cfg, &["poll"]).output().unwrap();
            let text = String::from_utf8_lossy(&early.stdout);
            if chrono::Utc::now().naive_utc() < until {
                assert!(text.contains("holds the lease until") && text.contains(&owner), "{text}");
            }
        }
    }
    assert!(leases_seen > 0, "no kill landed while a poll held its lease: nothing about leases was tested");
    // Once the lease lapses, a poll takes it and finishes the work exactly once.
    std::thread::sleep(std::time::Duration::from_secs(4));
    let out = rebound(&cfg, &["poll"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(count_rows(&store, "events").await as usize, n, "every record exactly once");
    assert_eq!(count_rows(&store, "messages").await as usize, n);
    assert_eq!(user.count("INBOX"), 0);
}
on_both_backends!(killed_polls, killed_polls_block_briefly_say_by_whom_and_lose_nothing);

async fn killed_imports_then_rerun_count_each_record_once(db: TestDb) {
    let n = 3000;
    let dir = tempfile::tempdir().unwrap();
    for i in 0..n {
        let d = dir.path().join(format!("{}", i / 500));
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join(format!("{i}.eml")), bounce(i)).unwrap();
    }
    let import = || {
        Command::new(BIN)
            .args(["--config", "config.example.toml", "import"])
            .arg(dir.path())
            .env("REBOUND__DATABASE__URL", db.url())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let store = Db::connect(&db.config()).unwrap();
    let mut seed = 0x2545_f491_u64 ^ u64::from(std::process::id());
    for round in 0..rounds(3) {
        let mut child = import();
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        std::thread::sleep(std::time::Duration::from_millis(100 + seed % 1500));
        let _ = child.kill();
        child.wait().unwrap();
        let (events, messages) = (count_rows(&store, "events").await, count_rows(&store, "messages").await);
        assert_eq!(events, messages, "round {round}: a batch is all or nothing");
    }
    let out = import().wait().unwrap();
    assert!(out.success());
    assert_eq!(count_rows(&store, "events").await as usize, n, "every record exactly once");
    assert_eq!(count_rows(&store, "suppressions").await as usize, n);
}
on_both_backends!(killed_imports, killed_imports_then_rerun_count_each_record_once);

// Behaviour that held, kept honest: a stalled server is given up on after exactly
// `timeout_seconds`, at a named stage.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_server_is_given_up_on_after_timeout_seconds() {
    let d = Dovecot::get();
    let user = d.add_user();
    user.deliver("INBOX", &bounce(1));
    let dir = tempfile::tempdir().unwrap();
    let upstream: std::net::SocketAddr = format!("127.0.0.1:{}", d.plain_imap_port).parse().unwrap();
    // The greeting gets through, then nothing: LOGIN is never answered.
    let proxy = Proxy::start(upstream, Fault::Stall { after_bytes: 20 });
    let pw = dir.path().join("pw");
    std::fs::write(&pw, &user.password).unwrap();
    let mut m = d.mailbox(&user, Protocol::Imap, Security::None, proxy.port());
    m.host = "127.0.0.1".into();
    m.password_file = Some(pw.display().to_string());
    m.ca_file = None;
    m.timeout_seconds = 3;
    let db = TestDb::sqlite();
    let (store, p) = pipeline(&db, |_| {});
    let started = std::time::Instant::now();
    let e = poll_once(&store, p, support::id_of(&store, &m), &m, "i1", &CancellationToken::new()).await.unwrap_err();
    let took = started.elapsed();
    // One timeout, not two stacked (which would take 6 s or more).
    assert!(
        took >= std::time::Duration::from_secs(3) && took < std::time::Duration::from_millis(5500),
        "gave up after {took:?}: {e}"
    );
    let rebound::mailbox::PollError::Fetch(f) = &e else { panic!("{e}") };
    assert_eq!(f.kind, rebound::fetch::ErrorKind::Timeout, "{e}");
    assert!(["greeting", "login", "capabilities"].contains(&e.stage().as_str()), "{e}");
    assert_eq!(user.count("INBOX"), 1);
}

// "Also seen": PostgreSQL cut and black-holed under `rebound serve` — polls blocked silently,
// /healthz did not answer, failures were never written, the pool logged an ERROR per attempt.

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

async fn events_directly(db: &TestDb) -> i64 {
    count_rows(&Db::connect(&db.config()).unwrap(), "events").await
}

async fn wait_for(what: &str, secs: u64, mut ok: impl AsyncFnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while !ok().await {
        assert!(std::time::Instant::now() < deadline, "timed out after {secs} s waiting for {what}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_survives_postgres_cut_and_black_holed_then_recovers() {
    let db = TestDb::postgres();
    let pg: std::net::SocketAddr = "127.0.0.1:5432".parse().unwrap();
    let proxy = Proxy::start(pg, Fault::None);
    let via_proxy = db.url().replace("127.0.0.1:5432", &format!("127.0.0.1:{}", proxy.port()));
    assert_ne!(via_proxy, db.url(), "the test database URL names 127.0.0.1:5432");
    let d = Dovecot::get();
    let user = d.add_user();
    let dir = tempfile::tempdir().unwrap();
    let m = imap_mailbox(&d, &user, dir.path());
    let port = free_port();
    let cfg = config_file(
        dir.path(),
        &via_proxy,
        &m,
        "query_timeout_seconds = 4\nconnect_timeout_seconds = 2\n",
        &format!("[server]\nlisten = \"127.0.0.1:{port}\"\n"),
    );

    let log = dir.path().join("serve.log");
    let mut serve = rebound(&cfg, &["serve"])
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let http = reqwest::Client::builder().timeout(std::time::Duration::from_secs(10)).build().unwrap();
    let health = format!("http://127.0.0.1:{port}/healthz");
    wait_for("serve to answer", 60, async || http.get(&health).send().await.is_ok_and(|r| r.status() == 200)).await;
    user.deliver("INBOX", &bounce(1));
    wait_for("the first bounce", 30, async || events_directly(&db).await == 1).await;

    // Cut: every connection, open or new, is closed as soon as the server answers.
    proxy.set_fault(Fault::CutAfter { bytes: 0, direction: Direction::ServerToClient });
    user.deliver("INBOX", &bounce(2));
    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    let r = http.get(&health).send().await.expect("/healthz answers while the database is cut");
    assert_eq!(r.status(), 503);

    // Black hole: packets held, nothing refused.
    proxy.set_fault(Fault::BlackHole);
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let asked = std::time::Instant::now();
    let r = http.get(&health).send().await.expect("/healthz answers within 10 s while the database is black-holed");
    assert_eq!(r.status(), 503);
    assert!(asked.elapsed() < std::time::Duration::from_secs(10));
    tokio::time::sleep(std::time::Duration::from_secs(8)).await;
    assert_eq!(events_directly(&db).await, 1, "nothing is committed while the database is away");
    assert_eq!(user.count("INBOX"), 1, "and nothing is deleted");

    proxy.set_fault(Fault::None);
    wait_for("the second bounce after recovery", 60, async || events_directly(&db).await == 2).await;
    wait_for("the mailbox to be deleted", 30, async || user.count("INBOX") == 0).await;
    let store = Db::connect(&db.config()).unwrap();
    let s = state::get(&mut store.conn().unwrap(), support::id_of(&store, &m)).unwrap().unwrap();
    assert!(s.last_error_stage.is_some(), "the outage's failures were written once the database was back: {s:?}");
    assert!(s.consecutive_failures == 0 || s.state == "failing", "{s:?}");
    wait_for("/healthz to recover", 30, async || http.get(&health).send().await.is_ok_and(|r| r.status() == 200)).await;

    unsafe { libc::kill(serve.id() as i32, libc::SIGTERM) };
    serve.wait().unwrap();
    let logged = std::fs::read_to_string(&log).unwrap();
    let errors = logged.lines().filter(|l| l.contains("ERROR")).count();
    assert!(errors <= 4, "one ERROR line per outage state change, not one per attempt ({errors}):\n{logged}");
    assert!(logged.contains("database reachable again"), "{logged}");
}
