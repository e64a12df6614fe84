//! Opening connections and the pool, with errors that say what to fix.

use super::DbUrl;
use crate::config::DatabaseConfig;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::{ManageConnection, Pool, PooledConnection};
use diesel::{PgConnection, SqliteConnection};
use std::time::Duration;

/// A connection to either backend; queries written once run on both.
#[derive(diesel::MultiConnection)]
pub enum AnyConnection {
    Postgresql(PgConnection),
    Sqlite(SqliteConnection),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl AnyConnection {
    pub fn backend(&self) -> Backend {
        match self {
            AnyConnection::Postgresql(_) => Backend::Postgres,
            AnyConnection::Sqlite(_) => Backend::Sqlite,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0}")]
    Connect(String),
    #[error("database migration failed on {target}: {message}")]
    Migrate { target: String, message: String },
    #[error("database query failed: {0}")]
    Query(#[from] diesel::result::Error),
    #[error(
        "no database connection available within the timeout: {0}; raise database.pool_size or check the database is responsive"
    )]
    Pool(String),
    #[error("database task panicked or was cancelled: {0}")]
    Task(String),
}

/// Opens connections for the pool. Written by hand rather than diesel's `ConnectionManager`
/// because `establish` on a multi-backend connection replaces PostgreSQL's real error with
/// "Invalid connection url", and SQLite needs its pragmas on every new connection.
#[derive(Debug, Clone)]
pub struct Manager {
    target: DbUrl,
    busy_timeout_ms: u64,
}

impl Manager {
    fn open(&self) -> Result<AnyConnection, StoreError> {
        match &self.target {
            DbUrl::Sqlite { path } => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|e| {
                        StoreError::Connect(format!(
                            "cannot create directory {} for the SQLite database: {e}; check permissions or change database.url",
                            dir.display()
                        ))
                    })?;
                }
                let fail = |e: &dyn std::fmt::Display| {
                    StoreError::Connect(format!(
                        "cannot open SQLite database {}: {e}; check the path is writable or change database.url",
                        path.display()
                    ))
                };
                let mut c = SqliteConnection::establish(&path.to_string_lossy()).map_err(|e| fail(&e))?;
                // WAL lets readers (API) run beside the writer (pipeline); the busy timeout makes
                // a second writer wait instead of failing at once. A 16 MiB page cache (default
                // 2 MiB) keeps the random-keyed indexes (digest, recipient) in memory: importing
                // 20,000 messages made 514k page reads with the default and 54k with this.
                let pragmas = format!(
                    "PRAGMA busy_timeout = {}; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA cache_size = -16384;",
                    self.busy_timeout_ms
                );
                c.batch_execute(&pragmas).map_err(|e| fail(&e))?;
                Ok(AnyConnection::Sqlite(c))
            }
            DbUrl::Postgres { url } => PgConnection::establish(url.as_str())
                .map(AnyConnection::Postgresql)
                .map_err(|e| StoreError::Connect(explain_pg(&self.target, &e.to_string()))),
        }
    }
}

/// Turns libpq's message into one that names the target and the likely fix.
fn explain_pg(target: &DbUrl, msg: &str) -> String {
    let msg = msg.split_whitespace().collect::<Vec<_>>().join(" ");
    let hint = if msg.contains("Connection refused") {
        "is PostgreSQL running there? check host and port in database.url"
    } else if msg.contains("password authentication failed") || msg.contains("no password supplied") {
        "check the user name and the password (database.password_env / password_file)"
    } else if msg.contains("does not exist") && msg.contains("database") {
        "create the database first (e.g. `createdb NAME`) or fix its name in database.url"
    } else if msg.contains("does not exist") && msg.contains("role") {
        "create the role or fix the user name in database.url"
    } else if msg.contains("translate host name") || msg.contains("Name or service not known") {
        "check the host name in database.url"
    } else if msg.contains("timeout") {
        "the server did not answer in time: check host, port and firewall"
    } else {
        "check database.url"
    };
    format!("cannot connect to {}: {msg} — {hint}", target.describe())
}

impl ManageConnection for Manager {
    type Connection = AnyConnection;
    type Error = StoreError;

    fn connect(&self) -> Result<AnyConnection, StoreError> {
        self.open()
    }
    fn is_valid(&self, conn: &mut AnyConnection) -> Result<(), StoreError> {
        diesel::sql_query("SELECT 1").execute(conn).map(|_| ()).map_err(StoreError::Query)
    }
    fn has_broken(&self, _conn: &mut AnyConnection) -> bool {
        false
    }
}

/// A connection pool plus which backend it talks to. Cheap to clone.
#[derive(Clone)]
pub struct Db {
    pool: Pool<Manager>,
    backend: Backend,
    target: String,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").field("backend", &self.backend).field("target", &self.target).finish()
    }
}

impl Db {
    /// Connects (reporting the real cause of a failure) and runs pending migrations.
    pub fn connect(cfg: &DatabaseConfig) -> Result<Db, StoreError> {
        let (db, _) = Self::connect_and_migrate(cfg)?;
        Ok(db)
    }

    /// Like [`Db::connect`], also returning the migration versions it applied.
    pub fn connect_and_migrate(cfg: &DatabaseConfig) -> Result<(Db, Vec<String>), StoreError> {
        let mut target = DbUrl::parse(&cfg.url).map_err(|e| StoreError::Connect(e.to_string()))?;
        if let DbUrl::Postgres { url } = &mut target {
            if let Some(pw) = cfg.password().resolve("database").map_err(StoreError::Connect)? {
                let _ = url.set_password(Some(pw.expose()));
            }
            if !url.query_pairs().any(|(k, _)| k == "connect_timeout") {
                url.query_pairs_mut().append_pair("connect_timeout", &cfg.connect_timeout_seconds.to_string());
            }
        }
        let backend = match target {
            DbUrl::Sqlite { .. } => Backend::Sqlite,
            DbUrl::Postgres { .. } => Backend::Postgres,
        };
        let manager = Manager { target: target.clone(), busy_timeout_ms: cfg.busy_timeout_ms };
        // One direct connection first: the pool would only say "timed out" on failure.
        let mut first = manager.open()?;
        let applied = super::run_migrations(&mut first)
            .map_err(|message| StoreError::Migrate { target: target.describe(), message })?;
        drop(first);
        let pool = Pool::builder()
            .max_size(cfg.pool_size)
            .min_idle(Some(1))
            .connection_timeout(Duration::from_secs(cfg.connect_timeout_seconds))
            .build(manager)
            .map_err(|e| StoreError::Pool(e.to_string()))?;
        Ok((Db { pool, backend, target: target.describe() }, applied))
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// What this pool talks to, without secrets (for logs).
    pub fn describe(&self) -> &str {
        &self.target
    }

    /// A connection for blocking code (CLI commands, tests).
    pub fn conn(&self) -> Result<PooledConnection<Manager>, StoreError> {
        self.pool.get().map_err(|e| StoreError::Pool(e.to_string()))
    }

    /// Runs blocking diesel work on the blocking thread pool.
    pub async fn run<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut AnyConnection) -> Result<T, StoreError> + Send + 'static,
    {
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = pool.get().map_err(|e| StoreError::Pool(e.to_string()))?;
            f(&mut conn)
        })
        .await
        .map_err(|e| StoreError::Task(e.to_string()))?
    }
}
