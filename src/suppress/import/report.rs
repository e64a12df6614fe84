//! What an import did: the counts a summary prints and the rows it lists.

use super::Invalid;

/// What an import did (or, dry, would do).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Report {
    pub dry_run: bool,
    /// Data rows read (blank lines and comments not counted).
    pub rows: u64,
    pub added: u64,
    /// Already suppressed in that scope: left as they were, original evidence kept.
    pub already_present: u64,
    /// Repeats of an address and scope within one batch of [`BATCH`](super::BATCH) rows (a repeat further
    /// apart is found stored, and counted in `already_present`; a dry run counts it as added).
    /// Memory stays flat: nothing is kept of the rows of earlier batches.
    pub duplicates: u64,
    /// On the allowlist: reported, never imported.
    pub allowlisted: u64,
    pub invalid: u64,
    /// Rows whose created-at could not be read (the import time was used).
    pub dates_unread: u64,
    /// The first [`LISTED`](super::LISTED) invalid rows.
    pub invalid_rows: Vec<Invalid>,
    /// The first [`LISTED`](super::LISTED) allowlisted addresses.
    pub allowlisted_addresses: Vec<String>,
}

impl Report {
    /// Adds another file's counts (the listed rows stay each file's own).
    pub fn add(&mut self, other: &Report) {
        self.rows += other.rows;
        self.added += other.added;
        self.already_present += other.already_present;
        self.duplicates += other.duplicates;
        self.allowlisted += other.allowlisted;
        self.invalid += other.invalid;
        self.dates_unread += other.dates_unread;
    }
}
