//! `/review`: the review queue (messages nothing could be made of), a message's headers and
//! raw source, reprocess (after a rule change) and discard with a note — the API's handlers
//! (`api::review`) and the stage's `ingest::review::show` for the stored bytes.

use super::error::{WebError, WebResult};
use super::layout::{Chrome, link, when};
use super::session::{Signed, Write};
use crate::api::review::{self as api, ReviewQuery};
use crate::api::{ApiPath, ApiQuery, AppState};
use crate::ingest::review::{self, ReviewItem};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect};
use serde::Deserialize;

#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    after: Option<String>,
    done: Option<String>,
}

pub struct Row {
    pub i: ReviewItem,
    pub received: String,
}

#[derive(Template)]
#[template(path = "review.html")]
struct ListPage {
    chrome: Chrome,
    rows: Vec<Row>,
    next: String,
}

#[utoipa::path(get, path = "/review", tag = "web", security(("session" = [])),
    responses((status = 200, description = "The review queue", content_type = "text/html"), (status = 303, description = "Not signed in: to /login")))]
pub async fn list(signed: Signed, State(state): State<AppState>, Query(q): Query<ListQuery>) -> WebResult {
    let page =
        api::list(signed.viewer(), State(state), ApiQuery(ReviewQuery { after: q.after, limit: Some(50) })).await?.0;
    let rows = page.items.into_iter().map(|i| Row { received: when(&i.received_at), i }).collect();
    let next = page.next.map(|n| link("/review", &[("after", &n)])).unwrap_or_default();
    let page = ListPage { chrome: Chrome::of(&signed, "review").with_notice(q.done), rows, next };
    Ok(Html(page.render()?).into_response())
}

#[derive(Template)]
#[template(path = "review_item.html")]
struct ItemPage {
    chrome: Chrome,
    i: ReviewItem,
    received: String,
    seen_at: Vec<String>,
    headers: String,
    raw: Option<String>,
}

/// The largest raw source shown in the page (the rest is cut, with a note).
const SHOW_BYTES: usize = 256 * 1024;

#[utoipa::path(get, path = "/review/{id}", tag = "web", security(("session" = [])),
    responses((status = 200, description = "A queued message: headers, raw source, reprocess and discard", content_type = "text/html"), (status = 303, description = "Not signed in: to /login")))]
pub async fn item(signed: Signed, State(state): State<AppState>, Path(id): Path<i64>) -> WebResult {
    let found = state.db.run(move |c| review::show(c, id)).await.map_err(WebError::internal)?;
    let Some((i, raw, seen_at)) = found else {
        return Err(WebError::Page {
            status: StatusCode::NOT_FOUND,
            message: format!("no message {id} in the review queue"),
        });
    };
    let raw = raw.map(|b| {
        let cut = b.len() > SHOW_BYTES;
        let mut text = String::from_utf8_lossy(&b[..b.len().min(SHOW_BYTES)]).into_owned();
        if cut {
            text.push_str(&format!("\n… ({} bytes in all; the rest is not shown)", b.len()));
        }
        text
    });
    let headers = raw
        .as_deref()
        .map(|r| r.split("\r\n\r\n").next().unwrap_or(r).split("\n\n").next().unwrap_or(r).to_string())
        .unwrap_or_default();
    let page =
        ItemPage { chrome: Chrome::of(&signed, "review"), received: when(&i.received_at), i, seen_at, headers, raw };
    Ok(Html(page.render()?).into_response())
}

#[derive(Deserialize)]
pub struct ActionForm {
    #[serde(rename = "do")]
    action: String,
    #[serde(default)]
    note: String,
}

#[utoipa::path(post, path = "/review/{id}/action", tag = "web", security(("session" = [])), request_body(content_type = "application/x-www-form-urlencoded", description = "`do`: reprocess or discard; `note`"),
    responses((status = 303, description = "Reprocessed or discarded: to the queue with a notice"), (status = 403, description = "Without the session's CSRF token, or from a viewer"), (status = 422, description = "The API refused it: the form again with its problems", content_type = "text/html")))]
pub async fn action(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Write { signed, form }: Write<ActionForm>,
) -> WebResult {
    let admin = signed.as_admin()?;
    let done = match form.action.as_str() {
        "reprocess" => {
            let r = api::reprocess(admin, State(state), ApiPath(id)).await?.0;
            format!("reprocessed message {id}: {}", serde_json::to_string(&r).unwrap_or_default())
        }
        "discard" => {
            let body = if form.note.trim().is_empty() {
                String::new()
            } else {
                serde_json::json!({"note": form.note.trim()}).to_string()
            };
            let i = api::discard(admin, State(state), ApiPath(id), body.into()).await?.0;
            format!("message {} is {}", i.id, i.state)
        }
        other => return Err(WebError::bad_request(format!("`{other}`: reprocess or discard"))),
    };
    Ok(Redirect::to(&link("/review", &[("done", &done)])).into_response())
}
