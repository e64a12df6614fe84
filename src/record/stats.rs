//! Delivery statistics kept as they happen: every event counted per hour (and per UTC day)
//! under each dimension group the statistics read — recipient domain, remote host, sender,
//! node, vmta, source IP, status code, reason, and "why it failed" (status × domain × node ×
//! IP) — for all events and again for the event's campaign.
//!
//! Takes the event rows as they are written ([`add`], with what their log line said beyond
//! the event's columns: [`Via`]) and each change of an event's classification
//! ([`reclassified`]), inside the caller's transaction, so the figures move with the events
//! or not at all. A batch's increments are summed per cell in memory and written as one
//! statement, in key order (concurrent PostgreSQL writers neither lose an increment nor
//! wait on each other in a cycle). It never reads an event, except [`reclassified`] (the
//! one it changes) and [`rebuild`] (the repair, the migration's own statement). Reading is
//! [`super::stats_query`]'s.

use super::events::NewEvent;
use crate::store::{AnyConnection, Backend, StoreError};
use chrono::NaiveDateTime;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use std::borrow::Cow;
use std::collections::BTreeMap;

/// The dimension groups kept per hour and per day (`all` is kept per hour only).
pub const DIMS: [&str; 9] = ["domain", "remote_host", "sender", "node", "vmta", "source_ip", "status", "reason", "why"];
/// The `campaign` of the cells that count every event.
pub const EVERY: &str = "*";
/// Joins the parts of a `why` key (status, domain, node, source IP).
pub const SEP: char = '\u{1f}';
/// Hours per day row.
pub const DAY: i64 = 24;

/// What a logged attempt says beyond the event's own columns (nothing, for mail).
#[derive(Debug, Clone, Copy, Default)]
pub struct Via<'a> {
    /// The MTA gave up after its queue lifetime (an event of kind bounce).
    pub expired: bool,
    pub node: Option<&'a str>,
    pub vmta: Option<&'a str>,
    pub source_ip: Option<&'a str>,
}

/// The counters of one cell (or of one event: each is 0 or 1, or -1 to take one back).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    pub delivered: i64,
    pub deferred: i64,
    pub bounced: i64,
    pub expired: i64,
    pub hard: i64,
    pub soft: i64,
    pub complained: i64,
    pub other: i64,
}

impl Counts {
    /// One event of `kind` (the event's), as the rules classified it.
    pub fn of(kind: &str, classification: &str, expired: bool) -> Counts {
        let mut c = Counts::default();
        match kind {
            "delivered" => c.delivered = 1,
            "delay" => c.deferred = 1,
            "bounce" => {
                if expired {
                    c.expired = 1;
                } else {
                    c.bounced = 1;
                }
                c.hard = i64::from(classification == "hard");
                c.soft = i64::from(classification == "soft");
            }
            "complaint" => c.complained = 1,
            _ => c.other = 1,
        }
        c
    }

    pub fn add(&mut self, o: &Counts) {
        self.delivered += o.delivered;
        self.deferred += o.deferred;
        self.bounced += o.bounced;
        self.expired += o.expired;
        self.hard += o.hard;
        self.soft += o.soft;
        self.complained += o.complained;
        self.other += o.other;
    }

    fn values(&self) -> [i64; 8] {
        [self.delivered, self.deferred, self.bounced, self.expired, self.hard, self.soft, self.complained, self.other]
    }

    fn is_zero(&self) -> bool {
        self.values() == [0; 8]
    }
}

/// The fields of one event the cells are keyed by.
struct Keyed<'a> {
    campaign: Option<&'a str>,
    at: NaiveDateTime,
    domain: &'a str,
    remote_host: &'a str,
    sender: &'a str,
    status: Cow<'a, str>,
    reason: &'a str,
    via: Via<'a>,
}

/// recipient, status, reply code, remote MTA, sending domain, the parser's reason.
type Fields<'a> = (Option<&'a str>, Option<&'a str>, Option<i32>, Option<&'a str>, Option<&'a str>, &'a str);

/// (dim, campaign, span, bucket, dim_key).
type Cell<'a> = (&'static str, &'a str, i64, i64, Cow<'a, str>);

/// The recipient's domain as the database computes `events.recipient_domain`.
fn domain_of(recipient: &str) -> &str {
    recipient.split_once('@').map_or(recipient, |(_, d)| d)
}

impl<'a> Keyed<'a> {
    fn of(r: &'a NewEvent<'a>, via: Via<'a>) -> Keyed<'a> {
        let fields = (r.recipient, r.status, r.reply_code, r.remote_mta, r.sending_domain, r.parsed_reason);
        Keyed::new(fields, r.campaign_id, r.occurred_at, via)
    }

    fn new(f: Fields<'a>, campaign: Option<&'a str>, at: NaiveDateTime, via: Via<'a>) -> Keyed<'a> {
        let (recipient, status, reply_code, remote_mta, sending_domain, reason) = f;
        let status = match (status, reply_code) {
            (Some(s), _) => Cow::Borrowed(s),
            (None, Some(code)) => Cow::Owned(code.to_string()),
            (None, None) => Cow::Borrowed(""),
        };
        Keyed {
            campaign,
            at,
            domain: recipient.map_or("", domain_of),
            remote_host: remote_mta.unwrap_or(""),
            sender: sending_domain.unwrap_or(""),
            status,
            reason,
            via,
        }
    }

    fn key(&self, dim: &str) -> Cow<'a, str> {
        let v = &self.via;
        Cow::Borrowed(match dim {
            "domain" => self.domain,
            "remote_host" => self.remote_host,
            "sender" => self.sender,
            "node" => v.node.unwrap_or(""),
            "vmta" => v.vmta.unwrap_or(""),
            "source_ip" => v.source_ip.unwrap_or(""),
            "status" => return self.status.clone(),
            "reason" => self.reason,
            _ => {
                let parts = [&*self.status, self.domain, v.node.unwrap_or(""), v.source_ip.unwrap_or("")];
                return Cow::Owned(parts.join(&SEP.to_string()));
            }
        })
    }

    /// Adds `n` to every cell of this event.
    fn count(&self, n: &Counts, cells: &mut BTreeMap<Cell<'a>, Counts>) {
        let hour = self.at.and_utc().timestamp().div_euclid(3600);
        let day = hour.div_euclid(DAY) * DAY;
        let bounce = n.bounced != 0 || n.expired != 0 || n.hard != 0 || n.soft != 0;
        for campaign in std::iter::once(EVERY).chain(self.campaign) {
            cells.entry(("all", campaign, 1, hour, Cow::Borrowed(""))).or_default().add(n);
            for dim in DIMS {
                if dim == "why" && !bounce {
                    continue;
                }
                let key = self.key(dim);
                cells.entry((dim, campaign, 1, hour, key.clone())).or_default().add(n);
                cells.entry((dim, campaign, DAY, day, key)).or_default().add(n);
            }
        }
    }
}

/// Counts just-written events; `vias[i]` is what the log line of `rows[i]` said (missing
/// entries: mail).
pub fn add(c: &mut AnyConnection, rows: &[NewEvent], vias: &[Via]) -> Result<(), StoreError> {
    let mut cells = BTreeMap::new();
    for (i, r) in rows.iter().enumerate() {
        let via = vias.get(i).copied().unwrap_or_default();
        let n = Counts::of(r.kind, r.classification, via.expired);
        Keyed::of(r, via).count(&n, &mut cells);
    }
    write(c, cells)
}

/// Moves the stored event `id` from classification `from` to `to` (only a bounce's hard and
/// soft figures depend on it). Called inside the transaction that changes the event.
pub fn reclassified(c: &mut AnyConnection, id: i64, from: &str, to: &str) -> Result<(), StoreError> {
    use crate::store::schema::{event_provenance as p, events as ev};
    type Row = (String, Option<String>, Option<String>, Option<i32>, Option<String>, Option<String>, String);
    type Prov = (Option<String>, Option<String>, Option<String>, Option<String>);
    let found: Option<(Row, Option<String>, NaiveDateTime, Option<Prov>)> = ev::table
        .left_join(p::table)
        .filter(ev::id.eq(id))
        .select((
            (
                ev::kind,
                ev::recipient,
                ev::status,
                ev::reply_code,
                ev::remote_mta,
                ev::sending_domain,
                ev::parsed_reason,
            ),
            ev::campaign_id,
            ev::occurred_at,
            (p::log_kind.nullable(), p::node, p::vmta, p::source_ip).nullable(),
        ))
        .first(c)
        .optional()?;
    let Some(((kind, recipient, status, reply_code, remote, sending, reason), campaign, at, prov)) = found else {
        return Ok(());
    };
    let (log_kind, node, vmta, ip) = prov.unwrap_or_default();
    let expired = log_kind.as_deref() == Some("expired");
    let (old, new) = (Counts::of(&kind, from, expired), Counts::of(&kind, to, expired));
    let delta = Counts { hard: new.hard - old.hard, soft: new.soft - old.soft, ..Counts::default() };
    if delta.is_zero() {
        return Ok(());
    }
    let via = Via { expired, node: node.as_deref(), vmta: vmta.as_deref(), source_ip: ip.as_deref() };
    let fields = (recipient.as_deref(), status.as_deref(), reply_code, remote.as_deref(), sending.as_deref(), &*reason);
    let mut cells = BTreeMap::new();
    Keyed::new(fields, campaign.as_deref(), at, via).count(&delta, &mut cells);
    write(c, cells)
}

/// Writes the summed cells, in key order, in one statement.
fn write(c: &mut AnyConnection, mut cells: BTreeMap<Cell, Counts>) -> Result<(), StoreError> {
    cells.retain(|_, n| !n.is_zero());
    if cells.is_empty() {
        return Ok(());
    }
    const COLS: &str =
        "dim, campaign, span, bucket, dim_key, delivered, deferred, bounced, expired, hard, soft, complained, other";
    const SET: &str = "delivered = stats_counts.delivered + excluded.delivered, \
        deferred = stats_counts.deferred + excluded.deferred, bounced = stats_counts.bounced + excluded.bounced, \
        expired = stats_counts.expired + excluded.expired, hard = stats_counts.hard + excluded.hard, \
        soft = stats_counts.soft + excluded.soft, complained = stats_counts.complained + excluded.complained, \
        other = stats_counts.other + excluded.other";
    match c {
        AnyConnection::Sqlite(lite) => {
            let rows: Vec<_> = cells.iter().map(|((d, c, s, b, k), n)| (d, c, s, b, k, n.values())).collect();
            let json = serde_json::to_string(&rows)
                .map_err(|e| StoreError::Task(format!("encoding the statistics of a batch: {e}")))?;
            let values: Vec<String> = (0..8).map(|i| format!("value->'$[5][{i}]'")).collect();
            diesel::sql_query(format!(
                "INSERT INTO stats_counts ({COLS}) SELECT value->>0, value->>1, value->>2, value->>3, value->>4, {} \
                 FROM json_each(?1) WHERE true ORDER BY key \
                 ON CONFLICT (dim, campaign, span, bucket, dim_key) DO UPDATE SET {SET}",
                values.join(", ")
            ))
            .bind::<diesel::sql_types::Text, _>(&json)
            .execute(lite)?;
        }
        AnyConnection::Postgresql(pg) => {
            use diesel::sql_types::{Array, BigInt, Integer, Text};
            let col = |i: usize| cells.values().map(|n| n.values()[i]).collect::<Vec<i64>>();
            diesel::sql_query(format!(
                "INSERT INTO stats_counts ({COLS}) SELECT * FROM unnest($1::text[], $2::text[], $3::int[], \
                 $4::bigint[], $5::text[], $6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[], \
                 $11::bigint[], $12::bigint[], $13::bigint[]) \
                 ON CONFLICT (dim, campaign, span, bucket, dim_key) DO UPDATE SET {SET}"
            ))
            .bind::<Array<Text>, _>(cells.keys().map(|k| k.0).collect::<Vec<&str>>())
            .bind::<Array<Text>, _>(cells.keys().map(|k| k.1).collect::<Vec<&str>>())
            .bind::<Array<Integer>, _>(cells.keys().map(|k| k.2 as i32).collect::<Vec<i32>>())
            .bind::<Array<BigInt>, _>(cells.keys().map(|k| k.3).collect::<Vec<i64>>())
            .bind::<Array<Text>, _>(cells.keys().map(|k| &*k.4).collect::<Vec<&str>>())
            .bind::<Array<BigInt>, _>(col(0))
            .bind::<Array<BigInt>, _>(col(1))
            .bind::<Array<BigInt>, _>(col(2))
            .bind::<Array<BigInt>, _>(col(3))
            .bind::<Array<BigInt>, _>(col(4))
            .bind::<Array<BigInt>, _>(col(5))
            .bind::<Array<BigInt>, _>(col(6))
            .bind::<Array<BigInt>, _>(col(7))
            .execute(pg)?;
        }
    }
    Ok(())
}

/// Recounts every cell from the events, in the caller's transaction: for events stored
/// around the ingest path (a bulk load) or figures in doubt. The migration's own statement.
pub fn rebuild(c: &mut AnyConnection) -> Result<(), StoreError> {
    let up = match c.backend() {
        Backend::Sqlite => include_str!("../../migrations/sqlite/2026-12-02-000100_stats/up.sql"),
        Backend::Postgres => include_str!("../../migrations/postgres/2026-12-02-000100_stats/up.sql"),
    };
    let fill = up.split_once("-- backfill").map_or("", |(_, f)| f);
    let fill = fill.split_once('\n').map_or("", |(_, f)| f);
    c.batch_execute(&format!("DELETE FROM stats_counts; {fill}"))?;
    Ok(())
}
