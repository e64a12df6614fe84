//! Opening connections and the pool, with errors that say what to fix.

use super::DbUrl;
use crate::config::DatabaseConfig;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::{ManageConnection, Pool, PooledConnection};
use diesel::{PgConnection, SqliteConnection};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
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
    #[error("{0}")]
    Task(String),
    #[error(
        "the database did not answer within {0} s (database.query_timeout_seconds); check that it is up and reachable"
    )]
    Timeout(u64),
}

impl StoreError {
    /// Whether the failure belongs to the moment rather than to the data: a lost or refused
    /// connection, a lock or a timeout, a full disk. Retrying the same work later may
    /// succeed, so such a failure must never be blamed on (or quarantine) a message.
    pub fn is_transient(&self) -> bool {
        use diesel::result::{DatabaseErrorKind as K, Error as E};
        match self {
            StoreError::Connect(_) | StoreError::Pool(_) | StoreError::Task(_) | StoreError::Timeout(_) => true,
            StoreError::Migrate { .. } => false,
            StoreError::Query(E::DatabaseError(
                K::ClosedConnection | K::UnableToSendCommand | K::SerializationFailure | K::ReadOnlyTransaction,
                _,
            )) => true,
            StoreError::Query(
                E::BrokenTransactionManager | E::AlreadyInTransaction | E::RollbackErrorOnCommit { .. },
            ) => true,
            StoreError::Query(E::DatabaseError(_, info)) => {
                // SQLite and PostgreSQL report these as "unknown" kinds: tell them by their words.
                let m = info.message().to_ascii_lowercase();
                [
                    "locked",
                    "busy",
                    "deadlock",
                    "timeout",
                    "canceling statement",
                    "connection",
                    "disk",
                    "full",
                    "i/o",
                    "out of memory",
                    "shutting down",
                    "recovery",
                ]
                .iter()
                .any(|w| m.contains(w))
            }
            StoreError::Query(_) => false,
        }
    }
}

/// Opens connections for the pool. Written by hand rather than diesel's `ConnectionManager`
/// because `establish` on a multi-backend connection replaces PostgreSQL's real error with
/// "Invalid connection url", and SQLite needs its pragmas on every new connection.
#[derive(Debug, Clone)]
pub struct Manager {
    target: DbUrl,
    busy_timeout_ms: u64,
    query_timeout_ms: u64,
    health: Arc<Health>,
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
                configure_sqlite_once();
                let mut c = SqliteConnection::establish(&path.to_string_lossy()).map_err(|e| fail(&e))?;
                // WAL lets readers (API) run beside the writer (pipeline); the busy timeout makes
                // a second writer wait instead of failing at once. A 16 MiB page cache (default
                // 2 MiB) keeps the random-keyed indexes (digest, recipient) in memory: importing
                // 20,000 messages made 514k page reads with the default and 54k with this.
                let pragmas = format!(
                    "PRAGMA busy_timeout = {}; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA cache_size = -16384;",
                    self.busy_timeout_ms
                );
                // Switching a new file to WAL while another process migrates it can answer
                // "database is locked" without waiting on the busy handler: retry within the
                // busy timeout, as a writer would wait.
                let deadline = std::time::Instant::now() + std::time::Duration::from_millis(self.busy_timeout_ms);
                loop {
                    match c.batch_execute(&pragmas) {
                        Ok(()) => break,
                        Err(e) if e.to_string().contains("locked") && std::time::Instant::now() < deadline => {
                            std::thread::sleep(std::time::Duration::from_millis(25));
                        }
                        Err(e) => return Err(fail(&e)),
                    }
                }
                Ok(AnyConnection::Sqlite(c))
            }
            DbUrl::Postgres { url } => {
                let mut c = PgConnection::establish(url.as_str())
                    .map_err(|e| StoreError::Connect(explain_pg(&self.target, &e.to_string())))?;
                // Server side, the same bound as `Db::run` puts on the client side: a query
                // stuck on a lock is cancelled and its connection comes back to the pool.
                c.batch_execute(&format!("SET statement_timeout = {}", self.query_timeout_ms))
                    .map_err(|e| StoreError::Connect(explain_pg(&self.target, &e.to_string())))?;
                Ok(AnyConnection::Postgresql(c))
            }
        }
    }
}

/// SQLite's process-wide settings, made once before its first connection opens (afterwards
/// `sqlite3_config` refuses, harmlessly). A connection here is only ever used by one thread
/// at a time (diesel's connection is not `Sync`; the pool hands it over), so SQLite's
/// per-connection mutexes ("serialized" mode) guard nothing: "multi-thread" mode drops them.
/// Memory statistics, which no part of rebound reads, take a global mutex on every
/// allocation. Both showed as a twelfth of the writer's time in a profile of a bulk import.
fn configure_sqlite_once() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: sqlite3_config is called before any connection is opened by this process's
        // SQLite (or, if one was, it returns SQLITE_MISUSE and changes nothing); the
        // arguments are the documented ones for each option.
        unsafe {
            libsqlite3_sys::sqlite3_config(libsqlite3_sys::SQLITE_CONFIG_MULTITHREAD);
            libsqlite3_sys::sqlite3_config(libsqlite3_sys::SQLITE_CONFIG_MEMSTATUS, 0 as std::ffi::c_int);
        }
    });
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
        let Some(_opening) = super::quiesce::Opening::begin() else {
            return Err(StoreError::Connect("the process is exiting; no new database connections".into()));
        };
        let opened = self.open();
        match &opened {
            Ok(_) => self.health.up(&self.target),
            Err(e) => self.health.down(&self.target, e),
        }
        opened
    }
    fn is_valid(&self, conn: &mut AnyConnection) -> Result<(), StoreError> {
        diesel::sql_query("SELECT 1").execute(conn).map(|_| ()).map_err(StoreError::Query)
    }
    fn has_broken(&self, _conn: &mut AnyConnection) -> bool {
        false
    }
}

/// Whether the database was reachable at the last connection attempt. The pool retries in
/// the background all through an outage; this logs one line when it goes away and one when
/// it is back, instead of r2d2's line per attempt.
#[derive(Debug, Default)]
struct Health {
    down: AtomicBool,
}

impl Health {
    fn down(&self, target: &DbUrl, e: &StoreError) {
        if !self.down.swap(true, Ordering::Relaxed) {
            tracing::error!(database = %target.describe(), error = %e, "database unreachable; retrying in the background");
        }
    }

    fn up(&self, target: &DbUrl) {
        if self.down.swap(false, Ordering::Relaxed) {
            tracing::info!(database = %target.describe(), "database reachable again");
        }
    }
}

/// Connection errors are reported by [`Health`], once per outage.
#[derive(Debug)]
struct Quiet;

impl diesel::r2d2::HandleError<StoreError> for Quiet {
    fn handle_error(&self, error: StoreError) {
        tracing::debug!(%error, "database connection attempt failed");
    }
}

/// A connection pool plus which backend it talks to. Cheap to clone.
#[derive(Clone)]
pub struct Db {
    pool: Pool<Manager>,
    backend: Backend,
    target: String,
    query_timeout: Duration,
    /// One permit per pooled connection for [`Db::run`]: work beyond the pool waits here,
    /// first come first served, instead of as a blocking thread each on the pool's lock,
    /// where hundreds of waiting requests were woken in no order (the slowest waited
    /// several times the median).
    slots: Arc<tokio::sync::Semaphore>,
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
        Self::open(cfg, true)
    }

    /// Connects to a database that already exists, changing nothing: no migrations, and no
    /// SQLite file is created (for commands that only read, like `rebound parse`).
    pub fn connect_existing(cfg: &DatabaseConfig) -> Result<Db, StoreError> {
        if let Ok(DbUrl::Sqlite { path }) = DbUrl::parse(&cfg.url)
            && !path.exists()
        {
            return Err(StoreError::Connect(format!("no SQLite database at {}", path.display())));
        }
        Ok(Self::open(cfg, false)?.0)
    }

    fn open(cfg: &DatabaseConfig, migrate: bool) -> Result<(Db, Vec<String>), StoreError> {
        let mut target = DbUrl::parse(&cfg.url).map_err(|e| StoreError::Connect(e.to_string()))?;
        if let DbUrl::Postgres { url } = &mut target {
            if let Some(pw) = cfg.password().resolve("database").map_err(StoreError::Connect)? {
                let _ = url.set_password(Some(pw.expose()));
            }
            let query_ms = (cfg.query_timeout_seconds * 1000).to_string();
            // Keepalives and tcp_user_timeout: a server that stops answering (packets dropped,
            // not refused) ends the connection with an error instead of holding it forever.
            for (key, value) in [
                ("connect_timeout", cfg.connect_timeout_seconds.to_string().as_str()),
                ("keepalives", "1"),
                ("keepalives_idle", "15"),
                ("keepalives_interval", "5"),
                ("keepalives_count", "3"),
                ("tcp_user_timeout", query_ms.as_str()),
            ] {
                if !url.query_pairs().any(|(k, _)| k == key) {
                    url.query_pairs_mut().append_pair(key, value);
                }
            }
        }
        let backend = match target {
            DbUrl::Sqlite { .. } => Backend::Sqlite,
            DbUrl::Postgres { .. } => Backend::Postgres,
        };
        let manager = Manager {
            target: target.clone(),
            busy_timeout_ms: cfg.busy_timeout_ms,
            query_timeout_ms: cfg.query_timeout_seconds * 1000,
            health: Arc::default(),
        };
        // One direct connection first: the pool would only say "timed out" on failure.
        let mut first = manager.open()?;
        let applied = if migrate {
            super::run_migrations(&mut first)
                .map_err(|message| StoreError::Migrate { target: target.describe(), message })?
        } else {
            Vec::new()
        };
        drop(first);
        let pool = Pool::builder()
            .max_size(cfg.pool_size)
            .min_idle(Some(1))
            .connection_timeout(Duration::from_secs(cfg.connect_timeout_seconds))
            .error_handler(Box::new(Quiet))
            .build(manager)
            .map_err(|e| StoreError::Pool(e.to_string()))?;
        let query_timeout = Duration::from_secs(cfg.query_timeout_seconds);
        let slots = Arc::new(tokio::sync::Semaphore::new(cfg.pool_size as usize));
        Ok((Db { pool, backend, target: target.describe(), query_timeout, slots }, applied))
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

    /// A second connection for work that can use one but does not need it (a bulk import's
    /// second writer): None when the pool has none free within a moment, instead of waiting
    /// for one. Not `try_get`: the pool keeps one connection idle, so right after another was
    /// taken the spare one is still being opened, and `try_get` gives None for a pool that
    /// has room to spare.
    pub fn spare_conn(&self) -> Option<PooledConnection<Manager>> {
        self.pool.get_timeout(Duration::from_millis(500)).ok()
    }

    /// Runs blocking diesel work on the blocking thread pool. The closure's own error type
    /// comes back unchanged (a rules or pipeline error keeps its kind); only a failure to
    /// get a connection, or a task that really panicked, becomes a [`StoreError`].
    pub async fn run<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&mut AnyConnection) -> Result<T, E> + Send + 'static,
    {
        let (pool, slots) = (self.pool.clone(), self.slots.clone());
        let task = async move {
            // The semaphore is never closed.
            let slot = slots.acquire_owned().await.map_err(|e| StoreError::Task(e.to_string()))?;
            Ok::<_, StoreError>(tokio::task::spawn_blocking(move || {
                let _slot = slot;
                let mut conn = pool.get().map_err(|e| E::from(StoreError::Pool(e.to_string())))?;
                f(&mut conn)
            }))
        };
        // The blocking thread cannot be interrupted; past the timeout its result is dropped
        // (it committed or it did not: callers only act on what they were told succeeded).
        // The wait for a slot counts toward the timeout as the wait for a connection did.
        let timeout = self.query_timeout;
        let Ok(joined) = tokio::time::timeout(timeout, async move {
            match task.await {
                Ok(handle) => Ok(handle.await),
                Err(e) => Err(e),
            }
        })
        .await
        else {
            return Err(E::from(StoreError::Timeout(timeout.as_secs())));
        };
        let joined = joined.map_err(E::from)?;
        match joined {
            Ok(result) => result,
            Err(e) if e.is_panic() => Err(E::from(StoreError::Task(format!("a database task panicked: {e}")))),
            Err(e) => Err(E::from(StoreError::Task(format!("a database task was cancelled (shutting down?): {e}")))),
        }
    }
}
