//! The web admin in a real headless Chromium (driven over WebDriver by fantoccini) against a
//! real `rebound serve` with the test Dovecot, on SQLite and PostgreSQL.
//!
//! One browser session per backend walks the whole admin as a person would: sign in, add a
//! mailbox and verify it, poll, read the campaign's BOUNCED tab, reorder and switch rules,
//! remove a suppression and find it in the audit log, then the refusals (forged POST
//! without the CSRF token, a viewer's controls and writes) and that no page loads anything
//! from outside. A failing step saves a screenshot beside the test's output
//! (`$CARGO_TARGET_TMPDIR/web-*.png`, its path printed).

#[macro_use]
#[path = "../support/mod.rs"]
mod support;

mod actions;
mod alerts;
mod browser;
mod sessions;
mod site;
mod stats;
mod walk;
