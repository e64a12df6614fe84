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
pub mod list;

pub use allow::Allowlist;
pub use list::{Change, GLOBAL, Source, Suppression, normalize};

use crate::classify::Outcome;
use crate::config::{SuppressionConfig, SuppressionScope};
use crate::store::schema::events;
use crate::store::{AnyConnection, StoreError};
use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

/// What the policy needs to know of one stored event.
#[derive(Debug, Clone)]
pub struct EventFacts<'a> {
    pub event_id: i64,
    pub recipient: &'a str,
    pub outcome: Outcome,
    pub reason: &'a str,
    pub sending_domain: Option<&'a str>,
    pub occurred_at: NaiveDateTime,
    pub now: NaiveDateTime,
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

    fn scope(&self, ev: &EventFacts, source: Source) -> String {
        match (self.cfg.scope, source, ev.sending_domain) {
            (SuppressionScope::SendingDomain, Source::HardBounce | Source::SoftThreshold, Some(d)) => d.to_lowercase(),
            _ => GLOBAL.to_string(),
        }
    }

    fn expiry(&self, now: NaiveDateTime) -> Option<NaiveDateTime> {
        (self.cfg.expire_after_days > 0).then(|| now + Duration::days(i64::from(self.cfg.expire_after_days)))
    }

    /// Applies the policy to a just-stored event; returns the source it suppressed with.
    pub fn on_event(
        &self,
        c: &mut AnyConnection,
        allow: &Allowlist,
        ev: &EventFacts,
    ) -> Result<Option<Source>, StoreError> {
        let source = match ev.outcome {
            Outcome::Hard => Source::HardBounce,
            Outcome::Complaint => Source::FblComplaint,
            Outcome::Soft if !self.cfg.soft_uncounted_reasons.iter().any(|r| r == ev.reason) => {
                if self.soft_count(c, ev)? < i64::from(self.cfg.soft_threshold) {
                    return Ok(None);
                }
                Source::SoftThreshold
            }
            _ => return Ok(None),
        };
        if allow.allows(ev.recipient) {
            return Ok(None);
        }
        let entry = Suppression {
            address: ev.recipient.to_string(),
            scope: self.scope(ev, source),
            source: source.as_str().into(),
            event_id: Some(ev.event_id),
            reason: Some(ev.reason.to_string()),
            note: None,
            created_at: ev.now,
            expires_at: self.expiry(ev.now),
        };
        Ok(list::add(c, &entry)?.then_some(source))
    }

    /// Counted soft bounces of this recipient in the window ending at this event.
    fn soft_count(&self, c: &mut AnyConnection, ev: &EventFacts) -> Result<i64, StoreError> {
        let since = ev.occurred_at - Duration::days(i64::from(self.cfg.soft_window_days));
        Ok(events::table
            .filter(events::recipient.eq(ev.recipient))
            .filter(events::classification.eq("soft"))
            .filter(events::occurred_at.gt(since))
            .filter(events::occurred_at.le(ev.occurred_at))
            .filter(events::reason.ne_all(&self.cfg.soft_uncounted_reasons))
            .count()
            .get_result(c)?)
    }
}
