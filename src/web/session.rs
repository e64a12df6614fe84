//! The session extractors: [`Signed`] (any signed-in viewer or admin) for pages, and
//! [`Write`] for every POST — an admin session whose form carries the session's CSRF token.
//!
//! Takes the `rebound_session` cookie (and for [`Write`] the url-encoded body); gives the
//! session's principal and, for a write, the decoded form. A page without a live session
//! redirects to sign-in; a POST from a viewer, or without the right CSRF token, is refused
//! (403) before anything runs. SameSite=Strict already keeps other sites' forms from
//! carrying the cookie; the token is the second, independent guard.

use super::error::WebError;
use crate::access::{Principal, Role, sessions};
use crate::api::{Admin, AppState, Viewer};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

pub const SESSION_COOKIE: &str = "rebound_session";

/// A signed-in person (or API token) on a page.
#[derive(Debug, Clone)]
pub struct Signed {
    pub principal: Principal,
    pub csrf: String,
    /// The cookie's secret (sign-out closes it).
    pub secret: String,
}

impl Signed {
    pub fn admin(&self) -> bool {
        self.principal.role == Role::Admin
    }

    pub fn viewer(&self) -> Viewer {
        Viewer(self.principal.clone())
    }

    /// The API's admin extractor for this session (refused for a viewer).
    pub fn as_admin(&self) -> Result<Admin, WebError> {
        if self.admin() {
            Ok(Admin(self.principal.clone()))
        } else {
            Err(WebError::forbidden(format!(
                "`{}` is a viewer: viewers may read but not change anything; sign in as an admin",
                self.principal.name
            )))
        }
    }
}

/// The value of cookie `name` in the request's Cookie headers.
pub fn cookie<'a>(headers: &'a axum::http::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Compares secrets in time independent of where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl FromRequestParts<AppState> for Signed {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, WebError> {
        let next = parts.uri.path_and_query().map(|p| p.as_str().to_string()).unwrap_or_else(|| "/".into());
        let Some(secret) = cookie(&parts.headers, SESSION_COOKIE).map(str::to_string) else {
            return Err(WebError::SignIn { next });
        };
        let now = chrono::Utc::now().naive_utc();
        let probe = secret.clone();
        let found = state.db.run(move |c| sessions::find(c, &probe, now)).await.map_err(WebError::internal)?;
        match found {
            Some(s) => Ok(Signed { principal: s.principal, csrf: s.csrf, secret }),
            None => Err(WebError::SignIn { next }),
        }
    }
}

/// A POST: an admin session and its form `T`, whose `csrf` field matched the session's.
pub struct Write<T> {
    pub signed: Signed,
    pub form: T,
}

/// A POST any signed-in role may make (a rule test, sign-out): a session and its form `T`,
/// whose `csrf` field matched the session's. It must change nothing a viewer may not.
pub struct Posted<T> {
    pub signed: Signed,
    pub form: T,
}

/// The session, and the form once its CSRF token matched.
async fn checked<T: DeserializeOwned>(req: Request, state: &AppState, admin: bool) -> Result<(Signed, T), WebError> {
    let (mut parts, body) = req.into_parts();
    let signed = Signed::from_request_parts(&mut parts, state).await.map_err(|e| match e {
        // A write is never replayed after sign-in: say so instead of redirecting.
        WebError::SignIn { .. } => WebError::forbidden("not signed in (or the session ended): sign in again"),
        other => other,
    })?;
    if admin {
        signed.as_admin()?;
    }
    let bytes = axum::body::to_bytes(body, state.limits.max_body_bytes)
        .await
        .map_err(|e| WebError::bad_request(format!("could not read the form: {e}")))?;
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&bytes)
        .map_err(|e| WebError::bad_request(format!("the form is not url-encoded: {e}")))?;
    let sent = pairs.iter().find(|(k, _)| k == "csrf").map(|(_, v)| v.as_str()).unwrap_or("");
    if !same_secret(sent, &signed.csrf) {
        return Err(WebError::forbidden(
            "the form's CSRF token is missing or not this session's; reload the page and send it again",
        ));
    }
    let form = serde_urlencoded::from_bytes(&bytes).map_err(|e| WebError::bad_request(format!("the form: {e}")))?;
    Ok((signed, form))
}

impl<T: DeserializeOwned> FromRequest<AppState> for Write<T> {
    type Rejection = WebError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, WebError> {
        let (signed, form) = checked(req, state, true).await?;
        Ok(Write { signed, form })
    }
}

impl<T: DeserializeOwned> FromRequest<AppState> for Posted<T> {
    type Rejection = WebError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, WebError> {
        let (signed, form) = checked(req, state, false).await?;
        Ok(Posted { signed, form })
    }
}
