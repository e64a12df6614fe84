//! The fetch stage: POP3 and IMAP against the real test Dovecot, scripted servers for what
//! Dovecot does not do, and the staged "verify connection" report.

#[macro_use]
#[path = "../support/mod.rs"]
mod support;

mod failures;
mod imap;
mod oauth2;
mod pop3;
mod scripted;
mod verify;
