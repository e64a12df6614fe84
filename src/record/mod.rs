//! Recording: the tables ingest writes and the views people read — the message ledger,
//! events and their campaign counters (totals, per day, per failure group), the
//! sent-message map, the BOUNCED / COMPLAINTS views, a campaign's report and everything
//! known about one address.
//!
//! Takes rows from `ingest`; gives exactly-once bookkeeping (a message is known by its
//! source identity and its content digest), per-campaign views and the sent map. It never
//! parses, classifies or decides suppression, and never touches a mailbox.

pub mod address;
pub mod counters;
pub mod events;
pub mod evidence;
pub mod ledger;
pub mod logged;
pub mod provider;
pub mod report;
pub mod sent;
pub mod stats;
pub mod stats_ask;
pub mod stats_query;
pub mod views;
