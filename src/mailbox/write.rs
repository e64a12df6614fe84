//! Writes to API-managed mailboxes: create, update, delete, enable/disable, and re-sealing
//! every password with a new key.
//!
//! Takes who writes ([`Actor`]), the keys of a `[[mailbox]]` entry with an optional password
//! ([`Entry`]) and the `[secrets]` key; gives the stored [`Mailbox`]. Every write is one
//! transaction holding the change, the `mailboxes_version` bump (so every `serve` follows
//! within seconds) and its audit entry (before/after, never a password: the password is only
//! ever `password_set`). Settings are checked with the config file's own validation, every
//! problem at once. It never writes a config-file mailbox (those are read-only outside the
//! file) and never stores a password or an OAuth2 secret unsealed; a mailbox deleted loses
//! its sealed secrets.

use super::repo::{
    Mailbox, MailboxError, ManagedBy, PROBLEM_KEY, Sealed, bump_version, find_live, get, insert, now, open_sealed,
    settings_of, taken, to_json,
};
use crate::audit::{self, Actor};
use crate::config::oauth2::InlineOAuth2;
use crate::config::{Inline, MailboxConfig, Problem, Secret};
use crate::secrets::{SealKey, sealed_with};
use crate::store::AnyConnection;
use crate::store::schema::mailboxes;
use diesel::prelude::*;
use serde::Serialize;

/// A mailbox as written through the API: the keys of a `[[mailbox]]` entry, and the secrets
/// themselves when given (`password` in place of `password_env`/`password_file`;
/// `oauth2_client_secret`, `oauth2_refresh_token` in place of their `*_env`/`*_file`).
#[derive(Debug, Clone, Default)]
pub struct Entry {
    pub settings: toml::Table,
    pub password: Option<Secret>,
    pub oauth2_client_secret: Option<Secret>,
    pub oauth2_refresh_token: Option<Secret>,
}

impl Entry {
    /// An entry without inline secrets.
    pub fn new(settings: toml::Table) -> Entry {
        Entry { settings, ..Entry::default() }
    }

    /// The inline value of `which`, if given.
    pub fn given(&self, which: Sealed) -> Option<&Secret> {
        match which {
            Sealed::Password => self.password.as_ref(),
            Sealed::ClientSecret => self.oauth2_client_secret.as_ref(),
            Sealed::RefreshToken => self.oauth2_refresh_token.as_ref(),
        }
    }

    fn inline(&self) -> Inline {
        Inline {
            password: self.password.clone(),
            oauth2: InlineOAuth2 {
                client_secret: self.oauth2_client_secret.clone(),
                refresh_token: self.oauth2_refresh_token.clone(),
            },
        }
    }

    /// An entry sent as JSON: the `[[mailbox]]` keys, the secrets taken out; `null` means
    /// "not given". Problems name their key (`mailbox.port`).
    pub fn from_json(mut body: serde_json::Map<String, serde_json::Value>) -> Result<Entry, Vec<Problem>> {
        use serde_json::Value;
        let mut problems = Vec::new();
        let [password, oauth2_client_secret, oauth2_refresh_token] =
            Sealed::ALL.map(|which| match body.remove(which.field()) {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) => Some(Secret::new(s)),
                // The value itself is never echoed: it may be the secret in another shape.
                Some(_) => {
                    problems.push(secret_problem(which, "must be a string"));
                    None
                }
            });
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
        let entry = Entry { settings, password, oauth2_client_secret, oauth2_refresh_token };
        if problems.is_empty() { Ok(entry) } else { Err(problems) }
    }

    /// The mailbox to verify before it is saved: checked as on create, but needing no
    /// `[secrets]` key (nothing is stored) and no name (`unsaved` when absent).
    pub fn to_verify(&self) -> Result<MailboxConfig, MailboxError> {
        let mut settings = self.settings.clone();
        settings.entry("name").or_insert_with(|| toml::Value::String("unsaved".into()));
        let value = toml::Value::Table(settings);
        MailboxConfig::from_value_with_secrets(value, PROBLEM_KEY, self.inline()).map_err(MailboxError::Invalid)
    }

    fn names_a_reference(&self, which: Sealed) -> bool {
        which.references().iter().any(|k| self.settings.contains_key(*k))
    }
}

fn secret_problem(which: Sealed, message: impl Into<String>) -> Problem {
    Problem::new(format!("{PROBLEM_KEY}.{}", which.field()), message)
}

/// The refusal of a secret that cannot be stored: the fix, in a sentence.
pub fn no_key(which: Sealed) -> String {
    let [env, file] = which.references();
    format!(
        "cannot be stored: no [secrets] key is configured to seal it; run `rebound secrets generate-key`, put the \
         key in an environment variable named by [secrets] key_env (or a file named by key_file) and restart, or \
         name {env}/{file} instead"
    )
}

/// Checks `entry` as the config file's entries are checked, plus what only the API can get
/// wrong (a secret with no key to seal it, an empty one); `kept` holds the stored secrets an
/// update without them keeps. Every problem at once.
pub fn check(entry: &Entry, key: Option<&SealKey>, kept: Inline) -> Result<MailboxConfig, MailboxError> {
    let mut problems = Vec::new();
    for which in Sealed::ALL {
        if let Some(secret) = entry.given(which) {
            if key.is_none() {
                problems.push(secret_problem(which, no_key(which)));
            }
            if secret.expose().is_empty() {
                problems.push(secret_problem(which, format!("is empty; give the mailbox's {}", which.field())));
            }
        }
    }
    let given = entry.inline();
    let inline = Inline {
        password: given.password.or(kept.password),
        oauth2: InlineOAuth2 {
            client_secret: given.oauth2.client_secret.or(kept.oauth2.client_secret),
            refresh_token: given.oauth2.refresh_token.or(kept.oauth2.refresh_token),
        },
    };
    match MailboxConfig::from_value_with_secrets(toml::Value::Table(entry.settings.clone()), PROBLEM_KEY, inline) {
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

fn set_sealed(c: &mut AnyConnection, id: i64, which: Sealed, sealed: Option<String>) -> Result<(), MailboxError> {
    let row = mailboxes::table.find(id);
    match which {
        Sealed::Password => diesel::update(row).set(mailboxes::password_sealed.eq(sealed)).execute(c)?,
        Sealed::ClientSecret => {
            diesel::update(row).set(mailboxes::oauth2_client_secret_sealed.eq(sealed)).execute(c)?
        }
        Sealed::RefreshToken => {
            diesel::update(row).set(mailboxes::oauth2_refresh_token_sealed.eq(sealed)).execute(c)?
        }
    };
    Ok(())
}

/// Creates an API-managed mailbox (all problems at once in [`MailboxError::Invalid`]).
pub fn create(
    c: &mut AnyConnection,
    by: &Actor,
    entry: &Entry,
    key: Option<&SealKey>,
) -> Result<Mailbox, MailboxError> {
    let cfg = check(entry, key, Inline::default())?;
    crate::store::transaction(c, |c| {
        if find_live(c, &cfg.name)?.is_some() {
            return Err(MailboxError::Exists(cfg.name.clone()));
        }
        let id = insert(c, &cfg, ManagedBy::Api, None)?;
        for which in Sealed::ALL {
            if let (Some(secret), Some(key)) = (entry.given(which), key) {
                set_sealed(c, id, which, Some(key.seal(&which.owner(id), secret)?))?;
            }
        }
        let m = get(c, id)?;
        record(c, by, "mailbox.create", &m.name, None, Some(&m))?;
        Ok(m)
    })
}

/// Replaces an API mailbox's settings with a full `[[mailbox]]` entry (`name` may change: a
/// rename keeps the id, so status, checkpoints and ledger stay). A stored secret is kept when
/// the entry neither gives it nor names a reference for it (`password` /
/// `password_env`/`password_file`, and likewise for the OAuth2 ones) and the new `auth` still
/// uses it; otherwise it is dropped.
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
        let keeps =
            |which| entry.given(which).is_none() && !entry.names_a_reference(which) && which.applies(&entry.settings);
        let mut kept = [None, None, None];
        for (i, which) in Sealed::ALL.into_iter().enumerate() {
            if let (Some(sealed), true) = (current.sealed(which), keeps(which)) {
                let open = open_sealed(which, id, sealed, key).map_err(|m| {
                    MailboxError::Invalid(vec![secret_problem(which, format!("{m}; or send `{}`", which.field()))])
                })?;
                kept[i] = Some(open);
            }
        }
        let [password, client_secret, refresh_token] = kept;
        let cfg = check(entry, key, Inline { password, oauth2: InlineOAuth2 { client_secret, refresh_token } })?;
        if let Some(other) = find_live(c, &cfg.name)?
            && other.id != id
        {
            return Err(MailboxError::Exists(cfg.name.clone()));
        }
        let settings = settings_of(&cfg);
        let mut sealed = [None, None, None];
        for (i, which) in Sealed::ALL.into_iter().enumerate() {
            sealed[i] = match (entry.given(which), key) {
                (Some(secret), Some(key)) => Some(key.seal(&which.owner(id), secret)?),
                _ if keeps(which) => current.sealed(which).cloned(),
                _ => None,
            };
        }
        let unchanged = Sealed::ALL.into_iter().enumerate().all(|(i, w)| sealed[i].as_ref() == current.sealed(w));
        let same = current.name == cfg.name && current.enabled == cfg.enabled && current.settings == settings;
        let none_given = Sealed::ALL.into_iter().all(|w| entry.given(w).is_none());
        if same && none_given && unchanged {
            return Ok(current);
        }
        let [password_sealed, client_secret_sealed, refresh_token_sealed] = sealed;
        diesel::update(mailboxes::table.find(id))
            .set((
                mailboxes::name.eq(&cfg.name),
                mailboxes::settings.eq(to_json(&settings)),
                mailboxes::enabled.eq(i32::from(cfg.enabled)),
                mailboxes::password_sealed.eq(&password_sealed),
                mailboxes::oauth2_client_secret_sealed.eq(&client_secret_sealed),
                mailboxes::oauth2_refresh_token_sealed.eq(&refresh_token_sealed),
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
                mailboxes::oauth2_client_secret_sealed.eq(None::<String>),
                mailboxes::oauth2_refresh_token_sealed.eq(None::<String>),
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
    /// Secrets (passwords, OAuth2 client secrets and refresh tokens) opened with the old key
    /// and sealed with the new one.
    pub resealed: usize,
    /// Already sealed with the new key (an earlier, interrupted or repeated rotation).
    pub already: usize,
    pub old_key: String,
    pub new_key: String,
}

/// A mailbox's id, name and its sealed password, client secret and refresh token.
type SealedRow = (i64, String, Option<String>, Option<String>, Option<String>);

/// Re-seals every stored secret (passwords, OAuth2 client secrets and refresh tokens) from
/// `old` to `new`, in one transaction: all or nothing (a secret that does not open with
/// `old` stops it, naming the mailbox).
pub fn rotate(c: &mut AnyConnection, by: &Actor, old: &SealKey, new: &SealKey) -> Result<Rotated, MailboxError> {
    crate::store::transaction(c, |c| {
        let rows: Vec<SealedRow> = mailboxes::table
            .filter(
                mailboxes::password_sealed
                    .is_not_null()
                    .or(mailboxes::oauth2_client_secret_sealed.is_not_null())
                    .or(mailboxes::oauth2_refresh_token_sealed.is_not_null()),
            )
            .order(mailboxes::id.asc())
            .select((
                mailboxes::id,
                mailboxes::name,
                mailboxes::password_sealed,
                mailboxes::oauth2_client_secret_sealed,
                mailboxes::oauth2_refresh_token_sealed,
            ))
            .load(c)?;
        let mut out = Rotated { old_key: old.fingerprint(), new_key: new.fingerprint(), ..Rotated::default() };
        for (id, name, password, client_secret, refresh_token) in rows {
            for (which, sealed) in Sealed::ALL.into_iter().zip([password, client_secret, refresh_token]) {
                let Some(sealed) = sealed else { continue };
                if sealed_with(&sealed) == Some(out.new_key.as_str()) {
                    out.already += 1;
                    continue;
                }
                let secret = old.open(&which.owner(id), &sealed).map_err(|e| {
                    MailboxError::Invalid(vec![secret_problem(which, format!("mailbox `{name}` (id {id}): {e}"))])
                })?;
                set_sealed(c, id, which, Some(new.seal(&which.owner(id), &secret)?))?;
                out.resealed += 1;
            }
        }
        let note = format!("{} secret(s) re-sealed with key {} (was {})", out.resealed, out.new_key, out.old_key);
        let change =
            audit::Change { action: "secrets.rotate", target: "secrets", note: Some(&note), ..Default::default() };
        audit::record(c, by.as_str(), change, now())?;
        // The sealed text changed, not the settings: polls keep their (identical) secrets.
        Ok(out)
    })
}
