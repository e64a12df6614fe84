//! The mailbox list in the database (both backends): config-file and API-managed mailboxes.
//!
//! Takes a connection and mailbox operations; gives typed rows with stable ids. Every write is
//! one transaction (`crate::store::transaction`), checks settings with the config file's own
//! validation (so the API and the file accept exactly the same mailboxes), and bumps
//! `mailboxes_version` when it changes anything, so every running `serve` reloads its jobs
//! within seconds. It never stores a password (only the `password_env`/`password_file`
//! references), never changes a config-file mailbox on behalf of the API (those are
//! read-only there: the file is their truth), and never removes a row: delete sets
//! `deleted_at`, so status, checkpoints and ledger keep their owner.

use crate::config::{MailboxConfig, Problem};
use crate::store::schema::mailboxes;
use crate::store::{AnyConnection, StoreError};
use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

const VERSION_KEY: &str = "mailboxes_version";
/// The key validation problems are reported under (`mailbox.host`, `mailbox.schedule`, …).
pub const PROBLEM_KEY: &str = "mailbox";

/// Who manages a mailbox: the config file (read-only elsewhere) or the admin API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ManagedBy {
    Config,
    Api,
}

impl ManagedBy {
    /// The value of the `mailboxes.source` column.
    pub fn as_str(self) -> &'static str {
        match self {
            ManagedBy::Config => "config",
            ManagedBy::Api => "api",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MailboxError {
    #[error("no mailbox {0}; the mailbox list shows them")]
    NotFound(String),
    #[error("a mailbox named `{0}` already exists; pick another name or change that mailbox")]
    Exists(String),
    #[error("mailbox `{name}` comes from the config file ({file}); change it there and restart the server")]
    ReadOnly { name: String, file: String },
    #[error("invalid mailbox settings: {}", problem_list(.0))]
    Invalid(Vec<Problem>),
    #[error(
        "the config file has a [[mailbox]] named `{name}`, the name of API-managed mailbox {id}; rename the entry \
         in the file or delete the API mailbox"
    )]
    Clash { name: String, id: i64 },
    #[error("stored mailbox {id} is unreadable ({message}); fix or delete its row in the `mailboxes` table")]
    Corrupt { id: i64, message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn problem_list(problems: &[Problem]) -> String {
    problems.iter().map(|p| format!("{}: {}", p.key, p.message)).collect::<Vec<_>>().join("; ")
}

impl From<diesel::result::Error> for MailboxError {
    fn from(e: diesel::result::Error) -> Self {
        MailboxError::Store(StoreError::Query(e))
    }
}

/// A mailbox as stored. `settings` holds the `[[mailbox]]` keys but `name` and `enabled`
/// (those are columns), already resolved: every key is explicit, so a default changed in a
/// later release does not silently change a stored mailbox.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Mailbox {
    pub id: i64,
    pub name: String,
    pub source: ManagedBy,
    /// For config mailboxes, the file they came from.
    pub config_file: Option<String>,
    pub enabled: bool,
    pub settings: toml::Table,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub deleted_at: Option<NaiveDateTime>,
}

impl Mailbox {
    /// The settings resolved and checked as the config file's are. Fails when they no longer
    /// pass (a `password_env` not set in this process, a `ca_file` gone).
    pub fn config(&self) -> Result<MailboxConfig, Vec<Problem>> {
        resolve(&self.name, self.enabled, &self.settings)
    }

    /// A text setting as stored (for listings, which must not fail on a bad row).
    pub fn setting(&self, key: &str) -> String {
        match self.settings.get(key) {
            Some(toml::Value::String(s)) => s.clone(),
            Some(v) => v.to_string(),
            None => String::new(),
        }
    }
}

/// The ledger and event `source` of mailbox `id` (imports use `file`).
pub fn ledger_source(id: i64) -> String {
    format!("mailbox:{id}")
}

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = mailboxes)]
struct Row {
    id: i64,
    name: String,
    source: String,
    config_file: Option<String>,
    settings: String,
    enabled: i32,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    deleted_at: Option<NaiveDateTime>,
}

impl Row {
    fn into_mailbox(self) -> Result<Mailbox, MailboxError> {
        let corrupt = |message: String| MailboxError::Corrupt { id: self.id, message };
        let source = match self.source.as_str() {
            "config" => ManagedBy::Config,
            "api" => ManagedBy::Api,
            other => return Err(corrupt(format!("source `{other}` is neither config nor api"))),
        };
        let settings: toml::Table = serde_json::from_str(&self.settings)
            .map_err(|e| corrupt(format!("settings are not a JSON object: {e}")))?;
        Ok(Mailbox {
            id: self.id,
            name: self.name,
            source,
            config_file: self.config_file,
            enabled: self.enabled != 0,
            settings,
            created_at: self.created_at,
            updated_at: self.updated_at,
            deleted_at: self.deleted_at,
        })
    }
}

/// Checks an entry written as the keys of a `[[mailbox]]` table, with the config file's rules.
pub fn validate(entry: &toml::Table) -> Result<MailboxConfig, MailboxError> {
    MailboxConfig::from_value(toml::Value::Table(entry.clone()), PROBLEM_KEY).map_err(MailboxError::Invalid)
}

/// The stored form of resolved settings: every key but `name` and `enabled`.
pub fn settings_of(cfg: &MailboxConfig) -> toml::Table {
    let mut table = match toml::Value::try_from(cfg) {
        Ok(toml::Value::Table(t)) => t,
        // A struct of strings, numbers and lists always serialises to a table.
        _ => unreachable!("MailboxConfig serialises to a TOML table"),
    };
    table.remove("name");
    table.remove("enabled");
    table
}

fn resolve(name: &str, enabled: bool, settings: &toml::Table) -> Result<MailboxConfig, Vec<Problem>> {
    let mut entry = settings.clone();
    entry.insert("name".into(), toml::Value::String(name.to_string()));
    entry.insert("enabled".into(), toml::Value::Boolean(enabled));
    MailboxConfig::from_value(toml::Value::Table(entry), PROBLEM_KEY)
}

pub(super) fn to_json(settings: &toml::Table) -> String {
    serde_json::to_string(settings).unwrap_or_else(|_| "{}".into())
}

pub(super) fn now() -> NaiveDateTime {
    Utc::now().naive_utc()
}

/// The current mailboxes version (changes on every write).
pub fn version(c: &mut AnyConnection) -> Result<i64, MailboxError> {
    Ok(crate::store::counter::read(c, VERSION_KEY)?)
}

pub(super) fn bump_version(c: &mut AnyConnection) -> Result<(), MailboxError> {
    Ok(crate::store::counter::bump(c, VERSION_KEY)?)
}

/// Every live (not deleted) mailbox, by name.
pub fn list(c: &mut AnyConnection) -> Result<Vec<Mailbox>, MailboxError> {
    let rows: Vec<Row> = mailboxes::table
        .filter(mailboxes::deleted_at.is_null())
        .order(mailboxes::name.asc())
        .select(Row::as_select())
        .load(c)?;
    rows.into_iter().map(Row::into_mailbox).collect()
}

/// A live mailbox by id.
pub fn get(c: &mut AnyConnection, id: i64) -> Result<Mailbox, MailboxError> {
    let row: Option<Row> = mailboxes::table
        .find(id)
        .filter(mailboxes::deleted_at.is_null())
        .select(Row::as_select())
        .first(c)
        .optional()?;
    row.ok_or_else(|| MailboxError::NotFound(format!("with id {id}")))?.into_mailbox()
}

/// A live mailbox by name.
pub fn by_name(c: &mut AnyConnection, name: &str) -> Result<Mailbox, MailboxError> {
    find_live(c, name)?.ok_or_else(|| MailboxError::NotFound(format!("named `{name}`")))
}

pub(super) fn find_live(c: &mut AnyConnection, name: &str) -> Result<Option<Mailbox>, MailboxError> {
    let row: Option<Row> = mailboxes::table
        .filter(mailboxes::name.eq(name))
        .filter(mailboxes::deleted_at.is_null())
        .select(Row::as_select())
        .first(c)
        .optional()?;
    row.map(Row::into_mailbox).transpose()
}

/// A unique-index violation on the live name means another writer took the name first.
fn taken(name: &str) -> impl FnOnce(diesel::result::Error) -> MailboxError + '_ {
    move |e| match e {
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _) => {
            MailboxError::Exists(name.to_string())
        }
        e => e.into(),
    }
}

pub(super) fn insert(
    c: &mut AnyConnection,
    cfg: &MailboxConfig,
    source: ManagedBy,
    file: Option<&str>,
) -> Result<i64, MailboxError> {
    let at = now();
    diesel::insert_into(mailboxes::table)
        .values((
            mailboxes::name.eq(&cfg.name),
            mailboxes::source.eq(source.as_str()),
            mailboxes::config_file.eq(file),
            mailboxes::settings.eq(to_json(&settings_of(cfg))),
            mailboxes::enabled.eq(i32::from(cfg.enabled)),
            mailboxes::created_at.eq(at),
            mailboxes::updated_at.eq(at),
        ))
        .execute(c)
        .map_err(taken(&cfg.name))?;
    let id = mailboxes::table
        .filter(mailboxes::name.eq(&cfg.name))
        .filter(mailboxes::deleted_at.is_null())
        .select(mailboxes::id)
        .first(c)?;
    bump_version(c)?;
    Ok(id)
}

/// Creates an API-managed mailbox from the keys of a `[[mailbox]]` entry (all problems at
/// once in [`MailboxError::Invalid`]).
pub fn create(c: &mut AnyConnection, entry: &toml::Table) -> Result<Mailbox, MailboxError> {
    let cfg = validate(entry)?;
    crate::store::transaction(c, |c| {
        if find_live(c, &cfg.name)?.is_some() {
            return Err(MailboxError::Exists(cfg.name.clone()));
        }
        let id = insert(c, &cfg, ManagedBy::Api, None)?;
        get(c, id)
    })
}

/// Refuses to write a config-file mailbox through the API.
fn writable(m: &Mailbox) -> Result<(), MailboxError> {
    match m.source {
        ManagedBy::Api => Ok(()),
        ManagedBy::Config => Err(MailboxError::ReadOnly {
            name: m.name.clone(),
            file: m.config_file.clone().unwrap_or_else(|| "the config file".into()),
        }),
    }
}

/// Replaces an API mailbox's settings (a full `[[mailbox]]` entry; `name` may change: a
/// rename keeps the id, so status, checkpoints and ledger stay).
pub fn update(c: &mut AnyConnection, id: i64, entry: &toml::Table) -> Result<Mailbox, MailboxError> {
    let cfg = validate(entry)?;
    crate::store::transaction(c, |c| {
        let current = get(c, id)?;
        writable(&current)?;
        if let Some(other) = find_live(c, &cfg.name)?
            && other.id != id
        {
            return Err(MailboxError::Exists(cfg.name.clone()));
        }
        let settings = settings_of(&cfg);
        if current.name == cfg.name && current.enabled == cfg.enabled && current.settings == settings {
            return Ok(current);
        }
        diesel::update(mailboxes::table.find(id))
            .set((
                mailboxes::name.eq(&cfg.name),
                mailboxes::settings.eq(to_json(&settings)),
                mailboxes::enabled.eq(i32::from(cfg.enabled)),
                mailboxes::updated_at.eq(now()),
            ))
            .execute(c)
            .map_err(taken(&cfg.name))?;
        bump_version(c)?;
        get(c, id)
    })
}

/// Soft-deletes an API mailbox: it stops being polled everywhere; its history stays.
pub fn delete(c: &mut AnyConnection, id: i64) -> Result<Mailbox, MailboxError> {
    crate::store::transaction(c, |c| {
        let mut current = get(c, id)?;
        writable(&current)?;
        let at = now();
        diesel::update(mailboxes::table.find(id))
            .set((mailboxes::deleted_at.eq(Some(at)), mailboxes::updated_at.eq(at)))
            .execute(c)?;
        bump_version(c)?;
        (current.deleted_at, current.updated_at) = (Some(at), at);
        Ok(current)
    })
}

/// Enables or disables an API mailbox (a disabled one keeps its row and is not polled).
pub fn set_enabled(c: &mut AnyConnection, id: i64, enabled: bool) -> Result<Mailbox, MailboxError> {
    crate::store::transaction(c, |c| {
        let current = get(c, id)?;
        writable(&current)?;
        if current.enabled == enabled {
            return Ok(current);
        }
        diesel::update(mailboxes::table.find(id))
            .set((mailboxes::enabled.eq(i32::from(enabled)), mailboxes::updated_at.eq(now())))
            .execute(c)?;
        bump_version(c)?;
        get(c, id)
    })
}

pub use super::sync::{SyncReport, register_config, sync_config};
