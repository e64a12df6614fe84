//! The admin API over HTTP: spawned in-process on both backends (and as a real `serve`).

#[macro_use]
#[path = "../support/mod.rs"]
mod support;

mod access;
mod campaigns;
mod openapi;
mod review;
mod tls;
// rules
mod rules;
// Suppression, allowlist, status and metrics.
mod status;
mod suppression;
mod suppression_import;
// Mailboxes and secrets.
mod mailbox_actions;
mod mailboxes;
mod oauth2;
mod secrets;
// The README walkthrough, end to end.
mod walkthrough;
// Nodes and the node agents' pull protocol.
mod nodes;
mod sync;
// MTA log sources followed by serve.
mod logs;
