//! `/api/v1/rules/…` on the whole list: test a message, resync, reset, export, import.
//!
//! Takes a raw message (`message/rfc822` bytes or JSON `{"message": "..."}`), a rules
//! document (JSON as export gives it, or the CLI's TOML) or a confirmation; gives what the
//! rules make of the message, or what the change did and the rules version it made. `test`
//! changes nothing, so viewers may run it; the rest needs an admin. The work is in
//! `classify::sync` and `ingest::explain`, the same functions `rebound rules` calls.

use super::rules::fields;
use super::{Admin, ApiError, ApiQuery, ApiResult, AppState, ErrorBody, Viewer};
use crate::classify::input::RulesDocument;
use crate::classify::repo::{self, ImportMode, ImportSummary, RulesError, SyncSummary};
use crate::classify::{Rule, library};
use crate::ingest::IngestError;
use crate::ingest::explain::{self, Explanation};
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

/// The raw message to test, as JSON (or send the bytes as `message/rfc822`).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestMessage {
    /// The whole message, headers and body, as received.
    pub message: String,
}

/// What a whole-list change did, and the rules version it made.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SyncReply {
    pub rules_version: i64,
    pub summary: SyncSummary,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ImportReply {
    pub rules_version: i64,
    pub summary: ImportSummary,
}

/// The whole list as a document `POST /rules/import` accepts.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ExportDocument {
    /// The document format: 1.
    pub version: u32,
    /// The rules version exported.
    pub rules_version: i64,
    pub rules: Vec<Rule>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// `json` (default) or `toml` (the format of `rebound rules export` and `default_rules/`).
    pub format: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// `merge` (default: named rules replaced in place, new ones above Global, the rest kept)
    /// or `replace` (the list becomes the document, in its order).
    pub mode: Option<ImportMode>,
}

fn body_of(body: Result<Bytes, BytesRejection>) -> ApiResult<Bytes> {
    body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", super::error::too_large())
        } else {
            ApiError::bad_request(e.body_text())
        }
    })
}

fn content_type(headers: &HeaderMap) -> String {
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    ct.split(';').next().unwrap_or_default().trim().to_ascii_lowercase()
}

fn ingest_error(e: IngestError) -> ApiError {
    match e {
        IngestError::Store(s) => s.into(),
        IngestError::Rules(r) => r.into(),
        other => {
            tracing::error!(error = %other, "rule test failed");
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", other.to_string())
        }
    }
}

#[utoipa::path(post, path = "/api/v1/rules/test", tag = "rules",
    request_body(content(
        (TestMessage = "application/json"),
        (String = "message/rfc822"),
    )),
    description = "Parses a message and runs the current rules over it, as ingest would, writing nothing: \
        every record's fields, every matching rule in order (with the values that made it match), the decision \
        and its suppression effect. Viewers may run it.",
    responses((status = 200, body = Explanation), (status = 401, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn test(
    _: Viewer,
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Explanation>> {
    let body = body_of(body)?;
    let raw: Vec<u8> = match content_type(&headers).as_str() {
        "application/json" => {
            let m: TestMessage = serde_json::from_slice(&body)
                .map_err(|e| ApiError::field("message", format!("send {{\"message\": \"RAW MESSAGE\"}}: {e}")))?;
            m.message.into_bytes()
        }
        "message/rfc822" | "text/plain" | "application/octet-stream" => body.to_vec(),
        other => {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "bad_request",
                format!(
                    "Content-Type `{other}` is not a message: send the raw bytes as `message/rfc822`, \
                     or JSON {{\"message\": \"...\"}} as `application/json`"
                ),
            ));
        }
    };
    if raw.is_empty() {
        return Err(ApiError::field("message", "the message is empty; send the whole message as received"));
    }
    let pipeline = state.pipeline.clone();
    let x = state.db.run(move |c| explain::explain(c, &pipeline, &raw)).await.map_err(ingest_error)?;
    Ok(Json(x))
}

#[utoipa::path(post, path = "/api/v1/rules/resync", tag = "rules",
    description = "Brings the default rules up to this version's library: adds new ones, updates those never \
        edited, keeps edited or disabled ones (the conflicts, each with both versions) and never touches custom rules.",
    responses((status = 200, body = SyncReply), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn resync(Admin(who): Admin, State(state): State<AppState>) -> ApiResult<Json<SyncReply>> {
    let actor = who.actor();
    let reply = state
        .db
        .run(move |c| {
            Ok::<_, RulesError>(SyncReply { summary: repo::resync(c, &actor)?, rules_version: repo::version(c)? })
        })
        .await?;
    Ok(Json(reply))
}

/// The confirmation a reset needs.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ResetConfirm {
    /// Must be `reset`.
    pub confirm: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/rules/reset", tag = "rules", request_body = ResetConfirm,
    description = "Deletes every custom rule and every change to the defaults, restoring the shipped library. \
        Needs {\"confirm\": \"reset\"}. The audit entry keeps the list as it was.",
    responses((status = 200, body = SyncReply), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "No confirmation")))]
pub async fn reset(
    Admin(who): Admin,
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<SyncReply>> {
    let body = body_of(body)?;
    let confirmed =
        serde_json::from_slice::<ResetConfirm>(&body).ok().and_then(|b| b.confirm).as_deref() == Some("reset");
    if !confirmed {
        return Err(ApiError::field(
            "confirm",
            "reset deletes every custom rule and every change to the default rules; send {\"confirm\": \"reset\"} to do it",
        ));
    }
    let actor = who.actor();
    let reply = state
        .db
        .run(move |c| {
            Ok::<_, RulesError>(SyncReply { summary: repo::reset(c, &actor)?, rules_version: repo::version(c)? })
        })
        .await?;
    Ok(Json(reply))
}

#[utoipa::path(get, path = "/api/v1/rules/export", tag = "rules", params(ExportQuery),
    responses((status = 200, body = ExportDocument, content_type = "application/json"),
        (status = 200, body = String, content_type = "application/toml"),
        (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn export(
    _: Viewer,
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<ExportQuery>,
) -> ApiResult<Response> {
    let toml = match q.format.as_deref() {
        None | Some("json") => false,
        Some("toml") => true,
        Some(other) => return Err(ApiError::field("format", format!("unknown format `{other}`: use json or toml"))),
    };
    let (rules, rules_version) = state
        .db
        .run(|c| {
            Ok::<_, RulesError>((repo::list(c)?.into_iter().map(|r| r.rule).collect::<Vec<_>>(), repo::version(c)?))
        })
        .await?;
    if toml {
        let text = format!("# rebound rules, version {rules_version}\n{}", library::render(&rules));
        return Ok(([(header::CONTENT_TYPE, "application/toml; charset=utf-8")], text).into_response());
    }
    Ok(Json(ExportDocument { version: 1, rules_version, rules }).into_response())
}

#[utoipa::path(post, path = "/api/v1/rules/import", tag = "rules", params(ImportQuery),
    request_body(content(
        (RulesDocument = "application/json"),
        (String = "application/toml"),
    )),
    description = "Imports a rules document (what GET /rules/export gives, JSON or TOML). Checked whole first: \
        every problem is reported at once by its place (`rules[2].when[0].value`) and nothing is written.",
    responses((status = 200, body = ImportReply), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn import(
    Admin(who): Admin,
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<ImportQuery>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<ImportReply>> {
    let body = body_of(body)?;
    let doc: RulesDocument = match content_type(&headers).as_str() {
        "application/json" => serde_json::from_slice(&body)
            .map_err(|e| ApiError::field("(document)", format!("not a rules document: {e}")))?,
        "application/toml" | "text/toml" | "text/plain" => {
            let text = std::str::from_utf8(&body).map_err(|_| ApiError::field("(document)", "TOML must be UTF-8"))?;
            RulesDocument::from_toml(text).map_err(|p| ApiError::field(&p.field, p.message))?
        }
        other => {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "bad_request",
                format!("Content-Type `{other}`: send the document as `application/json` or `application/toml`"),
            ));
        }
    };
    let rules = doc.into_rules().map_err(|p| {
        ApiError::invalid(format!("the document has {} problem(s); nothing was imported", p.len()), fields(p))
    })?;
    let (actor, mode) = (who.actor(), q.mode.unwrap_or_default());
    let reply = state
        .db
        .run(move |c| {
            Ok::<_, RulesError>(ImportReply {
                summary: repo::import(c, &actor, rules, mode)?,
                rules_version: repo::version(c)?,
            })
        })
        .await?;
    Ok(Json(reply))
}
