//! Recording: the ingest pipeline and what it writes (ledger, events, campaign counters).
//!
//! Takes raw messages with their source identity; gives committed events, per-campaign
//! BOUNCED and COMPLAINTS views, and a review queue for what nothing could be made of.
//! Exactly once: a message is known by its source identity and its content digest, so the
//! same message fetched again, from another mailbox, or imported again changes nothing.
//! It never removes anything from a mailbox.

pub mod attribute;
pub mod events;
pub mod ledger;
pub mod pipeline;
pub mod reclassify;
pub mod review;
pub mod views;

pub use pipeline::{Disposition, Item, Pipeline, PipelineError, Stats};
