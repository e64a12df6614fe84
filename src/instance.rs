//! This process's identity in the `instances` table, kept fresh by a heartbeat.
//!
//! Takes a [`Db`]; gives a random instance id registered with host, pid and version.
//! Other instances on the same PostgreSQL see which peers are alive (mailbox leases build
//! on this). It never removes another instance's row.

use crate::store::{AnyConnection, Db, StoreError, schema::instances};
use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

/// An instance whose heartbeat (every 30 s) is older than this is presumed gone: it missed
/// three in a row.
pub const ALIVE_WITHIN_SECONDS: i64 = 90;

/// One row of the `instances` table, as status shows it.
#[derive(Debug, Clone, Queryable, Selectable, Serialize, PartialEq, Eq, utoipa::ToSchema)]
#[diesel(table_name = instances)]
pub struct Instance {
    pub id: String,
    pub hostname: String,
    pub pid: i64,
    pub version: String,
    pub started_at: NaiveDateTime,
    pub heartbeat_at: NaiveDateTime,
}

impl Instance {
    /// Its heartbeat is recent (see [`ALIVE_WITHIN_SECONDS`]).
    pub fn alive(&self, now: NaiveDateTime) -> bool {
        now - self.heartbeat_at <= chrono::Duration::seconds(ALIVE_WITHIN_SECONDS)
    }
}

/// Every registered instance, most recent heartbeat first (crashed ones stay until their
/// row is cleaned up by hand: an instance never removes another's row).
pub fn list(c: &mut AnyConnection) -> Result<Vec<Instance>, StoreError> {
    Ok(instances::table.order(instances::heartbeat_at.desc()).select(Instance::as_select()).load(c)?)
}

pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A lease owner name for a one-off `rebound poll` that people can read in `mailbox list`:
/// host and pid, plus a random suffix so a reused pid is still a different owner.
pub fn poller_name() -> String {
    let host = hostname::get().map(|h| h.to_string_lossy().into_owned()).unwrap_or_else(|_| "unknown-host".into());
    let suffix: String = new_id().chars().take(8).collect();
    format!("rebound poll on {host} (pid {}, {suffix})", std::process::id())
}

/// Inserts this instance's row, or refreshes its heartbeat when it exists.
pub async fn heartbeat(db: &Db, id: &str) -> Result<(), StoreError> {
    let id = id.to_string();
    db.run(move |c| {
        let now = Utc::now().naive_utc();
        let updated = diesel::update(instances::table.find(&id)).set(instances::heartbeat_at.eq(now)).execute(c)?;
        if updated == 0 {
            let host = hostname::get().map(|h| h.to_string_lossy().into_owned()).unwrap_or_default();
            diesel::insert_into(instances::table)
                .values((
                    instances::id.eq(&id),
                    instances::hostname.eq(host),
                    instances::pid.eq(i64::from(std::process::id())),
                    instances::version.eq(env!("CARGO_PKG_VERSION")),
                    instances::started_at.eq(now),
                    instances::heartbeat_at.eq(now),
                ))
                .execute(c)?;
        }
        Ok(())
    })
    .await
}

/// Removes this instance's row at clean shutdown.
pub async fn deregister(db: &Db, id: &str) -> Result<(), StoreError> {
    let id = id.to_string();
    db.run(move |c| Ok(diesel::delete(instances::table.find(&id)).execute(c).map(|_| ())?)).await
}
