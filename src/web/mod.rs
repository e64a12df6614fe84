//! The web admin: HTML pages served by `rebound serve` at `/` (sign-in, overview, mailboxes,
//! campaigns, statistics, rules, suppression, review queue, audit log, settings).
//!
//! Takes the shared [`AppState`] and a browser's requests; gives pages built only on what the
//! admin API does: each handler calls the API's own handler or the stage operation it calls
//! (so validation, errors, audit and limits are the API's), then renders. No business logic
//! and no table access live here; data a page needs that no stage operation gave was added
//! in the stage's module.
//!
//! Why server-rendered askama templates: they are compiled into the binary and checked at
//! build time (a missing field or a typo fails `cargo build`, not a page), every page is one
//! request with no client framework, and there is no Node toolchain at build or run time.
//! A little hand-written JavaScript ([`assets`]'s `app.js`) does what HTML cannot: the
//! verify panel on the unsaved mailbox form, drag-and-drop of rules, the condition
//! builder's add / remove buttons, confirmations. Every page works without it (plain form
//! fallbacks: ↑/↓ buttons, spare blank condition rows).
//!
//! Every page and form is an operation of the OpenAPI document (tag `web`, signed in by the
//! `session` cookie): [`routes`] builds the router from the documented handlers only.
//! Every asset is compiled in (`include_str!`) and every response carries a
//! `Content-Security-Policy` of `'self'` only, so nothing loads from outside the binary.
//!
//! Sign-in ([`login`], [`session`]): a user name and password (`rebound user create`) or an
//! API token opens a session (cookie HttpOnly, SameSite=Strict, Secure under TLS); every
//! POST carries the session's CSRF token and is refused without it, and a viewer's POST is
//! refused whatever it carries.

mod alerts;
mod assets;
mod audit;
mod campaigns;
mod chart;
mod error;
mod form;
mod layout;
mod login;
mod mailboxes;
mod overview;
mod review;
mod rules;
mod session;
mod stats;
mod suppression;

pub use error::WebError;
pub use session::{Posted, SESSION_COOKIE, Signed, Write};

use crate::api::AppState;
use axum::Router;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa_axum::{router::OpenApiRouter, routes};

/// Every page and form of the web admin, and the OpenAPI paths that describe exactly these
/// (tag `web`): the router is built from the documented handlers only, as the API's is, so
/// a page cannot be served undocumented.
pub fn routes() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (router, mut doc) = OpenApiRouter::new()
        .routes(routes!(overview::page))
        .routes(routes!(assets::serve))
        .routes(routes!(login::page, login::submit))
        .routes(routes!(login::logout))
        .routes(routes!(mailboxes::list))
        .routes(routes!(mailboxes::new_form))
        .routes(routes!(mailboxes::save))
        .routes(routes!(mailboxes::verify_form))
        .routes(routes!(mailboxes::bulk))
        .routes(routes!(mailboxes::edit_form))
        .routes(routes!(mailboxes::action))
        .routes(routes!(campaigns::list))
        .routes(routes!(campaigns::page))
        .routes(routes!(campaigns::export))
        .routes(routes!(stats::page))
        .routes(routes!(rules::list))
        .routes(routes!(rules::new_form))
        .routes(routes!(rules::save))
        .routes(routes!(rules::move_rule))
        .routes(routes!(rules::test))
        .routes(routes!(rules::resync_confirm, rules::resync))
        .routes(routes!(rules::reset_confirm, rules::reset))
        .routes(routes!(rules::edit_form))
        .routes(routes!(rules::toggle))
        .routes(routes!(suppression::list))
        .routes(routes!(suppression::address))
        .routes(routes!(suppression::add))
        .routes(routes!(suppression::remove))
        .routes(routes!(suppression::export))
        .routes(routes!(suppression::allow))
        .routes(routes!(suppression::disallow))
        .routes(routes!(review::list))
        .routes(routes!(review::item))
        .routes(routes!(review::action))
        .routes(routes!(audit::list))
        .routes(routes!(audit::settings))
        .routes(routes!(alerts::page))
        .routes(routes!(alerts::toggle_rule))
        .routes(routes!(alerts::send_test))
        .split_for_parts();
    let components = doc.components.get_or_insert_with(Default::default);
    let cookie = ApiKey::Cookie(ApiKeyValue::with_description(
        SESSION_COOKIE,
        "The web admin's session, opened by POST /login; every POST also carries its CSRF token (`csrf`)",
    ));
    components.add_security_scheme("session", SecurityScheme::ApiKey(cookie));
    (router.layer(axum::middleware::map_response(layout::security_headers)), doc)
}
