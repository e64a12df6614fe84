//! Schema migrations for both backends, embedded in the binary.

use super::AnyConnection;
use diesel::RunQueryDsl;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

const SQLITE: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES: EmbeddedMigrations = embed_migrations!("migrations/postgres");
/// Advisory lock key ("rebound" in ASCII): instances starting together migrate one at a time.
const PG_MIGRATION_LOCK: i64 = 0x7265626f756e64;

/// Runs pending migrations; returns the versions applied (empty when up to date).
pub fn run_migrations(conn: &mut AnyConnection) -> Result<Vec<String>, String> {
    match conn {
        // Two processes opening a new file together: the write lock taken up front makes the
        // second wait for the first to finish (then find nothing pending) instead of racing it.
        AnyConnection::Sqlite(_) => super::transaction(conn, |conn| {
            let AnyConnection::Sqlite(c) = conn else { unreachable!("matched above") };
            c.run_pending_migrations(SQLITE)
                .map(|v| v.iter().map(|m| m.to_string()).collect())
                .map_err(|e| Failed(e.to_string()))
        })
        .map_err(|Failed(e)| e),
        AnyConnection::Postgresql(c) => {
            diesel::sql_query(format!("SELECT pg_advisory_lock({PG_MIGRATION_LOCK})"))
                .execute(c)
                .map_err(|e| format!("cannot take the migration lock: {e}"))?;
            let result = c
                .run_pending_migrations(POSTGRES)
                .map(|v| v.iter().map(|m| m.to_string()).collect::<Vec<_>>())
                .map_err(|e| e.to_string());
            let _ = diesel::sql_query(format!("SELECT pg_advisory_unlock({PG_MIGRATION_LOCK})")).execute(c);
            result
        }
    }
}

/// A migration failure, as text (the harness's boxed error is not `Send`).
struct Failed(String);

impl From<diesel::result::Error> for Failed {
    fn from(e: diesel::result::Error) -> Self {
        Failed(e.to_string())
    }
}
