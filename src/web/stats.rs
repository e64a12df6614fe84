//! `/stats`: delivery statistics — the form (range, campaign, grouping, offset), a chart of
//! the groups (delivered, deferred, bounced, expired, complained) and the table of counts
//! and rates, with the total.
//!
//! The data is the admin API's (`api::stats::read`, its validation and its document); a
//! mistake in the form is shown above it, not as an error page.

use super::chart::{self, Bar, Series};
use super::error::WebResult;
use super::layout::{Chrome, link, percent};
use super::session::Signed;
use crate::api::AppState;
use crate::api::stats::{StatsQuery, read};
use crate::record::stats_query::{By, Figures, Stats};
use askama::Template;
use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse};

/// One line of the table, formatted.
pub struct Line {
    pub key: String,
    pub counts: [i64; 7],
    pub rates: [String; 4],
}

impl Line {
    fn of(key: &str, f: &Figures) -> Line {
        Line {
            key: if key.is_empty() { "(none)".into() } else { key.to_string() },
            counts: [f.delivered, f.deferred, f.bounced, f.expired, f.hard, f.soft, f.complained],
            rates: [f.delivery_rate, f.bounce_rate, f.deferral_rate, f.complaint_rate].map(percent),
        }
    }
}

#[derive(Template)]
#[template(path = "stats.html")]
struct StatsPage {
    chrome: Chrome,
    from: String,
    to: String,
    campaign: String,
    by: String,
    offset: String,
    groupings: Vec<&'static str>,
    error: Option<String>,
    range: String,
    chart: String,
    lines: Vec<Line>,
    total: Option<Line>,
    omitted: usize,
    why: String,
}

const SERIES: [Series; 5] = [
    Series { name: "delivered", colour: "#2e7d32" },
    Series { name: "deferred", colour: "#e8a317" },
    Series { name: "bounced", colour: "#b3261e" },
    Series { name: "expired", colour: "#6d1b14" },
    Series { name: "complained", colour: "#6a3fb5" },
];

/// The most groups of a dimension the chart draws (the table has them all).
const CHART_GROUPS: usize = 30;

#[utoipa::path(get, path = "/stats", tag = "web", security(("session" = [])), params(StatsQuery),
    responses((status = 200, description = "Delivery statistics: a chart and a table of counts and rates", content_type = "text/html"), (status = 303, description = "Not signed in: to /login")))]
pub async fn page(signed: Signed, State(state): State<AppState>, Query(mut q): Query<StatsQuery>) -> WebResult {
    if q.by.as_deref().is_none_or(|b| b.trim().is_empty()) {
        q.by = Some("day".into());
    }
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    let mut page = StatsPage {
        chrome: Chrome::of(&signed, "stats"),
        from: text(&q.from),
        to: text(&q.to),
        campaign: text(&q.campaign),
        by: text(&q.by),
        offset: text(&q.offset),
        groupings: By::ALL.iter().map(|b| b.as_str()).collect(),
        error: None,
        range: String::new(),
        chart: String::new(),
        lines: Vec::new(),
        total: None,
        omitted: 0,
        why: String::new(),
    };
    match read(&state, &q).await {
        Ok(s) => fill(&mut page, &s),
        Err(e) if e.status == axum::http::StatusCode::UNPROCESSABLE_ENTITY => page.error = Some(e.message),
        Err(e) => return Err(e.into()),
    }
    Ok(Html(page.render()?).into_response())
}

fn fill(page: &mut StatsPage, s: &Stats) {
    let campaign = s.campaign.clone().unwrap_or_default();
    let (from, to) = (page.from.clone(), page.to.clone());
    let offset = page.offset.clone();
    let here = |by: &str| {
        link("/stats", &[("from", &from), ("to", &to), ("campaign", &campaign), ("by", by), ("offset", &offset)])
    };
    page.range = format!("{} to {} UTC", s.from.format("%Y-%m-%d %H:%M"), s.to.format("%Y-%m-%d %H:%M"));
    page.why = here("why");
    let bars: Vec<Bar> = s
        .groups
        .iter()
        .take(CHART_GROUPS)
        .map(|g| {
            let f = &g.figures;
            Bar { label: g.key.clone(), values: vec![f.delivered, f.deferred, f.bounced, f.expired, f.complained] }
        })
        .collect();
    if !bars.is_empty() {
        page.chart = chart::stacked(&format!("by {}", s.by.as_str().replace('_', " ")), &SERIES, &bars);
    }
    page.lines = s.groups.iter().map(|g| Line::of(&g.key, &g.figures)).collect();
    page.total = Some(Line::of("total", &s.total));
    page.omitted = s.omitted;
}
