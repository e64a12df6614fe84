//! `/api/v1/rules`: the ordered rule list — list, get, create, update, delete, move,
//! enable/disable. Whole-list operations (test, resync, reset, export, import) are in
//! `rules_list`.
//!
//! Takes rules as JSON ([`RuleInput`]: conditions as objects or as the CLI's text); gives
//! rules as stored, with position, hits and the rules version the change produced (every
//! running instance rebuilds its engine at that version on its next batch). Viewers read;
//! admins write. Validation, ordering and the audit entry live in `classify`.

use super::{Admin, ApiError, ApiJson, ApiPath, ApiResult, AppState, ErrorBody, FieldProblem, Viewer};
use crate::classify::RuleProblem;
use crate::classify::input::RuleInput;
use crate::classify::repo::{self, Placement, RulesError, StoredRule};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

/// The rule list in evaluation order.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RuleList {
    /// Changes with every edit; engines rebuild when it moves.
    pub rules_version: i64,
    /// The version this instance's engine was last built from (null before its first use).
    pub loaded_version: Option<i64>,
    pub count: usize,
    pub rules: Vec<StoredRule>,
}

/// A rule after a change, and the rules version that change made.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RuleChange {
    pub rules_version: i64,
    pub rule: StoredRule,
}

/// A new rule, and where to put it (default: just above the Global rule).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NewRule {
    #[serde(flatten)]
    pub rule: RuleInput,
    /// 1-based position.
    pub position: Option<usize>,
    /// Just above this rule.
    pub before: Option<String>,
}

/// Where to move a rule: exactly one of `position` and `before`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveTo {
    /// 1-based position (the Global rule stays last).
    pub position: Option<usize>,
    /// Just above this rule.
    pub before: Option<String>,
}

/// Rule problems as the API's field problems.
pub(super) fn fields(problems: Vec<RuleProblem>) -> Vec<FieldProblem> {
    problems.into_iter().map(|p| FieldProblem { field: p.field, message: p.message }).collect()
}

fn invalid(problems: Vec<RuleProblem>) -> ApiError {
    let n = problems.len();
    ApiError::invalid(format!("the rule has {n} problem(s); each is listed by field"), fields(problems))
}

fn placement(position: Option<usize>, before: Option<String>) -> ApiResult<Placement> {
    match (position, before) {
        (Some(_), Some(_)) => Err(ApiError::invalid(
            "give either position or before, not both",
            vec![
                FieldProblem { field: "position".into(), message: "given together with before".into() },
                FieldProblem { field: "before".into(), message: "given together with position".into() },
            ],
        )),
        (Some(n), None) => Ok(Placement::At(n)),
        (None, Some(k)) => Ok(Placement::Before(k)),
        (None, None) => Ok(Placement::Bottom),
    }
}

/// A missing `before` rule is a mistake in the request, not a missing resource.
fn before_missing(e: RulesError, at: &Placement) -> ApiError {
    match (&e, at) {
        (RulesError::NotFound(k), Placement::Before(b)) if k == b => ApiError::field("before", e.to_string()),
        _ => e.into(),
    }
}

#[utoipa::path(get, path = "/api/v1/rules", tag = "rules",
    responses((status = 200, body = RuleList), (status = 401, body = ErrorBody)))]
pub async fn list(_: Viewer, State(state): State<AppState>) -> ApiResult<Json<RuleList>> {
    let (rules, rules_version) = state.db.run(|c| Ok::<_, RulesError>((repo::list(c)?, repo::version(c)?))).await?;
    let loaded_version = state.pipeline.loaded_rules_version();
    Ok(Json(RuleList { rules_version, loaded_version, count: rules.len(), rules }))
}

#[utoipa::path(get, path = "/api/v1/rules/{key}", tag = "rules", params(("key" = String, Path, description = "The rule's key")),
    responses((status = 200, body = StoredRule), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get(
    _: Viewer,
    State(state): State<AppState>,
    ApiPath(key): ApiPath<String>,
) -> ApiResult<Json<StoredRule>> {
    Ok(Json(state.db.run(move |c| repo::get(c, &key)).await?))
}

/// Runs a write and answers with the rule and the version it made.
async fn write(
    state: &AppState,
    f: impl FnOnce(&mut crate::store::AnyConnection) -> Result<StoredRule, RulesError> + Send + 'static,
) -> Result<RuleChange, RulesError> {
    state.db.run(move |c| Ok::<_, RulesError>(RuleChange { rule: f(c)?, rules_version: repo::version(c)? })).await
}

#[utoipa::path(post, path = "/api/v1/rules", tag = "rules", request_body = NewRule,
    responses((status = 201, body = RuleChange), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "The key exists"), (status = 422, body = ErrorBody)))]
pub async fn create(
    Admin(who): Admin,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<NewRule>,
) -> ApiResult<(StatusCode, Json<RuleChange>)> {
    let at = placement(body.position, body.before);
    let rule = body.rule.into_rule(None);
    let (at, rule) = match (at, rule) {
        (Ok(at), Ok(rule)) => (at, rule),
        (Err(mut e), Err(p)) => {
            e.problems.extend(fields(p));
            return Err(e);
        }
        (Err(e), _) => return Err(e),
        (_, Err(p)) => return Err(invalid(p)),
    };
    let actor = who.actor();
    let place = at.clone();
    let change =
        write(&state, move |c| repo::add(c, &actor, rule, &place)).await.map_err(|e| before_missing(e, &at))?;
    Ok((StatusCode::CREATED, Json(change)))
}

#[utoipa::path(put, path = "/api/v1/rules/{key}", tag = "rules", request_body = RuleInput,
    params(("key" = String, Path, description = "The rule's key")),
    description = "Replaces the rule's content as a rules-file entry does: name, description, when, outcome, \
        reason and enabled (default true). Key, origin, position and hits stay.",
    responses((status = 200, body = RuleChange), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "A Global-rule constraint"),
        (status = 422, body = ErrorBody)))]
pub async fn update(
    Admin(who): Admin,
    State(state): State<AppState>,
    ApiPath(key): ApiPath<String>,
    ApiJson(body): ApiJson<RuleInput>,
) -> ApiResult<Json<RuleChange>> {
    let rule = body.into_rule(Some(&key)).map_err(invalid)?;
    let actor = who.actor();
    Ok(Json(write(&state, move |c| repo::update(c, &actor, rule)).await?))
}

#[utoipa::path(delete, path = "/api/v1/rules/{key}", tag = "rules", params(("key" = String, Path, description = "The rule's key")),
    responses((status = 200, body = RuleChange, description = "The rule as it was"), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete(
    Admin(who): Admin,
    State(state): State<AppState>,
    ApiPath(key): ApiPath<String>,
) -> ApiResult<Json<RuleChange>> {
    let actor = who.actor();
    Ok(Json(write(&state, move |c| repo::delete(c, &actor, &key)).await?))
}

#[utoipa::path(post, path = "/api/v1/rules/{key}/move", tag = "rules", request_body = MoveTo,
    params(("key" = String, Path, description = "The rule's key")),
    responses((status = 200, body = RuleChange), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn move_rule(
    Admin(who): Admin,
    State(state): State<AppState>,
    ApiPath(key): ApiPath<String>,
    ApiJson(body): ApiJson<MoveTo>,
) -> ApiResult<Json<RuleChange>> {
    let at = match placement(body.position, body.before)? {
        Placement::Bottom => {
            return Err(ApiError::field("position", "say where: {\"position\": N} or {\"before\": \"KEY\"}"));
        }
        at => at,
    };
    let (actor, place) = (who.actor(), at.clone());
    let change = write(&state, move |c| repo::move_to(c, &actor, &key, &place)).await;
    Ok(Json(change.map_err(|e| before_missing(e, &at))?))
}

async fn set_enabled(who: Admin, state: AppState, key: String, on: bool) -> ApiResult<Json<RuleChange>> {
    let actor = who.0.actor();
    Ok(Json(write(&state, move |c| repo::set_enabled(c, &actor, &key, on)).await?))
}

#[utoipa::path(post, path = "/api/v1/rules/{key}/enable", tag = "rules", params(("key" = String, Path, description = "The rule's key")),
    responses((status = 200, body = RuleChange), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn enable(
    who: Admin,
    State(state): State<AppState>,
    ApiPath(key): ApiPath<String>,
) -> ApiResult<Json<RuleChange>> {
    set_enabled(who, state, key, true).await
}

#[utoipa::path(post, path = "/api/v1/rules/{key}/disable", tag = "rules", params(("key" = String, Path, description = "The rule's key")),
    responses((status = 200, body = RuleChange), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "The Global rule")))]
pub async fn disable(
    who: Admin,
    State(state): State<AppState>,
    ApiPath(key): ApiPath<String>,
) -> ApiResult<Json<RuleChange>> {
    set_enabled(who, state, key, false).await
}
