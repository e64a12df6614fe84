//! What a page answers when it cannot be shown: a sign-in redirect, or an error page with the
//! API's own message (status and words), never a secret.

use crate::api::ApiError;
use askama::Template;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};

#[derive(Debug)]
pub enum WebError {
    /// Not signed in (or the session ended): to the sign-in page, then back to `next`.
    SignIn { next: String },
    /// An error page.
    Page { status: StatusCode, message: String },
}

impl WebError {
    pub fn forbidden(message: impl Into<String>) -> WebError {
        WebError::Page { status: StatusCode::FORBIDDEN, message: message.into() }
    }

    pub fn bad_request(message: impl Into<String>) -> WebError {
        WebError::Page { status: StatusCode::BAD_REQUEST, message: message.into() }
    }

    pub fn internal(e: impl std::fmt::Display) -> WebError {
        tracing::error!(error = %e, "web page failed");
        WebError::Page {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: "the page could not be made; the server log says why".into(),
        }
    }
}

impl From<ApiError> for WebError {
    fn from(e: ApiError) -> Self {
        let mut message = e.message;
        for p in &e.problems {
            message.push_str(&format!("; {}: {}", p.field, p.message));
        }
        WebError::Page { status: e.status, message }
    }
}

impl From<askama::Error> for WebError {
    fn from(e: askama::Error) -> Self {
        WebError::internal(e)
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    status: u16,
    reason: &'a str,
    message: &'a str,
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        match self {
            WebError::SignIn { next } => {
                let to = format!(
                    "/login?next={}",
                    url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
                );
                Redirect::to(&to).into_response()
            }
            WebError::Page { status, message } => {
                let page = ErrorPage {
                    status: status.as_u16(),
                    reason: status.canonical_reason().unwrap_or("error"),
                    message: &message,
                };
                match page.render() {
                    Ok(html) => (status, Html(html)).into_response(),
                    Err(_) => (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], message).into_response(),
                }
            }
        }
    }
}

/// A page's answer.
pub type WebResult<T = Response> = Result<T, WebError>;
