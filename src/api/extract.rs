//! Request extractors that fail in the API's error shape (axum's own answer in plain text).

use super::error::{ApiError, ApiResult};
use crate::store::{Cursor, Page};
use axum::extract::{FromRequest, FromRequestParts};

/// A JSON body; a malformed one is a 400/422 naming what is wrong.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

/// Query parameters; a malformed one is a 422.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

/// Path parameters.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);

/// Clamps a requested page size into 1..=max (default `default`).
pub fn page_of(limit: Option<i64>, after: Option<String>, default: i64, max: i64) -> ApiResult<Page> {
    let limit = limit.unwrap_or(default);
    if !(1..=max).contains(&limit) {
        return Err(ApiError::field("limit", format!("must be between 1 and {max}")));
    }
    Ok(Page { limit, after: after.map(Cursor) })
}
