//! rebound turns bounce and feedback-loop mail into suppression.
//!
//! # Layout
//! The data flows one way, one module per stage:
//!
//! - [`fetch`]: POP3/IMAP sessions (and files) give raw messages; staged verify.
//! - [`mailbox`]: the mailbox list (config file and API, stable ids) and a supervisor that
//!   polls each on its schedule, following the list at run time — leases, checkpoints,
//!   status, marking committed mail done.
//! - [`ingest`]: the order of the work — evidence from a raw message ([`parse`] →
//!   attribute → [`classify`]) then one transaction per batch into [`record`] and
//!   [`suppress`]; the review queue and reclassification.
//! - [`parse`]: DSNs, ARF complaints and the MTA dialects into records.
//! - [`logs`]: the MTAs' own logs (PowerMTA accounting, Postfix, Exim, KumoMTA) into one
//!   delivery record per recipient attempt, with checkpoints that carry the join state.
//! - [`classify`]: the ordered rule list and its engine.
//! - [`record`]: the ledger, events, campaign counters, the sent map, and the BOUNCED /
//!   COMPLAINTS views.
//! - [`suppress`]: the policy, the list, manual changes with their audit, and the ordered
//!   change log that sync to the sending nodes follows.
//! - [`sync`]: the suppression list onto the sending nodes: per-node sets by scope, one
//!   renderer per MTA (Postfix, Exim, PowerMTA, KumoMTA, Haraka, plain/CSV/JSON files),
//!   atomic installs, the order-independent checksum, node status, change-log retention;
//!   the pull protocol (snapshot, changes, report) and `rebound node-agent`, which runs it on
//!   a sending node.
//! - [`notify`]: events out — every committed fact (bounce, complaint, suppression change,
//!   review item, mailbox and node state) through a durable outbox to signed webhooks.
//!
//! Around the stages: [`config`], [`secrets`] (sealed mailbox passwords and OAuth2 secrets), [`store`] (SQLite / PostgreSQL, migrations, transactions,
//! keyset pages), [`api`] (admin HTTP: `/healthz` for now), [`scheduler`], [`app`] (the
//! running service), [`cli`] (a face over the stage operations, with no business logic and no
//! table access of its own), [`instance`], [`telemetry`], [`observe`] (Prometheus metrics),
//! [`memory`].

pub mod access;
pub mod api;
pub mod app;
pub mod audit;
pub mod classify;
pub mod cli;
pub mod config;
pub mod fetch;
pub mod ingest;
pub mod instance;
pub mod logs;
pub mod mailbox;
pub mod memory;
pub mod notify;
pub mod observe;
pub mod parse;
pub mod record;
pub mod scheduler;
pub mod secrets;
pub mod store;
pub mod suppress;
pub mod sync;
pub mod telemetry;
pub mod web;
