//! Events (one per parsed record) and the per-campaign counters kept beside them.

use crate::store::schema::{campaigns, events};
use crate::store::{AnyConnection, StoreError};
use chrono::NaiveDateTime;
use diesel::prelude::*;

#[derive(Debug, Insertable)]
#[diesel(table_name = events)]
pub struct NewEvent<'a> {
    pub message_id: i64,
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
}

pub fn insert(c: &mut AnyConnection, e: &NewEvent) -> Result<i64, StoreError> {
    Ok(diesel::insert_into(events::table).values(e).returning(events::id).get_result(c)?)
}

/// Record indexes that already have an event (reprocessing skips them).
pub fn indexes_of(c: &mut AnyConnection, message: i64) -> Result<Vec<i32>, StoreError> {
    Ok(events::table.filter(events::message_id.eq(message)).select(events::idx).load(c)?)
}

/// Counts one event toward its campaign.
pub fn count(c: &mut AnyConnection, campaign: &str, classification: &str, at: NaiveDateTime) -> Result<(), StoreError> {
    let (h, s, p, i) = match classification {
        "hard" => (1, 0, 0, 0),
        "soft" => (0, 1, 0, 0),
        "complaint" => (0, 0, 1, 0),
        _ => (0, 0, 0, 1),
    };
    let updated = diesel::update(campaigns::table.find(campaign))
        .set((
            campaigns::hard.eq(campaigns::hard + h),
            campaigns::soft.eq(campaigns::soft + s),
            campaigns::complaints.eq(campaigns::complaints + p),
            campaigns::ignored.eq(campaigns::ignored + i),
            campaigns::last_event_at.eq(Some(at)),
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
                campaigns::first_event_at.eq(Some(at)),
                campaigns::last_event_at.eq(Some(at)),
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
