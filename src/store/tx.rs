//! Write transactions that wait their turn on SQLite.
//!
//! Takes a connection and the work; gives the work's result, committed, or its error with
//! nothing written. On SQLite a deferred transaction (diesel's `BEGIN`) that reads before it
//! writes cannot be saved by the busy timeout: when another writer committed since its read,
//! SQLite answers "database is locked" at once instead of waiting. `BEGIN IMMEDIATE` takes
//! the write lock up front, where the busy handler does wait, so two writers queue instead of
//! failing. PostgreSQL needs nothing of the kind and uses diesel's transaction as it is.
//!
//! Every successful call wakes [`COMMITTED`]'s waiters, so a long-polling reader of this
//! process (the sync changes route) looks again at once instead of at its next poll.

use super::AnyConnection;
use diesel::Connection;
use diesel::connection::{AnsiTransactionManager, TransactionManager};

/// Woken after each transaction this process commits (and after each savepoint: a waiter
/// just reads again, so an early wake costs one query).
pub static COMMITTED: tokio::sync::Notify = tokio::sync::Notify::const_new();

/// Runs `f` in one transaction; nested calls become savepoints, as with diesel's own.
pub fn transaction<T, E, F>(c: &mut AnyConnection, f: F) -> Result<T, E>
where
    F: FnOnce(&mut AnyConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    let done = transaction_inner(c, f);
    if done.is_ok() {
        COMMITTED.notify_waiters();
    }
    done
}

fn transaction_inner<T, E, F>(c: &mut AnyConnection, f: F) -> Result<T, E>
where
    F: FnOnce(&mut AnyConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    let outermost_sqlite = match c {
        AnyConnection::Sqlite(lite) => {
            AnsiTransactionManager::transaction_manager_status_mut(lite).transaction_depth()?.is_none()
        }
        AnyConnection::Postgresql(_) => false,
    };
    if !outermost_sqlite {
        return c.transaction(f);
    }
    if let AnyConnection::Sqlite(lite) = c {
        AnsiTransactionManager::begin_transaction_sql(lite, "BEGIN IMMEDIATE")?;
    }
    let result = f(c);
    let AnyConnection::Sqlite(lite) = c else { unreachable!("checked above") };
    match result {
        Ok(value) => match AnsiTransactionManager::commit_transaction(lite) {
            Ok(()) => Ok(value),
            Err(commit) => {
                // As diesel does: a failed COMMIT is rolled back so the connection is usable.
                let _ = AnsiTransactionManager::rollback_transaction(lite);
                Err(commit.into())
            }
        },
        Err(e) => {
            AnsiTransactionManager::rollback_transaction(lite)?;
            Err(e)
        }
    }
}
