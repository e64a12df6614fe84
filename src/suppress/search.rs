//! Reading the suppression list: search pages, one address in every scope with its
//! evidence, and the list's size.
//!
//! Takes filters (address prefix, receiving domain, source, scope) and a keyset page; gives
//! the entries in address order (each filter has an index led by it and ending in the page
//! key, so a page reads only its own rows however long the list) or newest first. The
//! evidence of an entry comes from the `record` stage through [`EventHistory`]: this module
//! never reads events itself. It never writes.

use super::EventHistory;
use super::list::{Source, Suppression};
use crate::store::schema::suppressions;
use crate::store::{AnyConnection, Cursor, Page, PageError, Paged, StoreError};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

/// The order of a search: by address (the default, and the fast one for every filter), or
/// newest first.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Order {
    #[default]
    Address,
    Newest,
}

/// What to look for; every filter given must hold.
#[derive(Debug, Clone, Default)]
pub struct Search {
    /// Addresses starting with this (compared lower-cased, as stored).
    pub prefix: Option<String>,
    /// Addresses at exactly this domain.
    pub domain: Option<String>,
    pub source: Option<Source>,
    /// `global` or a sending domain.
    pub scope: Option<String>,
    pub order: Order,
}

/// The highest code point: `prefix` + this bounds every address that starts with `prefix`.
const TOP: char = '\u{10FFFF}';

/// A keyset page of entries matching `search`. The cursor is the last row's key in the
/// page's order: `address|scope`, or `created|address|scope` newest first.
pub fn search(c: &mut AnyConnection, search: &Search, page: &Page) -> Result<Paged<Suppression>, PageError> {
    let mut q = suppressions::table.select(Suppression::as_select()).into_boxed();
    if let Some(p) = search.prefix.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
        // A range of the primary key, not LIKE: SQLite's LIKE is case-insensitive and so
        // cannot use the (binary) key index.
        let p = p.to_lowercase();
        q = q.filter(suppressions::address.ge(p.clone())).filter(suppressions::address.lt(format!("{p}{TOP}")));
    }
    if let Some(d) = &search.domain {
        q = q.filter(suppressions::domain.eq(d.trim().trim_start_matches('@').to_lowercase()));
    }
    if let Some(s) = search.source {
        q = q.filter(suppressions::source.eq(s.as_str()));
    }
    if let Some(s) = &search.scope {
        q = q.filter(suppressions::scope.eq(s.trim().to_lowercase()));
    }
    match search.order {
        Order::Address => {
            if let Some((a, s)) = page.after.as_ref().map(Cursor::to_texts).transpose()? {
                // `address >= a` first: a seekable bound, so a deep page starts where it is.
                q = q.filter(suppressions::address.ge(a.clone())).filter(
                    suppressions::address.gt(a.clone()).or(suppressions::address.eq(a).and(suppressions::scope.gt(s))),
                );
            }
            let rows =
                q.order((suppressions::address.asc(), suppressions::scope.asc())).limit(page.limit + 1).load(c)?;
            Ok(Paged::of(rows, page, |r: &Suppression| Cursor::texts(&r.address, &r.scope)))
        }
        Order::Newest => {
            if let Some((t, a, s)) = page.after.as_ref().map(Cursor::to_time_text).transpose()? {
                q = q.filter(suppressions::created_at.le(t)).filter(
                    suppressions::created_at
                        .lt(t)
                        .or(suppressions::address.gt(a.clone()))
                        .or(suppressions::address.eq(a).and(suppressions::scope.gt(s))),
                );
            }
            let rows = q
                .order((suppressions::created_at.desc(), suppressions::address.asc(), suppressions::scope.asc()))
                .limit(page.limit + 1)
                .load(c)?;
            Ok(Paged::of(rows, page, |r: &Suppression| Cursor::time_text(r.created_at, &r.address, &r.scope)))
        }
    }
}

/// The event an entry was made from, as the `record` stage tells it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Evidence {
    pub event_id: i64,
    pub campaign_id: Option<String>,
    /// `bounce`, `delay`, `complaint`, …
    pub kind: String,
    /// `hard`, `soft`, `complaint`, …
    pub classification: String,
    pub reason: String,
    pub status: Option<String>,
    pub diagnostic: Option<String>,
    pub remote_mta: Option<String>,
    pub rule_key: Option<String>,
    pub occurred_at: NaiveDateTime,
}

/// One entry of an address with the event behind it (none for manual and imported entries,
/// or once the event is gone).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Held {
    #[serde(flatten)]
    pub entry: Suppression,
    pub evidence: Option<Evidence>,
    /// In force now (false: lapsed, about to be removed by the expiry job).
    pub active: bool,
}

/// Every entry of `address` (normalised), in every scope, with its evidence.
pub fn entries_of(
    c: &mut AnyConnection,
    events: &dyn EventHistory,
    address: &str,
    now: NaiveDateTime,
) -> Result<Vec<Held>, StoreError> {
    let address = super::normalize(address);
    let rows: Vec<Suppression> = suppressions::table
        .filter(suppressions::address.eq(&address))
        .order(suppressions::scope.asc())
        .select(Suppression::as_select())
        .load(c)?;
    let ids: Vec<i64> = rows.iter().filter_map(|r| r.event_id).collect();
    let mut evidence = if ids.is_empty() { Default::default() } else { events.evidence(c, &ids)? };
    Ok(rows
        .into_iter()
        .map(|entry| Held {
            evidence: entry.event_id.and_then(|id| evidence.remove(&id)),
            active: entry.expires_at.is_none_or(|t| t > now),
            entry,
        })
        .collect())
}

/// How many entries the list holds (lapsed ones the expiry job has not removed included).
pub fn size(c: &mut AnyConnection) -> Result<i64, StoreError> {
    Ok(suppressions::table.count().get_result(c)?)
}

#[derive(diesel::QueryableByName)]
struct AddedRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    day: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// Suppressions added per UTC day from `since` on (entries still held; the overview's chart),
/// oldest first, as (`2026-11-30`, count).
pub fn added_per_day(c: &mut AnyConnection, since: NaiveDateTime) -> Result<Vec<(String, i64)>, StoreError> {
    use diesel::RunQueryDsl;
    let (day, bind) = match c.backend() {
        crate::store::Backend::Sqlite => ("substr(created_at, 1, 10)", "?"),
        crate::store::Backend::Postgres => ("to_char(created_at::date, 'YYYY-MM-DD')", "$1"),
    };
    let rows: Vec<AddedRow> = diesel::sql_query(format!(
        "SELECT {day} AS day, COUNT(*) AS n FROM suppressions WHERE created_at >= {bind} GROUP BY 1 ORDER BY 1"
    ))
    .bind::<diesel::sql_types::Timestamp, _>(since)
    .load(c)?;
    Ok(rows.into_iter().map(|r| (r.day, r.n)).collect())
}
