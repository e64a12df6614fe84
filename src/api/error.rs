//! The one error shape of the admin API: `{"error": {"code", "message", "problems": [...]}}`.
//!
//! Takes the stages' typed errors (and axum's rejections of a malformed body, path or query);
//! gives an HTTP status and a stable machine-readable `code` with a message a person can act
//! on. Validation reports every problem at once (422), each with its field. It never puts a
//! secret in a message: the stages' errors carry none, and the database's internal detail of
//! a 500 goes to the log, not to the caller.

use crate::access::TokenError;
use crate::config::Problem;
use crate::mailbox::MailboxError;
use crate::store::{BadCursor, PageError, StoreError};
use crate::suppress::manual::ManualError;
use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// A failed request, as the caller sees it.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub problems: Vec<FieldProblem>,
}

/// One mistake in a request, by field (`host`, `schedule`, `rules[2].pattern`).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct FieldProblem {
    pub field: String,
    pub message: String,
}

/// The body of every error response.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable: `unauthorized`, `forbidden`, `not_found`, `conflict`, `read_only`, `invalid`,
    /// `bad_request`, `too_large`, `busy`, `unavailable`, `internal`; on the sync routes
    /// `gone` and `rebuild` (410: take a fresh snapshot); `apply_failed` (a node's sync now).
    pub code: String,
    pub message: String,
    pub problems: Vec<FieldProblem>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { status, code, message: message.into(), problems: Vec::new() }
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn conflict(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, "conflict", message)
    }

    /// 422 with every problem found.
    pub fn invalid(message: impl Into<String>, problems: Vec<FieldProblem>) -> ApiError {
        ApiError { problems, ..ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", message) }
    }

    /// 422 for one field.
    pub fn field(field: &str, message: impl Into<String>) -> ApiError {
        let message = message.into();
        ApiError::invalid(format!("{field}: {message}"), vec![FieldProblem { field: field.into(), message }])
    }

    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail { code: self.code.to_string(), message: self.message, problems: self.problems },
        };
        let mut response = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(axum::http::header::WWW_AUTHENTICATE, axum::http::HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// Config-validation problems keyed `mailbox.host` become fields `host`.
pub fn problems_of(problems: &[Problem], prefix: &str) -> Vec<FieldProblem> {
    problems
        .iter()
        .map(|p| {
            let key = p.key.strip_prefix(prefix).map(|k| k.trim_start_matches('.')).unwrap_or(&p.key);
            FieldProblem { field: key.to_string(), message: p.message.clone() }
        })
        .collect()
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        if e.is_transient() {
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", e.to_string())
        } else {
            // The database's own words may quote row data; the log keeps them, the caller
            // gets a pointer to it.
            tracing::error!(error = %e, "database error in an API request");
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "the database refused the request; the server log has the details",
            )
        }
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(e: diesel::result::Error) -> Self {
        StoreError::Query(e).into()
    }
}

impl From<BadCursor> for ApiError {
    fn from(e: BadCursor) -> Self {
        ApiError::field("after", e.to_string())
    }
}

impl From<PageError> for ApiError {
    fn from(e: PageError) -> Self {
        match e {
            PageError::Cursor(c) => c.into(),
            PageError::Store(s) => s.into(),
        }
    }
}

impl From<TokenError> for ApiError {
    fn from(e: TokenError) -> Self {
        match e {
            TokenError::Store(s) => s.into(),
            TokenError::NotFound(_) => ApiError::not_found(e.to_string()),
            TokenError::Exists(_) => ApiError::conflict(e.to_string()),
            TokenError::BadName(_) => ApiError::field("name", e.to_string()),
            TokenError::BadRole(_) => ApiError::field("role", e.to_string()),
            TokenError::NodeOfOtherRole | TokenError::BadNode(_) => ApiError::field("node", e.to_string()),
            TokenError::Random(_) => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()),
        }
    }
}

impl From<crate::sync::protocol::ProtocolError> for ApiError {
    fn from(e: crate::sync::protocol::ProtocolError) -> Self {
        use crate::sync::protocol::ProtocolError as P;
        match e {
            P::Store(s) => s.into(),
            P::NoNode => ApiError::field("node", e.to_string()),
            P::OtherNode { .. } => ApiError::forbidden(e.to_string()),
            P::UnknownNode(_) => ApiError::not_found(e.to_string()),
            P::Disabled(_) => ApiError::conflict(e.to_string()),
            P::Gone { .. } => ApiError::new(StatusCode::GONE, "gone", e.to_string()),
            P::Rebuild(_) => ApiError::new(StatusCode::GONE, "rebuild", e.to_string()),
        }
    }
}

impl From<crate::sync::nodes::NodeError> for ApiError {
    fn from(e: crate::sync::nodes::NodeError) -> Self {
        use crate::sync::nodes::NodeError as N;
        match e {
            N::Store(s) => s.into(),
            N::NotFound(_) => ApiError::not_found(e.to_string()),
            N::Exists(_) => ApiError::conflict(e.to_string()),
            N::ReadOnly { .. } => ApiError::new(StatusCode::CONFLICT, "read_only", e.to_string()),
            N::Invalid(ref problems) => ApiError::invalid(e.to_string(), problems_of(problems, "node")),
        }
    }
}

impl From<crate::ingest::log_sources::LogSourceError> for ApiError {
    fn from(e: crate::ingest::log_sources::LogSourceError) -> Self {
        use crate::ingest::log_sources::LogSourceError as L;
        match e {
            L::Store(s) => s.into(),
            L::NotFound(_) => ApiError::not_found(e.to_string()),
            L::Exists(_) => ApiError::conflict(e.to_string()),
            L::ReadOnly(_) => ApiError::new(StatusCode::CONFLICT, "read_only", e.to_string()),
            L::Invalid(ref problems) => ApiError::invalid(e.to_string(), problems_of(problems, "mta_log")),
        }
    }
}

impl From<MailboxError> for ApiError {
    fn from(e: MailboxError) -> Self {
        match e {
            MailboxError::Store(s) => s.into(),
            MailboxError::NotFound(_) => ApiError::not_found(e.to_string()),
            MailboxError::Exists(_) | MailboxError::Clash { .. } => ApiError::conflict(e.to_string()),
            MailboxError::ReadOnly { .. } => ApiError::new(StatusCode::CONFLICT, "read_only", e.to_string()),
            MailboxError::Invalid(ref problems) => ApiError::invalid(
                "the mailbox settings are invalid",
                problems_of(problems, crate::mailbox::repo::PROBLEM_KEY),
            ),
            MailboxError::Corrupt { .. } | MailboxError::Seal(_) => {
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string())
            }
        }
    }
}

impl From<ManualError> for ApiError {
    fn from(e: ManualError) -> Self {
        match e {
            ManualError::Store(s) => s.into(),
            ManualError::NotAnAddress(_) => ApiError::field("address", e.to_string()),
            ManualError::NotAnEntry(_) => ApiError::field("entry", e.to_string()),
            ManualError::NotSuppressed { .. } | ManualError::NotAllowlisted(_) => ApiError::not_found(e.to_string()),
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        match r {
            JsonRejection::JsonDataError(e) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", e.body_text())
            }
            JsonRejection::MissingJsonContentType(_) => ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "bad_request",
                "send the body as JSON with `Content-Type: application/json`",
            ),
            JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", too_large())
            }
            other => ApiError::bad_request(other.body_text()),
        }
    }
}

pub fn too_large() -> String {
    "the request body is larger than server.max_body_bytes allows; send less or raise the limit".into()
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", r.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        ApiError::bad_request(r.body_text())
    }
}

// rules
impl From<crate::classify::repo::RulesError> for ApiError {
    fn from(e: crate::classify::repo::RulesError) -> Self {
        use crate::classify::repo::RulesError;
        match e {
            RulesError::Store(s) => s.into(),
            RulesError::NotFound(_) => ApiError::not_found(e.to_string()),
            RulesError::Exists(_) => ApiError::conflict(e.to_string()),
            RulesError::Global(_) => ApiError::conflict(e.to_string()),
            RulesError::Position(..) => ApiError::field("position", e.to_string()),
            RulesError::Problems { problems, .. } => ApiError::invalid(
                format!("the rule has {} problem(s); each is listed by field", problems.len()),
                problems.into_iter().map(|p| FieldProblem { field: p.field, message: p.message }).collect(),
            ),
            RulesError::Invalid(_) | RulesError::Compile(_) => ApiError::field("rule", e.to_string()),
            RulesError::Corrupt { .. } => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()),
        }
    }
}

// Mailboxes: one item's error inside a bulk reply.
impl ApiError {
    /// The `error` object this error would be answered with on its own.
    pub fn detail(self) -> ErrorDetail {
        ErrorDetail { code: self.code.to_string(), message: self.message, problems: self.problems }
    }
}
