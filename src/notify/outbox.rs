//! The durable outbox: events written in the transaction of the fact they report.
//!
//! Takes [`Outgoing`] events inside the caller's transaction; gives rows of `notify_outbox`
//! the delivery worker fans out to endpoints later. One row per event, never one per
//! endpoint: the ingest transaction pays the same whatever the number of endpoints, and the
//! fan-out (filters, deliveries) happens off that path. Before building any event a stage
//! asks [`Wanted`] (one query on the small `webhooks` table): with no enabled endpoint taking
//! a type, nothing is built or written, so users without webhooks pay one cheap read per
//! transaction. A batch is one statement whatever its size: `unnest` on PostgreSQL,
//! `json_each` on SQLite (a row-at-a-time insert cost the import half its speed there).
//! The hot ingest events are not written here but as one [`super::bundle`] row per statement,
//! storing no JSON, only the events row each is rebuilt from at delivery ([`super::rebuild`]).

use super::event::Outgoing;
use crate::store::schema::{notify_outbox, webhooks};
use crate::store::{AnyConnection, StoreError};
use chrono::NaiveDateTime;
use diesel::prelude::*;

/// The event types some enabled endpoint takes (the `events` column of each).
#[derive(Debug, Clone, Default)]
pub struct Wanted(Vec<String>);

impl Wanted {
    /// Reads the enabled endpoints' event lists (one query).
    pub fn load(c: &mut AnyConnection) -> Result<Wanted, StoreError> {
        Ok(Wanted(
            webhooks::table
                .filter(webhooks::enabled.eq(1))
                .filter(webhooks::deleted_at.is_null())
                .select(webhooks::events)
                .load(c)?,
        ))
    }

    /// Does any enabled endpoint take events of `kind`?
    pub fn wants(&self, kind: &str) -> bool {
        self.0.iter().any(|e| crate::config::webhook::takes(e, kind))
    }

    /// Is there any enabled endpoint at all?
    pub fn any(&self) -> bool {
        !self.0.is_empty()
    }
}

/// Enqueues the events `build` makes, if an enabled endpoint wants any type: `build` is only
/// called then, with the wanted set, and should leave out what is not wanted.
pub fn emit(c: &mut AnyConnection, build: impl FnOnce(&Wanted) -> Vec<Outgoing>) -> Result<usize, StoreError> {
    let wanted = Wanted::load(c)?;
    if !wanted.any() {
        return Ok(0);
    }
    let events: Vec<Outgoing> = build(&wanted).into_iter().filter(|e| wanted.wants(&e.event.kind)).collect();
    enqueue(c, &events)?;
    Ok(events.len())
}

/// How many events of type `kind` wait to be fanned out, those a bundle row holds included.
pub fn waiting(c: &mut AnyConnection, kind: &str) -> Result<usize, StoreError> {
    let own: i64 = notify_outbox::table
        .filter(notify_outbox::fanned.eq(0))
        .filter(notify_outbox::kind.eq(kind))
        .count()
        .get_result(c)?;
    let bundles: Vec<String> = notify_outbox::table
        .filter(notify_outbox::fanned.eq(0))
        .filter(notify_outbox::kind.eq(super::bundle::KIND))
        .select(notify_outbox::payload)
        .load(c)?;
    let mut n = own as usize;
    for b in &bundles {
        n += super::bundle::decode(b)?.iter().filter(|e| e.kind == kind).count();
    }
    Ok(n)
}

/// Writes `events` to the outbox (inside the caller's transaction).
pub fn enqueue(c: &mut AnyConnection, events: &[Outgoing]) -> Result<(), StoreError> {
    enqueue_as(c, events, 0).map(|_| ())
}

/// [`enqueue`] with `fanned` given (1: the caller makes the deliveries itself, as the test
/// event does); gives the new rows' ids on SQLite and on PostgreSQL alike when `fanned` is 1
/// (a single event), otherwise nothing.
pub(super) fn enqueue_as(c: &mut AnyConnection, events: &[Outgoing], fanned: i32) -> Result<Vec<i64>, StoreError> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let payloads: Vec<String> =
        events.iter().map(|e| serde_json::to_string(&e.event).unwrap_or_else(|_| "{}".into())).collect();
    let at: Vec<NaiveDateTime> = events.iter().map(|e| e.event.timestamp.naive_utc()).collect();
    if let AnyConnection::Postgresql(pg) = c
        && fanned == 0
    {
        use diesel::sql_types::{Array, Nullable, Text, Timestamp};
        diesel::sql_query(
            "INSERT INTO notify_outbox (event_id, kind, campaign_id, sending_domain, payload, created_at) \
             SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamp[])",
        )
        .bind::<Array<Text>, _>(events.iter().map(|e| e.event.id.as_str()).collect::<Vec<_>>())
        .bind::<Array<Text>, _>(events.iter().map(|e| e.event.kind.as_str()).collect::<Vec<_>>())
        .bind::<Array<Nullable<Text>>, _>(events.iter().map(|e| e.campaign_id.as_deref()).collect::<Vec<_>>())
        .bind::<Array<Nullable<Text>>, _>(events.iter().map(|e| e.sending_domain.as_deref()).collect::<Vec<_>>())
        .bind::<Array<Text>, _>(&payloads)
        .bind::<Array<Timestamp>, _>(&at)
        .execute(pg)?;
        return Ok(Vec::new());
    }
    if let AnyConnection::Sqlite(lite) = c
        && fanned == 0
    {
        let stamp = crate::store::sqlite_time::Stamp::new();
        let rows: Vec<_> = events
            .iter()
            .zip(&payloads)
            .zip(&at)
            .map(|((e, payload), at)| {
                // As diesel binds a timestamp, so it compares and reads back alike.
                (&e.event.id, &e.event.kind, &e.campaign_id, &e.sending_domain, payload, stamp.format(*at))
            })
            .collect();
        let json = serde_json::to_string(&rows)
            .map_err(|e| StoreError::Task(format!("encoding the outbox rows of a batch: {e}")))?;
        diesel::sql_query(
            "INSERT INTO notify_outbox (event_id, kind, campaign_id, sending_domain, payload, created_at, fanned) \
             SELECT value->>0, value->>1, value->>2, value->>3, value->>4, value->>5, 0 \
             FROM json_each(?1) ORDER BY key",
        )
        .bind::<diesel::sql_types::Text, _>(&json)
        .execute(lite)?;
        return Ok(Vec::new());
    }
    let mut ids = Vec::with_capacity(events.len());
    for ((e, payload), at) in events.iter().zip(&payloads).zip(&at) {
        let id = diesel::insert_into(notify_outbox::table)
            .values((
                notify_outbox::event_id.eq(&e.event.id),
                notify_outbox::kind.eq(&e.event.kind),
                notify_outbox::campaign_id.eq(&e.campaign_id),
                notify_outbox::sending_domain.eq(&e.sending_domain),
                notify_outbox::payload.eq(payload),
                notify_outbox::created_at.eq(at),
                notify_outbox::fanned.eq(fanned),
            ))
            .returning(notify_outbox::id)
            .get_result::<i64>(c)?;
        ids.push(id);
    }
    Ok(ids)
}
