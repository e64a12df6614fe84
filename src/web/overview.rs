//! `/`: the overview — today and the last 30 days (bounces hard and soft, complaints,
//! suppressions added) as a chart per day, the review queue's size, and
//! every mailbox's health at a glance.
//!
//! The stage operations behind `GET /api/v1/status` (mailbox health, the queue's count) and
//! the stage reports `record::report::days_since` and `suppress::search::added_per_day` for
//! the per-day counts. Not the list's size: counting a million entries costs PostgreSQL
//! tens of milliseconds, more than the page may take.

use super::chart::{self, Bar, Series};
use super::error::{WebError, WebResult};
use super::layout::{Chrome, when_opt};
use super::session::Signed;
use crate::api::AppState;
use crate::mailbox::listing::Failing;
use askama::Template;
use axum::extract::State;
use axum::response::{Html, IntoResponse};
use std::collections::BTreeMap;

pub struct Today {
    pub hard: i64,
    pub soft: i64,
    pub complaints: i64,
    pub suppressed: i64,
}

#[derive(Template)]
#[template(path = "overview.html")]
struct OverviewPage {
    chrome: Chrome,
    today: Today,
    month: Today,
    chart: String,
    review_queue: i64,
    mailboxes: usize,
    by_state: Vec<(String, usize)>,
    failing: Vec<(Failing, String)>,
}

#[utoipa::path(get, path = "/", tag = "web", security(("session" = [])),
    responses((status = 200, description = "Overview: the last 30 days per day, the review queue, mailbox health", content_type = "text/html"), (status = 303, description = "Not signed in: to /login")))]
pub async fn page(signed: Signed, State(state): State<AppState>) -> WebResult {
    let now = chrono::Utc::now().naive_utc();
    let start = (now - chrono::Duration::days(29)).date();
    let since = start.format("%Y-%m-%d").to_string();
    let from = start.and_hms_opt(0, 0, 0).expect("midnight");
    let file = state.config.mailbox.clone();
    let (days, added, health, review_queue) = state
        .db
        .run(move |c| {
            let days = crate::record::report::days_since(c, &since)?;
            let added = crate::suppress::search::added_per_day(c, from)?;
            let review_queue = crate::ingest::review::count(c)?;
            let health = crate::mailbox::listing::health(c, &file)?;
            Ok::<_, crate::mailbox::MailboxError>((days, added, health, review_queue))
        })
        .await
        .map_err(WebError::internal)?;
    // Every one of the 30 days, with or without events.
    let mut per: BTreeMap<String, [i64; 4]> =
        (0..30).map(|i| ((start + chrono::Duration::days(i)).format("%Y-%m-%d").to_string(), [0; 4])).collect();
    for d in &days {
        if let Some(v) = per.get_mut(&d.date) {
            (v[0], v[1], v[2]) = (d.hard, d.soft, d.complaints);
        }
    }
    for (day, n) in &added {
        if let Some(v) = per.get_mut(day) {
            v[3] = *n;
        }
    }
    let sum = |f: &dyn Fn(&[i64; 4]) -> i64| per.values().map(f).sum::<i64>();
    let month =
        Today { hard: sum(&|v| v[0]), soft: sum(&|v| v[1]), complaints: sum(&|v| v[2]), suppressed: sum(&|v| v[3]) };
    let last = per.values().last().copied().unwrap_or_default();
    let today = Today { hard: last[0], soft: last[1], complaints: last[2], suppressed: last[3] };
    let series = [
        Series { name: "hard", colour: "#b3261e" },
        Series { name: "soft", colour: "#e8a317" },
        Series { name: "complaints", colour: "#6a3fb5" },
        Series { name: "suppressions added", colour: "#1a5fb4" },
    ];
    let bars: Vec<Bar> = per.iter().map(|(d, v)| Bar { label: d.clone(), values: v.to_vec() }).collect();
    let page = OverviewPage {
        chrome: Chrome::of(&signed, "overview"),
        today,
        month,
        chart: chart::stacked("the last 30 days per day", &series, &bars),
        review_queue,
        mailboxes: health.total,
        by_state: health.by_state.into_iter().collect(),
        failing: health
            .failing
            .into_iter()
            .map(|f| {
                let at = when_opt(&f.last_poll_at);
                (f, at)
            })
            .collect(),
    };
    Ok(Html(page.render()?).into_response())
}
