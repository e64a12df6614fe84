//! `/api/v1/webhooks`: list, get, create, update, delete, enable, disable, attempts, and
//! send a test event.
//!
//! Takes a token and the keys of a `[[webhook]]` entry as JSON; gives endpoints with their
//! delivery state ([`Webhook`]: `ok`, `retrying`, `failing`, `gone`, pending events, last
//! error). Writes go through [`crate::notify::endpoints`] (validated as the config file is,
//! audited); config-file endpoints are read-only here (409 `read_only`), though they can be
//! enabled and disabled. Secrets are never sent or shown: an endpoint names the environment
//! variable or file of the server that holds its secret.

use super::{Admin, ApiError, ApiJson, ApiPath, ApiQuery, ApiResult, AppState, ErrorBody, Viewer, page_of};
use crate::notify::deliver::Attempt;
use crate::notify::endpoints::{self, WebhookError};
use crate::notify::{Event, Webhook};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The keys of a `[[webhook]]` entry (see config.example.toml).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(value_type = Object, example = json!({
    "name": "crm", "url": "https://crm.example/hooks/rebound", "secret_env": "CRM_WEBHOOK_SECRET",
    "events": ["bounce.recorded", "complaint.recorded"]}))]
pub struct WebhookBody(pub Map<String, Value>);

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WebhookList {
    pub webhooks: Vec<Webhook>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeletedWebhook {
    pub name: String,
    pub deleted: bool,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AttemptQuery {
    /// The `next` cursor of the previous page.
    pub after: Option<String>,
    /// Attempts per page (1–1000, default 100).
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AttemptPage {
    /// Newest first.
    pub attempts: Vec<Attempt>,
    /// Pass as `after` for the next page; null on the last.
    pub next: Option<String>,
}

impl From<WebhookError> for ApiError {
    fn from(e: WebhookError) -> Self {
        match e {
            WebhookError::Store(s) => s.into(),
            WebhookError::BadCursor(b) => b.into(),
            WebhookError::NotFound(_) => ApiError::not_found(e.to_string()),
            WebhookError::Exists(_) => ApiError::conflict(e.to_string()),
            WebhookError::ReadOnly { .. } => ApiError::new(StatusCode::CONFLICT, "read_only", e.to_string()),
            WebhookError::Invalid(ref problems) => {
                ApiError::invalid(e.to_string(), super::error::problems_of(problems, "webhook"))
            }
        }
    }
}

fn settings_of(body: WebhookBody) -> ApiResult<toml::Table> {
    crate::sync::nodes::table_of(body.0).map_err(|p| WebhookError::Invalid(p).into())
}

/// Every endpoint, config-file and API-managed, with its delivery state.
#[utoipa::path(get, path = "/api/v1/webhooks", tag = "webhooks",
    responses((status = 200, body = WebhookList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list(_: Viewer, State(state): State<AppState>) -> ApiResult<Json<WebhookList>> {
    Ok(Json(WebhookList { webhooks: state.db.run(endpoints::list).await? }))
}

/// One endpoint with its delivery state.
#[utoipa::path(get, path = "/api/v1/webhooks/{name}", tag = "webhooks", params(("name" = String, Path)),
    responses((status = 200, body = Webhook), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get(_: Viewer, State(state): State<AppState>, ApiPath(name): ApiPath<String>) -> ApiResult<Json<Webhook>> {
    let w = state.db.run(move |c| endpoints::find(c, &name).map(|w| w.ok_or(WebhookError::NotFound(name)))).await??;
    Ok(Json(w))
}

/// Creates an API-managed endpoint; it takes the events committed from now on.
#[utoipa::path(post, path = "/api/v1/webhooks", tag = "webhooks", request_body = WebhookBody,
    responses((status = 201, body = Webhook), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 409, description = "The name is taken", body = ErrorBody),
              (status = 422, description = "Every problem, by field", body = ErrorBody)))]
pub async fn create(
    Admin(p): Admin,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<WebhookBody>,
) -> ApiResult<(StatusCode, Json<Webhook>)> {
    let settings = settings_of(body)?;
    let w = state.db.run(move |c| endpoints::create(c, &p.actor(), settings)).await?;
    Ok((StatusCode::CREATED, Json(w)))
}

/// Replaces an API endpoint's settings (a full entry; a body without `name` keeps it).
#[utoipa::path(put, path = "/api/v1/webhooks/{name}", tag = "webhooks", params(("name" = String, Path)),
    request_body = WebhookBody,
    responses((status = 200, body = Webhook), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody),
              (status = 409, description = "A config-file endpoint (`read_only`), or the new name is taken", body = ErrorBody),
              (status = 422, description = "Every problem, by field", body = ErrorBody)))]
pub async fn update(
    Admin(p): Admin,
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
    ApiJson(body): ApiJson<WebhookBody>,
) -> ApiResult<Json<Webhook>> {
    let mut settings = settings_of(body)?;
    settings.entry("name").or_insert_with(|| toml::Value::String(name.clone()));
    Ok(Json(state.db.run(move |c| endpoints::update(c, &p.actor(), &name, settings)).await?))
}

/// Deletes an API endpoint; its pending events are given up.
#[utoipa::path(delete, path = "/api/v1/webhooks/{name}", tag = "webhooks", params(("name" = String, Path)),
    responses((status = 200, body = DeletedWebhook), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, description = "A config-file endpoint", body = ErrorBody)))]
pub async fn delete(
    Admin(p): Admin,
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<DeletedWebhook>> {
    let w = state.db.run(move |c| endpoints::delete(c, &p.actor(), &name)).await?;
    Ok(Json(DeletedWebhook { name: w.config.name, deleted: true }))
}

/// Enables an endpoint (also one a 410 disabled, or one of the config file).
#[utoipa::path(post, path = "/api/v1/webhooks/{name}/enable", tag = "webhooks", params(("name" = String, Path)),
    responses((status = 200, body = Webhook), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub async fn enable(
    Admin(p): Admin,
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<Webhook>> {
    Ok(Json(state.db.run(move |c| endpoints::set_enabled(c, &p.actor(), &name, true)).await?))
}

/// Disables an endpoint: it takes no new events until enabled.
#[utoipa::path(post, path = "/api/v1/webhooks/{name}/disable", tag = "webhooks", params(("name" = String, Path)),
    responses((status = 200, body = Webhook), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub async fn disable(
    Admin(p): Admin,
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<Webhook>> {
    Ok(Json(state.db.run(move |c| endpoints::set_enabled(c, &p.actor(), &name, false)).await?))
}

/// Every POST made to the endpoint, newest first: status, latency, the start of the answer.
#[utoipa::path(get, path = "/api/v1/webhooks/{name}/attempts", tag = "webhooks",
    params(("name" = String, Path), AttemptQuery),
    responses((status = 200, body = AttemptPage), (status = 422, description = "A cursor this view did not hand out", body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub async fn attempts(
    _: Viewer,
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
    ApiQuery(q): ApiQuery<AttemptQuery>,
) -> ApiResult<Json<AttemptPage>> {
    let page = page_of(q.limit, q.after, 100, 1000)?;
    let paged = state.db.run(move |c| endpoints::attempts(c, &name, &page)).await?;
    Ok(Json(AttemptPage { attempts: paged.rows, next: paged.next.map(|c| c.0) }))
}

/// Sends a signed `webhook.test` event to this endpoint alone; its attempt is listed like
/// any other. Answers with the event queued (202).
#[utoipa::path(post, path = "/api/v1/webhooks/{name}/test", tag = "webhooks", params(("name" = String, Path)),
    responses((status = 202, body = Event), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub async fn test(
    Admin(p): Admin,
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<(StatusCode, Json<Event>)> {
    let e = state.db.run(move |c| endpoints::send_test(c, &p.actor(), &name)).await?;
    Ok((StatusCode::ACCEPTED, Json(e)))
}
