//! `/login` and `/logout`: sign-in with a user name and password or an API token, and out.
//!
//! The sign-in form has a CSRF token of its own (a short-lived cookie echoed in the form:
//! there is no session yet), so another site cannot sign a browser in to an account of its
//! choosing. A failed sign-in says only that the name, password or token was not accepted.

use super::error::{WebError, WebResult};
use super::session::{Posted, SESSION_COOKIE, cookie, same_secret};
use crate::access::{Role, sessions, tokens, users};
use crate::api::AppState;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect};
use serde::Deserialize;

const LOGIN_COOKIE: &str = "rebound_login";

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    csrf: String,
    next: String,
    error: Option<String>,
    name: String,
    method: String,
}

#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Next {
    next: Option<String>,
}

/// Only a path of this site is followed after sign-in (no open redirect).
fn safe_next(next: Option<String>) -> String {
    next.filter(|n| n.starts_with('/') && !n.starts_with("//") && !n.starts_with("/\\")).unwrap_or_else(|| "/".into())
}

/// `Secure` when the server speaks TLS (a cookie marked so would not come back over HTTP).
fn secure(state: &AppState) -> &'static str {
    if state.config.server.tls_cert_file.is_some() { "; Secure" } else { "" }
}

fn render_login(state: &AppState, next: String, error: Option<String>, name: String, method: String) -> WebResult {
    let csrf = sessions::random_secret().map_err(WebError::internal)?;
    let page = LoginPage { csrf: csrf.clone(), next, error: error.clone(), name, method };
    let cookie =
        format!("{LOGIN_COOKIE}={csrf}; Path=/login; HttpOnly; SameSite=Strict; Max-Age=3600{}", secure(state));
    let status = if error.is_some() { StatusCode::UNAUTHORIZED } else { StatusCode::OK };
    let mut response = (status, Html(page.render()?)).into_response();
    response.headers_mut().append(SET_COOKIE, HeaderValue::from_str(&cookie).map_err(WebError::internal)?);
    Ok(response)
}

#[utoipa::path(get, path = "/login", tag = "web", security(()),
    responses((status = 200, description = "The sign-in form", content_type = "text/html")))]
pub async fn page(State(state): State<AppState>, Query(q): Query<Next>) -> WebResult {
    render_login(&state, safe_next(q.next), None, String::new(), "password".into())
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct SignIn {
    csrf: String,
    next: Option<String>,
    /// `password` or `token`.
    method: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    token: String,
}

#[utoipa::path(post, path = "/login", tag = "web", request_body(content = SignIn, content_type = "application/x-www-form-urlencoded"), security(()),
    responses((status = 303, description = "Signed in: the session cookie, to the page asked for"), (status = 401, description = "Wrong name, password or token: the form again", content_type = "text/html")))]
pub async fn submit(State(state): State<AppState>, headers: HeaderMap, axum::Form(f): axum::Form<SignIn>) -> WebResult {
    let expected = cookie(&headers, LOGIN_COOKIE).unwrap_or("").to_string();
    if expected.is_empty() || !same_secret(&f.csrf, &expected) {
        return Err(WebError::forbidden("the sign-in form expired or came from elsewhere; open /login and try again"));
    }
    let now = chrono::Utc::now().naive_utc();
    let next = safe_next(f.next);
    let (method, name) = (f.method.clone(), f.name.clone());
    let opened = state
        .db
        .run(move |c| {
            let principal = match f.method.as_str() {
                "token" => tokens::authenticate(c, f.token.trim())?.filter(|p| p.role != Role::Node),
                _ => users::sign_in(c, f.name.trim(), &f.password, now)?,
            };
            principal.map(|p| sessions::open(c, &p, now)).transpose()
        })
        .await
        .map_err(WebError::internal)?;
    let Some((secret, _)) = opened else {
        let why = if method == "token" {
            "that token is not a live admin or viewer token (`rebound token list`)"
        } else {
            "that user name and password do not match a user (`rebound user create NAME` makes one)"
        };
        return render_login(&state, next, Some(why.into()), name, method);
    };
    let max_age = sessions::LIFETIME.num_seconds();
    let cookie =
        format!("{SESSION_COOKIE}={secret}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{}", secure(&state));
    let mut response = Redirect::to(&next).into_response();
    response.headers_mut().append(SET_COOKIE, HeaderValue::from_str(&cookie).map_err(WebError::internal)?);
    Ok(response)
}

/// Ends the session (a viewer may sign out too).
#[utoipa::path(post, path = "/logout", tag = "web", security(("session" = [])), request_body(content_type = "application/x-www-form-urlencoded", description = "The session's CSRF token"),
    responses((status = 303, description = "Signed out: the session ended, to /login"), (status = 403, description = "Without the session's CSRF token, or from a viewer"), (status = 422, description = "The API refused it: the form again with its problems", content_type = "text/html")))]
pub async fn logout(State(state): State<AppState>, Posted { signed, .. }: Posted<Vec<(String, String)>>) -> WebResult {
    let secret = signed.secret.clone();
    state.db.run(move |c| sessions::close(c, &secret)).await.map_err(WebError::internal)?;
    let cookie = format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{}", secure(&state));
    let mut response = Redirect::to("/login").into_response();
    response.headers_mut().append(SET_COOKIE, HeaderValue::from_str(&cookie).map_err(WebError::internal)?);
    Ok(response)
}
