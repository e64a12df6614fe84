//! Sync to the sending nodes: each renderer against the real tool that reads its output
//! (a private Postfix started by `make test`, tinycdb), atomic applies that keep the old
//! list when a step fails, the checksum, and `serve` re-rendering a push node.

#[macro_use]
#[path = "../support/mod.rs"]
mod support;

mod agent;
mod common;
mod failures;
mod formats;
mod imported;
mod postfix;
mod push;
mod retention;
