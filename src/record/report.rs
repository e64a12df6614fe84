//! The shapes of a campaign's report — its events per day, and its bounces grouped by
//! status code × receiving domain × remote MTA, where a deliverability engineer looks first
//! (`record::counters` keeps and reads them per campaign) — and every campaign's events per
//! day for the overview's chart.
//!
//! Takes a day; gives the grouped counts (one grouped statement, read in the database from
//! the index `events_day` in group order). It never writes. The day expression differs per
//! backend, so the statement is written once for each.

use crate::store::{AnyConnection, Backend, StoreError};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};
use serde::Serialize;

/// One day of a campaign (UTC): failed deliveries by what the server said, and events by
/// what the rules decided.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Day {
    /// `YYYY-MM-DD`.
    pub date: String,
    pub failed_permanent: i64,
    pub failed_temporary: i64,
    pub hard: i64,
    pub soft: i64,
    pub complaints: i64,
    pub ignored: i64,
}

/// Bounces sharing a status code, a receiving domain and a remote MTA.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct BounceGroup {
    pub status: Option<String>,
    /// The recipients' domain.
    pub domain: String,
    /// The server that refused, as the report names it.
    pub remote_mta: Option<String>,
    pub count: i64,
    /// Of these, how many the server called permanent.
    pub permanent: i64,
}

#[derive(QueryableByName)]
struct DayRow {
    #[diesel(sql_type = Text)]
    day: String,
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Text)]
    classification: String,
    #[diesel(sql_type = Nullable<BigInt>)]
    permanent: Option<i64>,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Events per day, oldest first, of the events `condition(group, bind)` selects (the day
/// expression and the bound value's placeholder; `pg_bind` on PostgreSQL, `?` on SQLite).
fn per_day(
    c: &mut AnyConnection,
    condition: impl Fn(&str, &str) -> String,
    pg_bind: &str,
    value: &str,
) -> Result<Vec<Day>, StoreError> {
    let (group, day, bind) = match c.backend() {
        Backend::Sqlite => ("substr(occurred_at, 1, 10)", "substr(occurred_at, 1, 10)", "?"),
        Backend::Postgres => ("(occurred_at::date)", "to_char(occurred_at::date, 'YYYY-MM-DD')", pg_bind),
    };
    let rows: Vec<DayRow> = diesel::sql_query(format!(
        "SELECT {day} AS day, kind, classification, CAST(permanent AS BIGINT) AS permanent, COUNT(*) AS n \
         FROM events WHERE {} GROUP BY {group}, kind, classification, permanent ORDER BY {group}",
        condition(group, bind)
    ))
    .bind::<Text, _>(value)
    .load(c)?;
    Ok(fold_days(rows))
}

/// One campaign's events per day grouped over the events themselves, oldest first: what
/// its counters (`record::counters::days`) must equal. It reads every event of the
/// campaign, so no page calls it; checks and tests do.
pub fn days_grouped(c: &mut AnyConnection, campaign: &str) -> Result<Vec<Day>, StoreError> {
    per_day(c, |_, bind| format!("campaign_id = {bind}"), "$1", campaign)
}

/// Every campaign's events per day from `since` (a UTC day, `2026-11-01`) on, oldest first:
/// the overview's chart.
pub fn days_since(c: &mut AnyConnection, since: &str) -> Result<Vec<Day>, StoreError> {
    // Grouped by the expression of the index `events_day` (covering: no table read).
    per_day(c, |group, bind| format!("{group} >= {bind}"), "CAST($1 AS DATE)", since)
}

/// Day rows (sorted by day) into one [`Day`] each.
fn fold_days(rows: Vec<DayRow>) -> Vec<Day> {
    let mut out: Vec<Day> = Vec::new();
    for r in rows {
        if out.last().is_none_or(|d| d.date != r.day) {
            out.push(Day { date: r.day.clone(), ..Day::default() });
        }
        let d = out.last_mut().expect("pushed above");
        if r.kind == "bounce" {
            match r.permanent {
                Some(0) => d.failed_temporary += r.n,
                Some(_) => d.failed_permanent += r.n,
                None => {}
            }
        }
        match r.classification.as_str() {
            "hard" => d.hard += r.n,
            "soft" => d.soft += r.n,
            "complaint" => d.complaints += r.n,
            _ => d.ignored += r.n,
        }
    }
    out
}
