//! Mailboxes: what to poll, and polling it on its schedule.
//!
//! Takes the `[[mailbox]]` entries of the config file, API-managed mailboxes (both stored in
//! the `mailboxes` table with stable ids), the database and the pipeline; gives scheduled
//! polls that follow the table at run time (one poller per mailbox across instances, thanks to
//! a lease in the database), status per mailbox for operators, and back-off after repeated
//! failures. It never deletes, moves or flags a message the pipeline has not committed.
//!
//! # Layout
//! - [`repo`]: the mailbox list (list, get) and its version; [`write`]: audited writes
//!   (create, update, delete, enable, password re-sealing);
//! - [`sync`]: the config file's entries mirrored into it at `serve` start;
//! - [`listing`]: the rows of `mailbox list` and the targets of a manual poll;
//! - [`supervisor`]: one job per mailbox (schedule, IDLE, back-off), reconciled with the table;
//! - [`poll`]: one poll of one mailbox; [`state`]: status, checkpoints and the lease.

pub mod listing;
pub mod poll;
pub mod repo;
pub mod state;
pub mod supervisor;
pub mod sync;
pub mod write;

pub use listing::{Overview, Target, overview, targets};
pub use poll::{PollError, PollOutcome, drain, poll_once};
pub use repo::{Mailbox, MailboxError, ManagedBy};
pub use supervisor::Supervisor;

use chrono::{Duration, NaiveDateTime};

/// Failures before polls start backing off, and the longest pause between attempts.
const BACKOFF_AFTER: i32 = 3;
const BACKOFF_MAX_MINUTES: i64 = 60;

/// When a failing mailbox may be polled again: after 3 consecutive failures the pause
/// doubles per failure (1, 2, 4 … minutes), up to an hour.
pub fn next_attempt(status: &state::Status) -> Option<NaiveDateTime> {
    let failures = status.consecutive_failures;
    if failures < BACKOFF_AFTER {
        return None;
    }
    let exp = u32::try_from(failures - BACKOFF_AFTER).unwrap_or(0).min(6);
    let pause = Duration::minutes((1i64 << exp).min(BACKOFF_MAX_MINUTES));
    status.last_poll_at.map(|t| t + pause)
}
