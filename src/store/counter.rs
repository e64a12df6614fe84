//! Version counters in the `meta` table: a number bumped in the same transaction as every
//! change to a list (rules, mailboxes), so every instance notices the change by reading one
//! row instead of the list.

use super::schema::meta;
use super::{AnyConnection, StoreError};
use diesel::prelude::*;

/// The counter `key`; 0 when it was never bumped.
pub fn read(c: &mut AnyConnection, key: &str) -> Result<i64, StoreError> {
    Ok(meta::table.find(key).select(meta::value).first(c).optional()?.unwrap_or(0))
}

/// Adds one to the counter `key` (creating it at 1).
pub fn bump(c: &mut AnyConnection, key: &str) -> Result<(), StoreError> {
    let n = diesel::update(meta::table.find(key)).set(meta::value.eq(meta::value + 1)).execute(c)?;
    if n == 0 {
        diesel::insert_into(meta::table).values((meta::key.eq(key), meta::value.eq(1i64))).execute(c)?;
    }
    Ok(())
}
