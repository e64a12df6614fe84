//! Row leases: which instance works on a mailbox or a node right now.
//!
//! The status tables of mailboxes and nodes carry the same two columns, `lease_owner` and
//! `lease_expires_at`; these macros are the one place their taking and releasing is
//! written. A macro rather than a generic function: diesel's table types share no trait that
//! names those columns. Taking is one conditional UPDATE (free, already ours, or expired), so
//! two instances racing for a row cannot both win, on either backend.

/// Takes (or renews) the lease of row `$id` of `$table` for `$owner` until `$now + $ttl`,
/// unless another live holder has it; gives `Result<bool, diesel::result::Error>`.
#[macro_export]
macro_rules! take_lease {
    ($c:expr, $table:ident, $id:expr, $owner:expr, $now:expr, $ttl:expr) => {{
        use $crate::store::schema::$table;
        diesel::update($table::table.find($id).filter(
            $table::lease_owner.is_null().or($table::lease_owner.eq($owner)).or($table::lease_expires_at.lt($now)),
        ))
        .set(($table::lease_owner.eq($owner), $table::lease_expires_at.eq($now + $ttl)))
        .execute($c)
        .map(|n| n == 1)
    }};
}

/// Gives up the lease of row `$id` of `$table` if `$owner` holds it.
#[macro_export]
macro_rules! drop_lease {
    ($c:expr, $table:ident, $id:expr, $owner:expr) => {{
        use $crate::store::schema::$table;
        diesel::update($table::table.find($id).filter($table::lease_owner.eq($owner)))
            .set(($table::lease_owner.eq(None::<String>), $table::lease_expires_at.eq(None::<chrono::NaiveDateTime>)))
            .execute($c)
            .map(|_| ())
    }};
}
