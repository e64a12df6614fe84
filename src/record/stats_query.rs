//! Reading the delivery statistics: counts and rates of delivered / deferred / bounced /
//! complained for a range of hours and optionally one campaign, in total and grouped by
//! month, day, day of month, day of week or hour (in a fixed UTC offset), or by one
//! dimension (recipient domain, its mailbox provider, remote host, sender, node, vmta, source IP, status code,
//! reason, or "why": status × domain × node × IP).
//!
//! Takes a [`Query`] (made by [`Asked::query`] from what the faces were given); gives
//! [`Stats`]. It reads only `stats_counts` (kept by
//! [`super::stats`]): the hours of the range for the total and the time groupings, and for a
//! dimension its whole UTC days from day rows plus the partial first and last days from hour
//! rows — so a query reads about (days × keys) rows whatever the number of events. Times are
//! UTC; an offset (whole hours, -12 to +14) shifts the time groupings and the days a date
//! names. It never writes.

use super::stats::{Counts, DAY, EVERY, SEP};
pub use super::stats_ask::{Asked, By, range};
use crate::store::{AnyConnection, StoreError};
use chrono::{DateTime, Datelike, NaiveDateTime, Timelike};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use serde::Serialize;
use std::collections::BTreeMap;

/// What to count.
#[derive(Debug, Clone)]
pub struct Query {
    /// Hour-aligned UTC times, `from` included, `to` excluded.
    pub from: NaiveDateTime,
    pub to: NaiveDateTime,
    pub campaign: Option<String>,
    pub by: By,
    /// Hours east of UTC the time groupings are in.
    pub offset_hours: i32,
    /// Most groups of a dimension given, largest first (time groupings are all given).
    pub top: usize,
}

/// Counts and the rates made of them (`None` when there is nothing to divide by).
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Figures {
    pub delivered: i64,
    /// Temporary failures (each attempt; a message deferred twice counts twice).
    pub deferred: i64,
    /// Refused (and bounces the MTA learned of later), not counting `expired`.
    pub bounced: i64,
    /// Given up after the MTA's queue lifetime.
    pub expired: i64,
    /// Of `bounced` + `expired`: classified hard by the rules.
    pub hard: i64,
    /// Of `bounced` + `expired`: classified soft.
    pub soft: i64,
    pub complained: i64,
    /// Auto-replies and reports of no known kind.
    pub other: i64,
    /// delivered / (delivered + bounced + expired): of the messages with a final outcome.
    pub delivery_rate: Option<f64>,
    /// (bounced + expired) / (delivered + bounced + expired).
    pub bounce_rate: Option<f64>,
    /// deferred / (delivered + deferred + bounced + expired): of all attempts.
    pub deferral_rate: Option<f64>,
    /// complained / delivered.
    pub complaint_rate: Option<f64>,
}

impl Figures {
    fn of(n: &Counts) -> Figures {
        let rate = |a: i64, b: i64| (b > 0).then(|| a as f64 / b as f64);
        let done = n.delivered + n.bounced + n.expired;
        Figures {
            delivered: n.delivered,
            deferred: n.deferred,
            bounced: n.bounced,
            expired: n.expired,
            hard: n.hard,
            soft: n.soft,
            complained: n.complained,
            other: n.other,
            delivery_rate: rate(n.delivered, done),
            bounce_rate: rate(n.bounced + n.expired, done),
            deferral_rate: rate(n.deferred, done + n.deferred),
            complaint_rate: rate(n.complained, n.delivered),
        }
    }

    /// Every event counted once.
    pub fn events(&self) -> i64 {
        self.delivered + self.deferred + self.bounced + self.expired + self.complained + self.other
    }
}

/// The parts of a `why` group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct WhyKey {
    pub status: String,
    pub domain: String,
    pub node: String,
    pub source_ip: String,
}

/// One group: its key (`""`: the events had no value) and its figures.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Group {
    /// `2026-11` (month), `2026-11-03` (day), `03` (day of month), `Mon` (day of week), `07`
    /// (hour), or the dimension's value (a `why` key's parts joined by `/`).
    pub key: String,
    /// A `why` group's parts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<WhyKey>,
    #[serde(flatten)]
    pub figures: Figures,
}

/// The answer.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Stats {
    #[schema(value_type = String)]
    pub from: NaiveDateTime,
    #[schema(value_type = String)]
    pub to: NaiveDateTime,
    pub offset_hours: i32,
    pub campaign: Option<String>,
    pub by: By,
    pub total: Figures,
    pub groups: Vec<Group>,
    /// Groups of the dimension beyond `top`, left out.
    pub omitted: usize,
}

fn hours(t: NaiveDateTime) -> i64 {
    t.and_utc().timestamp().div_euclid(3600)
}

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = Text)]
    k: String,
    #[diesel(sql_type = BigInt)]
    bucket: i64,
    #[diesel(sql_type = BigInt)]
    delivered: i64,
    #[diesel(sql_type = BigInt)]
    deferred: i64,
    #[diesel(sql_type = BigInt)]
    bounced: i64,
    #[diesel(sql_type = BigInt)]
    expired: i64,
    #[diesel(sql_type = BigInt)]
    hard: i64,
    #[diesel(sql_type = BigInt)]
    soft: i64,
    #[diesel(sql_type = BigInt)]
    complained: i64,
    #[diesel(sql_type = BigInt)]
    other: i64,
}

impl Row {
    fn counts(&self) -> Counts {
        Counts {
            delivered: self.delivered,
            deferred: self.deferred,
            bounced: self.bounced,
            expired: self.expired,
            hard: self.hard,
            soft: self.soft,
            complained: self.complained,
            other: self.other,
        }
    }
}

const SUMS: &str = "CAST(SUM(delivered) AS BIGINT) AS delivered, CAST(SUM(deferred) AS BIGINT) AS deferred, \
    CAST(SUM(bounced) AS BIGINT) AS bounced, CAST(SUM(expired) AS BIGINT) AS expired, \
    CAST(SUM(hard) AS BIGINT) AS hard, CAST(SUM(soft) AS BIGINT) AS soft, \
    CAST(SUM(complained) AS BIGINT) AS complained, CAST(SUM(other) AS BIGINT) AS other";

/// The campaign's per-hour totals over [from, to) hours (one row per hour with events).
fn hourly(c: &mut AnyConnection, campaign: &str, from: i64, to: i64) -> Result<Vec<Row>, StoreError> {
    Ok(diesel::sql_query(format!(
        "SELECT '' AS k, bucket, {SUMS} FROM stats_counts \
         WHERE dim = 'all' AND campaign = $1 AND span = 1 AND bucket >= $2 AND bucket < $3 GROUP BY bucket"
    ))
    .bind::<Text, _>(campaign)
    .bind::<BigInt, _>(from)
    .bind::<BigInt, _>(to)
    .load(c)?)
}

/// One dimension's keys over [from, to) hours: whole UTC days from day rows, the rest from
/// hour rows (three ranges of the primary key).
fn keyed(c: &mut AnyConnection, dim: &str, campaign: &str, from: i64, to: i64) -> Result<Vec<Row>, StoreError> {
    let first_day = (from + DAY - 1).div_euclid(DAY) * DAY;
    let last_day = to.div_euclid(DAY) * DAY;
    let (days, edges) = if first_day < last_day {
        ((first_day, last_day), [(from, first_day), (last_day, to)])
    } else {
        ((0, 0), [(from, to), (0, 0)])
    };
    let part = |span: i64, n: usize| {
        format!(
            "SELECT dim_key, {SUMS} FROM stats_counts WHERE dim = $1 AND campaign = $2 AND span = {span} \
                 AND bucket >= ${} AND bucket < ${} GROUP BY dim_key",
            n,
            n + 1
        )
    };
    Ok(diesel::sql_query(format!(
        "SELECT dim_key AS k, CAST(0 AS BIGINT) AS bucket, {SUMS} FROM ({} UNION ALL {} UNION ALL {}) p GROUP BY dim_key",
        part(DAY, 3),
        part(1, 5),
        part(1, 7)
    ))
    .bind::<Text, _>(dim)
    .bind::<Text, _>(campaign)
    .bind::<BigInt, _>(days.0)
    .bind::<BigInt, _>(days.1)
    .bind::<BigInt, _>(edges[0].0)
    .bind::<BigInt, _>(edges[0].1)
    .bind::<BigInt, _>(edges[1].0)
    .bind::<BigInt, _>(edges[1].1)
    .load(c)?)
}

const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// Counts and rates for the query.
pub fn query(c: &mut AnyConnection, q: &Query) -> Result<Stats, StoreError> {
    let campaign = q.campaign.as_deref().unwrap_or(EVERY);
    let (from, to) = (hours(q.from), hours(q.to));
    let hourly = hourly(c, campaign, from, to)?;
    let mut total = Counts::default();
    hourly.iter().for_each(|r| total.add(&r.counts()));
    let shift = chrono::Duration::hours(q.offset_hours.into());
    let local = |hour: i64| DateTime::from_timestamp(hour * 3600, 0).unwrap_or_default().naive_utc() + shift;
    let mut omitted = 0;
    let groups: Vec<(String, Counts)> = match q.by.dim() {
        None => {
            let label = |t: NaiveDateTime| match q.by {
                By::Month => t.format("%Y-%m").to_string(),
                By::Day => t.format("%Y-%m-%d").to_string(),
                By::DayOfMonth => format!("{:02}", t.day()),
                By::DayOfWeek => WEEKDAYS[t.weekday().num_days_from_monday() as usize].to_string(),
                By::Hour => format!("{:02}", t.hour()),
                _ => String::new(),
            };
            // Every group of the range, with events or not, in their natural order.
            let mut per: BTreeMap<String, Counts> = BTreeMap::new();
            match q.by {
                By::Total => {}
                By::DayOfMonth => per.extend((1..=31).map(|d| (format!("{d:02}"), Counts::default()))),
                By::DayOfWeek => per.extend(WEEKDAYS.iter().map(|d| (d.to_string(), Counts::default()))),
                By::Hour => per.extend((0..24).map(|h| (format!("{h:02}"), Counts::default()))),
                _ => {
                    // Each day (and so each month) of the range: a step of a day meets them all.
                    per.extend(
                        (from..to).step_by(DAY as usize).chain([to - 1]).map(|h| (label(local(h)), Counts::default())),
                    )
                }
            }
            if q.by != By::Total {
                for r in &hourly {
                    per.entry(label(local(r.bucket))).or_default().add(&r.counts());
                }
            }
            let mut v: Vec<(String, Counts)> = per.into_iter().collect();
            if q.by == By::DayOfWeek {
                v.sort_by_key(|(k, _)| WEEKDAYS.iter().position(|d| d == k));
            }
            v
        }
        Some(dim) => {
            let rows = keyed(c, dim, campaign, from, to)?;
            let mut v: Vec<(String, Counts)> = if q.by == By::Provider {
                let mut per: BTreeMap<String, Counts> = BTreeMap::new();
                rows.iter().for_each(|r| per.entry(super::provider::label(&r.k)).or_default().add(&r.counts()));
                per.into_iter().collect()
            } else {
                rows.into_iter().map(|r| (r.k.clone(), r.counts())).collect()
            };
            let weight = |n: &Counts| {
                if q.by == By::Why { n.bounced + n.expired } else { Figures::of(n).events() }
            };
            v.retain(|(_, n)| weight(n) != 0);
            v.sort_by(|a, b| weight(&b.1).cmp(&weight(&a.1)).then_with(|| a.0.cmp(&b.0)));
            omitted = v.len().saturating_sub(q.top);
            v.truncate(q.top);
            v
        }
    };
    let groups = groups
        .into_iter()
        .map(|(key, n)| {
            let why = (q.by == By::Why).then(|| {
                let mut p = key.split(SEP).map(str::to_string);
                let mut next = || p.next().unwrap_or_default();
                WhyKey { status: next(), domain: next(), node: next(), source_ip: next() }
            });
            let key = if q.by == By::Why { key.replace(SEP, " / ") } else { key };
            Group { key, why, figures: Figures::of(&n) }
        })
        .collect();
    Ok(Stats {
        from: q.from,
        to: q.to,
        offset_hours: q.offset_hours,
        campaign: q.campaign.clone(),
        by: q.by,
        total: Figures::of(&total),
        groups,
        omitted,
    })
}
