//! Everything rebound knows about one address: its events across campaigns (keyset pages,
//! newest first), its suppression entries with the event each rests on, and whether the
//! allowlist covers it.
//!
//! Takes an address (normalized as every table keys it) and the configured allowlist; gives
//! an [`AddressReport`]. It never writes; the suppression list is read, not changed.

use crate::store::schema::{events, suppressions};
use crate::store::{AnyConnection, Cursor, Page, PageError, Paged};
use crate::suppress::{Allowlist, normalize};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

/// One event about the address, whichever campaign it belongs to.
#[derive(Debug, Clone, Queryable, Selectable, Serialize, PartialEq, Eq, utoipa::ToSchema)]
#[diesel(table_name = events)]
pub struct AddressEvent {
    pub id: i64,
    /// Null when it could not be attributed.
    #[diesel(column_name = campaign_id)]
    pub campaign: Option<String>,
    /// `bounce`, `complaint`, `delay`, …
    pub kind: String,
    /// What the rules decided: `hard`, `soft`, `complaint`, `ignore`.
    pub classification: String,
    /// 1 permanent, 0 temporary (bounces).
    pub permanent: Option<i32>,
    #[diesel(column_name = rule_key)]
    pub rule: Option<String>,
    pub reason: String,
    pub status: Option<String>,
    pub diagnostic: Option<String>,
    pub remote_mta: Option<String>,
    pub feedback_type: Option<String>,
    pub reporting_isp: Option<String>,
    /// Where the evidence came from (`mailbox:<id>`, `file`).
    pub source: String,
    /// The stored message it was read from (null for log evidence).
    pub message_id: Option<i64>,
    #[diesel(column_name = occurred_at)]
    pub date: NaiveDateTime,
}

/// A suppression entry of the address, with the event it rests on (when it rests on one).
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Entry {
    /// `global` or a sending domain.
    pub scope: String,
    /// `hard_bounce`, `fbl_complaint`, `soft_threshold`, `manual`, `import`.
    pub source: String,
    pub reason: Option<String>,
    pub note: Option<String>,
    pub created_at: NaiveDateTime,
    pub expires_at: Option<NaiveDateTime>,
    /// Whether it is in force now (not lapsed).
    pub active: bool,
    pub event: Option<AddressEvent>,
}

#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct AddressReport {
    pub address: String,
    /// Covered by the allowlist (the address, its domain or a parent domain): never
    /// suppressed, whatever arrives.
    pub allowlisted: bool,
    /// Suppressed now, in some scope.
    pub suppressed: bool,
    pub suppressions: Vec<Entry>,
    /// A page of its events, newest first.
    pub events: Vec<AddressEvent>,
    /// The cursor of the next page of events (null: that was all).
    pub next: Option<String>,
    /// Further sightings of the events on this page, from the other input (the DSN of a
    /// logged bounce, the log line of a mailed one): kept as evidence, counted once.
    pub evidence: Vec<super::evidence::Evidence>,
}

/// The address's events, newest first, after the page's cursor (time, id).
pub fn events_of(c: &mut AnyConnection, address: &str, page: &Page) -> Result<Paged<AddressEvent>, PageError> {
    let mut q = events::table.filter(events::recipient.eq(address)).into_boxed();
    if let Some((t, id)) = page.after.as_ref().map(Cursor::to_time_id).transpose()? {
        q = q.filter(events::occurred_at.le(t)).filter(events::occurred_at.lt(t).or(events::id.lt(id)));
    }
    let rows = q
        .order((events::occurred_at.desc(), events::id.desc()))
        .select(AddressEvent::as_select())
        .limit(page.limit + 1)
        .load::<AddressEvent>(c)?;
    Ok(Paged::of(rows, page, |e: &AddressEvent| Cursor::time_id(e.date, e.id)))
}

type SuppressionRow =
    (String, String, Option<i64>, Option<String>, Option<String>, NaiveDateTime, Option<NaiveDateTime>);

/// The report on `address`; `configured`: the config file's allowlist.
pub fn report(
    c: &mut AnyConnection,
    address: &str,
    configured: &[String],
    page: &Page,
    now: NaiveDateTime,
) -> Result<AddressReport, PageError> {
    let address = normalize(address);
    let rows: Vec<SuppressionRow> = suppressions::table
        .filter(suppressions::address.eq(&address))
        .order(suppressions::scope.asc())
        .select((
            suppressions::scope,
            suppressions::source,
            suppressions::event_id,
            suppressions::reason,
            suppressions::note,
            suppressions::created_at,
            suppressions::expires_at,
        ))
        .load(c)?;
    let ids: Vec<i64> = rows.iter().filter_map(|r| r.2).collect();
    let evidence: Vec<AddressEvent> =
        events::table.filter(events::id.eq_any(&ids)).select(AddressEvent::as_select()).load(c)?;
    let suppressions: Vec<Entry> = rows
        .into_iter()
        .map(|(scope, source, event_id, reason, note, created_at, expires_at)| Entry {
            active: expires_at.is_none_or(|e| e > now),
            event: event_id.and_then(|id| evidence.iter().find(|e| e.id == id).cloned()),
            scope,
            source,
            reason,
            note,
            created_at,
            expires_at,
        })
        .collect();
    let allowlisted = Allowlist::load(c, configured)?.allows(&address);
    let page = events_of(c, &address, page)?;
    let shown: Vec<i64> = page.rows.iter().map(|e| e.id).collect();
    let evidence = super::evidence::of_events(c, &shown)?;
    Ok(AddressReport {
        evidence,
        suppressed: suppressions.iter().any(|s| s.active),
        allowlisted,
        address,
        suppressions,
        events: page.rows,
        next: page.next.map(|c| c.0),
    })
}
