//! Alert episodes in the database: fired, resolved, listed.
//!
//! Takes what an evaluation found per (rule, group); gives the episodes opened and closed,
//! each with its `alert.fired` / `alert.resolved` event in the same transaction (so the
//! webhook channel is as durable as every other event). A group fires once per episode, and
//! not again until `cooldown_minutes` after its last episode resolved.

use crate::config::AlertConfig;
use crate::notify::event::{AlertData, EventData, Outgoing};
use crate::store::schema::alert_episodes;
use crate::store::{AnyConnection, Cursor, Page, PageError, Paged, StoreError};
use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use serde::Serialize;
use std::collections::BTreeMap;

/// One episode as the API lists it.
#[derive(Debug, Clone, Queryable, Selectable, Serialize, PartialEq, Eq, utoipa::ToSchema)]
#[diesel(table_name = alert_episodes)]
pub struct Episode {
    pub id: i64,
    pub rule: String,
    /// The group it is about (a campaign, a recipient domain, a mailbox …; empty: all).
    pub group_key: String,
    /// What the criteria measured when it fired.
    pub summary: String,
    pub fired_at: NaiveDateTime,
    /// Null while it is active.
    pub resolved_at: Option<NaiveDateTime>,
    /// What each channel answered (`pushover: ok`, `email: …`).
    pub notified: Option<String>,
}

/// Opens an episode for each group of `holding` without an active one (and out of cooldown),
/// closes the active ones whose group no longer holds; gives both, in one transaction.
pub fn apply(
    c: &mut AnyConnection,
    rule: &AlertConfig,
    holding: &BTreeMap<String, String>,
    now: NaiveDateTime,
) -> Result<(Vec<Episode>, Vec<Episode>), StoreError> {
    crate::store::transaction(c, |c| {
        let active: Vec<Episode> = alert_episodes::table
            .filter(alert_episodes::rule.eq(&rule.name))
            .filter(alert_episodes::resolved_at.is_null())
            .select(Episode::as_select())
            .load(c)?;
        let mut fired = Vec::new();
        for (group, summary) in holding {
            if active.iter().any(|e| &e.group_key == group) {
                continue;
            }
            let last: Option<NaiveDateTime> = alert_episodes::table
                .filter(alert_episodes::rule.eq(&rule.name))
                .filter(alert_episodes::group_key.eq(group))
                .select(diesel::dsl::max(alert_episodes::resolved_at))
                .first(c)?;
            if last.is_some_and(|t| now < t + Duration::minutes(i64::from(rule.cooldown_minutes))) {
                continue;
            }
            let id = diesel::insert_into(alert_episodes::table)
                .values((
                    alert_episodes::rule.eq(&rule.name),
                    alert_episodes::group_key.eq(group),
                    alert_episodes::summary.eq(summary),
                    alert_episodes::fired_at.eq(now),
                ))
                .returning(alert_episodes::id)
                .get_result::<i64>(c)?;
            let e = Episode {
                id,
                rule: rule.name.clone(),
                group_key: group.clone(),
                summary: summary.clone(),
                fired_at: now,
                resolved_at: None,
                notified: None,
            };
            fired.push(e);
        }
        let mut resolved = Vec::new();
        for mut e in active.into_iter().filter(|e| !holding.contains_key(&e.group_key)) {
            diesel::update(alert_episodes::table.find(e.id)).set(alert_episodes::resolved_at.eq(now)).execute(c)?;
            e.resolved_at = Some(now);
            resolved.push(e);
        }
        if rule.channels.iter().any(|ch| ch == "webhook") {
            let events: Vec<Outgoing> = fired
                .iter()
                .map(|e| event("alert.fired", e, now))
                .chain(resolved.iter().map(|e| event("alert.resolved", e, now)))
                .collect();
            crate::notify::emit(c, |_| events)?;
        }
        Ok((fired, resolved))
    })
}

fn event(kind: &str, e: &Episode, now: NaiveDateTime) -> Outgoing {
    let data = AlertData {
        rule: e.rule.clone(),
        state: if e.resolved_at.is_some() { "resolved" } else { "firing" }.into(),
        summary: title(e),
        episode_id: e.id,
        fired_at: e.fired_at,
        resolved_at: e.resolved_at,
    };
    Outgoing::new(kind, now, EventData::Alert(data))
}

/// One line naming the rule, the group and what was measured.
pub fn title(e: &Episode) -> String {
    let group = if e.group_key.is_empty() { String::new() } else { format!(" ({})", e.group_key) };
    format!("{}{group}: {}", e.rule, e.summary)
}

/// Notes what the channels answered.
pub fn noted(c: &mut AnyConnection, id: i64, what: &str) -> Result<(), StoreError> {
    diesel::update(alert_episodes::table.find(id)).set(alert_episodes::notified.eq(what)).execute(c)?;
    Ok(())
}

/// The active episodes, oldest first.
pub fn active(c: &mut AnyConnection) -> Result<Vec<Episode>, StoreError> {
    Ok(alert_episodes::table
        .filter(alert_episodes::resolved_at.is_null())
        .order(alert_episodes::id.asc())
        .select(Episode::as_select())
        .load(c)?)
}

/// Every episode, newest first, in keyset pages.
pub fn history(c: &mut AnyConnection, page: &Page) -> Result<Paged<Episode>, PageError> {
    let before = page.after.as_ref().map(Cursor::to_id).transpose()?;
    let mut q = alert_episodes::table
        .order(alert_episodes::id.desc())
        .limit(page.limit + 1)
        .select(Episode::as_select())
        .into_boxed();
    if let Some(b) = before {
        q = q.filter(alert_episodes::id.lt(b));
    }
    let rows = q.load(c)?;
    Ok(Paged::of(rows, page, |e: &Episode| Cursor::id(e.id)))
}
