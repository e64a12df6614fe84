//! Bundles: the hot ingest events of one statement in one outbox row.
//!
//! Takes the `*.recorded` / `delivery.*` events and the `suppression.added` of recorded
//! events that an ingest transaction makes ([`Hot`]: what rebuilds each payload at delivery,
//! neither a payload nor an id), gathered in a [`Bundle`] across the transaction's stages;
//! gives one outbox row of kind [`KIND`] holding them all
//! (`payload` a compact JSON array), and, when the fan-out meets that row, one ordinary
//! outbox row per event some endpoint takes, its `evt_` id drawn then: once, inside the
//! fan-out's transaction, so every attempt after carries the same id. The fan-out handles
//! a bundle where the bundle stands among the outbox rows, so the order of events per
//! endpoint is the order in which they were committed. One nuance: the bundle is written
//! when its statement closes, so a `suppression.removed` that the same transaction wrote
//! earlier (a lapsed entry replaced) is delivered before the statement's recorded events.
//!
//! Why: an outbox row per event (a b-tree insert, an entry in the unfanned index, ten JSON
//! extractions on SQLite, a random id) cost the import 10–11% more CPU time on SQLite and
//! 9% on PostgreSQL (the bench, 2026-12-02); one row per batch is a single insert whatever
//! the batch's size. It never delivers and never builds a payload ([`super::rebuild`]).

use super::event::{Recorded, new_id};
use super::outbox::Wanted;
use crate::store::schema::notify_outbox;
use crate::store::{AnyConnection, StoreError};
use chrono::{NaiveDateTime, SubsecRound};
use diesel::prelude::*;

/// The `kind` of a bundle row: not an event type, so no endpoint filter takes it as one.
pub const KIND: &str = "bundle";

/// One hot event: its type, when its fact was committed, what endpoint filters look at, and
/// the events row (with the fields a reclassification may change, as they are now) its
/// payload is rebuilt from.
#[derive(Debug, Clone, PartialEq)]
pub struct Hot {
    pub kind: &'static str,
    pub at: NaiveDateTime,
    pub campaign_id: Option<String>,
    pub sending_domain: Option<String>,
    pub record: Recorded,
}

/// A hot event as the bundle's JSON holds it: an array, not an object (no key repeated per
/// event). Borrowed on the way in, owned on the way out.
type Wire<'a> = (&'a str, NaiveDateTime, Option<&'a str>, Option<&'a str>, i64, &'a str, Option<&'a str>, &'a str);
type WireOwned = (String, NaiveDateTime, Option<String>, Option<String>, i64, String, Option<String>, String);

/// The hot events one transaction makes, gathered from its stages (the events written,
/// the suppressions they caused) and written as one bundle row when it [`closes`](Self::close):
/// one row per ingest statement, not one per stage. Knows which types some enabled endpoint
/// takes (one query when opened) and keeps only those.
#[derive(Debug, Default)]
pub struct Bundle {
    wanted: Wanted,
    events: Vec<Hot>,
}

impl Bundle {
    /// An empty bundle for the caller's transaction.
    pub fn open(c: &mut AnyConnection) -> Result<Bundle, StoreError> {
        Ok(Bundle { wanted: Wanted::load(c)?, events: Vec::new() })
    }

    /// Does some enabled endpoint take events of `kind`? (Asked before building one.)
    pub fn wants(&self, kind: &str) -> bool {
        self.wanted.wants(kind)
    }

    /// Adds the events of `hot` some endpoint takes.
    pub fn extend(&mut self, hot: impl IntoIterator<Item = Hot>) {
        let wanted = &self.wanted;
        self.events.extend(hot.into_iter().filter(|e| wanted.wants(e.kind)));
    }

    /// Writes what was gathered as one bundle row (nothing when nothing was).
    pub fn close(self, c: &mut AnyConnection) -> Result<(), StoreError> {
        enqueue(c, &self.events)
    }
}

/// Writes `events` as one bundle row (nothing when there are none).
fn enqueue(c: &mut AnyConnection, events: &[Hot]) -> Result<(), StoreError> {
    let Some(first) = events.first() else { return Ok(()) };
    let payload = encode(events)?;
    diesel::insert_into(notify_outbox::table)
        .values((
            notify_outbox::event_id.eq(""),
            notify_outbox::kind.eq(KIND),
            notify_outbox::payload.eq(payload),
            notify_outbox::created_at.eq(first.at.trunc_subsecs(6)),
            notify_outbox::fanned.eq(0),
        ))
        .execute(c)?;
    Ok(())
}

/// A bundle row's payload.
fn encode(events: &[Hot]) -> Result<String, StoreError> {
    let wire: Vec<Wire> = events
        .iter()
        .map(|e| {
            let r = &e.record;
            (
                e.kind,
                e.at.trunc_subsecs(6),
                e.campaign_id.as_deref(),
                e.sending_domain.as_deref(),
                r.event_id,
                r.classification.as_str(),
                r.rule_key.as_deref(),
                r.reason.as_str(),
            )
        })
        .collect();
    serde_json::to_string(&wire).map_err(|e| StoreError::Task(format!("encoding an outbox bundle: {e}")))
}

/// The events of a bundle row's payload.
pub fn decode(payload: &str) -> Result<Vec<Hot>, StoreError> {
    let wire: Vec<WireOwned> = serde_json::from_str(payload).map_err(|e| {
        StoreError::Task(format!("an outbox bundle does not decode ({e}); it was written by this version"))
    })?;
    wire.into_iter()
        .map(|(kind, at, campaign_id, sending_domain, event_id, classification, rule_key, reason)| {
            let kind = static_kind(&kind)
                .ok_or_else(|| StoreError::Task(format!("an outbox bundle holds an event of unknown type {kind:?}")))?;
            Ok(Hot {
                kind,
                at,
                campaign_id,
                sending_domain,
                record: Recorded { event_id, classification, rule_key, reason },
            })
        })
        .collect()
}

/// The types a bundle may hold.
fn static_kind(kind: &str) -> Option<&'static str> {
    ["bounce.recorded", "complaint.recorded", "delivery.delayed", "delivery.delivered", crate::suppress::list::ADDED]
        .into_iter()
        .find(|k| *k == kind)
}

/// An unpacked event's own outbox row.
#[derive(Insertable)]
#[diesel(table_name = notify_outbox)]
struct Unpacked<'a> {
    event_id: String,
    kind: &'static str,
    campaign_id: Option<&'a str>,
    sending_domain: Option<&'a str>,
    payload: &'static str,
    created_at: NaiveDateTime,
    fanned: i32,
    record_id: Option<i64>,
    classification: Option<&'a str>,
    rule_key: Option<&'a str>,
    reason: Option<&'a str>,
}

/// Writes one ordinary outbox row per event of `events` (already fanned: the caller makes
/// their deliveries in the same transaction); gives their outbox ids, in order.
pub fn unpack(c: &mut AnyConnection, events: &[&Hot]) -> Result<Vec<i64>, StoreError> {
    let rows: Vec<Unpacked> = events
        .iter()
        .map(|e| Unpacked {
            event_id: new_id(),
            kind: e.kind,
            campaign_id: e.campaign_id.as_deref(),
            sending_domain: e.sending_domain.as_deref(),
            payload: "",
            created_at: e.at,
            fanned: 1,
            record_id: Some(e.record.event_id),
            classification: Some(&e.record.classification),
            rule_key: e.record.rule_key.as_deref(),
            reason: Some(&e.record.reason),
        })
        .collect();
    Ok(crate::insert_rows_returning_ids!(
        c,
        notify_outbox::table,
        rows,
        500,
        notify_outbox::event_id => String,
        notify_outbox::id,
        |r: &Unpacked| r.event_id.clone()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bundle_decodes_to_what_was_encoded() {
        let at = chrono::DateTime::from_timestamp(1_800_000_000, 123_456_000).unwrap().naive_utc();
        let hot = Hot {
            kind: "bounce.recorded",
            at,
            campaign_id: Some("spring".into()),
            sending_domain: None,
            record: Recorded {
                event_id: 42,
                classification: "hard".into(),
                rule_key: Some("user-unknown".into()),
                reason: "user unknown".into(),
            },
        };
        let mut other = hot.clone();
        (other.kind, other.campaign_id, other.sending_domain) =
            ("suppression.added", None, Some("news.example".into()));
        other.record.rule_key = None;
        let both = vec![hot, other];
        assert_eq!(decode(&encode(&both).unwrap()).unwrap(), both);
    }

    #[test]
    fn an_unknown_type_is_an_error_not_an_event() {
        let bad = r#"[["webhook.test","2026-12-01T10:00:00",null,null,1,"hard",null,"x"]]"#;
        assert!(decode(bad).unwrap_err().to_string().contains("unknown type"));
    }
}
