//! Writes to API-managed mailboxes: create, update, delete, enable/disable, and re-sealing
//! every password with a new key.
//!
//! Takes who writes ([`Actor`]), the keys of a `[[mailbox]]` entry with an optional password
//! ([`Entry`]) and the `[secrets]` key; gives the stored [`Mailbox`]. Every write is one
//! transaction holding the change, the `mailboxes_version` bump (so every `serve` follows
//! within seconds) and its audit entry (before/after, never a password: the password is only
//! ever `password_set`). Settings are checked with the config file's own validation, every
//! problem at once. It never writes a config-file mailbox (those are read-only outside the
//! file) and never stores a password unsealed; a mailbox deleted loses its sealed password.

use super::repo::{
    Mailbox, MailboxError, ManagedBy, PROBLEM_KEY, bump_version, find_live, get, insert, now, open_password,
    seal_owner, settings_of, taken, to_json,
};
use crate::audit::{self, Actor};
use crate::config::{MailboxConfig, Problem, Secret};
use crate::secrets::{SealKey, sealed_with};
use crate::store::AnyConnection;
use crate::store::schema::mailboxes;
use diesel::prelude::*;
use serde::Serialize;

/// A mailbox as written through the API: the keys of a `[[mailbox]]` entry, and the
/// password itself when one is given (`password`, in place of `password_env`/`password_file`).
#[derive(Debug, Clone, Default)]
pub struct Entry {
    pub settings: toml::Table,
    pub password: Option<Secret>,
}

impl Entry {
    /// An entry without an inline password.
    pub fn new(settings: toml::Table) -> Entry {
        Entry { settings, password: None }
    }

    /// An entry sent as JSON: the `[[mailbox]]` keys, `password` taken out as the password;
    /// `null` means "not given". Problems name their key (`mailbox.port`).
    pub fn from_json(mut body: serde_json::Map<String, serde_json::Value>) -> Result<Entry, Vec<Problem>> {
        use serde_json::Value;
        let mut problems = Vec::new();
        let password = match body.remove("password") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(Secret::new(s)),
            // The value itself is never echoed: it may be the password in another shape.
            Some(_) => {
                problems.push(password_problem("must be a string"));
                None
            }
        };
        let mut settings = toml::Table::new();
        for (k, v) in body {
            if v.is_null() {
                continue;
            }
            match toml::Value::try_from(&v) {
                Ok(t) => {
                    settings.insert(k, t);
                }
                Err(e) => problems.push(Problem::new(format!("{PROBLEM_KEY}.{k}"), format!("cannot be read: {e}"))),
            }
        }
        if problems.is_empty() { Ok(Entry { settings, password }) } else { Err(problems) }
    }

    /// The mailbox to verify before it is saved: checked as on create, but needing no
    /// `[secrets]` key (nothing is stored) and no name (`unsaved` when absent).
    pub fn to_verify(&self) -> Result<MailboxConfig, MailboxError> {
        let mut settings = self.settings.clone();
        settings.entry("name").or_insert_with(|| toml::Value::String("unsaved".into()));
        let value = toml::Value::Table(settings);
        MailboxConfig::from_value_with_password(value, PROBLEM_KEY, self.password.clone())
            .map_err(MailboxError::Invalid)
    }

    fn names_a_reference(&self) -> bool {
        self.settings.contains_key("password_env") || self.settings.contains_key("password_file")
    }
}

fn password_problem(message: impl Into<String>) -> Problem {
    Problem::new(format!("{PROBLEM_KEY}.password"), message)
}

/// The refusal of a password that cannot be stored: the fix, in a sentence.
pub const NO_KEY: &str = "cannot be stored: no [secrets] key is configured to seal it; run `rebound secrets \
     generate-key`, put the key in an environment variable named by [secrets] key_env (or a file named by \
     key_file) and restart, or name password_env/password_file instead";

/// Checks `entry` as the config file's entries are checked, plus what only the API can get
/// wrong (a password with no key to seal it, an empty one); `kept` is the stored password an
/// update without one keeps. Every problem at once.
pub fn check(entry: &Entry, key: Option<&SealKey>, kept: Option<Secret>) -> Result<MailboxConfig, MailboxError> {
    let mut problems = Vec::new();
    if let Some(pw) = &entry.password {
        if key.is_none() {
            problems.push(password_problem(NO_KEY));
        }
        if pw.expose().is_empty() {
            problems.push(password_problem("is empty; give the mailbox's password"));
        }
    }
    let inline = entry.password.clone().or(kept);
    match MailboxConfig::from_value_with_password(toml::Value::Table(entry.settings.clone()), PROBLEM_KEY, inline) {
        Ok(cfg) if problems.is_empty() => Ok(cfg),
        Ok(_) => Err(MailboxError::Invalid(problems)),
        Err(more) => {
            problems.extend(more);
            Err(MailboxError::Invalid(problems))
        }
    }
}

/// Refuses to write a config-file mailbox through the API.
pub(super) fn writable(m: &Mailbox) -> Result<(), MailboxError> {
    match m.source {
        ManagedBy::Api => Ok(()),
        ManagedBy::Config => Err(MailboxError::ReadOnly {
            name: m.name.clone(),
            file: m.config_file.clone().unwrap_or_else(|| "the config file".into()),
        }),
    }
}

/// Appends the audit entry of a write to mailbox `m` (states as the API shows them).
fn record(
    c: &mut AnyConnection,
    by: &Actor,
    action: &str,
    name: &str,
    before: Option<&Mailbox>,
    after: Option<&Mailbox>,
) -> Result<(), MailboxError> {
    let state = |m: Option<&Mailbox>| m.and_then(|m| serde_json::to_value(m).ok());
    let change = audit::Change {
        action,
        target: &format!("mailbox:{name}"),
        note: None,
        before: state(before),
        after: state(after),
    };
    audit::record(c, by.as_str(), change, now())?;
    Ok(())
}

fn set_sealed(c: &mut AnyConnection, id: i64, sealed: Option<String>) -> Result<(), MailboxError> {
    diesel::update(mailboxes::table.find(id)).set(mailboxes::password_sealed.eq(sealed)).execute(c)?;
    Ok(())
}

/// Creates an API-managed mailbox (all problems at once in [`MailboxError::Invalid`]).
pub fn create(
    c: &mut AnyConnection,
    by: &Actor,
    entry: &Entry,
    key: Option<&SealKey>,
) -> Result<Mailbox, MailboxError> {
    let cfg = check(entry, key, None)?;
    crate::store::transaction(c, |c| {
        if find_live(c, &cfg.name)?.is_some() {
            return Err(MailboxError::Exists(cfg.name.clone()));
        }
        let id = insert(c, &cfg, ManagedBy::Api, None)?;
        if let (Some(pw), Some(key)) = (&entry.password, key) {
            set_sealed(c, id, Some(key.seal(&seal_owner(id), pw)?))?;
        }
        let m = get(c, id)?;
        record(c, by, "mailbox.create", &m.name, None, Some(&m))?;
        Ok(m)
    })
}

/// Replaces an API mailbox's settings with a full `[[mailbox]]` entry (`name` may change: a
/// rename keeps the id, so status, checkpoints and ledger stay). Without `password` and
/// without `password_env`/`password_file`, the stored password is kept; naming a reference
/// drops it.
pub fn update(
    c: &mut AnyConnection,
    by: &Actor,
    id: i64,
    entry: &Entry,
    key: Option<&SealKey>,
) -> Result<Mailbox, MailboxError> {
    crate::store::transaction(c, |c| {
        let current = get(c, id)?;
        writable(&current)?;
        let keeps = entry.password.is_none() && !entry.names_a_reference();
        let kept = match (&current.password_sealed, keeps) {
            (Some(sealed), true) => Some(
                open_password(id, sealed, key)
                    .map_err(|m| MailboxError::Invalid(vec![password_problem(format!("{m}; or send `password`"))]))?,
            ),
            _ => None,
        };
        let cfg = check(entry, key, kept)?;
        if let Some(other) = find_live(c, &cfg.name)?
            && other.id != id
        {
            return Err(MailboxError::Exists(cfg.name.clone()));
        }
        let settings = settings_of(&cfg);
        let sealed = match (&entry.password, key) {
            (Some(pw), Some(key)) => Some(key.seal(&seal_owner(id), pw)?),
            _ if keeps => current.password_sealed.clone(),
            _ => None,
        };
        let same = current.name == cfg.name && current.enabled == cfg.enabled && current.settings == settings;
        if same && entry.password.is_none() && sealed == current.password_sealed {
            return Ok(current);
        }
        diesel::update(mailboxes::table.find(id))
            .set((
                mailboxes::name.eq(&cfg.name),
                mailboxes::settings.eq(to_json(&settings)),
                mailboxes::enabled.eq(i32::from(cfg.enabled)),
                mailboxes::password_sealed.eq(&sealed),
                mailboxes::updated_at.eq(now()),
            ))
            .execute(c)
            .map_err(taken(&cfg.name))?;
        bump_version(c)?;
        let after = get(c, id)?;
        record(c, by, "mailbox.update", &current.name, Some(&current), Some(&after))?;
        Ok(after)
    })
}

/// Soft-deletes an API mailbox: it stops being polled everywhere; its history stays, its
/// sealed password does not.
pub fn delete(c: &mut AnyConnection, by: &Actor, id: i64) -> Result<Mailbox, MailboxError> {
    crate::store::transaction(c, |c| {
        let mut current = get(c, id)?;
        writable(&current)?;
        let at = now();
        diesel::update(mailboxes::table.find(id))
            .set((
                mailboxes::deleted_at.eq(Some(at)),
                mailboxes::updated_at.eq(at),
                mailboxes::password_sealed.eq(None::<String>),
            ))
            .execute(c)?;
        bump_version(c)?;
        record(c, by, "mailbox.delete", &current.name, Some(&current), None)?;
        (current.deleted_at, current.updated_at) = (Some(at), at);
        Ok(current)
    })
}

/// Enables or disables an API mailbox (a disabled one keeps its row and is not polled).
pub fn set_enabled(c: &mut AnyConnection, by: &Actor, id: i64, enabled: bool) -> Result<Mailbox, MailboxError> {
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
        let after = get(c, id)?;
        let action = if enabled { "mailbox.enable" } else { "mailbox.disable" };
        record(c, by, action, &current.name, Some(&current), Some(&after))?;
        Ok(after)
    })
}

/// What [`rotate`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Rotated {
    /// Passwords opened with the old key and sealed with the new one.
    pub resealed: usize,
    /// Already sealed with the new key (an earlier, interrupted or repeated rotation).
    pub already: usize,
    pub old_key: String,
    pub new_key: String,
}

/// Re-seals every stored password from `old` to `new`, in one transaction: all or nothing
/// (a password that does not open with `old` stops it, naming the mailbox).
pub fn rotate(c: &mut AnyConnection, by: &Actor, old: &SealKey, new: &SealKey) -> Result<Rotated, MailboxError> {
    crate::store::transaction(c, |c| {
        let rows: Vec<(i64, String, Option<String>)> = mailboxes::table
            .filter(mailboxes::password_sealed.is_not_null())
            .order(mailboxes::id.asc())
            .select((mailboxes::id, mailboxes::name, mailboxes::password_sealed))
            .load(c)?;
        let mut out = Rotated { old_key: old.fingerprint(), new_key: new.fingerprint(), ..Rotated::default() };
        for (id, name, sealed) in rows {
            let Some(sealed) = sealed else { continue };
            if sealed_with(&sealed) == Some(out.new_key.as_str()) {
                out.already += 1;
                continue;
            }
            let secret = old.open(&seal_owner(id), &sealed).map_err(|e| {
                MailboxError::Invalid(vec![password_problem(format!("mailbox `{name}` (id {id}): {e}"))])
            })?;
            set_sealed(c, id, Some(new.seal(&seal_owner(id), &secret)?))?;
            out.resealed += 1;
        }
        let note = format!("{} password(s) re-sealed with key {} (was {})", out.resealed, out.new_key, out.old_key);
        let change =
            audit::Change { action: "secrets.rotate", target: "secrets", note: Some(&note), ..Default::default() };
        audit::record(c, by.as_str(), change, now())?;
        // The sealed text changed, not the settings: polls keep their (identical) passwords.
        Ok(out)
    })
}
