//! Reclassify: after the rules change, re-run them over stored records and bring events,
//! campaign counters (totals and per day), statistics and suppression in line — or, dry-run, only say
//! what would change.
//!
//! The rules see the stored fields (status, reply code, diagnostic, the parser's reason,
//! kind, feedback type, MTAs, recipient, subject, dialect); rules on the whole body or the
//! original sender cannot be re-applied once the raw message is purged, so they are not.
//! An address suppressed only by a record that is no longer hard (or a complaint) is
//! released, with an audit entry and a change-log entry for the sending nodes.

use super::{IngestError, Pipeline};
use crate::classify::{Engine, Facts, Outcome};
use crate::record::events;
use crate::store::AnyConnection;
use crate::store::schema::{event_provenance, events as ev, messages};
use crate::suppress::{Allowlist, Candidate};
use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

/// One record whose decision changes.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Reclassification {
    pub event_id: i64,
    pub recipient: String,
    pub from: String,
    pub to: String,
    pub old_rule: Option<String>,
    pub new_rule: String,
    pub reason: String,
    /// "suppressed", "released" or "" (suppression unchanged).
    pub suppression: String,
}

type Row = (
    i64,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<i32>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
    Option<String>,
    Option<String>,
    NaiveDateTime,
    Option<String>,
);

/// Re-runs the rules over events that occurred at or after `since`.
pub fn run(
    c: &mut AnyConnection,
    pipeline: &Pipeline,
    since: NaiveDateTime,
    dry_run: bool,
) -> Result<Vec<Reclassification>, IngestError> {
    let engine = pipeline.engine(c)?;
    let mut changes = Vec::new();
    let mut after = 0i64;
    loop {
        // Logged events have no message (and no subject); their MTA's own category is in
        // their provenance.
        let rows: Vec<Row> = ev::table
            .left_join(messages::table)
            .left_join(event_provenance::table)
            .filter(ev::occurred_at.ge(since))
            .filter(ev::id.gt(after))
            .filter(ev::recipient.is_not_null())
            .order(ev::id.asc())
            .limit(1000)
            .select((
                ev::id,
                ev::recipient.assume_not_null(),
                ev::kind,
                ev::classification,
                ev::parsed_reason,
                ev::rule_key,
                ev::reply_code,
                ev::status,
                ev::diagnostic,
                ev::feedback_type,
                ev::remote_mta,
                ev::reporting_mta,
                messages::subject.nullable(),
                ev::dialect,
                ev::campaign_id,
                ev::sending_domain,
                ev::occurred_at,
                event_provenance::mta_category.nullable(),
            ))
            .load(c)?;
        let Some(last) = rows.last() else { break };
        after = last.0;
        for row in &rows {
            if let Some(change) = decide(&engine, row) {
                let change = if dry_run { change } else { apply(c, pipeline, row, change)? };
                changes.push(change);
            }
        }
    }
    Ok(changes)
}

fn decide(engine: &Engine, r: &Row) -> Option<Reclassification> {
    let (
        id,
        recipient,
        kind,
        old,
        parsed_reason,
        old_rule,
        reply,
        status,
        diag,
        ft,
        remote,
        reporting,
        subject,
        dialect,
        _,
        _,
        _,
        mta_category,
    ) = r;
    let facts = Facts {
        status: status.as_deref(),
        reply_code: reply.and_then(|v| u16::try_from(v).ok()),
        diagnostic: diag.as_deref(),
        reason: Some(parsed_reason),
        kind: Some(kind),
        feedback_type: ft.as_deref(),
        remote_mta: remote.as_deref(),
        reporting_mta: reporting.as_deref(),
        recipient: Some(recipient),
        sender: None,
        subject: subject.as_deref(),
        dialect: Some(dialect),
        body: None,
        // A log's bounce category (PowerMTA bounceCat, KumoMTA bounce_classification).
        mta_category: mta_category.as_deref(),
    };
    let d = engine.classify(&facts)?;
    let outcome = super::mail::lifecycle_outcome(kind, d.outcome);
    let same = outcome.as_str() == old && old_rule.as_deref() == Some(d.rule_key);
    (!same).then(|| Reclassification {
        event_id: *id,
        recipient: recipient.clone(),
        from: old.clone(),
        to: outcome.as_str().to_string(),
        old_rule: old_rule.clone(),
        new_rule: d.rule_key.to_string(),
        reason: d.reason.unwrap_or(parsed_reason).to_string(),
        suppression: String::new(),
    })
}

fn apply(
    c: &mut AnyConnection,
    pipeline: &Pipeline,
    r: &Row,
    mut change: Reclassification,
) -> Result<Reclassification, IngestError> {
    let (id, recipient, campaign, sending_domain, occurred) = (r.0, &r.1, &r.14, &r.15, r.16);
    crate::store::transaction(c, |c| {
        let now = Utc::now().naive_utc();
        // The alert counters move the event from its old cell to its new one.
        crate::notify::alert::counts::event(c, id, -1)?;
        diesel::update(ev::table.find(id))
            .set((ev::classification.eq(&change.to), ev::rule_key.eq(&change.new_rule), ev::reason.eq(&change.reason)))
            .execute(c)?;
        crate::notify::alert::counts::event(c, id, 1)?;
        crate::record::stats::reclassified(c, id, &change.from, &change.to)?;
        if let Some(campaign) = campaign {
            events::recount(c, campaign, &change.from, &change.to)?;
            crate::record::counters::reclassified(c, campaign, occurred, &change.from, &change.to)?;
        }
        let to: Outcome = change.to.parse().map_err(|message| {
            IngestError::Rules(crate::classify::repo::RulesError::Corrupt { key: change.new_rule.clone(), message })
        })?;
        let detail = format!("event {id} reclassified {} -> {} by rule {}", change.from, change.to, change.new_rule);
        if !pipeline.policy().reconsider(c, &events::History, id, to, &detail, now)?.is_empty() {
            change.suppression = "released".into();
        }
        let allow = Allowlist::load(c, pipeline.allowlist())?;
        let facts = Candidate {
            event_id: id,
            recipient,
            outcome: to,
            reason: &change.reason,
            sending_domain: sending_domain.as_deref(),
            occurred_at: occurred,
            now,
        };
        if pipeline.policy().on_event(c, &allow, &events::History, &facts)?.is_some() {
            change.suppression = "suppressed".into();
        }
        Ok(change)
    })
}
