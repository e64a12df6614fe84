//! The config file's `[[mailbox]]` entries mirrored into the `mailboxes` table.
//!
//! Takes the resolved entries and the file's name; gives each a row (`source = config`) with a
//! stable id. `serve` syncs at start: new entries are added, changed ones updated, and one
//! the file no longer has is marked deleted (history kept). It never touches API-managed
//! mailboxes, and refuses a file entry that has the name of one.

use super::repo::{Mailbox, MailboxError, ManagedBy, bump_version, find_live, insert, list, now, settings_of, to_json};
use crate::config::MailboxConfig;
use crate::store::AnyConnection;
use crate::store::schema::mailboxes;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

/// Advisory lock key ("mailbox" in ASCII): instances starting together sync the file in turn.
const PG_SYNC_LOCK: i64 = 0x6d61696c626f78;

/// What [`sync_config`] changed, by mailbox name.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct SyncReport {
    pub added: Vec<String>,
    pub updated: Vec<String>,
    /// Removed from the file: marked deleted, history kept.
    pub deleted: Vec<String>,
}

impl SyncReport {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.updated.is_empty() && self.deleted.is_empty()
    }
}

/// Makes the table mirror the config file's `[[mailbox]]` entries (`file` names it): each is
/// upserted by name as a `config` mailbox, and a config mailbox the file no longer has is
/// marked deleted (its history stays). A name that was deleted before comes back with its
/// old id, checkpoints and status: the file knows mailboxes only by name. Fails without
/// writing anything when an entry has the name of an API-managed mailbox.
pub fn sync_config(
    c: &mut AnyConnection,
    entries: &[MailboxConfig],
    file: Option<&str>,
) -> Result<SyncReport, MailboxError> {
    crate::store::transaction(c, |c| {
        lock_for_sync(c)?;
        let live = list(c)?;
        let mut report = SyncReport::default();
        for cfg in entries {
            match live.iter().find(|m| m.name == cfg.name) {
                Some(m) if m.source == ManagedBy::Api => return Err(clash(m)),
                Some(m) => {
                    let settings = settings_of(cfg);
                    if m.settings != settings || m.enabled != cfg.enabled || m.config_file.as_deref() != file {
                        diesel::update(mailboxes::table.find(m.id))
                            .set((
                                mailboxes::settings.eq(to_json(&settings)),
                                mailboxes::enabled.eq(i32::from(cfg.enabled)),
                                mailboxes::config_file.eq(file),
                                mailboxes::updated_at.eq(now()),
                            ))
                            .execute(c)?;
                        report.updated.push(cfg.name.clone());
                    }
                }
                None => {
                    add_config(c, cfg, file)?;
                    report.added.push(cfg.name.clone());
                }
            }
        }
        let at = now();
        for m in live.iter().filter(|m| m.source == ManagedBy::Config) {
            if !entries.iter().any(|e| e.name == m.name) {
                diesel::update(mailboxes::table.find(m.id))
                    .set((mailboxes::deleted_at.eq(Some(at)), mailboxes::updated_at.eq(at)))
                    .execute(c)?;
                report.deleted.push(m.name.clone());
            }
        }
        if !report.is_empty() {
            bump_version(c)?;
        }
        Ok(report)
    })
}

/// The id of config mailbox `cfg`, registering it when the table has no live row of that
/// name yet (a manual `rebound poll` before any `serve`). An existing row is left as it is;
/// only [`sync_config`] (at `serve` start) rewrites settings and deletes.
pub fn register_config(c: &mut AnyConnection, cfg: &MailboxConfig, file: Option<&str>) -> Result<i64, MailboxError> {
    crate::store::transaction(c, |c| {
        lock_for_sync(c)?;
        match find_live(c, &cfg.name)? {
            Some(m) if m.source == ManagedBy::Api => Err(clash(&m)),
            Some(m) => Ok(m.id),
            None => add_config(c, cfg, file),
        }
    })
}

fn clash(m: &Mailbox) -> MailboxError {
    MailboxError::Clash { name: m.name.clone(), id: m.id }
}

/// On PostgreSQL, instances starting together sync one at a time (the later one then finds
/// the rows the first committed); SQLite's write lock, taken up front, does the same.
fn lock_for_sync(c: &mut AnyConnection) -> Result<(), MailboxError> {
    if let AnyConnection::Postgresql(pg) = c {
        diesel::sql_query(format!("SELECT pg_advisory_xact_lock({PG_SYNC_LOCK})")).execute(pg)?;
    }
    Ok(())
}

/// Revives the latest deleted config row of that name, or inserts a new one; bumps the version.
fn add_config(c: &mut AnyConnection, cfg: &MailboxConfig, file: Option<&str>) -> Result<i64, MailboxError> {
    let old: Option<i64> = mailboxes::table
        .filter(mailboxes::name.eq(&cfg.name))
        .filter(mailboxes::source.eq(ManagedBy::Config.as_str()))
        .filter(mailboxes::deleted_at.is_not_null())
        .order(mailboxes::deleted_at.desc())
        .select(mailboxes::id)
        .first(c)
        .optional()?;
    let Some(id) = old else { return insert(c, cfg, ManagedBy::Config, file) };
    diesel::update(mailboxes::table.find(id))
        .set((
            mailboxes::settings.eq(to_json(&settings_of(cfg))),
            mailboxes::enabled.eq(i32::from(cfg.enabled)),
            mailboxes::config_file.eq(file),
            mailboxes::updated_at.eq(now()),
            mailboxes::deleted_at.eq(None::<NaiveDateTime>),
        ))
        .execute(c)?;
    bump_version(c)?;
    Ok(id)
}
