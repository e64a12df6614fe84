//! Events (one per parsed record) and the per-campaign counters kept beside them.

use crate::store::schema::{campaigns, events};
use crate::store::{AnyConnection, StoreError};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use std::collections::HashMap;

#[derive(Debug, Insertable)]
#[diesel(table_name = events)]
pub struct NewEvent<'a> {
    /// The stored message the event came from; `None` for evidence that is not a message.
    pub message_id: Option<i64>,
    pub idx: i32,
    pub recipient: Option<&'a str>,
    pub kind: &'a str,
    pub classification: &'a str,
    pub reason: &'a str,
    pub parsed_reason: &'a str,
    pub status: Option<&'a str>,
    pub reply_code: Option<i32>,
    pub diagnostic: Option<&'a str>,
    pub remote_mta: Option<&'a str>,
    pub reporting_mta: Option<&'a str>,
    pub rule_key: Option<&'a str>,
    pub feedback_type: Option<&'a str>,
    pub reporting_isp: Option<&'a str>,
    pub campaign_id: Option<&'a str>,
    pub attribution: &'a str,
    pub sending_domain: Option<&'a str>,
    pub source: &'a str,
    pub dialect: &'a str,
    pub occurred_at: NaiveDateTime,
    pub ingested_at: NaiveDateTime,
    /// `mail` (a message in the ledger) or `log` (a line of an MTA's log).
    pub origin: &'a str,
    /// What identifies the evidence when there is no message row (a log file and offset).
    pub origin_ref: Option<&'a str>,
    /// 1 when the failure is permanent, 0 when temporary (the parser's `permanent`).
    pub permanent: Option<i32>,
}

/// Inserts events; returns their ids in the same order.
pub fn insert_many(c: &mut AnyConnection, rows: &[NewEvent]) -> Result<Vec<i64>, StoreError> {
    if let AnyConnection::Sqlite(lite) = c {
        return insert_many_sqlite(lite, rows);
    }
    // 24 columns: half of CHUNK rows per statement.
    Ok(crate::insert_rows_returning_ids!(
        c,
        events::table,
        rows,
        super::ledger::CHUNK / 2,
        (events::message_id, events::origin_ref, events::idx) => (Option<i64>, Option<String>, i32),
        events::id,
        |r: &NewEvent| (r.message_id, r.origin_ref.map(str::to_string), r.idx)
    ))
}

/// The columns [`insert_many_sqlite`] writes, in its order.
const COLUMNS: [&str; 25] = [
    "message_id",
    "idx",
    "recipient",
    "kind",
    "classification",
    "reason",
    "parsed_reason",
    "status",
    "reply_code",
    "diagnostic",
    "remote_mta",
    "reporting_mta",
    "rule_key",
    "feedback_type",
    "reporting_isp",
    "campaign_id",
    "attribution",
    "sending_domain",
    "source",
    "dialect",
    "occurred_at",
    "ingested_at",
    "origin",
    "origin_ref",
    "permanent",
];

/// SQLite: one statement for the whole batch (`jsonb_each`), each row's id read back by its
/// key (RETURNING does not promise the order of the rows). Row by row through diesel, the
/// binding and the statement steps cost more than SQLite's own insert work.
fn insert_many_sqlite(lite: &mut diesel::SqliteConnection, rows: &[NewEvent]) -> Result<Vec<i64>, StoreError> {
    use crate::store::json_rows::{JsonRows, insert_sql};
    use diesel::sql_types::{BigInt, Integer, Nullable, Text};
    #[derive(QueryableByName)]
    struct Id {
        #[diesel(sql_type = BigInt)]
        id: i64,
        #[diesel(sql_type = Nullable<BigInt>)]
        message_id: Option<i64>,
        #[diesel(sql_type = Nullable<Text>)]
        origin_ref: Option<String>,
        #[diesel(sql_type = Integer)]
        idx: i32,
    }
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let mut json = JsonRows::with_capacity(rows.len() * 512);
    for r in rows {
        json.row()
            .int(r.message_id)
            .int(Some(i64::from(r.idx)))
            .text(r.recipient)
            .text(Some(r.kind))
            .text(Some(r.classification))
            .text(Some(r.reason))
            .text(Some(r.parsed_reason))
            .text(r.status)
            .int(r.reply_code.map(i64::from))
            .text(r.diagnostic)
            .text(r.remote_mta)
            .text(r.reporting_mta)
            .text(r.rule_key)
            .text(r.feedback_type)
            .text(r.reporting_isp)
            .text(r.campaign_id)
            .text(Some(r.attribution))
            .text(r.sending_domain)
            .text(Some(r.source))
            .text(Some(r.dialect))
            .time(r.occurred_at)
            .time(r.ingested_at)
            .text(Some(r.origin))
            .text(r.origin_ref)
            .int(r.permanent.map(i64::from));
    }
    let sql = format!("{} RETURNING id, message_id, origin_ref, idx", insert_sql("events", &COLUMNS));
    let got: Vec<Id> = diesel::sql_query(sql).bind::<Text, _>(json.finish()).load(lite)?;
    let mut ids: HashMap<(Option<i64>, Option<&str>, i32), i64> = HashMap::with_capacity(got.len());
    for g in &got {
        ids.insert((g.message_id, g.origin_ref.as_deref(), g.idx), g.id);
    }
    Ok(rows.iter().map(|r| ids.get(&(r.message_id, r.origin_ref, r.idx)).copied().unwrap_or_default()).collect())
}

/// Record indexes that already have an event (reprocessing skips them).
pub fn indexes_of(c: &mut AnyConnection, message: i64) -> Result<Vec<i32>, StoreError> {
    Ok(events::table.filter(events::message_id.eq(Some(message))).select(events::idx).load(c)?)
}

/// Counter increments for one campaign: hard, soft, complaints, ignored (by what the rules
/// decided), failed deliveries by what the server said, and the latest and earliest event
/// times.
#[derive(Debug, Clone, Copy, Default)]
pub struct Tally {
    pub hard: i64,
    pub soft: i64,
    pub complaints: i64,
    pub ignored: i64,
    pub failed_permanent: i64,
    pub failed_temporary: i64,
    pub first: Option<NaiveDateTime>,
    pub last: Option<NaiveDateTime>,
}

impl Tally {
    /// `permanent`: for a bounce, whether the server said the failure is permanent (None for
    /// a complaint).
    pub fn add(&mut self, classification: &str, permanent: Option<bool>, at: NaiveDateTime) {
        match permanent {
            Some(true) => self.failed_permanent += 1,
            Some(false) => self.failed_temporary += 1,
            None => {}
        }
        match classification {
            "hard" => self.hard += 1,
            "soft" => self.soft += 1,
            "complaint" => self.complaints += 1,
            _ => self.ignored += 1,
        }
        self.first = Some(self.first.map_or(at, |f| f.min(at)));
        self.last = Some(self.last.map_or(at, |l| l.max(at)));
    }
}

/// Adds a batch's tally to its campaign (creating the campaign on first sight).
pub fn count(c: &mut AnyConnection, campaign: &str, t: &Tally) -> Result<(), StoreError> {
    let (h, s, p, i) = (t.hard, t.soft, t.complaints, t.ignored);
    let (fp, ft) = (t.failed_permanent, t.failed_temporary);
    let at = t.last;
    let updated = diesel::update(campaigns::table.find(campaign))
        .set((
            campaigns::hard.eq(campaigns::hard + h),
            campaigns::soft.eq(campaigns::soft + s),
            campaigns::complaints.eq(campaigns::complaints + p),
            campaigns::ignored.eq(campaigns::ignored + i),
            campaigns::failed_permanent.eq(campaigns::failed_permanent + fp),
            campaigns::failed_temporary.eq(campaigns::failed_temporary + ft),
            campaigns::last_event_at.eq(at),
        ))
        .execute(c)?;
    if updated == 0 {
        diesel::insert_into(campaigns::table)
            .values((
                campaigns::id.eq(campaign),
                campaigns::hard.eq(h),
                campaigns::soft.eq(s),
                campaigns::complaints.eq(p),
                campaigns::ignored.eq(i),
                campaigns::failed_permanent.eq(fp),
                campaigns::failed_temporary.eq(ft),
                campaigns::first_event_at.eq(t.first),
                campaigns::last_event_at.eq(at),
            ))
            .execute(c)?;
    }
    Ok(())
}

/// Moves one event from one counter to another (reclassification).
pub fn recount(c: &mut AnyConnection, campaign: &str, from: &str, to: &str) -> Result<(), StoreError> {
    let delta = |cls: &str, col: &str| -> i64 { i64::from(cls == col) };
    let d = |col: &str| delta(to, col) - delta(from, col);
    let ignored_from = i64::from(!["hard", "soft", "complaint"].contains(&from));
    let ignored_to = i64::from(!["hard", "soft", "complaint"].contains(&to));
    diesel::update(campaigns::table.find(campaign))
        .set((
            campaigns::hard.eq(campaigns::hard + d("hard")),
            campaigns::soft.eq(campaigns::soft + d("soft")),
            campaigns::complaints.eq(campaigns::complaints + d("complaint")),
            campaigns::ignored.eq(campaigns::ignored + (ignored_to - ignored_from)),
        ))
        .execute(c)?;
    Ok(())
}

/// The events table as the suppression policy asks about it.
pub struct History;

impl crate::suppress::EventHistory for History {
    fn soft_times(
        &self,
        c: &mut AnyConnection,
        who: &[&str],
        from: NaiveDateTime,
        to: NaiveDateTime,
        uncounted: &[String],
    ) -> Result<HashMap<String, Vec<NaiveDateTime>>, StoreError> {
        let mut out: HashMap<String, Vec<NaiveDateTime>> = HashMap::new();
        // In chunks: one DSN may name tens of thousands of recipients.
        for chunk in who.chunks(super::ledger::CHUNK) {
            let rows: Vec<(Option<String>, NaiveDateTime)> = events::table
                .filter(events::recipient.eq_any(chunk))
                .filter(events::classification.eq("soft"))
                .filter(events::occurred_at.gt(from))
                .filter(events::occurred_at.le(to))
                .filter(events::reason.ne_all(uncounted))
                .select((events::recipient, events::occurred_at))
                .load(c)?;
            for (r, t) in rows {
                out.entry(r.unwrap_or_default()).or_default().push(t);
            }
        }
        Ok(out)
    }

    fn other_evidence(
        &self,
        c: &mut AnyConnection,
        address: &str,
        except: i64,
        outcome: crate::classify::Outcome,
    ) -> Result<Option<i64>, StoreError> {
        Ok(events::table
            .filter(events::recipient.eq(address))
            .filter(events::id.ne(except))
            .filter(events::classification.eq(outcome.as_str()))
            .select(events::id)
            .first(c)
            .optional()?)
    }

    fn evidence(
        &self,
        c: &mut AnyConnection,
        ids: &[i64],
    ) -> Result<HashMap<i64, crate::suppress::search::Evidence>, StoreError> {
        type Row = (
            i64,
            Option<String>,
            String,
            String,
            String,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            NaiveDateTime,
        );
        let mut out = HashMap::new();
        for chunk in ids.chunks(super::ledger::CHUNK) {
            let rows: Vec<Row> = events::table
                .filter(events::id.eq_any(chunk))
                .select((
                    events::id,
                    events::campaign_id,
                    events::kind,
                    events::classification,
                    events::reason,
                    events::status,
                    events::diagnostic,
                    events::remote_mta,
                    events::rule_key,
                    events::occurred_at,
                ))
                .load(c)?;
            for (event_id, campaign_id, kind, classification, reason, status, diagnostic, remote_mta, rule_key, at) in
                rows
            {
                let e = crate::suppress::search::Evidence {
                    event_id,
                    campaign_id,
                    kind,
                    classification,
                    reason,
                    status,
                    diagnostic,
                    remote_mta,
                    rule_key,
                    occurred_at: at,
                };
                out.insert(event_id, e);
            }
        }
        Ok(out)
    }
}

/// What alert criteria look at of one stored event.
#[derive(Debug, Clone, Queryable, QueryableByName)]
#[diesel(table_name = events)]
pub struct Facts {
    pub id: i64,
    pub kind: String,
    pub classification: String,
    pub reason: String,
    pub status: Option<String>,
    pub rule_key: Option<String>,
    pub diagnostic: Option<String>,
    pub campaign_id: Option<String>,
    pub sending_domain: Option<String>,
    pub recipient_domain: Option<String>,
    pub remote_mta: Option<String>,
    pub source: String,
    pub occurred_at: NaiveDateTime,
}

/// Events after id `after` (ingested at or after `from`), in id order, at most `limit`: a
/// range of the primary key, so following a cursor reads only what is new.
pub fn facts_after(
    c: &mut AnyConnection,
    after: i64,
    from: NaiveDateTime,
    limit: i64,
) -> Result<Vec<Facts>, StoreError> {
    Ok(events::table
        .filter(events::id.gt(after))
        .filter(events::ingested_at.ge(from))
        .order(events::id.asc())
        .limit(limit)
        .select((
            events::id,
            events::kind,
            events::classification,
            events::reason,
            events::status,
            events::rule_key,
            events::diagnostic,
            events::campaign_id,
            events::sending_domain,
            events::recipient_domain,
            events::remote_mta,
            events::source,
            events::occurred_at,
        ))
        .load(c)?)
}
