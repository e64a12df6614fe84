//! Per-campaign views: BOUNCED and COMPLAINTS, in keyset pages, newest first, and the
//! campaign list with counts and rates.

use crate::store::schema::{campaigns, events, mailboxes, sent_messages, suppressions};
use crate::store::{AnyConnection, BadCursor, Cursor, Page, PageError, Paged, StoreError};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

/// A row of the BOUNCED view: every failed delivery of the campaign, including those the
/// rules told rebound to ignore (a 5.7.1 "DKIM did not verify" is what the operator must see).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
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
#[derive(Debug, Clone, Queryable, Serialize, PartialEq, Eq)]
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

/// Events newest first, after the page's cursor (time, id).
fn after(page: &Page) -> Result<Option<(NaiveDateTime, i64)>, BadCursor> {
    page.after.as_ref().map(Cursor::to_time_id).transpose()
}

/// `uncounted`: the soft reasons the suppression policy does not count
/// (`suppression.soft_uncounted_reasons`), for the `action` column.
pub fn bounced(
    c: &mut AnyConnection,
    campaign: &str,
    page: &Page,
    uncounted: &[String],
) -> Result<Paged<Bounced>, PageError> {
    let mut q = events::table.filter(events::campaign_id.eq(campaign)).filter(events::kind.eq("bounce")).into_boxed();
    if let Some((t, id)) = after(page)? {
        q = q.filter(events::occurred_at.lt(t).or(events::occurred_at.eq(t).and(events::id.lt(id))));
    }
    let rows: Vec<BouncedRow> = q
        .order((events::occurred_at.desc(), events::id.desc()))
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
        .limit(page.limit + 1)
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

pub fn complaints(c: &mut AnyConnection, campaign: &str, page: &Page) -> Result<Paged<Complaint>, PageError> {
    let mut q =
        events::table.filter(events::campaign_id.eq(campaign)).filter(events::kind.eq("complaint")).into_boxed();
    if let Some((t, id)) = after(page)? {
        q = q.filter(events::occurred_at.lt(t).or(events::occurred_at.eq(t).and(events::id.lt(id))));
    }
    let rows = q
        .order((events::occurred_at.desc(), events::id.desc()))
        .select((
            events::id,
            events::recipient.assume_not_null(),
            events::feedback_type,
            events::reporting_isp,
            events::source,
            events::classification,
            events::occurred_at,
        ))
        .limit(page.limit + 1)
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
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CampaignSummary {
    pub id: String,
    pub hard: i64,
    pub soft: i64,
    pub complaints: i64,
    pub ignored: i64,
    /// Failed deliveries (every bounce, whatever the rules made of it) by what the server
    /// said: permanent, temporary.
    pub failed_permanent: i64,
    pub failed_temporary: i64,
    pub sent: Option<i64>,
    pub bounce_rate: Option<f64>,
    pub complaint_rate: Option<f64>,
    pub last_event_at: Option<NaiveDateTime>,
}

pub fn campaigns(c: &mut AnyConnection) -> Result<Vec<CampaignSummary>, StoreError> {
    type Row = (String, i64, i64, i64, i64, Option<NaiveDateTime>);
    let rows: Vec<Row> = campaigns::table
        .order(campaigns::last_event_at.desc())
        .select((
            campaigns::id,
            campaigns::hard,
            campaigns::soft,
            campaigns::complaints,
            campaigns::ignored,
            campaigns::last_event_at,
        ))
        .load(c)?;
    // One grouped read for every campaign: (campaign, permanent?, count).
    let failed: Vec<(Option<String>, Option<i32>, i64)> = events::table
        .filter(events::kind.eq("bounce"))
        .filter(events::campaign_id.is_not_null())
        .group_by((events::campaign_id, events::permanent))
        .select((events::campaign_id, events::permanent, diesel::dsl::count_star()))
        .load(c)?;
    let failed_of = |id: &str, permanent: bool| -> i64 {
        failed
            .iter()
            .filter(|(c, p, _)| c.as_deref() == Some(id) && p.is_some_and(|p| p != 0) == permanent)
            .map(|(_, _, n)| n)
            .sum()
    };
    let sent: Vec<(String, i64)> = sent_messages::table
        .group_by(sent_messages::campaign_id)
        .select((sent_messages::campaign_id, diesel::dsl::count_star()))
        .load(c)?;
    Ok(rows
        .into_iter()
        .map(|(id, hard, soft, complaints, ignored, last_event_at)| {
            let sent = sent.iter().find(|(k, _)| *k == id).map(|(_, n)| *n).filter(|n| *n > 0);
            let rate = |n: i64| sent.map(|s| n as f64 / s as f64);
            let (failed_permanent, failed_temporary) = (failed_of(&id, true), failed_of(&id, false));
            CampaignSummary {
                // Every failed delivery, as the BOUNCED view lists them.
                bounce_rate: rate(failed_permanent + failed_temporary),
                failed_permanent,
                failed_temporary,
                complaint_rate: rate(complaints),
                id,
                hard,
                soft,
                complaints,
                ignored,
                sent,
                last_event_at,
            }
        })
        .collect())
}
