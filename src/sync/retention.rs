//! Change-log retention: changes older than `[sync] change_retention_days` are deleted, the
//! newest change always stays (so the head never moves back and SQLite never hands out a
//! seq again), and the highest seq deleted is kept as the floor in `meta`. The current set
//! lives in `suppressions`, never in the log, so compaction cannot lose it: a node whose
//! cursor is below the floor takes a fresh snapshot instead of reading changes.

use crate::store::schema::{meta, suppression_changes};
use crate::store::{AnyConnection, StoreError};
use chrono::{Duration, NaiveDateTime};
use diesel::dsl::max;
use diesel::prelude::*;

/// The `meta` key of the floor: changes with seq ≤ it are gone.
pub const FLOOR: &str = "sync_changes_floor";

/// The floor: a cursor below it can no longer be followed by changes alone.
pub fn floor(c: &mut AnyConnection) -> Result<i64, StoreError> {
    crate::store::counter::read(c, FLOOR)
}

/// Deletes changes older than `days` (by their time, up to the last such seq, so no hole is
/// left below a kept change); returns how many.
pub fn compact(c: &mut AnyConnection, days: u32, now: NaiveDateTime) -> Result<usize, StoreError> {
    let cutoff = now - Duration::days(i64::from(days));
    crate::store::transaction(c, |c| {
        let head: Option<i64> = suppression_changes::table.select(max(suppression_changes::seq)).first(c)?;
        let old: Option<i64> = suppression_changes::table
            .filter(suppression_changes::at.lt(cutoff))
            .select(max(suppression_changes::seq))
            .first(c)?;
        let (Some(head), Some(old)) = (head, old) else { return Ok(0) };
        let upto = old.min(head - 1);
        if upto <= floor(c)? {
            return Ok(0);
        }
        let n = diesel::delete(suppression_changes::table.filter(suppression_changes::seq.le(upto))).execute(c)?;
        let updated = diesel::update(meta::table.find(FLOOR)).set(meta::value.eq(upto)).execute(c)?;
        if updated == 0 {
            diesel::insert_into(meta::table).values((meta::key.eq(FLOOR), meta::value.eq(upto))).execute(c)?;
        }
        Ok(n)
    })
}
