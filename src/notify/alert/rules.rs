//! The alert rules in the database: config-file mirror and API writes.
//!
//! `alert_rules` rows mirror the `[[alert]]` entries of the config file (source `config`,
//! upserted by name at start, marked deleted when the file drops them; read-only through the
//! API except enable/disable) beside API-managed rows (source `api`). Takes rule settings as
//! a table (the API's JSON body), checked by the config file's own validation, every problem
//! at once; gives [`AlertRule`]s, and the enabled rules the evaluator follows ([`live`]).
//! Every API write is one transaction with its audit entry. It never evaluates a rule.

use crate::audit::{self, Actor};
use crate::config::{AlertConfig, AlertsConfig, Problem};
use crate::store::schema::{alert_episodes, alert_rules};
use crate::store::{AnyConnection, StoreError};
use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    #[error("no alert rule named `{0}`; GET /api/v1/alerts/rules lists them")]
    NotFound(String),
    #[error("an alert rule named `{0}` exists; pick another name")]
    Exists(String),
    #[error("alert rule `{name}` comes from the config file {file}: change it there and restart")]
    ReadOnly { name: String, file: String },
    #[error("the alert rule is invalid")]
    Invalid(Vec<Problem>),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<diesel::result::Error> for RuleError {
    fn from(e: diesel::result::Error) -> Self {
        RuleError::Store(StoreError::Query(e))
    }
}

/// A live rule: where it comes from and its settings.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AlertRule {
    pub id: i64,
    /// `config` (read-only here but for enable/disable) or `api`.
    pub source: String,
    #[serde(flatten)]
    pub config: AlertConfig,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

type Row = (i64, String, String, i32, NaiveDateTime, NaiveDateTime);

fn of_row((id, source, settings, enabled, created_at, updated_at): Row) -> Option<AlertRule> {
    match serde_json::from_str::<AlertConfig>(&settings) {
        // The column, not the settings: an API disable turns a config rule off.
        Ok(config) => Some(AlertRule {
            id,
            source,
            config: AlertConfig { enabled: enabled != 0, ..config },
            created_at,
            updated_at,
        }),
        Err(e) => {
            tracing::warn!(rule = id, error = %e, "unreadable alert rule settings; skipped");
            None
        }
    }
}

/// Every live rule, by name.
pub fn list(c: &mut AnyConnection) -> Result<Vec<AlertRule>, StoreError> {
    use alert_rules::*;
    let rows: Vec<Row> = table
        .filter(deleted_at.is_null())
        .order(name.asc())
        .select((id, source, settings, enabled, created_at, updated_at))
        .load(c)?;
    Ok(rows.into_iter().filter_map(of_row).collect())
}

/// The enabled rules, for the evaluator (one read of a small table each round).
pub fn live(c: &mut AnyConnection) -> Result<Vec<AlertConfig>, StoreError> {
    Ok(list(c)?.into_iter().filter(|r| r.config.enabled).map(|r| r.config).collect())
}

/// The live rule `name`.
pub fn find(c: &mut AnyConnection, name: &str) -> Result<Option<AlertRule>, StoreError> {
    Ok(list(c)?.into_iter().find(|r| r.config.name == name))
}

fn get(c: &mut AnyConnection, name: &str) -> Result<AlertRule, RuleError> {
    find(c, name)?.ok_or_else(|| RuleError::NotFound(name.to_string()))
}

fn settings(a: &AlertConfig) -> String {
    serde_json::to_string(a).unwrap_or_default()
}

fn insert(
    c: &mut AnyConnection,
    a: &AlertConfig,
    source: &str,
    file: Option<&str>,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::insert_into(alert_rules::table)
        .values((
            alert_rules::name.eq(&a.name),
            alert_rules::source.eq(source),
            alert_rules::config_file.eq(file),
            alert_rules::settings.eq(settings(a)),
            alert_rules::enabled.eq(i32::from(a.enabled)),
            alert_rules::created_at.eq(now),
            alert_rules::updated_at.eq(now),
        ))
        .execute(c)
}

fn write(c: &mut AnyConnection, id: i64, a: &AlertConfig, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(alert_rules::table.find(id))
        .set((
            alert_rules::name.eq(&a.name),
            alert_rules::settings.eq(settings(a)),
            alert_rules::enabled.eq(i32::from(a.enabled)),
            alert_rules::updated_at.eq(now),
        ))
        .execute(c)
}

/// Ends the active episodes of a rule that no longer runs (deleted, disabled or renamed):
/// nothing would ever resolve them.
fn close_episodes(c: &mut AnyConnection, rule: &str, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(
        alert_episodes::table.filter(alert_episodes::rule.eq(rule)).filter(alert_episodes::resolved_at.is_null()),
    )
    .set(alert_episodes::resolved_at.eq(now))
    .execute(c)
}

/// Mirrors the config file's rules into `alert_rules` (new names added, changed ones
/// updated, dropped ones marked deleted). An API enable/disable of a config rule lasts until
/// the file's entry changes.
pub fn sync_config(
    c: &mut AnyConnection,
    entries: &[AlertConfig],
    file: Option<&str>,
    now: NaiveDateTime,
) -> Result<(), StoreError> {
    crate::store::transaction(c, |c| {
        let live: Vec<(i64, String, String, String)> = alert_rules::table
            .filter(alert_rules::deleted_at.is_null())
            .select((alert_rules::id, alert_rules::name, alert_rules::source, alert_rules::settings))
            .load(c)?;
        for a in entries {
            match live.iter().find(|(_, name, ..)| name == &a.name) {
                Some((id, _, source, old)) if source == "config" => {
                    if *old != settings(a) {
                        write(c, *id, a, now)?;
                    }
                }
                // The file takes the name over from an API rule.
                Some((id, ..)) => {
                    diesel::update(alert_rules::table.find(id)).set(alert_rules::deleted_at.eq(now)).execute(c)?;
                    insert(c, a, "config", file, now)?;
                }
                None => {
                    insert(c, a, "config", file, now)?;
                }
            }
        }
        for (id, name, source, ..) in &live {
            if source == "config" && !entries.iter().any(|a| &a.name == name) {
                diesel::update(alert_rules::table.find(id)).set(alert_rules::deleted_at.eq(now)).execute(c)?;
                close_episodes(c, name, now)?;
            }
        }
        Ok(())
    })
}

fn writable(c: &mut AnyConnection, name: &str) -> Result<AlertRule, RuleError> {
    let r = get(c, name)?;
    if r.source == "config" {
        let file: Option<String> = alert_rules::table.find(r.id).select(alert_rules::config_file).first(c)?;
        return Err(RuleError::ReadOnly { name: name.into(), file: file.unwrap_or_else(|| "(unknown)".into()) });
    }
    Ok(r)
}

fn record(
    c: &mut AnyConnection,
    by: &Actor,
    action: &str,
    name: &str,
    before: Option<&AlertConfig>,
    after: Option<&AlertConfig>,
) -> Result<(), StoreError> {
    let state = |a: Option<&AlertConfig>| a.and_then(|a| serde_json::to_value(a).ok());
    let target = format!("alert:{name}");
    let change = audit::Change { action, target: &target, note: None, before: state(before), after: state(after) };
    audit::record(c, by.as_str(), change, Utc::now().naive_utc())
}

fn check(settings: toml::Table, alerts: &AlertsConfig) -> Result<AlertConfig, RuleError> {
    crate::config::alert::resolve_table(settings, alerts).map_err(RuleError::Invalid)
}

/// Creates an API-managed rule; the evaluator takes it at its next round.
pub fn create(
    c: &mut AnyConnection,
    by: &Actor,
    alerts: &AlertsConfig,
    settings: toml::Table,
) -> Result<AlertRule, RuleError> {
    let a = check(settings, alerts)?;
    crate::store::transaction(c, |c| {
        if find(c, &a.name)?.is_some() {
            return Err(RuleError::Exists(a.name.clone()));
        }
        insert(c, &a, "api", None, Utc::now().naive_utc())?;
        record(c, by, "alert.create", &a.name, None, Some(&a))?;
        get(c, &a.name)
    })
}

/// Replaces an API rule's settings with a full entry.
pub fn update(
    c: &mut AnyConnection,
    by: &Actor,
    alerts: &AlertsConfig,
    name: &str,
    settings: toml::Table,
) -> Result<AlertRule, RuleError> {
    let a = check(settings, alerts)?;
    crate::store::transaction(c, |c| {
        let current = writable(c, name)?;
        if a.name != name && find(c, &a.name)?.is_some() {
            return Err(RuleError::Exists(a.name.clone()));
        }
        if current.config == a {
            return Ok(current);
        }
        let now = Utc::now().naive_utc();
        write(c, current.id, &a, now)?;
        if a.name != name || !a.enabled {
            close_episodes(c, name, now)?;
        }
        record(c, by, "alert.update", name, Some(&current.config), Some(&a))?;
        get(c, &a.name)
    })
}

/// Deletes an API rule; its active episodes end.
pub fn delete(c: &mut AnyConnection, by: &Actor, name: &str) -> Result<AlertRule, RuleError> {
    crate::store::transaction(c, |c| {
        let current = writable(c, name)?;
        let now = Utc::now().naive_utc();
        diesel::update(alert_rules::table.find(current.id)).set(alert_rules::deleted_at.eq(now)).execute(c)?;
        close_episodes(c, name, now)?;
        record(c, by, "alert.delete", name, Some(&current.config), None)?;
        Ok(current)
    })
}

/// Enables or disables a rule (config-file ones too, until their entry in the file
/// changes); disabling ends its active episodes.
pub fn set_enabled(c: &mut AnyConnection, by: &Actor, name: &str, enabled: bool) -> Result<AlertRule, RuleError> {
    crate::store::transaction(c, |c| {
        let current = get(c, name)?;
        let now = Utc::now().naive_utc();
        diesel::update(alert_rules::table.find(current.id))
            .set((alert_rules::enabled.eq(i32::from(enabled)), alert_rules::updated_at.eq(now)))
            .execute(c)?;
        if !enabled {
            close_episodes(c, name, now)?;
        }
        let after = AlertConfig { enabled, ..current.config.clone() };
        let action = if enabled { "alert.enable" } else { "alert.disable" };
        record(c, by, action, name, Some(&current.config), Some(&after))?;
        get(c, name)
    })
}
