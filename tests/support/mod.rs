//! Shared test helpers: a fresh database per test on either backend, and the test Dovecot.
//!
//! PostgreSQL and Dovecot are real servers started by `make test`; a test that needs one
//! fails with a clear message when it is missing — it never silently skips.
#![allow(dead_code)] // each test binary uses a different subset

pub mod mail;

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
            dir,
        }
    }
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// Rows in `table` (a real COUNT: SQLite's `execute` on a SELECT returns the last change count).
pub async fn count_rows(db: &rebound::store::Db, table: &'static str) -> i64 {
    use diesel::RunQueryDsl;
    db.run(move |c| {
        let rows: Vec<Count> = diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {table}")).load(c)?;
        Ok(rows[0].n)
    })
    .await
    .expect("count rows")
}
