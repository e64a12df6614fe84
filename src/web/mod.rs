//! The web admin: HTML pages served by `rebound serve` at `/` (sign-in, overview, mailboxes,
//! campaigns, rules, suppression, review queue, audit log, settings).
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
//! verify panel on the unsaved mailbox form, drag-and-drop of rules, confirmations. Every
//! page works without it except those two interactions, which have plain form fallbacks.
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
mod suppression;

pub use error::WebError;
pub use session::{Posted, SESSION_COOKIE, Signed, Write};

use crate::api::AppState;
use axum::Router;
use axum::routing::{get, post};

/// Every page and form of the web admin.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(overview::page))
        .route("/assets/{file}", get(assets::serve))
        .route("/login", get(login::page).post(login::submit))
        .route("/logout", post(login::logout))
        .route("/mailboxes", get(mailboxes::list))
        .route("/mailboxes/new", get(mailboxes::new_form))
        .route("/mailboxes/save", post(mailboxes::save))
        .route("/mailboxes/verify", post(mailboxes::verify_form))
        .route("/mailboxes/bulk", post(mailboxes::bulk))
        .route("/mailboxes/{name}/edit", get(mailboxes::edit_form))
        .route("/mailboxes/{name}/action", post(mailboxes::action))
        .route("/campaigns", get(campaigns::list))
        .route("/campaigns/{id}", get(campaigns::page))
        .route("/campaigns/{id}/export", get(campaigns::export))
        .route("/rules", get(rules::list))
        .route("/rules/new", get(rules::new_form))
        .route("/rules/save", post(rules::save))
        .route("/rules/move", post(rules::move_rule))
        .route("/rules/test", post(rules::test))
        .route("/rules/resync", get(rules::resync_confirm).post(rules::resync))
        .route("/rules/reset", get(rules::reset_confirm).post(rules::reset))
        .route("/rules/{key}/edit", get(rules::edit_form))
        .route("/rules/{key}/toggle", post(rules::toggle))
        .route("/suppression", get(suppression::list))
        .route("/suppression/address", get(suppression::address))
        .route("/suppression/add", post(suppression::add))
        .route("/suppression/remove", post(suppression::remove))
        .route("/suppression/export", get(suppression::export))
        .route("/allowlist/add", post(suppression::allow))
        .route("/allowlist/remove", post(suppression::disallow))
        .route("/review", get(review::list))
        .route("/review/{id}", get(review::item))
        .route("/review/{id}/action", post(review::action))
        .route("/audit", get(audit::list))
        .route("/settings", get(audit::settings))
        .route("/alerts", get(alerts::page))
        .route("/alerts/rules/{name}/toggle", post(alerts::toggle_rule))
        .route("/alerts/webhooks/{name}/test", post(alerts::send_test))
        .layer(axum::middleware::map_response(layout::security_headers))
}
