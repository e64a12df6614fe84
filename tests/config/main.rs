//! The configuration contract: the file and its `[[mailbox]]` entries.

#[macro_use]
#[path = "../support/mod.rs"]
mod support;

mod file;
mod mailbox;
