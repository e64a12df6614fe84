//! The mailbox list in the database (both backends): config-file and API-managed mailboxes.
//!
//! Takes a connection and mailbox operations; gives typed rows with stable ids. Every write is
//! one transaction (`crate::store::transaction`), checks settings with the config file's own
//! validation (so the API and the file accept exactly the same mailboxes), and bumps
//! `mailboxes_version` when it changes anything, so every running `serve` reloads its jobs
//! within seconds. Writes are in [`super::write`] (audited); reads and the shared row helpers
//! are here. It never stores a password in the clear: settings hold only the
//! `password_env`/`password_file` references, and a password given through the API is kept
//! sealed ([`crate::secrets`]) in `password_sealed` (OAuth2 client secrets and refresh tokens
//! likewise in their own columns, see [`Sealed`]), opened only by [`Mailbox::config_with`].
//! It never removes a row: delete sets `deleted_at`, so status, checkpoints and ledger keep
//! their owner.

use crate::config::oauth2::InlineOAuth2;
use crate::config::{Inline, MailboxConfig, Problem, Secret};
use crate::secrets::{SealError, SealKey};
use crate::store::schema::mailboxes;
use crate::store::{AnyConnection, StoreError};
use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

const VERSION_KEY: &str = "mailboxes_version";
/// The key validation problems are reported under (`mailbox.host`, `mailbox.schedule`, …).
pub const PROBLEM_KEY: &str = "mailbox";

/// Who manages a mailbox: the config file (read-only elsewhere) or the admin API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
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
    #[error("cannot seal the password: {0}")]
    Seal(#[from] SealError),
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
    /// Whether it has a password: sealed in the database, or a `password_env`/`password_file`.
    pub password_set: bool,
    /// `auth = "oauth2"`: whether it has a client secret / a refresh token (sealed, or named
    /// by `*_env`/`*_file`); never the value.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub oauth2_client_secret_set: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub oauth2_refresh_token_set: bool,
    /// The password given through the API, sealed; never serialised.
    #[serde(skip)]
    pub password_sealed: Option<String>,
    /// The OAuth2 client secret and refresh token given through the API, sealed.
    #[serde(skip)]
    pub oauth2_client_secret_sealed: Option<String>,
    #[serde(skip)]
    pub oauth2_refresh_token_sealed: Option<String>,
}

/// A secret a mailbox may keep sealed in a column of its own (given through the API).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sealed {
    Password,
    ClientSecret,
    RefreshToken,
}

impl Sealed {
    pub const ALL: [Sealed; 3] = [Sealed::Password, Sealed::ClientSecret, Sealed::RefreshToken];

    /// Its key in an API body (and in problems).
    pub fn field(self) -> &'static str {
        match self {
            Sealed::Password => "password",
            Sealed::ClientSecret => "oauth2_client_secret",
            Sealed::RefreshToken => "oauth2_refresh_token",
        }
    }

    /// The `*_env`/`*_file` keys naming the same secret by reference.
    pub fn references(self) -> [&'static str; 2] {
        match self {
            Sealed::Password => ["password_env", "password_file"],
            Sealed::ClientSecret => ["oauth2_client_secret_env", "oauth2_client_secret_file"],
            Sealed::RefreshToken => ["oauth2_refresh_token_env", "oauth2_refresh_token_file"],
        }
    }

    /// Whether settings with this `auth` use it (a password with `password`, the others
    /// with `oauth2`).
    pub fn applies(self, settings: &toml::Table) -> bool {
        let oauth2 = settings.get("auth").and_then(|v| v.as_str()) == Some("oauth2");
        (self == Sealed::Password) != oauth2
    }

    /// The associated data its sealed form is bound to: the password keeps the original
    /// `mailbox:ID`, the others add their field, so no sealed value opens in another column.
    pub fn owner(self, id: i64) -> String {
        match self {
            Sealed::Password => seal_owner(id),
            other => format!("mailbox:{id}:{}", other.field()),
        }
    }
}

impl Mailbox {
    /// The settings resolved and checked as the config file's are. Fails when they no longer
    /// pass (a `password_env` not set in this process, a `ca_file` gone), or when the
    /// password is sealed (use [`Mailbox::config_with`]).
    pub fn config(&self) -> Result<MailboxConfig, Vec<Problem>> {
        self.config_with(None)
    }

    /// Like [`Mailbox::config`], opening a sealed password with `key` into
    /// [`MailboxConfig::inline_password`].
    pub fn config_with(&self, key: Option<&SealKey>) -> Result<MailboxConfig, Vec<Problem>> {
        let mut opened = [None, None, None];
        for (i, which) in Sealed::ALL.into_iter().enumerate() {
            if let Some(sealed) = self.sealed(which) {
                let secret = open_sealed(which, self.id, sealed, key)
                    .map_err(|m| vec![Problem::new(format!("{PROBLEM_KEY}.{}", which.field()), m)])?;
                opened[i] = Some(secret);
            }
        }
        let [password, client_secret, refresh_token] = opened;
        let inline = Inline { password, oauth2: InlineOAuth2 { client_secret, refresh_token } };
        resolve(&self.name, self.enabled, &self.settings, inline)
    }

    /// The sealed form of `which`, if it is stored.
    pub fn sealed(&self, which: Sealed) -> Option<&String> {
        match which {
            Sealed::Password => self.password_sealed.as_ref(),
            Sealed::ClientSecret => self.oauth2_client_secret_sealed.as_ref(),
            Sealed::RefreshToken => self.oauth2_refresh_token_sealed.as_ref(),
        }
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
    password_sealed: Option<String>,
    oauth2_client_secret_sealed: Option<String>,
    oauth2_refresh_token_sealed: Option<String>,
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
        let refs = |which: Sealed| which.references().iter().any(|k| settings.contains_key(*k));
        Ok(Mailbox {
            password_set: refs(Sealed::Password) || self.password_sealed.is_some(),
            oauth2_client_secret_set: refs(Sealed::ClientSecret) || self.oauth2_client_secret_sealed.is_some(),
            oauth2_refresh_token_set: refs(Sealed::RefreshToken) || self.oauth2_refresh_token_sealed.is_some(),
            password_sealed: self.password_sealed,
            oauth2_client_secret_sealed: self.oauth2_client_secret_sealed,
            oauth2_refresh_token_sealed: self.oauth2_refresh_token_sealed,
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
    super::write::check(&super::write::Entry::new(entry.clone()), None, Inline::default())
}

/// The associated data a mailbox's sealed password is bound to.
pub fn seal_owner(id: i64) -> String {
    format!("mailbox:{id}")
}

/// Opens mailbox `id`'s sealed password; the error is a sentence for the `password` field.
pub fn open_password(id: i64, sealed: &str, key: Option<&SealKey>) -> Result<Secret, String> {
    open_sealed(Sealed::Password, id, sealed, key)
}

/// Opens mailbox `id`'s sealed `which`; the error is a sentence for its field.
pub fn open_sealed(which: Sealed, id: i64, sealed: &str, key: Option<&SealKey>) -> Result<Secret, String> {
    let Some(key) = key else {
        let print = crate::secrets::sealed_with(sealed).unwrap_or("unknown");
        return Err(format!(
            "is stored sealed (key {print}) but no [secrets] key is configured here; set [secrets] key_env or \
             key_file to that key"
        ));
    };
    key.open(&which.owner(id), sealed).map_err(|e| e.to_string())
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

fn resolve(name: &str, enabled: bool, settings: &toml::Table, inline: Inline) -> Result<MailboxConfig, Vec<Problem>> {
    let mut entry = settings.clone();
    entry.insert("name".into(), toml::Value::String(name.to_string()));
    entry.insert("enabled".into(), toml::Value::Boolean(enabled));
    MailboxConfig::from_value_with_secrets(toml::Value::Table(entry), PROBLEM_KEY, inline)
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

/// The name of every live mailbox, by id (for status lines that name them).
pub fn names(c: &mut AnyConnection) -> Result<std::collections::HashMap<i64, String>, crate::store::StoreError> {
    let rows: Vec<(i64, String)> =
        mailboxes::table.filter(mailboxes::deleted_at.is_null()).select((mailboxes::id, mailboxes::name)).load(c)?;
    Ok(rows.into_iter().collect())
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

/// A live mailbox by name, if there is one.
pub fn find_live(c: &mut AnyConnection, name: &str) -> Result<Option<Mailbox>, MailboxError> {
    let row: Option<Row> = mailboxes::table
        .filter(mailboxes::name.eq(name))
        .filter(mailboxes::deleted_at.is_null())
        .select(Row::as_select())
        .first(c)
        .optional()?;
    row.map(Row::into_mailbox).transpose()
}

/// A unique-index violation on the live name means another writer took the name first.
pub(super) fn taken(name: &str) -> impl FnOnce(diesel::result::Error) -> MailboxError + '_ {
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

pub use super::sync::{SyncReport, register_config, sync_config};
pub use super::write::{Entry, create, delete, set_enabled, update};
