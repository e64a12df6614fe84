//! `GET /metrics`: Prometheus text from the process's recorder (`crate::observe`), and the
//! middleware that counts every API request by route pattern, method and status.
//!
//! Open like `/healthz`, unless `[server] metrics_require_token = true` (then any live
//! token). The gauges read from the database (suppression size, review queue, rules
//! version) are refreshed at each scrape; a database that does not answer leaves them as
//! they were and the scrape still answers.

use super::{ApiResult, AppState, Viewer};
use crate::observe;
use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The metrics in Prometheus text format (open unless `server.metrics_require_token`).
#[utoipa::path(get, path = "/metrics", tag = "meta", security((), ("bearer" = [])),
    responses((status = 200, description = "Prometheus text exposition format", content_type = "text/plain"),
              (status = 401, description = "`server.metrics_require_token` is set and no live token was sent",
               body = super::ErrorBody)))]
pub async fn metrics(State(state): State<AppState>, request: Request) -> ApiResult<Response> {
    if state.config.server.metrics_require_token {
        let (mut parts, _) = request.into_parts();
        Viewer::from_request_parts(&mut parts, &state).await?;
    }
    match state.db.run(super::status::sizes).await {
        Ok(s) => observe::sizes(s.suppression, s.review_queue, s.rules_version),
        Err(e) => tracing::warn!(error = %e, "metrics: database gauges not refreshed"),
    }
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], observe::render()).into_response())
}

/// Counts a request under its route pattern (never the raw path: an address in it would
/// make a series per address).
pub async fn track(request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map(|p| p.as_str().to_string());
    let method = request.method().to_string();
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    if let Some(route) = route {
        observe::http(&route, &method, response.status().as_u16(), started.elapsed());
    }
    response
}
