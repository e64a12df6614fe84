//! Suppression: which addresses are never mailed again, and why.
//!
//! Takes classified events and the `[suppression]` policy; gives suppression entries, each
//! with its source (hard bounce, complaint, soft threshold, manual, import), evidence event
//! and optional expiry, plus an ordered change log for the sending nodes. Hard bounces and
//! complaints suppress at once (a `not-spam` report is never a complaint outcome); soft
//! bounces only when N of them, for reasons that are the address's fault, fall within D
//! days. It never suppresses an allowlisted address or domain, and never writes outside
//! the caller's transaction.

mod allow;
pub mod changes;
pub mod export;
pub mod import;
pub mod list;
pub mod manual;
pub mod search;

pub use allow::Allowlist;
pub use changes::ListChange;
pub use list::{GLOBAL, Source, Suppression, normalize};

use crate::classify::Outcome;
use crate::config::{SuppressionConfig, SuppressionScope};
use crate::store::schema::suppressions;
use crate::store::{AnyConnection, StoreError};
use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use std::collections::HashMap;

/// What the policy needs to know of stored events. The `record` stage answers it (it owns
/// the events table), so suppression never reads events itself.
pub trait EventHistory {
    /// When each of `who` had soft bounces that count (their reason is not in `uncounted`),
    /// in `(from, to]`.
    fn soft_times(
        &self,
        c: &mut AnyConnection,
        who: &[&str],
        from: NaiveDateTime,
        to: NaiveDateTime,
        uncounted: &[String],
    ) -> Result<HashMap<String, Vec<NaiveDateTime>>, StoreError>;

    /// Another event than `except` that still backs a suppression of `address` for `outcome`.
    fn other_evidence(
        &self,
        c: &mut AnyConnection,
        address: &str,
        except: i64,
        outcome: Outcome,
    ) -> Result<Option<i64>, StoreError>;

    /// The events of `ids` as evidence of the entries they made (missing ids are skipped).
    fn evidence(&self, c: &mut AnyConnection, ids: &[i64]) -> Result<HashMap<i64, search::Evidence>, StoreError>;
}

/// Whether a suppression from `source` is still backed by an event now classified `outcome`.
/// None: the source is not evidence-backed (manual, import).
fn backed_by(source: Source, outcome: Outcome) -> Option<bool> {
    match source {
        Source::HardBounce => Some(outcome == Outcome::Hard),
        Source::FblComplaint => Some(outcome == Outcome::Complaint),
        Source::SoftThreshold => Some(outcome == Outcome::Soft),
        Source::Manual | Source::Import => None,
    }
}

/// What the policy needs to know of one stored event.
#[derive(Debug, Clone)]
pub struct Candidate<'a> {
    pub event_id: i64,
    pub recipient: &'a str,
    pub outcome: Outcome,
    pub reason: &'a str,
    pub sending_domain: Option<&'a str>,
    pub occurred_at: NaiveDateTime,
    pub now: NaiveDateTime,
}

/// What one classified event does to suppression.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Effect {
    /// The outcome treats the address as dead (hard) or unwilling (complaint).
    pub permanent: bool,
    /// This event alone suppresses the address.
    pub suppresses: bool,
    pub description: String,
}

/// The `[suppression]` policy.
#[derive(Debug, Clone)]
pub struct Policy {
    cfg: SuppressionConfig,
}

impl Policy {
    pub fn new(cfg: SuppressionConfig) -> Policy {
        Policy { cfg }
    }

    fn scope(&self, ev: &Candidate, source: Source) -> String {
        match (self.cfg.scope, source, ev.sending_domain) {
            (SuppressionScope::SendingDomain, Source::HardBounce | Source::SoftThreshold, Some(d)) => d.to_lowercase(),
            _ => GLOBAL.to_string(),
        }
    }

    fn expiry(&self, now: NaiveDateTime) -> Option<NaiveDateTime> {
        (self.cfg.expire_after_days > 0).then(|| now + Duration::days(i64::from(self.cfg.expire_after_days)))
    }

    /// What an event of `outcome` and `reason` does to its recipient, in words (for rule
    /// tests: nothing is written).
    pub fn effect(&self, outcome: Outcome, reason: &str, allowlisted: bool) -> Effect {
        let scope = match self.cfg.scope {
            SuppressionScope::Global => "for every sending domain",
            SuppressionScope::SendingDomain => "for the sending domain (suppression.scope)",
        };
        let permanent = matches!(outcome, Outcome::Hard | Outcome::Complaint);
        let (suppresses, description) = match outcome {
            _ if allowlisted && outcome != Outcome::Ignore => {
                (false, "the recipient is allowlisted: recorded, never suppressed".to_string())
            }
            Outcome::Hard => (true, format!("suppressed at once {scope}, source {}", Source::HardBounce.as_str())),
            Outcome::Complaint => {
                (true, format!("suppressed at once for every sending domain, source {}", Source::FblComplaint.as_str()))
            }
            Outcome::Soft if self.cfg.soft_uncounted_reasons.iter().any(|r| r == reason) => (
                false,
                format!(
                    "recorded; reason `{reason}` is in suppression.soft_uncounted_reasons, so it never counts toward suppression"
                ),
            ),
            Outcome::Soft => (
                false,
                format!(
                    "recorded; counts toward the soft threshold: {} soft bounces within {} days suppress {scope}",
                    self.cfg.soft_threshold, self.cfg.soft_window_days
                ),
            ),
            Outcome::Ignore => (false, "recorded only: never suppresses".to_string()),
        };
        Effect { permanent, suppresses, description }
    }

    /// Applies the policy to one just-stored event; returns the source it suppressed with.
    pub fn on_event(
        &self,
        c: &mut AnyConnection,
        allow: &Allowlist,
        events: &dyn EventHistory,
        ev: &Candidate,
    ) -> Result<Option<Source>, StoreError> {
        let mut bundle = crate::notify::bundle::Bundle::open(c)?;
        let source = self.on_events(c, allow, events, std::slice::from_ref(ev), &mut bundle)?.pop().flatten();
        bundle.close(c)?;
        Ok(source)
    }

    /// Applies the policy to just-stored events, in order, with a fixed number of queries
    /// however many events there are. Returns, per event, the source it suppressed with; the
    /// `suppression.added` events of the entries it makes join `bundle`.
    pub fn on_events(
        &self,
        c: &mut AnyConnection,
        allow: &Allowlist,
        events: &dyn EventHistory,
        evs: &[Candidate],
        bundle: &mut crate::notify::bundle::Bundle,
    ) -> Result<Vec<Option<Source>>, StoreError> {
        let counted_soft = |ev: &Candidate| {
            ev.outcome == Outcome::Soft && !self.cfg.soft_uncounted_reasons.iter().any(|r| r == ev.reason)
        };
        let relevant = |ev: &Candidate| matches!(ev.outcome, Outcome::Hard | Outcome::Complaint) || counted_soft(ev);
        let candidates: Vec<&Candidate> = evs.iter().filter(|e| relevant(e) && !allow.allows(e.recipient)).collect();
        if candidates.is_empty() {
            return Ok(vec![None; evs.len()]);
        }
        let window = Duration::days(i64::from(self.cfg.soft_window_days));
        // Current suppressions of every candidate address (one query).
        let mut who: Vec<&str> = candidates.iter().map(|e| e.recipient).collect();
        who.sort_unstable();
        who.dedup();
        let mut held: std::collections::HashMap<(String, String), Option<NaiveDateTime>> = Default::default();
        // In chunks: one DSN may name tens of thousands of recipients, past what a statement
        // may bind (65,535 parameters on PostgreSQL, 32,766 on SQLite).
        for chunk in who.chunks(list::CHUNK) {
            let existing: Vec<(String, String, Option<NaiveDateTime>)> = suppressions::table
                .filter(suppressions::address.eq_any(chunk))
                .select((suppressions::address, suppressions::scope, suppressions::expires_at))
                .load(c)?;
            held.extend(existing.into_iter().map(|(a, s, e)| ((a, s), e)));
        }
        let already = |ev: &Candidate, source: Source| {
            held.get(&(ev.recipient.to_string(), self.scope(ev, source)))
                .is_some_and(|exp| exp.is_none_or(|t| t > ev.now))
        };
        // Soft history of the soft recipients not suppressed yet, over the union of their
        // windows (one query). A suppressed address needs no count, and skipping it keeps an
        // address that keeps soft-bouncing from making every batch read its whole history.
        let soft: Vec<&Candidate> =
            candidates.iter().copied().filter(|e| counted_soft(e) && !already(e, Source::SoftThreshold)).collect();
        let history = if soft.is_empty() {
            HashMap::new()
        } else {
            let from = soft.iter().map(|e| e.occurred_at).min().unwrap_or_default() - window;
            let to = soft.iter().map(|e| e.occurred_at).max().unwrap_or_default();
            let mut who: Vec<&str> = soft.iter().map(|e| e.recipient).collect();
            who.sort_unstable();
            who.dedup();
            events.soft_times(c, &who, from, to, &self.cfg.soft_uncounted_reasons)?
        };

        let mut out = Vec::with_capacity(evs.len());
        let mut new_entries = Vec::new();
        for ev in evs {
            let source = match ev.outcome {
                Outcome::Hard => Source::HardBounce,
                Outcome::Complaint => Source::FblComplaint,
                Outcome::Soft if counted_soft(ev) => {
                    let n = history.get(ev.recipient).map_or(0, |ts| {
                        ts.iter().filter(|t| **t > ev.occurred_at - window && **t <= ev.occurred_at).count()
                    });
                    if n < self.cfg.soft_threshold as usize {
                        out.push(None);
                        continue;
                    }
                    Source::SoftThreshold
                }
                _ => {
                    out.push(None);
                    continue;
                }
            };
            if allow.allows(ev.recipient) {
                out.push(None);
                continue;
            }
            let scope = self.scope(ev, source);
            let key = (ev.recipient.to_string(), scope.clone());
            match held.get(&key) {
                Some(None) => {
                    out.push(None);
                    continue;
                }
                Some(Some(expires)) if *expires > ev.now => {
                    out.push(None);
                    continue;
                }
                Some(Some(_)) => {
                    // Lapsed (the expiry job has not run yet): the nodes hear of its removal,
                    // then the new evidence starts a fresh suppression.
                    list::remove(c, &key.0, &key.1, list::EXPIRY, ev.now, None)?;
                }
                None => {}
            }
            let entry = Suppression {
                address: key.0.clone(),
                scope,
                source: source.as_str().into(),
                event_id: Some(ev.event_id),
                reason: Some(ev.reason.to_string()),
                note: None,
                created_at: ev.now,
                expires_at: self.expiry(ev.now),
            };
            held.insert(key, entry.expires_at);
            new_entries.push(entry);
            out.push(Some(source));
        }
        list::insert_many_recorded(c, &new_entries, bundle)?;
        Ok(out)
    }

    /// After `event` was reclassified to `outcome`: a suppression it was the evidence for and
    /// that the new outcome no longer backs moves to another event that still does, or is
    /// released (change log and audit, with `detail`). Returns the addresses released.
    pub fn reconsider(
        &self,
        c: &mut AnyConnection,
        events: &dyn EventHistory,
        event: i64,
        outcome: Outcome,
        detail: &str,
        now: NaiveDateTime,
    ) -> Result<Vec<String>, StoreError> {
        let held: Vec<(String, String, String)> = suppressions::table
            .filter(suppressions::event_id.eq(event))
            .select((suppressions::address, suppressions::scope, suppressions::source))
            .load(c)?;
        let mut released = Vec::new();
        for (address, scope, source) in held {
            let Some(source) = Source::parse(&source) else { continue };
            let Some(false) = backed_by(source, outcome) else { continue };
            let wanted = if source == Source::FblComplaint { Outcome::Complaint } else { Outcome::Hard };
            match events.other_evidence(c, &address, event, wanted)? {
                Some(other) => {
                    diesel::update(suppressions::table.find((&address, &scope)))
                        .set(suppressions::event_id.eq(other))
                        .execute(c)?;
                }
                None => {
                    let before = list::get(c, &address, &scope)?;
                    list::remove(c, &address, &scope, "reclassify", now, None)?;
                    list::audit(c, "reclassify", "release", Some(detail), before.as_ref(), None, now)?;
                    released.push(address);
                }
            }
        }
        Ok(released)
    }
}
