//! Storage: one connection type for SQLite (embedded default) and PostgreSQL (production).
//!
//! Takes `[database]` settings; gives a pooled [`Db`] whose migrations have run, and runs
//! blocking diesel work off the async runtime. SQLite runs in WAL mode with a busy timeout, and its write
//! transactions take the write lock up front so that timeout works;
//! PostgreSQL instances sharing one database serialise their migrations with an advisory
//! lock. It never hides why a connection failed: host, port, user and the server's words
//! are in the error.

mod connect;
pub mod counter;
mod insert;
pub mod json_rows;
mod lease;
mod migrate;
mod page;
mod quiesce;
pub mod schema;
pub mod sqlite_time;
mod tx;
mod url;

pub use connect::{AnyConnection, Backend, Db, Manager, StoreError};
pub use migrate::run_migrations;
pub use page::{BadCursor, Cursor, Page, PageError, Paged};
pub use quiesce::quiesce;
pub use tx::{COMMITTED, transaction};
pub use url::{DbUrl, UrlError, mask_url};
