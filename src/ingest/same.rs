//! One bounce, two inputs: an MTA logs a recipient's 5xx the moment the server answers, and
//! the DSN it sends arrives in the bounce mailbox minutes later (or the other way round, when
//! the log is imported after the mailbox was polled). Both are the same failure, so it must
//! count once.
//!
//! Takes the event rows a batch is about to write; gives, for each, the stored event from the
//! other input it is a sighting of, if any: same kind, campaign, recipient and status (a
//! missing value matching only a missing one), within `[attribution] same_event_window_hours`,
//! the nearest in time first. A stored event takes at most one sighting per input, so a
//! recipient that really bounced twice (two sends) is two events. It never writes: the caller
//! stores matched rows as evidence ([`crate::record::evidence`]) instead of as events, so
//! campaign counters, alert counts, webhooks and suppression never see them twice.
//!
//! Two batches of different inputs committing at the same instant on PostgreSQL do not see
//! each other's rows (read committed) and may both be written as events; the window is about
//! minutes to days, so that race needs both to arrive within one transaction's time.

use super::IngestError;
use crate::record::events::NewEvent;
use crate::record::evidence;
use crate::store::AnyConnection;
use chrono::Duration;
use std::collections::{HashMap, HashSet};

const ORIGINS: [&str; 2] = ["mail", "log"];

type Key<'a> = (&'a str, &'a str, Option<&'a str>, Option<&'a str>);

/// The stored event each row is a further sighting of (`None`: a new event).
pub(super) fn matches(
    c: &mut AnyConnection,
    rows: &[NewEvent],
    window: Option<Duration>,
) -> Result<Vec<Option<i64>>, IngestError> {
    let mut out = vec![None; rows.len()];
    let Some(window) = window else { return Ok(out) };
    let Some(from) = rows.iter().map(|r| r.occurred_at).min() else { return Ok(out) };
    let to = rows.iter().map(|r| r.occurred_at).max().unwrap_or(from);
    let mut recipients: Vec<&str> = rows.iter().filter_map(|r| r.recipient).collect();
    recipients.sort_unstable();
    recipients.dedup();
    let others: Vec<&str> = ORIGINS.iter().copied().filter(|o| rows.iter().any(|r| r.origin != *o)).collect();
    if recipients.is_empty() || others.is_empty() {
        return Ok(out);
    }
    let found = evidence::candidates(c, &recipients, &others, from - window, to + window)?;
    if found.is_empty() {
        return Ok(out);
    }
    let mut by_key: HashMap<Key, Vec<usize>> = HashMap::new();
    for (n, (s, _)) in found.iter().enumerate() {
        let Some(r) = s.recipient.as_deref() else { continue };
        by_key.entry((r, s.kind.as_str(), s.status.as_deref(), s.campaign_id.as_deref())).or_default().push(n);
    }
    // Which inputs each stored event has a sighting of now (those of this batch included).
    let mut taken: Vec<HashSet<&str>> =
        found.iter().map(|(s, t)| t.iter().map(String::as_str).chain([s.origin.as_str()]).collect()).collect();
    for (row, slot) in rows.iter().zip(out.iter_mut()) {
        let Some(recipient) = row.recipient else { continue };
        let Some(list) = by_key.get(&(recipient, row.kind, row.status, row.campaign_id)) else { continue };
        let nearest = list
            .iter()
            .copied()
            .filter(|&n| !taken[n].contains(row.origin))
            .map(|n| (n, (found[n].0.occurred_at - row.occurred_at).abs()))
            .filter(|(_, d)| *d <= window)
            .min_by_key(|(n, d)| (*d, found[*n].0.id));
        if let Some((n, _)) = nearest {
            taken[n].insert(row.origin);
            *slot = Some(found[n].0.id);
        }
    }
    Ok(out)
}
