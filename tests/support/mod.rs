//! Shared test helpers: a fresh database per test on either backend, and the test Dovecot.
//!
//! PostgreSQL and Dovecot are real servers started by `make test`; a test that needs one
//! fails with a clear message when it is missing — it never silently skips.
#![allow(dead_code)] // each test binary uses a different subset

pub mod api;
pub mod app;
pub mod fake;
pub mod mail;
pub mod notify;
pub mod oauth;
pub mod postfix;
pub mod proxy;
pub mod review;
pub mod serve;

use rebound::config::DatabaseConfig;
use std::path::PathBuf;

pub const DEFAULT_PG_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

pub fn pg_admin_url() -> String {
    std::env::var("REBOUND_TEST_PG_URL").unwrap_or_else(|_| DEFAULT_PG_URL.to_string())
}

/// A database nobody else uses, removed when dropped.
pub enum TestDb {
    Sqlite {
        _dir: tempfile::TempDir,
        url: String,
    },
    /// A private schema in the test database, selected through libpq's `options`.
    Postgres {
        schema: String,
        url: String,
    },
}

impl TestDb {
    pub fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("rebound.db").display());
        TestDb::Sqlite { _dir: dir, url }
    }

    pub fn postgres() -> TestDb {
        let admin = pg_admin_url();
        let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
        psql(&admin, &format!("CREATE SCHEMA {schema}"));
        let sep = if admin.contains('?') { '&' } else { '?' };
        let url = format!("{admin}{sep}options=-csearch_path%3D{schema}");
        TestDb::Postgres { schema, url }
    }

    pub fn url(&self) -> &str {
        match self {
            TestDb::Sqlite { url, .. } | TestDb::Postgres { url, .. } => url,
        }
    }

    pub fn config(&self) -> DatabaseConfig {
        DatabaseConfig { url: self.url().to_string(), pool_size: 4, ..DatabaseConfig::default() }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let TestDb::Postgres { schema, .. } = self {
            let _ = try_psql(&pg_admin_url(), &format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
        }
    }
}

fn try_psql(url: &str, sql: &str) -> Result<(), String> {
    use diesel::{Connection, PgConnection, connection::SimpleConnection};
    let mut c = PgConnection::establish(url).map_err(|e| e.to_string())?;
    c.batch_execute(sql).map_err(|e| e.to_string())
}

/// Runs admin SQL on the test PostgreSQL, failing the test with the cause if it is not there.
pub fn psql(url: &str, sql: &str) {
    if let Err(e) = try_psql(url, sql) {
        panic!("PostgreSQL is required for this test ({url}): {e}\nrun `make test`, which installs and starts it");
    }
}

/// Generates `NAME::sqlite` and `NAME::postgres` tests running `async fn(TestDb)`.
#[macro_export]
macro_rules! on_both_backends {
    ($name:ident, $body:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$body($crate::support::TestDb::sqlite()).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$body($crate::support::TestDb::postgres()).await
            }
        }
    };
}

/// The test Dovecot started by `tests/support/dovecot.sh` (`make test` does it).
pub struct Dovecot {
    pub dir: PathBuf,
    pub imap_port: u16,
    pub imaps_port: u16,
    pub pop3_port: u16,
    pub pop3s_port: u16,
    pub plain_imap_port: u16,
    pub plain_pop3_port: u16,
    pub ca_file: PathBuf,
    /// Where Dovecot's oauth2 passdb asks about tokens (the tests serve it: [`oauth`]).
    pub oauth_port: u16,
}

impl Dovecot {
    pub fn get() -> Dovecot {
        let dir = PathBuf::from(
            std::env::var("REBOUND_TEST_DOVECOT_DIR").unwrap_or_else(|_| "/tmp/rebound-test-dovecot".into()),
        );
        let env = std::fs::read_to_string(dir.join("env")).unwrap_or_else(|e| {
            panic!(
                "the test Dovecot is not running ({}: {e}); run `make test` or `tests/support/dovecot.sh start`",
                dir.join("env").display()
            )
        });
        let get = |k: &str| -> String {
            env.lines()
                .find_map(|l| l.strip_prefix(&format!("{k}=")))
                .unwrap_or_else(|| panic!("{k} missing from {}", dir.join("env").display()))
                .to_string()
        };
        let port = |k: &str| get(k).parse::<u16>().expect("port number");
        Dovecot {
            imap_port: port("REBOUND_TEST_IMAP_PORT"),
            imaps_port: port("REBOUND_TEST_IMAPS_PORT"),
            pop3_port: port("REBOUND_TEST_POP3_PORT"),
            pop3s_port: port("REBOUND_TEST_POP3S_PORT"),
            plain_imap_port: port("REBOUND_TEST_PLAIN_IMAP_PORT"),
            plain_pop3_port: port("REBOUND_TEST_PLAIN_POP3_PORT"),
            ca_file: PathBuf::from(get("REBOUND_TEST_CA_FILE")),
            oauth_port: port("REBOUND_TEST_OAUTH_PORT"),
            dir,
        }
    }
}

/// A mailbox user of its own, so tests run in parallel without seeing each other's mail.
#[derive(Clone)]
pub struct MailUser {
    pub name: String,
    pub password: String,
    conf: PathBuf,
    home: PathBuf,
}

impl Dovecot {
    /// Adds a fresh user (passwd-file line + maildir owned by 65534); Dovecot re-reads the
    /// users file when it changes.
    pub fn add_user(&self) -> MailUser {
        use std::io::Write;
        let name = format!("t{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        let password = format!("pw-{name}");
        let home = self.dir.join("home").join(&name);
        for sub in ["cur", "new", "tmp"] {
            std::fs::create_dir_all(home.join("Maildir").join(sub)).expect("create maildir");
        }
        for p in [
            home.clone(),
            home.join("Maildir"),
            home.join("Maildir/cur"),
            home.join("Maildir/new"),
            home.join("Maildir/tmp"),
        ] {
            std::os::unix::fs::chown(&p, Some(65534), Some(65534)).unwrap_or_else(|e| {
                panic!("chown {} to 65534: {e} (tests that add mail users run as root)", p.display())
            });
        }
        let line = format!("{name}:{{PLAIN}}{password}:65534:65534::{}::\n", home.display());
        let mut users = std::fs::OpenOptions::new().append(true).open(self.dir.join("users")).expect("open users file");
        users.write_all(line.as_bytes()).expect("append user");
        // Dovecot's passwd-file re-reads a changed file at most once per second (per auth
        // process; the plain instance has its own): wait for the next second to begin.
        let into_second =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_millis()).unwrap_or(0);
        std::thread::sleep(std::time::Duration::from_millis(u64::from(1000 - into_second) + 50));
        MailUser { name, password, conf: self.dir.join("tls/dovecot.conf"), home }
    }
}

impl MailUser {
    fn doveadm(&self, args: &[&str], stdin: Option<&[u8]>) -> String {
        use std::io::Write;
        use std::process::{Command, Stdio};
        let mut child = Command::new("doveadm")
            .arg("-c")
            .arg(&self.conf)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("doveadm: {e}; is Dovecot installed? run `make test`"));
        let mut input = child.stdin.take().expect("stdin");
        if let Some(bytes) = stdin {
            input.write_all(bytes).expect("write to doveadm");
        }
        drop(input);
        let out = child.wait_with_output().expect("doveadm output");
        assert!(out.status.success(), "doveadm {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).to_string()
    }

    /// Stores one message in `folder` (created beforehand with [`create_folder`]).
    pub fn deliver(&self, folder: &str, message: &[u8]) {
        self.doveadm(&["save", "-u", &self.name, "-m", folder], Some(message));
    }

    /// Drops messages straight into INBOX's maildir `new/` (Dovecot picks them up at its
    /// next sync): far faster than one doveadm call per message for big mailboxes.
    pub fn drop_into_maildir(&self, messages: impl IntoIterator<Item = Vec<u8>>) {
        let new = self.home.join("Maildir/new");
        for (i, m) in messages.into_iter().enumerate() {
            // Named the way Dovecot names its own deliveries (time, microseconds, pid, queue
            // number): Dovecot hashes the names, and a pattern repeating `i` collided so
            // badly that its lookups turned quadratic and the benchmark measured that.
            let p = new.join(format!("{}.M{}P4242Q{i}.rebound-test", 1_700_000_000 + i / 1000, (i * 7919) % 1_000_000));
            std::fs::write(&p, m).expect("write maildir file");
            std::os::unix::fs::chown(&p, Some(65534), Some(65534)).expect("chown maildir file");
        }
    }

    pub fn create_folder(&self, folder: &str) {
        self.doveadm(&["mailbox", "create", "-u", &self.name, folder], None);
    }

    /// Messages in `folder`, as Dovecot itself counts them.
    pub fn count(&self, folder: &str) -> usize {
        let out = self.doveadm(&["mailbox", "status", "-u", &self.name, "messages", folder], None);
        out.trim()
            .rsplit("messages=")
            .next()
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("unreadable doveadm status: {out}"))
    }

    /// Messages in `folder` flagged \\Seen.
    pub fn seen(&self, folder: &str) -> usize {
        self.doveadm(&["search", "-u", &self.name, "mailbox", folder, "SEEN"], None).lines().count()
    }

    /// The Subject lines of the messages in `folder`.
    pub fn subjects(&self, folder: &str) -> Vec<String> {
        let out = self.doveadm(&["fetch", "-u", &self.name, "hdr.subject", "mailbox", folder], None);
        let mut subjects: Vec<String> =
            out.lines().filter_map(|l| l.strip_prefix("hdr.subject: ")).map(|s| s.trim().to_string()).collect();
        subjects.sort();
        subjects
    }
}

impl Dovecot {
    /// A mailbox entry for `user` on localhost, trusting the test CA, 10 s per operation.
    pub fn mailbox(
        &self,
        user: &MailUser,
        protocol: rebound::config::Protocol,
        security: rebound::config::Security,
        port: u16,
    ) -> rebound::config::MailboxConfig {
        rebound::config::MailboxConfig {
            name: user.name.clone(),
            purpose: rebound::config::Purpose::Bounce,
            protocol,
            host: "localhost".into(),
            port,
            security,
            verify_certificate: true,
            ca_file: Some(self.ca_file.display().to_string()),
            username: user.name.clone(),
            auth: rebound::config::Auth::Password,
            oauth2: None,
            password_env: None,
            password_file: None,
            folders: vec!["INBOX".into()],
            after_processing: rebound::config::AfterProcessing::Keep,
            schedule: "*/5 * * * *".into(),
            idle: false,
            enabled: true,
            max_messages_per_poll: 500,
            max_message_bytes: 10 * 1024 * 1024,
            timeout_seconds: 10,
            lease_seconds: 30,
            inline_password: None,
        }
    }
}

impl MailUser {
    pub fn secret(&self) -> rebound::config::Secret {
        rebound::config::Secret::new(self.password.clone())
    }
}

/// A small message with a unique subject; lines ending CRLF as on the wire.
pub fn sample_message(subject: &str, body: &str) -> Vec<u8> {
    format!(
        "From: MAILER-DAEMON@mx.example.net\r\nTo: bounces@example.com\r\nSubject: {subject}\r\n\
         Message-ID: <{subject}@example.net>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

/// Delivers a small message and one of more than 2048 bytes (lines of `filler`) to INBOX and
/// fetches both with `max_message_bytes = 2048`: the small one arrives whole, of the big one
/// only its header block. Gives the session, still open.
pub async fn fetch_small_and_oversized(
    user: &MailUser,
    mut cfg: rebound::config::MailboxConfig,
    filler: char,
) -> rebound::fetch::Session {
    use rebound::fetch::{Session, SkipReason};
    let small = sample_message(&format!("{}-small", user.name), "short");
    let filler = filler.to_string().repeat(70);
    user.deliver("INBOX", &small);
    user.deliver("INBOX", &sample_message(&format!("{}-big", user.name), &vec![filler.as_str(); 100].join("\r\n")));
    cfg.max_message_bytes = 2048;
    let mut src = Session::open(&cfg, &user.secret()).await.unwrap();
    let refs = src.list().await.unwrap();
    let batch = src.fetch(&refs).await.unwrap();
    assert_eq!(batch.fetched.len(), 1);
    assert_eq!(lf(&batch.fetched[0].raw), lf(&small));
    assert_eq!(batch.skipped.len(), 1);
    let reason = &batch.skipped[0].reason;
    let SkipReason::TooLarge { size, limit, headers: Some(headers) } = reason else { panic!("{:?}", batch.skipped) };
    assert!(*size > 2048 && *limit == 2048);
    assert!(reason.to_string().contains("max_message_bytes"));
    // Only the header block was read, never the body.
    let headers = String::from_utf8_lossy(headers);
    assert!(headers.contains(&format!("Subject: {}-big\r\n", user.name)) && headers.ends_with("\r\n\r\n"), "{headers}");
    assert!(!headers.contains(&filler), "{headers}");
    src
}

/// Bytes with CRLF turned into LF: Dovecot stores LF and serves CRLF.
pub fn lf(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    for (i, &b) in bytes.iter().enumerate() {
        if !(b == b'\r' && bytes.get(i + 1) == Some(&b'\n')) {
            out.push(b);
        }
    }
    out
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// Rows in `table` (a real COUNT: SQLite's `execute` on a SELECT returns the last change count).
/// Events of type `kind` waiting in the outbox (in bundle rows or rows of their own).
pub async fn outbox_waiting(db: &rebound::store::Db, kind: &'static str) -> usize {
    db.run(move |c| rebound::notify::outbox::waiting(c, kind)).await.expect("outbox count")
}

pub async fn count_rows(db: &rebound::store::Db, table: &'static str) -> i64 {
    use diesel::RunQueryDsl;
    db.run(move |c| -> Result<_, rebound::store::StoreError> {
        let rows: Vec<Count> = diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {table}")).load(c)?;
        Ok(rows[0].n)
    })
    .await
    .expect("count rows")
}

/// Every `.eml` file under `dir`, walked recursively in sorted order (fixtures, corpus).
pub fn eml_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    fn walk(p: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        if p.is_dir() {
            let mut entries: Vec<_> = std::fs::read_dir(p).into_iter().flatten().flatten().map(|e| e.path()).collect();
            entries.sort();
            for e in entries {
                walk(&e, out);
            }
        } else if p.extension().is_some_and(|e| e == "eml") {
            out.push(p.to_path_buf());
        }
    }
    let mut out = Vec::new();
    walk(dir, &mut out);
    // A test over no files passes without testing anything: a moved or mistyped folder must
    // fail instead.
    assert!(!out.is_empty(), "no .eml files under {}: is the path right?", dir.display());
    out
}

/// The stable id of mailbox `cfg` (registered as a config mailbox the first time), which
/// polls, status and checkpoints go by.
pub fn id_of(db: &rebound::store::Db, cfg: &rebound::config::MailboxConfig) -> i64 {
    let mut c = db.conn().expect("a connection");
    rebound::mailbox::repo::register_config(&mut c, cfg, None).unwrap_or_else(|e| panic!("register {}: {e}", cfg.name))
}
