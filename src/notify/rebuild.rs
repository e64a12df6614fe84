//! Payloads not stored: the hot ingest events, rebuilt from their events row at delivery.
//!
//! Takes outbox rows that name an events row ([`Stub`]: the `record_id` the ingest wrote
//! instead of the JSON, with the fields of that row a reclassification may change as they
//! were then); gives the JSON the event would have stored, byte for byte: the same
//! [`Event`] built from the same values and encoded by the same serializer. An events row
//! is never deleted and only reclassification changes it (the three fields the stub keeps),
//! so what is rebuilt is what was committed. The ingest pays for a few short columns instead
//! of encoding and writing about 0.6 kB an event. It never writes.

use super::event::{Event, EventData, RecordData, SuppressionData};
use crate::store::schema::events;
use crate::store::{AnyConnection, StoreError};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use std::collections::HashMap;

/// An outbox row whose payload is to be rebuilt.
#[derive(Debug, Clone)]
pub struct Stub {
    /// The event's own id (`evt_…`).
    pub id: String,
    pub kind: String,
    pub created_at: NaiveDateTime,
    pub sending_domain: Option<String>,
    pub record_id: i64,
    pub classification: String,
    pub rule_key: Option<String>,
    pub reason: String,
}

/// The events row's fields a payload takes (none that a reclassification changes).
#[derive(Queryable)]
struct Row {
    id: i64,
    message_id: Option<i64>,
    recipient: Option<String>,
    campaign_id: Option<String>,
    sending_domain: Option<String>,
    status: Option<String>,
    reply_code: Option<i32>,
    diagnostic: Option<String>,
    remote_mta: Option<String>,
    source: String,
    permanent: Option<i32>,
    feedback_type: Option<String>,
    reporting_isp: Option<String>,
    occurred_at: NaiveDateTime,
}

/// Rebuilds each stub's JSON (one query per thousand stubs), in the stubs' order.
pub fn payloads(c: &mut AnyConnection, stubs: &[&Stub]) -> Result<Vec<String>, StoreError> {
    let mut ids: Vec<i64> = stubs.iter().map(|s| s.record_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut rows: HashMap<i64, Row> = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(1000) {
        let found: Vec<Row> = events::table
            .filter(events::id.eq_any(chunk))
            .select((
                events::id,
                events::message_id,
                events::recipient,
                events::campaign_id,
                events::sending_domain,
                events::status,
                events::reply_code,
                events::diagnostic,
                events::remote_mta,
                events::source,
                events::permanent,
                events::feedback_type,
                events::reporting_isp,
                events::occurred_at,
            ))
            .load(c)?;
        rows.extend(found.into_iter().map(|r| (r.id, r)));
    }
    stubs
        .iter()
        .map(|s| {
            let row = rows.get(&s.record_id).ok_or_else(|| {
                StoreError::Task(format!("event {} ({}) names events row {}, which is gone", s.id, s.kind, s.record_id))
            })?;
            let event = event(s, row)?;
            serde_json::to_string(&event).map_err(|e| StoreError::Task(format!("encoding event {}: {e}", s.id)))
        })
        .collect()
}

/// The event as the ingest built it (`ingest::write::recorded`, `suppress::list::added`).
fn event(s: &Stub, r: &Row) -> Result<Event, StoreError> {
    let data = if s.kind == crate::suppress::list::ADDED {
        let source = crate::suppress::list::Source::of_evidence(&s.classification).ok_or_else(|| {
            StoreError::Task(format!("event {}: no suppression source for a {} event", s.id, s.classification))
        })?;
        EventData::Suppression(SuppressionData {
            address: r.recipient.clone().unwrap_or_default(),
            scope: s.sending_domain.clone().unwrap_or_else(|| crate::suppress::list::GLOBAL.to_string()),
            source: source.as_str().to_string(),
            event_id: Some(r.id),
            reason: Some(s.reason.clone()),
            note: None,
            who: None,
        })
    } else {
        EventData::Record(RecordData {
            event_id: r.id,
            message_id: r.message_id,
            recipient: r.recipient.clone().unwrap_or_default(),
            campaign_id: r.campaign_id.clone(),
            sending_domain: r.sending_domain.clone(),
            classification: s.classification.clone(),
            rule: s.rule_key.clone(),
            reason: s.reason.clone(),
            status: r.status.clone(),
            reply_code: r.reply_code,
            diagnostic: r.diagnostic.clone(),
            remote_mta: r.remote_mta.clone(),
            source: r.source.clone(),
            permanent: r.permanent.map(|p| p != 0),
            feedback_type: r.feedback_type.clone(),
            reporting_isp: r.reporting_isp.clone(),
            occurred_at: r.occurred_at,
        })
    };
    Ok(Event { id: s.id.clone(), kind: s.kind.clone(), timestamp: s.created_at.and_utc(), data })
}
