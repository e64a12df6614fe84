//! MTA log sources managed through the admin API: create, update, delete, enable/disable.
//!
//! Takes who writes, the config file's `[[mta_log]]` entries (read-only here) and the keys of
//! an entry as JSON; gives the stored [`MtaLogConfig`]. Settings are checked with the config
//! file's own validation, every problem at once, and an API source may only read under the
//! directories `[server] log_source_dirs` names (an admin token must not turn rebound into a
//! reader of any file on the host: unreadable lines are shown in the review queue). Every
//! write is one transaction with its audit entry; `serve` re-reads the list every poll
//! ([`super::log_follow`]). It never writes a config-file source ([`LogSourceError::ReadOnly`])
//! and never reads a log.

use crate::audit::{self, Actor};
use crate::config::{MtaLogConfig, Problem};
use crate::store::schema::mta_log_sources as t;
use crate::store::{AnyConnection, StoreError};
use chrono::Utc;
use diesel::prelude::*;

#[derive(Debug, thiserror::Error)]
pub enum LogSourceError {
    #[error("no log source named `{0}`; GET /api/v1/logs lists them")]
    NotFound(String),
    #[error("a log source named `{0}` exists; pick another name")]
    Exists(String),
    #[error("log source `{0}` comes from the config file ([[mta_log]]): change it there and restart serve")]
    ReadOnly(String),
    #[error("the log source settings are invalid")]
    Invalid(Vec<Problem>),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<diesel::result::Error> for LogSourceError {
    fn from(e: diesel::result::Error) -> Self {
        LogSourceError::Store(StoreError::Query(e))
    }
}

/// What a write is checked against: the config file's sources and the allowed directories.
#[derive(Debug, Clone, Copy)]
pub struct Limits<'a> {
    pub file: &'a [MtaLogConfig],
    pub dirs: &'a [String],
}

/// A JSON body as the keys of a `[[mta_log]]` table (nulls are "not given").
pub fn table_of(body: serde_json::Map<String, serde_json::Value>) -> Result<toml::Table, Vec<Problem>> {
    crate::config::table_of_json(body, "mta_log")
}

fn check(settings: toml::Table, limits: Limits) -> Result<MtaLogConfig, LogSourceError> {
    let cfg = crate::config::mta_log::resolve_table(settings).map_err(LogSourceError::Invalid)?;
    let mut problems = Vec::new();
    if cfg.path == "-" {
        problems.push(Problem::new("mta_log.path", "`-` (standard input) is for `rebound ingest-log`, not serve"));
    } else if !allowed(&cfg.path, limits.dirs) {
        let why = if limits.dirs.is_empty() {
            "no directory is open to API-managed log sources: list the MTAs' log directories in \
             [server] log_source_dirs (e.g. [\"/var/log/pmta\"]), or define the source in the config file"
                .to_string()
        } else {
            format!("must be under one of [server] log_source_dirs: {}", limits.dirs.join(", "))
        };
        problems.push(Problem::new("mta_log.path", why));
    }
    if problems.is_empty() { Ok(cfg) } else { Err(LogSourceError::Invalid(problems)) }
}

/// Whether `path` (a file or glob) stays under one of `dirs`: no `..` step may climb out.
fn allowed(path: &str, dirs: &[String]) -> bool {
    !path.split('/').any(|step| step == "..")
        && dirs.iter().any(|d| {
            let d = d.trim_end_matches('/');
            !d.is_empty() && path.strip_prefix(d).is_some_and(|rest| rest.starts_with('/') && rest.len() > 1)
        })
}

/// Every API-managed source, by name.
pub fn stored(c: &mut AnyConnection) -> Result<Vec<MtaLogConfig>, StoreError> {
    let rows: Vec<(String, String)> = t::table.order(t::name.asc()).select((t::name, t::settings)).load(c)?;
    Ok(rows
        .into_iter()
        .filter_map(|(name, json)| match serde_json::from_str(&json) {
            Ok(cfg) => Some(cfg),
            Err(e) => {
                tracing::warn!(source = %name, error = %e, "a stored log source cannot be read; it is skipped");
                None
            }
        })
        .collect())
}

fn find(c: &mut AnyConnection, name: &str) -> Result<Option<(i64, MtaLogConfig)>, LogSourceError> {
    let row: Option<(i64, String)> =
        t::table.filter(t::name.eq(name)).select((t::id, t::settings)).first(c).optional()?;
    Ok(row.and_then(|(id, json)| serde_json::from_str(&json).ok().map(|cfg| (id, cfg))))
}

fn writable(c: &mut AnyConnection, name: &str, limits: Limits) -> Result<(i64, MtaLogConfig), LogSourceError> {
    if limits.file.iter().any(|l| l.name == name) {
        return Err(LogSourceError::ReadOnly(name.to_string()));
    }
    find(c, name)?.ok_or_else(|| LogSourceError::NotFound(name.to_string()))
}

fn taken(c: &mut AnyConnection, name: &str, limits: Limits) -> Result<bool, LogSourceError> {
    Ok(limits.file.iter().any(|l| l.name == name) || find(c, name)?.is_some())
}

fn record(
    c: &mut AnyConnection,
    by: &Actor,
    action: &str,
    name: &str,
    before: Option<&MtaLogConfig>,
    after: Option<&MtaLogConfig>,
) -> Result<(), StoreError> {
    let state = |l: Option<&MtaLogConfig>| l.and_then(|l| serde_json::to_value(l).ok());
    let target = format!("log:{name}");
    let change = audit::Change { action, target: &target, note: None, before: state(before), after: state(after) };
    audit::record(c, by.as_str(), change, Utc::now().naive_utc())
}

fn json(cfg: &MtaLogConfig) -> String {
    serde_json::to_string(cfg).unwrap_or_default()
}

/// Creates an API-managed source; every `serve` follows it from its next poll.
pub fn create(
    c: &mut AnyConnection,
    by: &Actor,
    limits: Limits,
    settings: toml::Table,
) -> Result<MtaLogConfig, LogSourceError> {
    let cfg = check(settings, limits)?;
    crate::store::transaction(c, |c| {
        if taken(c, &cfg.name, limits)? {
            return Err(LogSourceError::Exists(cfg.name.clone()));
        }
        let now = Utc::now().naive_utc();
        diesel::insert_into(t::table)
            .values((
                t::name.eq(&cfg.name),
                t::settings.eq(json(&cfg)),
                t::enabled.eq(i32::from(cfg.enabled)),
                t::created_at.eq(now),
                t::updated_at.eq(now),
            ))
            .execute(c)?;
        record(c, by, "log_source.create", &cfg.name, None, Some(&cfg))?;
        Ok(cfg.clone())
    })
}

/// Replaces an API source's settings with a full entry. A rename starts a new source name
/// (`log:NEW`): its files are read again from their start, lines recorded before skipped.
pub fn update(
    c: &mut AnyConnection,
    by: &Actor,
    limits: Limits,
    name: &str,
    settings: toml::Table,
) -> Result<MtaLogConfig, LogSourceError> {
    let cfg = check(settings, limits)?;
    crate::store::transaction(c, |c| {
        let (id, current) = writable(c, name, limits)?;
        if cfg.name != name && taken(c, &cfg.name, limits)? {
            return Err(LogSourceError::Exists(cfg.name.clone()));
        }
        if current == cfg {
            return Ok(current);
        }
        write(c, id, &cfg)?;
        record(c, by, "log_source.update", name, Some(&current), Some(&cfg))?;
        Ok(cfg.clone())
    })
}

fn write(c: &mut AnyConnection, id: i64, cfg: &MtaLogConfig) -> Result<(), LogSourceError> {
    diesel::update(t::table.find(id))
        .set((
            t::name.eq(&cfg.name),
            t::settings.eq(json(cfg)),
            t::enabled.eq(i32::from(cfg.enabled)),
            t::updated_at.eq(Utc::now().naive_utc()),
        ))
        .execute(c)?;
    Ok(())
}

/// Deletes an API source: no longer followed; its checkpoints and events stay.
pub fn delete(c: &mut AnyConnection, by: &Actor, limits: Limits, name: &str) -> Result<MtaLogConfig, LogSourceError> {
    crate::store::transaction(c, |c| {
        let (id, current) = writable(c, name, limits)?;
        diesel::delete(t::table.find(id)).execute(c)?;
        record(c, by, "log_source.delete", name, Some(&current), None)?;
        Ok(current)
    })
}

/// Enables or disables an API source (a disabled one is kept, not followed).
pub fn set_enabled(
    c: &mut AnyConnection,
    by: &Actor,
    limits: Limits,
    name: &str,
    enabled: bool,
) -> Result<MtaLogConfig, LogSourceError> {
    crate::store::transaction(c, |c| {
        let (id, current) = writable(c, name, limits)?;
        if current.enabled == enabled {
            return Ok(current);
        }
        let cfg = MtaLogConfig { enabled, ..current.clone() };
        write(c, id, &cfg)?;
        let action = if enabled { "log_source.enable" } else { "log_source.disable" };
        record(c, by, action, name, Some(&current), Some(&cfg))?;
        Ok(cfg)
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn paths_stay_under_the_allowed_directories() {
        let dirs = vec!["/var/log/pmta".to_string(), "/srv/logs/".to_string()];
        assert!(super::allowed("/var/log/pmta/acct-*.csv", &dirs));
        assert!(super::allowed("/srv/logs/maillog", &dirs));
        assert!(!super::allowed("/var/log/pmta/../../../etc/shadow", &dirs));
        assert!(!super::allowed("/var/log/pmtab/acct.csv", &dirs));
        assert!(!super::allowed("/var/log/pmta/", &dirs));
        assert!(!super::allowed("/etc/shadow", &dirs));
        assert!(!super::allowed("/var/log/pmta/x", &[]));
    }
}
