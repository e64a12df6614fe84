//! `/api/v1/alerts/rules`: list, get, create, update, delete, enable and disable alert rules.
//!
//! Takes a token and the keys of an `[[alert]]` entry as JSON (criteria as a list of
//! objects with their `kind`); gives [`AlertRule`]s. Writes go through
//! [`crate::notify::alert::rules`] (validated as the config file is, every problem named by
//! its field, audited); config-file rules are read-only here (409 `read_only`), though they
//! can be enabled and disabled. The evaluator takes a change at its next round.

use super::{Admin, ApiError, ApiJson, ApiPath, ApiResult, AppState, ErrorBody, Viewer};
use crate::notify::alert::rules::{self, AlertRule, RuleError};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The keys of an `[[alert]]` entry (see config.example.toml).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(value_type = Object, example = json!({
    "name": "provider-block", "per": "recipient_domain", "channels": ["webhook"], "cooldown_minutes": 60,
    "criteria": [{"kind": "count", "window_minutes": 60, "at_least": 30, "status": "5.7.*"}]}))]
pub struct AlertRuleBody(pub Map<String, Value>);

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AlertRuleList {
    pub rules: Vec<AlertRule>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeletedAlertRule {
    pub name: String,
    pub deleted: bool,
}

impl From<RuleError> for ApiError {
    fn from(e: RuleError) -> Self {
        match e {
            RuleError::Store(s) => s.into(),
            RuleError::NotFound(_) => ApiError::not_found(e.to_string()),
            RuleError::Exists(_) => ApiError::conflict(e.to_string()),
            RuleError::ReadOnly { .. } => ApiError::new(StatusCode::CONFLICT, "read_only", e.to_string()),
            RuleError::Invalid(ref problems) => {
                ApiError::invalid(e.to_string(), super::error::problems_of(problems, "alert"))
            }
        }
    }
}

fn settings_of(body: AlertRuleBody) -> ApiResult<toml::Table> {
    crate::sync::nodes::table_of(body.0).map_err(|p| RuleError::Invalid(p).into())
}

/// Every rule, config-file and API-managed.
#[utoipa::path(get, path = "/api/v1/alerts/rules", tag = "alerts",
    responses((status = 200, body = AlertRuleList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list(_: Viewer, State(state): State<AppState>) -> ApiResult<Json<AlertRuleList>> {
    Ok(Json(AlertRuleList { rules: state.db.run(rules::list).await? }))
}

/// One rule.
#[utoipa::path(get, path = "/api/v1/alerts/rules/{name}", tag = "alerts", params(("name" = String, Path)),
    responses((status = 200, body = AlertRule), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get(
    _: Viewer,
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<AlertRule>> {
    let r = state.db.run(move |c| rules::find(c, &name).map(|r| r.ok_or(RuleError::NotFound(name)))).await??;
    Ok(Json(r))
}

/// Creates an API-managed rule; the evaluator runs it from its next round.
#[utoipa::path(post, path = "/api/v1/alerts/rules", tag = "alerts", request_body = AlertRuleBody,
    responses((status = 201, body = AlertRule), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 409, description = "The name is taken", body = ErrorBody),
              (status = 422, description = "Every problem, by field", body = ErrorBody)))]
pub async fn create(
    Admin(p): Admin,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<AlertRuleBody>,
) -> ApiResult<(StatusCode, Json<AlertRule>)> {
    let settings = settings_of(body)?;
    let alerts = state.config.alerts.clone();
    let r = state.db.run(move |c| rules::create(c, &p.actor(), &alerts, settings)).await?;
    Ok((StatusCode::CREATED, Json(r)))
}

/// Replaces an API rule's settings (a full entry; a body without `name` keeps it).
#[utoipa::path(put, path = "/api/v1/alerts/rules/{name}", tag = "alerts", params(("name" = String, Path)),
    request_body = AlertRuleBody,
    responses((status = 200, body = AlertRule), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody),
              (status = 409, description = "A config-file rule (`read_only`), or the new name is taken", body = ErrorBody),
              (status = 422, description = "Every problem, by field", body = ErrorBody)))]
pub async fn update(
    Admin(p): Admin,
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
    ApiJson(body): ApiJson<AlertRuleBody>,
) -> ApiResult<Json<AlertRule>> {
    let mut settings = settings_of(body)?;
    settings.entry("name").or_insert_with(|| toml::Value::String(name.clone()));
    let alerts = state.config.alerts.clone();
    Ok(Json(state.db.run(move |c| rules::update(c, &p.actor(), &alerts, &name, settings)).await?))
}

/// Deletes an API rule; its active episodes end.
#[utoipa::path(delete, path = "/api/v1/alerts/rules/{name}", tag = "alerts", params(("name" = String, Path)),
    responses((status = 200, body = DeletedAlertRule), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, description = "A config-file rule", body = ErrorBody)))]
pub async fn delete(
    Admin(p): Admin,
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<DeletedAlertRule>> {
    let r = state.db.run(move |c| rules::delete(c, &p.actor(), &name)).await?;
    Ok(Json(DeletedAlertRule { name: r.config.name, deleted: true }))
}

/// Enables a rule (one of the config file too).
#[utoipa::path(post, path = "/api/v1/alerts/rules/{name}/enable", tag = "alerts", params(("name" = String, Path)),
    responses((status = 200, body = AlertRule), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub async fn enable(
    Admin(p): Admin,
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<AlertRule>> {
    Ok(Json(state.db.run(move |c| rules::set_enabled(c, &p.actor(), &name, true)).await?))
}

/// Disables a rule: it is not evaluated, and its active episodes end.
#[utoipa::path(post, path = "/api/v1/alerts/rules/{name}/disable", tag = "alerts", params(("name" = String, Path)),
    responses((status = 200, body = AlertRule), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub async fn disable(
    Admin(p): Admin,
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<AlertRule>> {
    Ok(Json(state.db.run(move |c| rules::set_enabled(c, &p.actor(), &name, false)).await?))
}
