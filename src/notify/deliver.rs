//! The delivery bookkeeping: fan-out, the lease, attempts and their outcomes.
//!
//! Takes the outbox and the endpoints; gives per-endpoint deliveries and every attempt kept.
//! Fan-out runs under one lock (PostgreSQL advisory, SQLite's write lock), so two instances
//! never make two deliveries of one event. Only the holder of an endpoint's lease (the
//! `take_lease!` of mailboxes and nodes) sends to it, and every attempt is a row written
//! (and the lease renewed) *before* its POST: the `rebound-attempt-id` header is that row's
//! id, so no attempt id is ever sent by two instances, and a crash mid-POST leaves the
//! attempt `sending` and the event pending: it is sent again (at-least-once, as the
//! Standard Webhooks receivers expect; the `webhook-id` lets them drop a repeat).
//! It never makes an HTTP call (that is [`super::worker`]).

use super::endpoints::{State, Webhook};
use super::event::Outgoing;
use crate::config::{NotifyConfig, WebhookConfig};
use crate::store::schema::{notify_attempts, notify_deliveries, notify_outbox, webhooks};
use crate::store::{AnyConnection, Cursor, Page, PageError, Paged, StoreError};
use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use serde::Serialize;

pub const PENDING: &str = "pending";
pub const DELIVERED: &str = "delivered";
pub const DEAD: &str = "dead";

/// Advisory lock key of the fan-out ("ntfyfan" in ASCII).
const PG_FANOUT_LOCK: i64 = 0x6e7466796661;

/// Outbox rows fanned out per transaction.
const FAN_OUT_ROWS: i64 = 2000;

/// An outbox row to fan out: id, type, campaign, sending domain, when, payload.
type Unfanned = (i64, String, Option<String>, Option<String>, NaiveDateTime, String);

/// The payload of a bundle row, and nothing of any other.
const BUNDLE_PAYLOAD: &str = "CASE WHEN kind = 'bundle' THEN payload ELSE '' END";

/// Makes one delivery per (event, endpoint that takes it) for about [`FAN_OUT_ROWS`] events
/// not fanned out yet, in the order they were committed (a bundle's events where the bundle
/// stands: [`super::bundle`]); gives how many events it took.
pub fn fan_out(c: &mut AnyConnection, now: NaiveDateTime) -> Result<usize, StoreError> {
    crate::store::transaction(c, |c| {
        if let AnyConnection::Postgresql(pg) = c {
            diesel::sql_query(format!("SELECT pg_advisory_xact_lock({PG_FANOUT_LOCK})")).execute(pg)?;
        }
        let rows: Vec<Unfanned> = notify_outbox::table
            .filter(notify_outbox::fanned.eq(0))
            .order(notify_outbox::id.asc())
            .limit(FAN_OUT_ROWS)
            .select((
                notify_outbox::id,
                notify_outbox::kind,
                notify_outbox::campaign_id,
                notify_outbox::sending_domain,
                notify_outbox::created_at,
                // Only a bundle's payload is read here; another row's JSON is read when sent.
                diesel::dsl::sql::<diesel::sql_types::Text>(BUNDLE_PAYLOAD),
            ))
            .load(c)?;
        if rows.is_empty() {
            return Ok(0);
        }
        let endpoints: Vec<Webhook> = super::endpoints::list(c)?.into_iter().filter(|w| w.config.enabled).collect();
        let takers = |kind: &str, campaign: Option<&str>, domain: Option<&str>| -> Vec<&Webhook> {
            endpoints.iter().filter(|w| takes(&w.config, kind, campaign, domain)).collect()
        };
        let (mut new, mut fanned, mut bundles, mut events) = (Vec::new(), Vec::new(), Vec::new(), 0usize);
        let mut delivery = |w: &Webhook, outbox: i64, at: NaiveDateTime| new.push(pending(w, outbox, at, now));
        for (id, kind, campaign, domain, at, payload) in &rows {
            if events >= FAN_OUT_ROWS as usize {
                break;
            }
            if kind != super::bundle::KIND {
                takers(kind, campaign.as_deref(), domain.as_deref()).into_iter().for_each(|w| delivery(w, *id, *at));
                fanned.push(*id);
                events += 1;
                continue;
            }
            let hot = super::bundle::decode(payload)?;
            let taken: Vec<_> = hot
                .iter()
                .map(|h| (h, takers(h.kind, h.campaign_id.as_deref(), h.sending_domain.as_deref())))
                .filter(|(_, ws)| !ws.is_empty())
                .collect();
            let ids = super::bundle::unpack(c, &taken.iter().map(|(h, _)| *h).collect::<Vec<_>>())?;
            for ((h, ws), outbox) in taken.iter().zip(ids) {
                ws.iter().for_each(|w| delivery(w, outbox, h.at));
            }
            bundles.push(*id);
            events += hot.len();
        }
        crate::insert_rows!(c, notify_deliveries::table, new, 500);
        for chunk in fanned.chunks(1000) {
            diesel::update(notify_outbox::table.filter(notify_outbox::id.eq_any(chunk)))
                .set(notify_outbox::fanned.eq(1))
                .execute(c)?;
        }
        // A bundle's events are rows of their own now; nothing points to the bundle.
        for chunk in bundles.chunks(1000) {
            diesel::delete(notify_outbox::table.filter(notify_outbox::id.eq_any(chunk))).execute(c)?;
        }
        Ok(events)
    })
}

/// A new delivery row.
#[derive(Insertable)]
#[diesel(table_name = notify_deliveries)]
struct NewDelivery {
    webhook_id: i64,
    outbox_id: i64,
    state: &'static str,
    next_at: NaiveDateTime,
    give_up_at: NaiveDateTime,
    created_at: NaiveDateTime,
}

/// A delivery of outbox row `outbox` to `w`, due `now`, given up `retry_hours` after the
/// event's time `at`.
fn pending(w: &Webhook, outbox: i64, at: NaiveDateTime, now: NaiveDateTime) -> NewDelivery {
    NewDelivery {
        webhook_id: w.id,
        outbox_id: outbox,
        state: PENDING,
        next_at: now,
        give_up_at: at + Duration::hours(i64::from(w.config.retry_hours)),
        created_at: now,
    }
}

/// Does endpoint `w` take an event of `kind` about `campaign` from `domain`?
fn takes(w: &WebhookConfig, kind: &str, campaign: Option<&str>, domain: Option<&str>) -> bool {
    w.takes(kind)
        && (w.campaigns.is_empty() || campaign.is_some_and(|c| w.campaigns.iter().any(|x| x == c)))
        && (w.sending_domains.is_empty() || domain.is_some_and(|d| w.sending_domains.iter().any(|x| x == d)))
}

/// Takes (or renews) the lease on endpoint `id` for `owner`.
pub fn claim(
    c: &mut AnyConnection,
    id: i64,
    owner: &str,
    now: NaiveDateTime,
    ttl: Duration,
) -> Result<bool, StoreError> {
    Ok(crate::take_lease!(c, webhooks, id, owner, now, ttl)?)
}

pub fn release(c: &mut AnyConnection, id: i64, owner: &str) -> Result<(), StoreError> {
    Ok(crate::drop_lease!(c, webhooks, id, owner)?)
}

/// One pending delivery, with its event's id and JSON.
#[derive(Debug, Clone)]
pub struct Due {
    pub delivery_id: i64,
    pub attempts: i32,
    pub event_id: String,
    pub payload: String,
}

/// Deliveries of endpoint `id` to send now, in event order, at most `limit`. `ordered`: the
/// oldest pending ones up to the first that is not due yet (a later event never overtakes).
pub fn due(
    c: &mut AnyConnection,
    id: i64,
    ordered: bool,
    now: NaiveDateTime,
    limit: i64,
) -> Result<Vec<Due>, StoreError> {
    let mut q = notify_deliveries::table
        .inner_join(notify_outbox::table)
        .filter(notify_deliveries::webhook_id.eq(id))
        .filter(notify_deliveries::state.eq(PENDING))
        .order(notify_deliveries::id.asc())
        .limit(limit)
        .select((
            (notify_deliveries::id, notify_deliveries::attempts, notify_deliveries::next_at),
            (notify_outbox::event_id, notify_outbox::payload, notify_outbox::record_id),
            (
                notify_outbox::kind,
                notify_outbox::created_at,
                notify_outbox::sending_domain,
                notify_outbox::classification,
                notify_outbox::rule_key,
                notify_outbox::reason,
            ),
        ))
        .into_boxed();
    if !ordered {
        q = q.filter(notify_deliveries::next_at.le(now));
    }
    // (delivery, attempts, next), (event id, payload, events row), what a rebuild takes.
    type Delivery = (i64, i32, NaiveDateTime);
    type Stored = (String, String, Option<i64>);
    type Kept = (String, NaiveDateTime, Option<String>, Option<String>, Option<String>, Option<String>);
    let rows: Vec<(Delivery, Stored, Kept)> = q.load(c)?;
    let rows: Vec<_> = rows.into_iter().take_while(|r| !ordered || r.0.2 <= now).collect();
    // The hot ingest events have no stored payload: rebuilt from their events rows.
    let stubs: Vec<Option<super::rebuild::Stub>> = rows
        .iter()
        .map(|(_, (event_id, _, record_id), (kind, at, domain, class, rule, reason))| {
            Some(super::rebuild::Stub {
                id: event_id.clone(),
                kind: kind.clone(),
                created_at: *at,
                sending_domain: domain.clone(),
                record_id: (*record_id)?,
                classification: class.clone()?,
                rule_key: rule.clone(),
                reason: reason.clone()?,
            })
        })
        .collect();
    let wanted: Vec<&super::rebuild::Stub> = stubs.iter().flatten().collect();
    let mut rebuilt = super::rebuild::payloads(c, &wanted)?.into_iter();
    Ok(rows
        .into_iter()
        .zip(stubs)
        .map(|(((delivery_id, attempts, _), (event_id, payload, _), _), stub)| {
            let payload = match stub {
                Some(_) => rebuilt.next().unwrap_or_default(),
                None => payload,
            };
            Due { delivery_id, attempts, event_id, payload }
        })
        .collect())
}

/// Starts one attempt per group of deliveries (one POST each), renewing the lease; gives the
/// attempt ids, or None when `owner` no longer holds the lease (nothing may be sent then).
pub fn begin(
    c: &mut AnyConnection,
    id: i64,
    owner: &str,
    groups: &[Vec<&Due>],
    now: NaiveDateTime,
    ttl: Duration,
) -> Result<Option<Vec<i64>>, StoreError> {
    crate::store::transaction(c, |c| {
        let renewed = diesel::update(
            webhooks::table.find(id).filter(webhooks::lease_owner.eq(owner)).filter(webhooks::deleted_at.is_null()),
        )
        .set(webhooks::lease_expires_at.eq(now + ttl))
        .execute(c)?;
        if renewed == 0 {
            return Ok(None);
        }
        // One statement for the round on PostgreSQL (a round trip per POST halved the rate of
        // single deliveries); each group's event ids key its id.
        let rows: Vec<NewAttempt> = groups
            .iter()
            .map(|g| NewAttempt {
                webhook_id: id,
                event_ids: g.iter().map(|d| d.event_id.as_str()).collect::<Vec<_>>().join(","),
                started_at: now,
                latency_ms: 0,
                outcome: "sending",
                instance_id: owner,
            })
            .collect();
        Ok(Some(crate::insert_rows_returning_ids!(
            c,
            notify_attempts::table,
            rows,
            1000,
            notify_attempts::event_ids => String,
            notify_attempts::id,
            |r: &NewAttempt| r.event_ids.clone()
        )))
    })
}

/// An attempt as it starts, before its POST.
#[derive(Insertable)]
#[diesel(table_name = notify_attempts)]
struct NewAttempt<'a> {
    webhook_id: i64,
    event_ids: String,
    started_at: NaiveDateTime,
    latency_ms: i64,
    outcome: &'static str,
    instance_id: &'a str,
}

/// What one POST came to.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub attempt_id: i64,
    pub deliveries: Vec<(i64, i32)>,
    pub status: Option<u16>,
    pub latency_ms: i64,
    pub excerpt: Option<String>,
    pub error: Option<String>,
}

impl Outcome {
    fn delivered(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
    fn gone(&self) -> bool {
        self.status == Some(410)
    }
}

/// Records the outcomes of a round of POSTs to endpoint `id`: attempts, deliveries (done,
/// retried later with backoff, or dead past their horizon) and the endpoint's state.
pub fn finish(
    c: &mut AnyConnection,
    id: i64,
    outcomes: &[Outcome],
    cfg: &NotifyConfig,
    now: NaiveDateTime,
) -> Result<(), StoreError> {
    crate::store::transaction(c, |c| {
        let (mut delivered, mut dead) = (Vec::new(), Vec::new());
        settle_attempts(c, outcomes)?;
        for o in outcomes {
            if o.delivered() || o.gone() {
                let done = if o.delivered() { &mut delivered } else { &mut dead };
                done.extend(o.deliveries.iter().map(|d| d.0));
                continue;
            }
            for (delivery, attempts) in &o.deliveries {
                let next = now + backoff(cfg, *attempts + 1);
                diesel::update(notify_deliveries::table.find(delivery))
                    .set((notify_deliveries::attempts.eq(attempts + 1), notify_deliveries::next_at.eq(next)))
                    .execute(c)?;
                diesel::update(notify_deliveries::table.find(delivery).filter(notify_deliveries::give_up_at.lt(next)))
                    .set((notify_deliveries::state.eq(DEAD), notify_deliveries::done_at.eq(now)))
                    .execute(c)?;
            }
        }
        // The settled ones in a statement per state and chunk, not one per delivery.
        for (state, ids) in [(DELIVERED, &delivered), (DEAD, &dead)] {
            for chunk in ids.chunks(1000) {
                diesel::update(notify_deliveries::table.filter(notify_deliveries::id.eq_any(chunk)))
                    .set((
                        notify_deliveries::state.eq(state),
                        notify_deliveries::attempts.eq(notify_deliveries::attempts + 1),
                        notify_deliveries::done_at.eq(now),
                    ))
                    .execute(c)?;
            }
        }
        let Some(last) = outcomes.last() else { return Ok(()) };
        if let Some(gone) = outcomes.iter().find(|o| o.gone()) {
            let why =
                format!("the receiver answered 410 Gone (attempt {}): disabled; enable it to resume", gone.attempt_id);
            diesel::update(webhooks::table.find(id))
                .set((
                    webhooks::enabled.eq(0),
                    webhooks::state.eq(State::Gone.as_str()),
                    webhooks::last_error.eq(why),
                    webhooks::last_error_at.eq(now),
                ))
                .execute(c)?;
            abandon(c, id, now)?;
        } else if outcomes.iter().any(Outcome::delivered) {
            diesel::update(webhooks::table.find(id))
                .set((
                    webhooks::state.eq(State::Ok.as_str()),
                    webhooks::failing_since.eq(None::<NaiveDateTime>),
                    webhooks::last_success_at.eq(now),
                ))
                .execute(c)?;
        } else {
            let since: Option<NaiveDateTime> = webhooks::table.find(id).select(webhooks::failing_since).first(c)?;
            let since = since.unwrap_or(now);
            let failing = now - since >= Duration::seconds(cfg.failing_after_seconds as i64);
            let state = if failing { State::Failing } else { State::Retrying };
            let error = match (&last.error, last.status) {
                (Some(e), _) => e.clone(),
                (None, Some(s)) => format!("the receiver answered HTTP {s}"),
                (None, None) => "no answer".to_string(),
            };
            diesel::update(webhooks::table.find(id))
                .set((
                    webhooks::state.eq(state.as_str()),
                    webhooks::failing_since.eq(Some(since)),
                    webhooks::last_error.eq(error),
                    webhooks::last_error_at.eq(now),
                ))
                .execute(c)?;
        }
        Ok(())
    })
}

/// Writes each outcome onto its attempt row: one statement per round on PostgreSQL (from
/// column arrays), one per attempt on SQLite (no round trips in-process).
fn settle_attempts(c: &mut AnyConnection, outcomes: &[Outcome]) -> Result<(), StoreError> {
    let word = |o: &Outcome| {
        if o.delivered() {
            "delivered"
        } else if o.gone() {
            "gone"
        } else {
            "failed"
        }
    };
    match c {
        AnyConnection::Postgresql(pg) => {
            use diesel::sql_types::{Array, BigInt, Integer, Nullable, Text};
            diesel::sql_query(
                "UPDATE notify_attempts AS a SET status_code = u.status_code, latency_ms = u.latency_ms, \
                 outcome = u.outcome, response_excerpt = u.response_excerpt, error = u.error \
                 FROM unnest($1::bigint[], $2::integer[], $3::bigint[], $4::text[], $5::text[], $6::text[]) \
                 AS u(id, status_code, latency_ms, outcome, response_excerpt, error) WHERE a.id = u.id",
            )
            .bind::<Array<BigInt>, _>(outcomes.iter().map(|o| o.attempt_id).collect::<Vec<_>>())
            .bind::<Array<Nullable<Integer>>, _>(outcomes.iter().map(|o| o.status.map(i32::from)).collect::<Vec<_>>())
            .bind::<Array<BigInt>, _>(outcomes.iter().map(|o| o.latency_ms).collect::<Vec<_>>())
            .bind::<Array<Text>, _>(outcomes.iter().map(word).collect::<Vec<_>>())
            .bind::<Array<Nullable<Text>>, _>(outcomes.iter().map(|o| o.excerpt.as_deref()).collect::<Vec<_>>())
            .bind::<Array<Nullable<Text>>, _>(outcomes.iter().map(|o| o.error.as_deref()).collect::<Vec<_>>())
            .execute(pg)?;
        }
        AnyConnection::Sqlite(_) => {
            for o in outcomes {
                diesel::update(notify_attempts::table.find(o.attempt_id))
                    .set((
                        notify_attempts::status_code.eq(o.status.map(i32::from)),
                        notify_attempts::latency_ms.eq(o.latency_ms),
                        notify_attempts::outcome.eq(word(o)),
                        notify_attempts::response_excerpt.eq(&o.excerpt),
                        notify_attempts::error.eq(&o.error),
                    ))
                    .execute(c)?;
            }
        }
    }
    Ok(())
}

/// The wait before attempt `n + 1` after `n` failed: doubling from the initial wait up to
/// the maximum, times a random factor in [0.5, 1.5) so failed receivers are not hit in step.
pub fn backoff(cfg: &NotifyConfig, n: i32) -> Duration {
    let base = (cfg.retry_initial_seconds as f64) * 2f64.powi((n - 1).clamp(0, 30));
    let capped = base.min(cfg.retry_max_seconds as f64);
    let jitter = 0.5 + (uuid::Uuid::new_v4().as_u128() % 1000) as f64 / 1000.0;
    Duration::milliseconds((capped * jitter * 1000.0) as i64)
}

/// Gives up every pending delivery of endpoint `id` (it is deleted or gone).
pub fn abandon(c: &mut AnyConnection, id: i64, now: NaiveDateTime) -> Result<usize, StoreError> {
    Ok(diesel::update(
        notify_deliveries::table
            .filter(notify_deliveries::webhook_id.eq(id))
            .filter(notify_deliveries::state.eq(PENDING)),
    )
    .set((notify_deliveries::state.eq(DEAD), notify_deliveries::done_at.eq(now)))
    .execute(c)?)
}

/// Enqueues `event` for endpoint `id` alone (the test event), ready now.
pub fn send_only_to(c: &mut AnyConnection, w: &Webhook, event: Outgoing, now: NaiveDateTime) -> Result<(), StoreError> {
    crate::store::transaction(c, |c| {
        let ids = super::outbox::enqueue_as(c, std::slice::from_ref(&event), 1)?;
        let outbox = match ids.first() {
            Some(id) => *id,
            None => notify_outbox::table
                .filter(notify_outbox::event_id.eq(&event.event.id))
                .select(notify_outbox::id)
                .first(c)?,
        };
        diesel::insert_into(notify_deliveries::table).values(&pending(w, outbox, now, now)).execute(c)?;
        Ok(())
    })
}

/// One attempt as the API lists it.
#[derive(Debug, Clone, Queryable, Selectable, Serialize, PartialEq, Eq, utoipa::ToSchema)]
#[diesel(table_name = notify_attempts)]
pub struct Attempt {
    /// Sent as the `rebound-attempt-id` header.
    pub id: i64,
    /// The events the POST carried (comma-separated ids).
    pub event_ids: String,
    pub started_at: NaiveDateTime,
    pub status_code: Option<i32>,
    pub latency_ms: i64,
    /// `sending` (no answer recorded yet, or the process died mid-POST), `delivered`,
    /// `failed` or `gone`.
    pub outcome: String,
    /// The start of the receiver's answer.
    pub response_excerpt: Option<String>,
    /// Why it failed (connection refused, timeout, …).
    pub error: Option<String>,
    /// The instance that sent it.
    pub instance_id: String,
}

/// Endpoint `id`'s attempts, newest first, in keyset pages.
pub fn attempts(c: &mut AnyConnection, id: i64, page: &Page) -> Result<Paged<Attempt>, PageError> {
    let before = page.after.as_ref().map(Cursor::to_id).transpose()?;
    let mut q = notify_attempts::table
        .filter(notify_attempts::webhook_id.eq(id))
        .order(notify_attempts::id.desc())
        .limit(page.limit + 1)
        .select(Attempt::as_select())
        .into_boxed();
    if let Some(b) = before {
        q = q.filter(notify_attempts::id.lt(b));
    }
    let rows = q.load(c).map_err(StoreError::Query)?;
    Ok(Paged::of(rows, page, |a: &Attempt| Cursor::id(a.id)))
}

/// Drops delivered and dead deliveries done before `before`, their attempts and the outbox
/// rows nothing points to any more; gives how many deliveries went.
pub fn prune(c: &mut AnyConnection, before: NaiveDateTime) -> Result<usize, StoreError> {
    crate::store::transaction(c, |c| {
        let n = diesel::delete(
            notify_deliveries::table
                .filter(notify_deliveries::state.ne(PENDING))
                .filter(notify_deliveries::done_at.lt(before)),
        )
        .execute(c)?;
        diesel::delete(notify_attempts::table.filter(notify_attempts::started_at.lt(before))).execute(c)?;
        let live = notify_deliveries::table.select(notify_deliveries::outbox_id);
        let bound = first_since(c, before)?;
        diesel::delete(
            notify_outbox::table
                .filter(notify_outbox::id.lt(bound))
                .filter(notify_outbox::fanned.eq(1))
                .filter(notify_outbox::created_at.lt(before))
                .filter(notify_outbox::id.ne_all(live)),
        )
        .execute(c)?;
        Ok(n)
    })
}

/// The first outbox id created at or after `before` (past the last id if none is). The
/// outbox has no index on `created_at` (every enqueue would pay for it), but its ids grow
/// with it: a bisection of the primary key, a few dozen lookups. Rows of transactions that
/// committed out of order fall on the later side and wait for the next prune.
fn first_since(c: &mut AnyConnection, before: NaiveDateTime) -> Result<i64, StoreError> {
    let last: Option<i64> = notify_outbox::table.select(diesel::dsl::max(notify_outbox::id)).first(c)?;
    let (mut lo, mut hi) = (0, last.map_or(0, |l| l + 1));
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let next: Option<(i64, NaiveDateTime)> = notify_outbox::table
            .filter(notify_outbox::id.ge(mid))
            .order(notify_outbox::id.asc())
            .select((notify_outbox::id, notify_outbox::created_at))
            .first(c)
            .optional()?;
        match next {
            Some((id, at)) if at < before => lo = id + 1,
            _ => hi = mid,
        }
    }
    Ok(lo)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_bundle_payload_expression_names_the_bundle_kind() {
        assert!(super::BUNDLE_PAYLOAD.contains(&format!("kind = '{}'", super::super::bundle::KIND)));
    }
}
