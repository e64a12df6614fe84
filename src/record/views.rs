//! Per-campaign views: BOUNCED and COMPLAINTS, filtered, in keyset pages newest first, and
//! the campaign list with counts and rates.
//!
//! Takes a campaign id, a [`Filter`] and a [`Page`]; gives rows with the columns people read
//! (the CLI prints them, the API serves them as JSON and CSV) and the next page's cursor. It
//! never writes.

use crate::store::schema::{campaigns, events, mailboxes, suppressions};
use crate::store::{AnyConnection, BadCursor, Cursor, Page, PageError, Paged, StoreError};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

/// A row of the BOUNCED view: every failed delivery of the campaign, including those the
/// rules told rebound to ignore (a 5.7.1 "DKIM did not verify" is what the operator must see).
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Bounced {
    pub id: i64,
    pub email: String,
    /// `hard` (the failure is permanent) or `soft` (temporary): what the server said, not
    /// what rebound did about it.
    #[serde(rename = "type")]
    pub kind: String,
    /// What the rules decided: `hard`, `soft` or `ignore`.
    pub classification: String,
    /// What rebound did: `suppressed`, `counted` (toward the soft threshold), `not counted`
    /// (ignored by `rule`), or `already suppressed` (or allowlisted: no new entry).
    pub action: String,
    pub rule: Option<String>,
    pub reason: String,
    pub status: Option<String>,
    /// The receiving server's own words.
    pub diagnostic: Option<String>,
    pub date: NaiveDateTime,
}

type BouncedRow =
    (i64, String, Option<i32>, String, Option<String>, String, Option<String>, Option<String>, NaiveDateTime);

/// A row of the COMPLAINTS view.
#[derive(Debug, Clone, Queryable, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Complaint {
    pub id: i64,
    pub email: String,
    pub feedback_type: Option<String>,
    /// The ISP that sent the report.
    pub reporting_isp: Option<String>,
    /// The feedback-loop mailbox it arrived in (or `file`).
    pub mailbox: String,
    pub classification: String,
    pub timestamp: NaiveDateTime,
}

/// What narrows a view: every field set must hold. Built by the API's query parameters
/// (and open to the CLI); the indexes of migration `view_indexes` serve each one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Bounces only: `Some(true)` permanent failures (type `hard`), `Some(false)` temporary.
    pub permanent: Option<bool>,
    /// The reason as the view shows it (the rule's, else the parser's).
    pub reason: Option<String>,
    /// The key of the rule that decided.
    pub rule: Option<String>,
    /// Complaints only: the report's Feedback-Type (`abuse`, `not-spam`, …).
    pub feedback_type: Option<String>,
    /// Recipients at exactly this domain (lower case).
    pub domain: Option<String>,
    /// Bounces with exactly this status code (`5.7.1`): the rows of one "why it failed" group.
    pub status: Option<String>,
    /// Events at or after this time.
    pub from: Option<NaiveDateTime>,
    /// Events before this time.
    pub to: Option<NaiveDateTime>,
}

impl Filter {
    /// A date-range bound as people write it: RFC 3339 (`2026-11-10T10:00:00Z`) or a day
    /// (`2026-11-10`). A day as the end (`to`) includes that whole day.
    pub fn bound(text: &str, end: bool) -> Result<NaiveDateTime, String> {
        let text = text.trim();
        if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
            return Ok(t.naive_utc());
        }
        let day = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .map_err(|_| format!("`{text}` is neither a date (2026-11-10) nor an RFC 3339 time"))?;
        let day = if end { day.succ_opt().unwrap_or(day) } else { day };
        Ok(day.and_hms_opt(0, 0, 0).expect("midnight exists"))
    }

    /// A recipient domain as the filter compares it; None when it cannot be one.
    pub fn parse_domain(text: &str) -> Option<String> {
        let d = text.trim().trim_start_matches('@').to_ascii_lowercase();
        let ok = !d.is_empty() && d.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '.');
        ok.then_some(d)
    }
}

type Events<'a> = events::BoxedQuery<'a, <AnyConnection as diesel::Connection>::Backend>;

/// The events of `kind` in `campaign` that pass `f`, newest first, after the page's cursor
/// (time, id), one more than the page holds.
fn page_query<'a>(campaign: &'a str, kind: &'a str, f: &'a Filter, page: &Page) -> Result<Events<'a>, BadCursor> {
    let mut q = events::table.filter(events::campaign_id.eq(campaign)).filter(events::kind.eq(kind)).into_boxed();
    if let Some(p) = f.permanent {
        q = q.filter(events::permanent.eq(i32::from(p)));
    }
    if let Some(r) = &f.reason {
        q = q.filter(events::reason.eq(r));
    }
    if let Some(r) = &f.rule {
        q = q.filter(events::rule_key.eq(r));
    }
    if let Some(t) = &f.feedback_type {
        q = q.filter(events::feedback_type.eq(t));
    }
    if let Some(d) = &f.domain {
        q = q.filter(events::recipient_domain.eq(d));
    }
    if let Some(st) = &f.status {
        q = q.filter(events::status.eq(st));
    }
    if let Some(t) = f.from {
        q = q.filter(events::occurred_at.ge(t));
    }
    if let Some(t) = f.to {
        q = q.filter(events::occurred_at.lt(t));
    }
    if let Some((t, id)) = page.after.as_ref().map(Cursor::to_time_id).transpose()? {
        // `<= t` bounds the index range (an `a < t OR (a = t AND …)` alone would make both
        // databases walk the index from its start on a deep page); the second condition
        // drops the rows of that same instant at or above the cursor's id.
        q = q.filter(events::occurred_at.le(t)).filter(events::occurred_at.lt(t).or(events::id.lt(id)));
    }
    Ok(q.order((events::occurred_at.desc(), events::id.desc())).limit(page.limit + 1))
}

/// `uncounted`: the soft reasons the suppression policy does not count
/// (`suppression.soft_uncounted_reasons`), for the `action` column.
pub fn bounced(
    c: &mut AnyConnection,
    campaign: &str,
    filter: &Filter,
    page: &Page,
    uncounted: &[String],
) -> Result<Paged<Bounced>, PageError> {
    let rows: Vec<BouncedRow> = page_query(campaign, "bounce", filter, page)?
        .select((
            events::id,
            events::recipient.assume_not_null(),
            events::permanent,
            events::classification,
            events::rule_key,
            events::reason,
            events::status,
            events::diagnostic,
            events::occurred_at,
        ))
        .load(c)?;
    // Which of these events are the evidence of a suppression (one lookup per page).
    let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
    let evidence: std::collections::HashSet<i64> = suppressions::table
        .filter(suppressions::event_id.eq_any(&ids))
        .select(suppressions::event_id.assume_not_null())
        .load::<i64>(c)?
        .into_iter()
        .collect();
    let rows = rows
        .into_iter()
        .map(|(id, email, permanent, classification, rule, reason, status, diagnostic, date)| {
            let permanent = permanent.map_or(classification == "hard", |p| p != 0);
            let action = match classification.as_str() {
                _ if evidence.contains(&id) => "suppressed",
                "soft" if !uncounted.contains(&reason) => "counted",
                "hard" | "complaint" => "already suppressed",
                _ => "not counted",
            };
            Bounced {
                id,
                email,
                kind: if permanent { "hard" } else { "soft" }.into(),
                classification,
                action: action.into(),
                rule,
                reason,
                status,
                diagnostic,
                date,
            }
        })
        .collect();
    Ok(Paged::of(rows, page, |r: &Bounced| Cursor::time_id(r.date, r.id)))
}

pub fn complaints(
    c: &mut AnyConnection,
    campaign: &str,
    filter: &Filter,
    page: &Page,
) -> Result<Paged<Complaint>, PageError> {
    let rows = page_query(campaign, "complaint", filter, page)?
        .select((
            events::id,
            events::recipient.assume_not_null(),
            events::feedback_type,
            events::reporting_isp,
            events::source,
            events::classification,
            events::occurred_at,
        ))
        .load(c)?;
    let mut rows: Vec<Complaint> = rows;
    // Events name their mailbox by its stable id (`mailbox:<id>`); people read its name.
    let ids: Vec<i64> = rows.iter().filter_map(|r| mailbox_id(&r.mailbox)).collect();
    if !ids.is_empty() {
        let names: std::collections::HashMap<i64, String> = mailboxes::table
            .filter(mailboxes::id.eq_any(&ids))
            .select((mailboxes::id, mailboxes::name))
            .load::<(i64, String)>(c)?
            .into_iter()
            .collect();
        for r in &mut rows {
            if let Some(name) = mailbox_id(&r.mailbox).and_then(|id| names.get(&id)) {
                r.mailbox = name.clone();
            }
        }
    }
    Ok(Paged::of(rows, page, |r: &Complaint| Cursor::time_id(r.timestamp, r.id)))
}

/// The mailbox id of an event source `mailbox:<id>` (imports say `file`).
fn mailbox_id(source: &str) -> Option<i64> {
    source.strip_prefix("mailbox:")?.parse().ok()
}

/// A campaign with its counts and, where the sent map knows how many were sent, rates.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct CampaignSummary {
    pub id: String,
    /// Events by what the rules decided: hard, soft, complaint, ignore.
    pub hard: i64,
    pub soft: i64,
    pub complaints: i64,
    pub ignored: i64,
    /// Failed deliveries (every bounce, whatever the rules made of it) by what the server
    /// said: permanent, temporary.
    pub failed_permanent: i64,
    pub failed_temporary: i64,
    /// Messages the sent map attributes to the campaign (null: none imported).
    pub sent: Option<i64>,
    /// Failed deliveries / sent.
    pub bounce_rate: Option<f64>,
    /// Permanent failures / sent.
    pub hard_bounce_rate: Option<f64>,
    /// Temporary failures / sent.
    pub soft_bounce_rate: Option<f64>,
    /// Complaints / sent.
    pub complaint_rate: Option<f64>,
    pub first_event_at: Option<NaiveDateTime>,
    pub last_event_at: Option<NaiveDateTime>,
}

type CampaignRow = (String, i64, i64, i64, i64, i64, i64, Option<NaiveDateTime>, Option<NaiveDateTime>);

fn summary(row: CampaignRow, sent: Option<i64>) -> CampaignSummary {
    let (id, hard, soft, complaints, ignored, failed_permanent, failed_temporary, first_event_at, last_event_at) = row;
    let sent = sent.filter(|n| *n > 0);
    let rate = |n: i64| sent.map(|s| n as f64 / s as f64);
    CampaignSummary {
        // Every failed delivery, as the BOUNCED view lists them.
        bounce_rate: rate(failed_permanent + failed_temporary),
        hard_bounce_rate: rate(failed_permanent),
        soft_bounce_rate: rate(failed_temporary),
        complaint_rate: rate(complaints),
        id,
        hard,
        soft,
        complaints,
        ignored,
        failed_permanent,
        failed_temporary,
        sent,
        first_event_at,
        last_event_at,
    }
}

type CampaignColumns = (
    campaigns::id,
    campaigns::hard,
    campaigns::soft,
    campaigns::complaints,
    campaigns::ignored,
    campaigns::failed_permanent,
    campaigns::failed_temporary,
    campaigns::first_event_at,
    campaigns::last_event_at,
);

const CAMPAIGN_COLUMNS: CampaignColumns = (
    campaigns::id,
    campaigns::hard,
    campaigns::soft,
    campaigns::complaints,
    campaigns::ignored,
    campaigns::failed_permanent,
    campaigns::failed_temporary,
    campaigns::first_event_at,
    campaigns::last_event_at,
);

/// Every campaign, latest activity first, from its counters (no event is counted here).
pub fn campaigns(c: &mut AnyConnection) -> Result<Vec<CampaignSummary>, StoreError> {
    let rows: Vec<CampaignRow> = campaigns::table
        .order((campaigns::last_event_at.desc(), campaigns::id.asc()))
        .select(CAMPAIGN_COLUMNS)
        .load(c)?;
    let sent = super::sent::counts(c)?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let n = sent.get(&row.0).copied();
            summary(row, n)
        })
        .collect())
}

/// One campaign's summary (None: no event was ever attributed to it).
pub fn campaign(c: &mut AnyConnection, id: &str) -> Result<Option<CampaignSummary>, StoreError> {
    let Some(row) = campaigns::table.find(id).select(CAMPAIGN_COLUMNS).first::<CampaignRow>(c).optional()? else {
        return Ok(None);
    };
    let sent = super::sent::count(c, id)?;
    Ok(Some(summary(row, Some(sent))))
}
