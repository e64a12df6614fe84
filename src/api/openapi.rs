//! `GET /api/v1/openapi.json`, and the answers for a path or method the router lacks.

use super::error::{ApiError, ErrorBody};
use axum::http::{Method, StatusCode, Uri};
use axum::{Extension, Json};
use std::sync::Arc;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "rebound admin API",
        description = "Mailboxes, rules, campaigns, suppression and review of a rebound service. \
Every /api route needs `Authorization: Bearer TOKEN` (`rebound token create`); viewer tokens \
read, admin tokens also write, node tokens (`--role node`) use the /api/v1/sync routes only. Errors are `{\"error\": {\"code\", \"message\", \"problems\"}}`. \
Webhook endpoints receive `Event` (schema below; a JSON array of them when `batch`), signed per \
Standard Webhooks: `webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64 HMAC-SHA256 of id.timestamp.body>`."
    ),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
    // The events webhooks receive (POSTed by rebound, not routes of this API).
    components(schemas(
        ErrorBody,
        crate::notify::Event,
        crate::notify::EventData,
        crate::notify::event::RecordData,
        crate::notify::event::SuppressionData,
        crate::notify::event::ReviewData,
        crate::notify::event::MailboxData,
        crate::notify::event::NodeData,
        crate::notify::event::AlertData,
        crate::notify::event::TestData
    ))
)]
pub struct Doc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
    }
}

/// The OpenAPI 3.1 document of this API (open: it holds no data).
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "meta", security(()),
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json")))]
pub async fn document(Extension(doc): Extension<Arc<utoipa::openapi::OpenApi>>) -> Json<utoipa::openapi::OpenApi> {
    Json((*doc).clone())
}

pub async fn no_route(uri: Uri) -> ApiError {
    ApiError::not_found(format!("no route {}; GET /api/v1/openapi.json lists them", uri.path()))
}

pub async fn no_method(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{} does not take {method}; GET /api/v1/openapi.json lists what it takes", uri.path()),
    )
}
