//! The set a node should hold, read from the suppression list: the entries in force in the
//! scopes it takes, and the change-log position they are current to.
//!
//! The position is read first and the entries after it, so the set is at least as new as the
//! position it is reported with: a node may be told it is one change behind when it is not,
//! never the reverse. Entries are read in keyset pages of two columns (address, scope), in
//! address order, so a million of them stream in flat memory.

use crate::config::NodeConfig;
use crate::config::node::ALL_SCOPES;
use crate::store::schema::suppression_changes;
use crate::store::{AnyConnection, StoreError};
use crate::suppress::list;
use chrono::NaiveDateTime;
use diesel::dsl::{count_star, max};
use diesel::prelude::*;

/// Pairs per page.
pub const PAGE: i64 = 10_000;

/// The scopes to filter on: None for every scope.
pub fn scope_filter(node: &NodeConfig) -> Option<Vec<String>> {
    (!node.scopes.iter().any(|s| s == ALL_SCOPES)).then(|| node.scopes.clone())
}

/// The change log's head: the highest seq handed out (the compacted floor when the log is
/// empty), 0 when nothing ever changed.
pub fn head(c: &mut AnyConnection) -> Result<i64, StoreError> {
    let top: Option<i64> = suppression_changes::table.select(max(suppression_changes::seq)).first(c)?;
    Ok(top.unwrap_or(0).max(crate::store::counter::read(c, super::retention::FLOOR)?))
}

/// Changes after `seq` in the node's scopes: how far behind a node at `seq` is.
pub fn behind(c: &mut AnyConnection, node: &NodeConfig, seq: i64) -> Result<i64, StoreError> {
    let mut q = suppression_changes::table.filter(suppression_changes::seq.gt(seq)).into_boxed();
    if let Some(scopes) = scope_filter(node) {
        q = q.filter(suppression_changes::scope.eq_any(scopes));
    }
    Ok(q.select(count_star()).first(c)?)
}

/// When the first change after `seq` in the node's scopes happened.
pub fn oldest_after(c: &mut AnyConnection, node: &NodeConfig, seq: i64) -> Result<Option<NaiveDateTime>, StoreError> {
    let mut q = suppression_changes::table.filter(suppression_changes::seq.gt(seq)).into_boxed();
    if let Some(scopes) = scope_filter(node) {
        q = q.filter(suppression_changes::scope.eq_any(scopes));
    }
    Ok(q.order(suppression_changes::seq.asc()).select(suppression_changes::at).first(c).optional()?)
}

/// The node's entries at `now`, page by page; a read error ends the iteration and is kept
/// in `error` (the caller must check it before installing what it rendered).
pub struct Pages<'c> {
    c: &'c mut AnyConnection,
    scopes: Option<Vec<String>>,
    now: NaiveDateTime,
    buf: std::vec::IntoIter<(String, String)>,
    after: Option<(String, String)>,
    done: bool,
    pub error: Option<StoreError>,
}

impl<'c> Pages<'c> {
    pub fn new(c: &'c mut AnyConnection, node: &NodeConfig, now: NaiveDateTime) -> Self {
        Self { c, scopes: scope_filter(node), now, buf: Vec::new().into_iter(), after: None, done: false, error: None }
    }
}

impl Iterator for Pages<'_> {
    type Item = (String, String);

    fn next(&mut self) -> Option<(String, String)> {
        if let Some(p) = self.buf.next() {
            return Some(p);
        }
        if self.done {
            return None;
        }
        let after = self.after.as_ref().map(|(a, s)| (a.as_str(), s.as_str()));
        match list::in_force_keys(self.c, after, PAGE, self.now, self.scopes.as_deref()) {
            Ok(rows) => {
                self.done = (rows.len() as i64) < PAGE;
                self.after = rows.last().cloned();
                self.buf = rows.into_iter();
                self.buf.next()
            }
            Err(e) => {
                self.error = Some(e);
                self.done = true;
                None
            }
        }
    }
}
