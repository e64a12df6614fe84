//! rebound turns bounce and feedback-loop mail into suppression.
//!
//! The data flows one way, one module per stage:
//! fetch (POP3/IMAP) → parse (DSN / ARF / dialects) → classify (rules) → record (events,
//! campaigns) → suppress → sync to sending nodes. Around the stages: `config`, `store`
//! (SQLite / PostgreSQL), `api` (admin HTTP), `scheduler`, `cli`.

pub mod api;
pub mod app;
pub mod classify;
pub mod cli;
pub mod config;
pub mod fetch;
pub mod ingest;
pub mod instance;
pub mod mailbox;
pub mod memory;
pub mod parse;
pub mod record;
pub mod scheduler;
pub mod store;
pub mod suppress;
pub mod telemetry;
