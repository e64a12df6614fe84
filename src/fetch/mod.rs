//! Fetching: where raw messages come from — POP3/IMAP mailboxes and the filesystem.
//!
//! Takes source settings; gives raw message bytes with a stable source identity. It never
//! parses, and never deletes anything the pipeline has not committed.

pub mod files;
