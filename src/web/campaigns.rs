//! `/campaigns`: the campaign list (counts and rates, sortable, paginated) and a campaign's
//! page with its SUMMARY (counts, rates, bounces and complaints per day, "why it failed"),
//! BOUNCED and COMPLAINTS tabs (filters, keyset pages, CSV export of the tab).
//!
//! The data is the admin API's: `api::campaigns` for the list, the report and the CSV, and
//! the stage views it calls (`record::views`) with the API's own filter checks.

use super::chart::{self, Bar, Series};
use super::error::{WebError, WebResult};
use super::form::Problems;
use super::layout::{Chrome, link, percent, segment, when, when_opt};
use super::session::Signed;
use crate::api::campaigns::{self as api, ReportQuery, ViewKind, ViewQuery};
use crate::api::{ApiPath, ApiQuery, AppState, page_of};
use crate::record::views::{self, Bounced, CampaignSummary, Complaint};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

const PER_PAGE: usize = 50;

#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    sort: Option<String>,
    dir: Option<String>,
    page: Option<usize>,
}

/// A column of the list: (key, label).
const COLUMNS: &[(&str, &str)] = &[
    ("id", "Campaign"),
    ("sent", "Sent"),
    ("hard", "Hard"),
    ("soft", "Soft"),
    ("complaints", "Complaints"),
    ("bounce_rate", "Bounce rate"),
    ("complaint_rate", "Complaint rate"),
    ("last", "Last event"),
];

pub struct ListRow {
    pub id: String,
    pub href: String,
    pub sent: String,
    pub hard: i64,
    pub soft: i64,
    pub complaints: i64,
    pub bounce_rate: String,
    pub complaint_rate: String,
    pub last: String,
}

pub struct Column {
    pub label: &'static str,
    pub href: String,
    /// `ascending`, `descending` or `none` (aria-sort).
    pub sorted: &'static str,
}

#[derive(Template)]
#[template(path = "campaigns.html")]
struct ListPage {
    chrome: Chrome,
    columns: Vec<Column>,
    rows: Vec<ListRow>,
    page: usize,
    pages: usize,
    prev: String,
    next: String,
    total: usize,
}

fn sort(list: &mut [CampaignSummary], key: &str, descending: bool) {
    let f = |x: Option<f64>| x.unwrap_or(-1.0);
    list.sort_by(|a, b| {
        let o = match key {
            "id" => a.id.cmp(&b.id),
            "sent" => a.sent.cmp(&b.sent),
            "hard" => a.hard.cmp(&b.hard),
            "soft" => a.soft.cmp(&b.soft),
            "complaints" => a.complaints.cmp(&b.complaints),
            "bounce_rate" => f(a.bounce_rate).total_cmp(&f(b.bounce_rate)),
            "complaint_rate" => f(a.complaint_rate).total_cmp(&f(b.complaint_rate)),
            _ => a.last_event_at.cmp(&b.last_event_at),
        };
        if descending { o.reverse() } else { o }
    });
}

#[utoipa::path(get, path = "/campaigns", tag = "web", security(("session" = [])),
    responses((status = 200, description = "The campaign list with counts and rates, sortable", content_type = "text/html"), (status = 303, description = "Not signed in: to /login")))]
pub async fn list(signed: Signed, State(state): State<AppState>, Query(q): Query<ListQuery>) -> WebResult {
    let mut all = api::list(signed.viewer(), State(state)).await?.0.campaigns;
    let key = q.sort.as_deref().filter(|k| COLUMNS.iter().any(|(c, _)| c == k)).unwrap_or("last");
    let descending = q.dir.as_deref() != Some("asc");
    sort(&mut all, key, descending);
    let pages = all.len().div_ceil(PER_PAGE).max(1);
    let page = q.page.unwrap_or(1).clamp(1, pages);
    let dir = if descending { "desc" } else { "asc" };
    let columns = COLUMNS
        .iter()
        .map(|(k, label)| {
            let flip = if *k == key && descending { "asc" } else { "desc" };
            Column {
                label,
                href: link("/campaigns", &[("sort", k), ("dir", flip)]),
                sorted: if *k != key {
                    "none"
                } else if descending {
                    "descending"
                } else {
                    "ascending"
                },
            }
        })
        .collect();
    let at = |p: usize| link("/campaigns", &[("sort", key), ("dir", dir), ("page", &p.to_string())]);
    let rows = all
        .iter()
        .skip((page - 1) * PER_PAGE)
        .take(PER_PAGE)
        .map(|c| ListRow {
            id: c.id.clone(),
            href: format!("/campaigns/{}", segment(&c.id)),
            sent: c.sent.map(|s| s.to_string()).unwrap_or_else(|| "—".into()),
            hard: c.hard,
            soft: c.soft,
            complaints: c.complaints,
            bounce_rate: percent(c.bounce_rate),
            complaint_rate: percent(c.complaint_rate),
            last: when_opt(&c.last_event_at),
        })
        .collect();
    let page = ListPage {
        chrome: Chrome::of(&signed, "campaigns"),
        columns,
        rows,
        page,
        pages,
        prev: if page > 1 { at(page - 1) } else { String::new() },
        next: if page < pages { at(page + 1) } else { String::new() },
        total: all.len(),
    };
    Ok(Html(page.render()?).into_response())
}

/// The campaign page's query: the tab, the view's filters and page.
#[derive(Deserialize, Default, Clone, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CampaignQuery {
    #[serde(default)]
    tab: String,
    #[serde(default, rename = "type")]
    kind: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    rule: String,
    #[serde(default)]
    domain: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    feedback_type: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    after: String,
}

impl CampaignQuery {
    fn some(s: &str) -> Option<String> {
        (!s.trim().is_empty()).then(|| s.trim().to_string())
    }

    /// The API's query for this tab.
    fn view_query(&self, format: Option<&str>) -> ViewQuery {
        let s = Self::some;
        let bounced = self.tab != "complaints";
        ViewQuery {
            kind: s(&self.kind).filter(|_| bounced),
            reason: s(&self.reason),
            rule: s(&self.rule),
            feedback_type: s(&self.feedback_type).filter(|_| !bounced),
            domain: s(&self.domain),
            status: s(&self.status).filter(|_| bounced),
            from: s(&self.from),
            to: s(&self.to),
            format: format.map(str::to_string),
            after: s(&self.after),
            limit: None,
        }
    }

    fn pairs(&self) -> Vec<(&'static str, String)> {
        let bounced = self.tab != "complaints";
        let mut v = vec![("tab", self.tab.clone()), ("reason", self.reason.clone()), ("rule", self.rule.clone())];
        v.push(("domain", self.domain.clone()));
        if bounced {
            v.push(("type", self.kind.clone()));
            v.push(("status", self.status.clone()));
        } else {
            v.push(("feedback_type", self.feedback_type.clone()));
        }
        v.push(("from", self.from.clone()));
        v.push(("to", self.to.clone()));
        v
    }

    /// This tab's address with its filters, plus `extra`.
    fn href(&self, path: &str, extra: &[(&str, &str)]) -> String {
        let pairs = self.pairs();
        let mut all: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        all.extend_from_slice(extra);
        link(path, &all)
    }
}

pub struct GroupRow {
    pub status: String,
    pub domain: String,
    pub remote_mta: String,
    pub count: i64,
    pub permanent: i64,
    pub href: String,
}

pub struct BouncedRow {
    pub row: Bounced,
    pub date: String,
    pub kind: &'static str,
}

pub struct ComplaintRow {
    pub row: Complaint,
    pub time: String,
}

#[derive(Template)]
#[template(path = "campaign.html")]
struct CampaignPage {
    chrome: Chrome,
    id: String,
    base: String,
    tab: String,
    q: CampaignQuery,
    c: CampaignSummary,
    rates: [String; 4],
    chart: String,
    groups: Vec<GroupRow>,
    bounced: Vec<BouncedRow>,
    complaints: Vec<ComplaintRow>,
    problems: Problems,
    next: String,
    first: String,
    export: String,
}

#[utoipa::path(get, path = "/campaigns/{id}", tag = "web", security(("session" = [])),
    responses((status = 200, description = "A campaign's SUMMARY, BOUNCED or COMPLAINTS tab", content_type = "text/html"), (status = 303, description = "Not signed in: to /login")))]
pub async fn page(
    signed: Signed,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(mut q): Query<CampaignQuery>,
) -> WebResult {
    if !matches!(q.tab.as_str(), "bounced" | "complaints") {
        q.tab = "summary".into();
    }
    // The whole report (grouped over every event) only where it is shown: the SUMMARY tab.
    let report = if q.tab == "summary" {
        let top = ReportQuery { top: Some(25) };
        Some(api::get(signed.viewer(), State(state.clone()), ApiPath(id.clone()), ApiQuery(top)).await?.0)
    } else {
        None
    };
    let c = match &report {
        Some(r) => r.campaign.clone(),
        None => {
            let cid = id.clone();
            let found = state.db.run(move |c| views::campaign(c, &cid)).await.map_err(crate::api::ApiError::from)?;
            found.ok_or_else(|| WebError::Page {
                status: axum::http::StatusCode::NOT_FOUND,
                message: format!("no campaign `{id}` has any event; the campaign list shows those that do"),
            })?
        }
    };
    let base = format!("/campaigns/{}", segment(&id));
    let rates =
        [percent(c.bounce_rate), percent(c.hard_bounce_rate), percent(c.soft_bounce_rate), percent(c.complaint_rate)];
    let mut page = CampaignPage {
        chrome: Chrome::of(&signed, "campaigns"),
        id: id.clone(),
        base: base.clone(),
        tab: q.tab.clone(),
        q: q.clone(),
        c,
        rates,
        chart: String::new(),
        groups: Vec::new(),
        bounced: Vec::new(),
        complaints: Vec::new(),
        problems: Problems::default(),
        next: String::new(),
        first: String::new(),
        export: String::new(),
    };
    match (q.tab.as_str(), report) {
        ("summary", Some(report)) => {
            let series = [
                Series { name: "hard", colour: "#b3261e" },
                Series { name: "soft", colour: "#e8a317" },
                Series { name: "complaints", colour: "#6a3fb5" },
            ];
            let bars: Vec<Bar> = report
                .days
                .iter()
                .map(|d| Bar { label: d.date.clone(), values: vec![d.hard, d.soft, d.complaints] })
                .collect();
            page.chart = chart::stacked("bounces and complaints per day", &series, &bars);
            page.groups = report
                .bounce_groups
                .into_iter()
                .map(|g| {
                    let status = g.status.clone().unwrap_or_default();
                    let href = link(&base, &[("tab", "bounced"), ("status", &status), ("domain", &g.domain)]);
                    GroupRow {
                        status,
                        domain: g.domain,
                        remote_mta: g.remote_mta.unwrap_or_default(),
                        count: g.count,
                        permanent: g.permanent,
                        href,
                    }
                })
                .collect();
        }
        (tab, _) => {
            let bounced = tab == "bounced";
            let vq = q.view_query(None);
            let kind = if bounced { ViewKind::Bounced } else { ViewKind::Complaints };
            let filter = match vq.filter(kind) {
                Ok(f) => f,
                Err(e) => {
                    page.problems = Problems::of(&e);
                    return Ok((e.status, Html(page.render()?)).into_response());
                }
            };
            let p = page_of(Some(PER_PAGE as i64), vq.after.clone(), 100, 1000)?;
            let uncounted = state.config.suppression.soft_uncounted_reasons.clone();
            let next = if bounced {
                let (cid, f) = (id.clone(), filter);
                let paged = state
                    .db
                    .run(move |c| views::bounced(c, &cid, &f, &p, &uncounted))
                    .await
                    .map_err(crate::api::ApiError::from)?;
                page.bounced = paged
                    .rows
                    .into_iter()
                    .map(|row| BouncedRow {
                        date: when(&row.date),
                        kind: if row.kind == "hard" { "Hard" } else { "Soft" },
                        row,
                    })
                    .collect();
                paged.next
            } else {
                let (cid, f) = (id.clone(), filter);
                let paged = state
                    .db
                    .run(move |c| views::complaints(c, &cid, &f, &p))
                    .await
                    .map_err(crate::api::ApiError::from)?;
                page.complaints =
                    paged.rows.into_iter().map(|row| ComplaintRow { time: when(&row.timestamp), row }).collect();
                paged.next
            };
            if let Some(n) = next {
                page.next = q.href(&base, &[("after", &n.0)]);
            }
            if !q.after.is_empty() {
                page.first = q.href(&base, &[]);
            }
            page.export = q.href(&format!("{base}/export"), &[]);
        }
    }
    Ok(Html(page.render()?).into_response())
}

/// The tab's whole filtered view as CSV: the API's own export.
#[utoipa::path(get, path = "/campaigns/{id}/export", tag = "web", security(("session" = [])),
    responses((status = 200, description = "The tab's whole filtered view as CSV", content_type = "text/csv"), (status = 303, description = "Not signed in: to /login")))]
pub async fn export(
    signed: Signed,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<CampaignQuery>,
) -> WebResult<Response> {
    let vq = q.view_query(Some("csv"));
    let r = if q.tab == "complaints" {
        api::complaints(signed.viewer(), State(state), ApiPath(id), ApiQuery(vq)).await
    } else {
        api::bounced(signed.viewer(), State(state), ApiPath(id), ApiQuery(vq)).await
    };
    r.map_err(WebError::from)
}
