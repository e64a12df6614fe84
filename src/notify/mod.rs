//! Events out: signed webhooks for every committed fact.
//!
//! Takes committed facts — a recorded bounce, complaint, delay or delivery, a suppression
//! added or removed, a message put up for review, a mailbox or node whose state changed —
//! as [`Outgoing`] events written to the durable outbox ([`outbox`]; the hot ingest events a
//! [`bundle`] per statement) in the same transaction as the fact, so a crash can neither lose nor invent one. Gives deliveries: the worker
//! ([`worker`], run by `rebound serve`) fans each event out to the endpoints that take it
//! ([`endpoints`]: `[[webhook]]` and the admin API), signs every POST per Standard Webhooks
//! ([`sign`]), retries with exponential backoff and jitter up to the endpoint's horizon,
//! disables an endpoint that answers 410, and keeps every attempt ([`deliver`]).
//! Alert rules ([`alert`]) watch the recorded events and the mailbox and node state, and
//! notify through the webhooks, Pushover and email.
//! It never classifies and never suppresses: it only reports what the stages decided.

pub mod alert;
pub mod bundle;
pub mod deliver;
pub mod endpoints;
pub mod event;
pub mod outbox;
pub mod rebuild;
pub mod sign;
pub mod worker;

pub use endpoints::{Webhook, WebhookError};
pub use event::{Event, EventData, Outgoing};
pub use outbox::{Wanted, emit};
