//! Alert counters: events per hour under every scope an alert rule groups by.
//!
//! Takes the events a transaction writes ([`record`], called by the ingest write path) or
//! reclassifies ([`event`]), inside that transaction; gives, per scope and hour, how many
//! events of each kind, classification, status, reason and rule there were ([`load`]: a range
//! of the primary key). A criterion over a day or more is summed from these rows by the
//! database at each evaluation ([`rates`], [`matching`]): at most 168 hours of a scope per
//! group and cell, however many events a week holds, and only the groups that could fire
//! come back. A batch's increments are summed in memory first and written as
//! one statement, so the ingest transaction pays for the distinct (scope, hour, …) cells it
//! touched, not per event. It never evaluates a rule.

use super::window::CountTest;
use crate::config::alert::{Metric, Per};
use crate::record::events::NewEvent;
use crate::store::{AnyConnection, StoreError};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use std::collections::BTreeMap;

/// Seconds per counter cell.
pub const HOUR: i64 = 3600;

/// The scopes counted, by the name stored in `alert_counts.scope`.
const SCOPES: [&str; 6] = ["all", "campaign", "sending_domain", "recipient_domain", "remote_mta", "source"];

/// The scope a rule's groups come from (`all` for rules not grouped by an event field).
pub fn scope_of(per: Per) -> &'static str {
    match per {
        Per::All | Per::Mailbox | Per::Node => "all",
        Per::Campaign => "campaign",
        Per::SendingDomain => "sending_domain",
        Per::RecipientDomain => "recipient_domain",
        Per::RemoteMta => "remote_mta",
        Per::Source => "source",
    }
}

/// What is counted of one event.
#[derive(Debug, Clone, Copy)]
pub struct Counted<'a> {
    pub kind: &'a str,
    pub classification: &'a str,
    pub status: Option<&'a str>,
    pub reason: &'a str,
    pub rule_key: Option<&'a str>,
    pub campaign_id: Option<&'a str>,
    pub sending_domain: Option<&'a str>,
    pub recipient: Option<&'a str>,
    pub remote_mta: Option<&'a str>,
    pub source: &'a str,
    pub occurred_at: NaiveDateTime,
}

impl<'a> From<&'a NewEvent<'a>> for Counted<'a> {
    fn from(r: &'a NewEvent<'a>) -> Counted<'a> {
        Counted {
            kind: r.kind,
            classification: r.classification,
            status: r.status,
            reason: r.reason,
            rule_key: r.rule_key,
            campaign_id: r.campaign_id,
            sending_domain: r.sending_domain,
            recipient: r.recipient,
            remote_mta: r.remote_mta,
            source: r.source,
            occurred_at: r.occurred_at,
        }
    }
}

impl<'a> Counted<'a> {
    pub(super) fn key(&self, scope: &str) -> &'a str {
        let v = match scope {
            "campaign" => self.campaign_id,
            "sending_domain" => self.sending_domain,
            // As the generated column `events.recipient_domain`: after the first `@`.
            "recipient_domain" => self.recipient.map(|r| r.split_once('@').map_or(r, |(_, d)| d)),
            "remote_mta" => self.remote_mta,
            "source" => Some(self.source),
            _ => None,
        };
        v.unwrap_or("")
    }
}

/// (scope, scope_key, hour, kind, classification, status, reason, rule_key).
type Cell<'a> = (&'static str, &'a str, i64, &'a str, &'a str, &'a str, &'a str, &'a str);

/// Counts the events just written, here and in the alert matchers ([`super::matchers`]):
/// the ingest write path's hook, inside its transaction.
pub fn record(c: &mut AnyConnection, rows: &[NewEvent]) -> Result<(), StoreError> {
    add(c, rows.iter().map(|r| (Counted::from(r), 1)))?;
    super::matchers::record(c, rows)
}

/// Adds `delta` (1 or -1) for each event, summed per cell first.
pub fn add<'a>(c: &mut AnyConnection, events: impl Iterator<Item = (Counted<'a>, i64)>) -> Result<(), StoreError> {
    let mut cells: BTreeMap<Cell<'a>, i64> = BTreeMap::new();
    for (e, delta) in events {
        let hour = e.occurred_at.and_utc().timestamp().div_euclid(HOUR);
        for scope in SCOPES {
            let cell = (
                scope,
                e.key(scope),
                hour,
                e.kind,
                e.classification,
                e.status.unwrap_or(""),
                e.reason,
                e.rule_key.unwrap_or(""),
            );
            *cells.entry(cell).or_default() += delta;
        }
    }
    cells.retain(|_, n| *n != 0);
    if cells.is_empty() {
        return Ok(());
    }
    // Cells in key order: two transactions touching the same cells lock them in one order.
    match c {
        AnyConnection::Sqlite(lite) => {
            let rows: Vec<_> = cells.iter().map(|(k, n)| (k.0, k.1, k.2, k.3, k.4, k.5, k.6, k.7, n)).collect();
            let json = serde_json::to_string(&rows)
                .map_err(|e| StoreError::Task(format!("encoding the alert counters of a batch: {e}")))?;
            diesel::sql_query(
                "INSERT INTO alert_counts (scope, scope_key, hour, kind, classification, status, reason, rule_key, n) \
                 SELECT value->>0, value->>1, value->>2, value->>3, value->>4, value->>5, value->>6, value->>7, \
                 value->>8 FROM json_each(?1) WHERE true ORDER BY key \
                 ON CONFLICT (scope, hour, scope_key, kind, classification, status, reason, rule_key) \
                 DO UPDATE SET n = n + excluded.n",
            )
            .bind::<diesel::sql_types::Text, _>(&json)
            .execute(lite)?;
        }
        AnyConnection::Postgresql(pg) => {
            use diesel::sql_types::{Array, BigInt, Text};
            let text = |f: fn(&Cell<'a>) -> &'a str| cells.keys().map(f).collect::<Vec<&str>>();
            diesel::sql_query(
                "INSERT INTO alert_counts (scope, scope_key, hour, kind, classification, status, reason, rule_key, n) \
                 SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[], \
                 $7::text[], $8::text[], $9::bigint[]) \
                 ON CONFLICT (scope, hour, scope_key, kind, classification, status, reason, rule_key) \
                 DO UPDATE SET n = alert_counts.n + excluded.n",
            )
            .bind::<Array<Text>, _>(cells.keys().map(|k| k.0).collect::<Vec<&str>>())
            .bind::<Array<Text>, _>(text(|k| k.1))
            .bind::<Array<BigInt>, _>(cells.keys().map(|k| k.2).collect::<Vec<i64>>())
            .bind::<Array<Text>, _>(text(|k| k.3))
            .bind::<Array<Text>, _>(text(|k| k.4))
            .bind::<Array<Text>, _>(text(|k| k.5))
            .bind::<Array<Text>, _>(text(|k| k.6))
            .bind::<Array<Text>, _>(text(|k| k.7))
            .bind::<Array<BigInt>, _>(cells.values().copied().collect::<Vec<i64>>())
            .execute(pg)?;
        }
    }
    Ok(())
}

/// Adds `delta` for the stored event `id` as it is now (here and in the matchers that
/// counted it): a reclassification calls it with -1 before changing the event and with 1
/// after.
pub fn event(c: &mut AnyConnection, id: i64, delta: i64) -> Result<(), StoreError> {
    use crate::store::schema::events as ev;
    type Row = (String, String, Option<String>, String, Option<String>, Option<String>, Option<String>, Option<String>);
    type Rest = (Option<String>, String, NaiveDateTime, Option<String>);
    let found: Option<(Row, Rest)> = ev::table
        .find(id)
        .select((
            (
                ev::kind,
                ev::classification,
                ev::status,
                ev::reason,
                ev::rule_key,
                ev::campaign_id,
                ev::sending_domain,
                ev::recipient,
            ),
            (ev::remote_mta, ev::source, ev::occurred_at, ev::diagnostic),
        ))
        .first(c)
        .optional()?;
    let Some((
        (kind, classification, status, reason, rule_key, campaign, sending, recipient),
        (mta, source, at, words),
    )) = found
    else {
        return Ok(());
    };
    let counted = Counted {
        kind: &kind,
        classification: &classification,
        status: status.as_deref(),
        reason: &reason,
        rule_key: rule_key.as_deref(),
        campaign_id: campaign.as_deref(),
        sending_domain: sending.as_deref(),
        recipient: recipient.as_deref(),
        remote_mta: mta.as_deref(),
        source: &source,
        occurred_at: at,
    };
    add(c, std::iter::once((counted, delta)))?;
    super::matchers::event(c, id, &counted, words.as_deref(), delta)
}

/// Per group of `scope` with at least `min_volume` recorded events from hour `from` on:
/// (group, `metric` events, recorded events). One index range summed by the database, the
/// minimum volume applied there, so only the groups that could fire come back.
pub fn rates(
    c: &mut AnyConnection,
    scope: &str,
    from: i64,
    metric: Metric,
    min_volume: u64,
) -> Result<Vec<(String, u64, u64)>, StoreError> {
    use diesel::sql_types::{BigInt, Text};
    // As `Window`'s rate test: what a metric counts, over the recorded kinds.
    let hit = match metric {
        Metric::HardBounce => "kind = 'bounce' AND classification = 'hard'",
        Metric::Bounce => "kind = 'bounce' AND classification IN ('hard', 'soft')",
        Metric::Complaint => "kind = 'complaint'",
    };
    let rows: Vec<Sum> = diesel::sql_query(format!(
        "SELECT scope_key, CAST(NULL AS TEXT) AS status, CAST(SUM(CASE WHEN {hit} THEN n ELSE 0 END) AS BIGINT) AS num, CAST(SUM(n) AS BIGINT) AS den \
         FROM alert_counts WHERE scope = $1 AND hour >= $2 AND kind IN ('bounce', 'complaint', 'delay', 'delivered') \
         GROUP BY scope_key HAVING SUM(n) >= $3"
    ))
    .bind::<Text, _>(scope)
    .bind::<BigInt, _>(from)
    .bind::<BigInt, _>(i64::try_from(min_volume).unwrap_or(i64::MAX))
    .load(c)?;
    Ok(rows.into_iter().map(|r| (r.scope_key, r.num.max(0) as u64, r.den.max(0) as u64)).collect())
}

/// Per group of `scope` from hour `from` on: the events matching a count criterion without
/// a text test (reason and rule compared by the database, the status pattern here over the
/// distinct statuses), groups under `at_least` left out.
pub fn matching(
    c: &mut AnyConnection,
    scope: &str,
    from: i64,
    test: &CountTest,
    (reason, rule): (Option<&str>, Option<&str>),
    at_least: u64,
) -> Result<Vec<(String, u64)>, StoreError> {
    use diesel::sql_types::{BigInt, Nullable, Text};
    let rows: Vec<Sum> = diesel::sql_query(
        "SELECT scope_key, status AS status, CAST(SUM(n) AS BIGINT) AS num, CAST(0 AS BIGINT) AS den FROM alert_counts \
         WHERE scope = $1 AND hour >= $2 AND ($3 IS NULL OR reason = $3) AND ($4 IS NULL OR rule_key = $4) \
         GROUP BY scope_key, status",
    )
    .bind::<Text, _>(scope)
    .bind::<BigInt, _>(from)
    .bind::<Nullable<Text>, _>(reason)
    .bind::<Nullable<Text>, _>(rule)
    .load(c)?;
    let mut per: BTreeMap<String, u64> = BTreeMap::new();
    for r in rows {
        // `""`: the event had no status, which no pattern matches.
        let status = r.status.as_deref().filter(|s| !s.is_empty());
        if test.status_ok(status) {
            *per.entry(r.scope_key).or_default() += r.num.max(0) as u64;
        }
    }
    Ok(per.into_iter().filter(|(_, n)| *n >= at_least).collect())
}

#[derive(QueryableByName)]
struct Sum {
    #[diesel(sql_type = diesel::sql_types::Text)]
    scope_key: String,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    #[diesel(column_name = status)]
    status: Option<String>,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    num: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    den: i64,
}
