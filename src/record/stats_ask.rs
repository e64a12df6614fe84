//! What a face was asked for, read into a statistics [`Query`]: the grouping ([`By`]), the
//! range from `from` / `to` / `offset` ([`range`]: dates in the offset's time or RFC 3339
//! times, to the hour), the campaign and how many groups — or every mistake at once, by
//! field, for the API's 422 and the CLI's usage error.
//!
//! Takes the strings as given; gives a [`Query`] for [`super::stats_query::query`]. It never
//! reads the database.

use super::stats::EVERY;
use super::stats_query::Query;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Timelike};
use serde::Serialize;

/// How the figures are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum By {
    Total,
    Month,
    Day,
    DayOfMonth,
    DayOfWeek,
    Hour,
    Domain,
    /// The recipient domain's mailbox provider (Microsoft for hotmail.com, outlook.fr, …);
    /// a domain of no listed provider is its own group.
    Provider,
    RemoteHost,
    Sender,
    Node,
    Vmta,
    SourceIp,
    Status,
    Reason,
    Why,
}

impl By {
    pub const ALL: [By; 16] = [
        By::Total,
        By::Month,
        By::Day,
        By::DayOfMonth,
        By::DayOfWeek,
        By::Hour,
        By::Domain,
        By::Provider,
        By::RemoteHost,
        By::Sender,
        By::Node,
        By::Vmta,
        By::SourceIp,
        By::Status,
        By::Reason,
        By::Why,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            By::Total => "total",
            By::Month => "month",
            By::Day => "day",
            By::DayOfMonth => "day_of_month",
            By::DayOfWeek => "day_of_week",
            By::Hour => "hour",
            By::Domain => "domain",
            By::Provider => "provider",
            By::RemoteHost => "remote_host",
            By::Sender => "sender",
            By::Node => "node",
            By::Vmta => "vmta",
            By::SourceIp => "source_ip",
            By::Status => "status",
            By::Reason => "reason",
            By::Why => "why",
        }
    }

    /// The grouping named `s`, or what the names are.
    pub fn parse(s: &str) -> Result<By, String> {
        let s = s.trim().to_ascii_lowercase().replace('-', "_");
        By::ALL.into_iter().find(|b| b.as_str() == s).ok_or_else(|| {
            let names: Vec<&str> = By::ALL.iter().map(|b| b.as_str()).collect();
            format!("unknown grouping {s:?}; one of {}", names.join(", "))
        })
    }

    /// The dimension group it reads (`None`: the per-hour totals).
    pub(super) fn dim(self) -> Option<&'static str> {
        // A dimension group is stored under the grouping's own name; providers are summed
        // from the domains at reading (so the list can grow without recounting).
        match self {
            By::Total | By::Month | By::Day | By::DayOfMonth | By::DayOfWeek | By::Hour => None,
            By::Provider => Some("domain"),
            dimension => Some(dimension.as_str()),
        }
    }
}

/// The UTC range a face's `from` and `to` name: a date (`2026-11-01`: that day in the
/// offset's time; `to` includes its day) or an RFC 3339 time (`to` excluded), rounded down to
/// the hour. Without `to`: up to the end of the current hour; without `from`: 30 days
/// before `to`.
pub fn range(
    from: Option<&str>,
    to: Option<&str>,
    offset_hours: i32,
    now: NaiveDateTime,
) -> Result<(NaiveDateTime, NaiveDateTime), (&'static str, String)> {
    if !(-12..=14).contains(&offset_hours) {
        return Err(("offset", format!("{offset_hours} is not an offset: whole hours from -12 to 14")));
    }
    let shift = chrono::Duration::hours(offset_hours.into());
    let read = |field: &'static str, s: &str, end: bool| -> Result<NaiveDateTime, (&'static str, String)> {
        let s = s.trim();
        if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
            let day = if end { d.succ_opt().unwrap_or(d) } else { d };
            return Ok(day.and_hms_opt(0, 0, 0).unwrap_or_default() - shift);
        }
        let t = DateTime::parse_from_rfc3339(s)
            .map_err(|_| (field, format!("{s:?} is neither a date (2026-11-01) nor an RFC 3339 time")))?;
        Ok(hour_floor(t.naive_utc()))
    };
    let to = match to {
        Some(s) => read("to", s, true)?,
        None => hour_floor(now) + chrono::Duration::hours(1),
    };
    let from = match from {
        Some(s) => read("from", s, false)?,
        None => to - chrono::Duration::days(30),
    };
    if from >= to {
        return Err(("from", format!("{from} is not before `to` ({to}): the range is empty")));
    }
    Ok((from, to))
}

/// What a face was asked, as given (the API's query parameters, the CLI's options).
#[derive(Debug, Clone, Default)]
pub struct Asked<'a> {
    pub from: Option<&'a str>,
    pub to: Option<&'a str>,
    pub campaign: Option<&'a str>,
    pub by: Option<&'a str>,
    /// Whole hours east of UTC (`2`, `-5`).
    pub offset: Option<&'a str>,
    pub top: Option<i64>,
}

impl Asked<'_> {
    /// The query, or every mistake at once (field, what is wrong).
    pub fn query(&self, now: NaiveDateTime) -> Result<Query, Vec<(&'static str, String)>> {
        let mut problems = Vec::new();
        let offset_hours = match self.offset.map(str::trim).filter(|s| !s.is_empty()) {
            None => 0,
            Some(s) => s.trim_start_matches('+').parse().unwrap_or_else(|_| {
                problems.push(("offset", format!("{s:?} is not a whole number of hours east of UTC (2, -5)")));
                0
            }),
        };
        let by = self.by.map_or(Ok(By::Total), By::parse).unwrap_or_else(|e| {
            problems.push(("by", e));
            By::Total
        });
        let top = self.top.unwrap_or(50);
        if !(1..=1000).contains(&top) {
            problems.push(("top", "must be between 1 and 1000".into()));
        }
        let campaign = self.campaign.map(str::trim).filter(|c| !c.is_empty());
        if campaign == Some(EVERY) {
            problems.push(("campaign", format!("{EVERY:?} is not a campaign id; leave it out for every campaign")));
        }
        let range = range(self.from, self.to, offset_hours, now).map_err(|p| problems.push(p)).ok();
        match range {
            Some((from, to)) if problems.is_empty() => {
                Ok(Query { from, to, campaign: campaign.map(str::to_string), by, offset_hours, top: top as usize })
            }
            _ => Err(problems),
        }
    }
}

fn hour_floor(t: NaiveDateTime) -> NaiveDateTime {
    t.date().and_hms_opt(t.hour(), 0, 0).unwrap_or(t)
}
