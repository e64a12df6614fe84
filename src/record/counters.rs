//! A campaign's pre-aggregated report: its events per UTC day and its bounces per status ×
//! recipient domain × remote MTA ("why it failed"), so its SUMMARY reads tens of rows
//! instead of grouping a million events.
//!
//! Takes the event rows as they are written ([`add`]) and each change of an event's
//! classification ([`reclassified`]), inside the caller's transaction, so the counters move
//! with the events or not at all; gives the report's [`Day`]s and [`BounceGroup`]s. Every
//! write is an UPSERT in key order (concurrent writers on PostgreSQL neither lose an
//! increment nor wait on each other in a cycle). It never reads an event: [`rebuild`], the
//! repair for events loaded around ingest, is the one exception.

use super::events::NewEvent;
use super::report::{BounceGroup, Day};
use crate::store::schema::{campaign_days as days, campaign_failures as failures};
use crate::store::{AnyConnection, Backend, StoreError};
use chrono::NaiveDateTime;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::upsert::excluded;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, Insertable)]
#[diesel(table_name = days)]
struct DayRow {
    campaign_id: String,
    day: String,
    failed_permanent: i64,
    failed_temporary: i64,
    hard: i64,
    soft: i64,
    complaints: i64,
    ignored: i64,
}

#[derive(Debug, Clone, Default, Insertable)]
#[diesel(table_name = failures)]
struct FailureRow {
    campaign_id: String,
    status: String,
    domain: String,
    remote_mta: String,
    bounces: i64,
    permanent: i64,
}

/// The day an event counts on, as the table keys it (UTC, `YYYY-MM-DD`).
pub fn day_of(at: NaiveDateTime) -> String {
    at.format("%Y-%m-%d").to_string()
}

/// The recipient's domain as the database computes `events.recipient_domain`: the part
/// after the first `@` (the whole address when there is none).
fn domain_of(recipient: &str) -> &str {
    recipient.split_once('@').map_or(recipient, |(_, d)| d)
}

/// Upserts `$rows` into `$table` keyed by `$key`, adding each counter column in `$cols`.
/// PostgreSQL takes a few hundred rows per statement, SQLite one (in-process, no round trip).
macro_rules! upsert {
    ($c:expr, $table:expr, $rows:expr, $key:expr, $($col:expr),+) => {{
        let set = ($($col.eq($col + excluded($col))),+);
        match $c {
            AnyConnection::Postgresql(pg) => {
                for chunk in $rows.chunks(500) {
                    diesel::insert_into($table).values(chunk).on_conflict($key).do_update().set(set).execute(pg)?;
                }
            }
            AnyConnection::Sqlite(lite) => {
                for row in $rows {
                    diesel::insert_into($table).values(row).on_conflict($key).do_update().set(set).execute(lite)?;
                }
            }
        }
    }};
}

/// Counts just-written events (those with a campaign) into their campaigns' counters.
pub fn add(c: &mut AnyConnection, rows: &[NewEvent]) -> Result<(), StoreError> {
    let mut per_day: BTreeMap<(&str, String), DayRow> = BTreeMap::new();
    let mut per_group: BTreeMap<(&str, &str, &str, &str), FailureRow> = BTreeMap::new();
    for r in rows {
        let Some(campaign) = r.campaign_id else { continue };
        let d = per_day.entry((campaign, day_of(r.occurred_at))).or_default();
        let bounce = r.kind == "bounce";
        match r.permanent {
            Some(0) if bounce => d.failed_temporary += 1,
            Some(_) if bounce => d.failed_permanent += 1,
            _ => {}
        }
        *column(d, r.classification) += 1;
        // As the report always read them: bounces to a recipient.
        let Some(recipient) = r.recipient.filter(|_| bounce) else { continue };
        let key = (campaign, r.status.unwrap_or(""), domain_of(recipient), r.remote_mta.unwrap_or(""));
        let g = per_group.entry(key).or_default();
        g.bounces += 1;
        g.permanent += i64::from(r.permanent.is_some_and(|p| p != 0));
    }
    let day_rows: Vec<DayRow> = per_day
        .into_iter()
        .map(|((campaign, day), d)| DayRow { campaign_id: campaign.to_string(), day, ..d })
        .collect();
    let group_rows: Vec<FailureRow> = per_group
        .into_iter()
        .map(|((campaign, status, domain, mta), g)| FailureRow {
            campaign_id: campaign.to_string(),
            status: status.to_string(),
            domain: domain.to_string(),
            remote_mta: mta.to_string(),
            ..g
        })
        .collect();
    upsert!(
        c,
        days::table,
        &day_rows,
        (days::campaign_id, days::day),
        days::failed_permanent,
        days::failed_temporary,
        days::hard,
        days::soft,
        days::complaints,
        days::ignored
    );
    upsert!(
        c,
        failures::table,
        &group_rows,
        (failures::campaign_id, failures::status, failures::domain, failures::remote_mta),
        failures::bounces,
        failures::permanent
    );
    Ok(())
}

/// The counter of a classification (anything the rules call neither hard, soft nor a
/// complaint is `ignored`, as in `campaigns`).
fn column<'a>(d: &'a mut DayRow, classification: &str) -> &'a mut i64 {
    match classification {
        "hard" => &mut d.hard,
        "soft" => &mut d.soft,
        "complaint" => &mut d.complaints,
        _ => &mut d.ignored,
    }
}

/// Moves one event of `campaign` that occurred `at` from classification `from` to `to`
/// (what a failure group counts does not depend on the classification).
pub fn reclassified(
    c: &mut AnyConnection,
    campaign: &str,
    at: NaiveDateTime,
    from: &str,
    to: &str,
) -> Result<(), StoreError> {
    let mut d = DayRow { campaign_id: campaign.to_string(), day: day_of(at), ..DayRow::default() };
    *column(&mut d, from) -= 1;
    *column(&mut d, to) += 1;
    upsert!(
        c,
        days::table,
        std::slice::from_ref(&d),
        (days::campaign_id, days::day),
        days::hard,
        days::soft,
        days::complaints,
        days::ignored
    );
    Ok(())
}

type DayTuple = (String, i64, i64, i64, i64, i64, i64);

/// The campaign's days, oldest first.
pub fn days(c: &mut AnyConnection, campaign: &str) -> Result<Vec<Day>, StoreError> {
    let rows: Vec<DayTuple> = days::table
        .filter(days::campaign_id.eq(campaign))
        .order(days::day.asc())
        .select((
            days::day,
            days::failed_permanent,
            days::failed_temporary,
            days::hard,
            days::soft,
            days::complaints,
            days::ignored,
        ))
        .load(c)?;
    Ok(rows
        .into_iter()
        .map(|(date, failed_permanent, failed_temporary, hard, soft, complaints, ignored)| Day {
            date,
            failed_permanent,
            failed_temporary,
            hard,
            soft,
            complaints,
            ignored,
        })
        .collect())
}

/// The `top` largest failure groups of the campaign, largest first (ties in key order).
pub fn bounce_groups(c: &mut AnyConnection, campaign: &str, top: i64) -> Result<Vec<BounceGroup>, StoreError> {
    let rows: Vec<(String, String, String, i64, i64)> = failures::table
        .filter(failures::campaign_id.eq(campaign))
        .filter(failures::bounces.gt(0))
        .order((failures::bounces.desc(), failures::status, failures::domain, failures::remote_mta))
        .limit(top)
        .select((failures::status, failures::domain, failures::remote_mta, failures::bounces, failures::permanent))
        .load(c)?;
    let some = |s: String| (!s.is_empty()).then_some(s);
    Ok(rows
        .into_iter()
        .map(|(status, domain, remote_mta, count, permanent)| BounceGroup {
            status: some(status),
            domain,
            remote_mta: some(remote_mta),
            count,
            permanent,
        })
        .collect())
}

/// Recounts every campaign's counters from its events, in the caller's transaction: for
/// events stored around the ingest path (a bulk load) or counters in doubt. The same
/// statements as the migration that created the tables.
pub fn rebuild(c: &mut AnyConnection) -> Result<(), StoreError> {
    let day = match c.backend() {
        Backend::Sqlite => "substr(occurred_at, 1, 10)",
        Backend::Postgres => "to_char(occurred_at::date, 'YYYY-MM-DD')",
    };
    c.batch_execute(&format!(
        "DELETE FROM campaign_days; DELETE FROM campaign_failures; \
         INSERT INTO campaign_days (campaign_id, day, failed_permanent, failed_temporary, hard, soft, complaints, ignored) \
         SELECT campaign_id, {day}, \
           SUM(CASE WHEN kind = 'bounce' AND permanent <> 0 THEN 1 ELSE 0 END), \
           SUM(CASE WHEN kind = 'bounce' AND permanent = 0 THEN 1 ELSE 0 END), \
           SUM(CASE WHEN classification = 'hard' THEN 1 ELSE 0 END), \
           SUM(CASE WHEN classification = 'soft' THEN 1 ELSE 0 END), \
           SUM(CASE WHEN classification = 'complaint' THEN 1 ELSE 0 END), \
           SUM(CASE WHEN classification NOT IN ('hard', 'soft', 'complaint') THEN 1 ELSE 0 END) \
         FROM events WHERE campaign_id IS NOT NULL GROUP BY campaign_id, {day}; \
         INSERT INTO campaign_failures (campaign_id, status, domain, remote_mta, bounces, permanent) \
         SELECT campaign_id, COALESCE(status, ''), recipient_domain, COALESCE(remote_mta, ''), COUNT(*), \
           SUM(CASE WHEN permanent <> 0 THEN 1 ELSE 0 END) \
         FROM events WHERE campaign_id IS NOT NULL AND kind = 'bounce' AND recipient_domain IS NOT NULL \
         GROUP BY campaign_id, COALESCE(status, ''), recipient_domain, COALESCE(remote_mta, '');"
    ))?;
    Ok(())
}
