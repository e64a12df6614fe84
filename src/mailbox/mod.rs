//! Mailboxes: polling bounce and feedback-loop mailboxes on their schedules.
//!
//! Takes the `[[mailbox]]` settings, the database and the pipeline; gives scheduled polls
//! (one poller per mailbox across instances, thanks to a lease in the database), status
//! per mailbox for operators, and back-off after repeated failures. It never deletes,
//! moves or flags a message the pipeline has not committed.

pub mod poll;
pub mod state;

pub use poll::{PollError, PollOutcome, poll_once};

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
