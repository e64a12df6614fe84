//! Web admin users: a name, a role (admin or viewer) and an argon2id password hash.
//!
//! Takes a name, role and password (from `rebound user create`) or a name and password at
//! sign-in; gives the user's [`Principal`] when the password matches. It never stores, logs
//! or returns a password: only the argon2id PHC string (random salt, the crate's default
//! parameters) is kept. Argon2 is right here, unlike for API tokens: a person's password has
//! little entropy, and a slow hash makes guessing it from a stolen database expensive.

use super::tokens::{Kind, Principal, Role, TokenError};
use crate::audit::{self, Actor};
use crate::store::schema::web_users;
use crate::store::{AnyConnection, StoreError};
use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use chrono::NaiveDateTime;
use diesel::prelude::*;

/// The shortest password `user create` accepts.
pub const MIN_PASSWORD: usize = 10;

#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("a user name must be 1–64 letters, digits, `-`, `_`, `.` or `@`; `{0}` is not")]
    BadName(String),
    #[error("a web user is an admin or a viewer; `{0}` is neither")]
    BadRole(String),
    #[error("the password must have at least {MIN_PASSWORD} characters")]
    ShortPassword,
    #[error("a user named `{0}` exists; pick another name or `rebound user delete` it first")]
    Exists(String),
    #[error("no user named `{0}`; `rebound user list` shows them")]
    NotFound(String),
    #[error("could not hash the password: {0}")]
    Hash(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<diesel::result::Error> for UserError {
    fn from(e: diesel::result::Error) -> Self {
        UserError::Store(StoreError::Query(e))
    }
}

impl From<TokenError> for UserError {
    fn from(e: TokenError) -> Self {
        match e {
            TokenError::Store(s) => UserError::Store(s),
            other => UserError::BadRole(other.to_string()),
        }
    }
}

/// A user as listed: never the hash.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct UserInfo {
    pub name: String,
    pub role: Role,
    pub created_at: NaiveDateTime,
    pub last_login_at: Option<NaiveDateTime>,
}

fn valid_name(name: &str) -> Result<(), UserError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@'));
    if ok { Ok(()) } else { Err(UserError::BadName(name.to_string())) }
}

/// The user's principal (id negated: see [`Kind::User`]).
fn principal(id: i64, name: String, role: Role) -> Principal {
    Principal { id: -id, name, role, node: None, kind: Kind::User }
}

/// The row id behind a user principal.
pub fn user_id(p: &Principal) -> Option<i64> {
    (p.kind == Kind::User).then_some(-p.id)
}

/// Creates a user with `password` hashed (argon2id); audited.
pub fn create(
    c: &mut AnyConnection,
    actor: &Actor,
    name: &str,
    role: Role,
    password: &str,
    now: NaiveDateTime,
) -> Result<UserInfo, UserError> {
    valid_name(name)?;
    if role == Role::Node {
        return Err(UserError::BadRole("node".into()));
    }
    if password.chars().count() < MIN_PASSWORD {
        return Err(UserError::ShortPassword);
    }
    let hash = Argon2::default().hash_password(password.as_bytes()).map_err(|e| UserError::Hash(e.to_string()))?;
    crate::store::transaction(c, |c| {
        let taken: i64 = web_users::table.filter(web_users::name.eq(name)).count().get_result(c)?;
        if taken > 0 {
            return Err(UserError::Exists(name.to_string()));
        }
        diesel::insert_into(web_users::table)
            .values((
                web_users::name.eq(name),
                web_users::role.eq(role.as_str()),
                web_users::password_hash.eq(hash.to_string()),
                web_users::created_at.eq(now),
            ))
            .execute(c)?;
        let target = format!("user:{name}");
        let after = serde_json::json!({"name": name, "role": role.as_str()});
        audit::record(
            c,
            actor.as_str(),
            audit::Change { action: "user.create", target: &target, after: Some(after), ..Default::default() },
            now,
        )?;
        Ok(UserInfo { name: name.to_string(), role, created_at: now, last_login_at: None })
    })
}

/// Every user, oldest first.
pub fn list(c: &mut AnyConnection) -> Result<Vec<UserInfo>, UserError> {
    let rows: Vec<(String, String, NaiveDateTime, Option<NaiveDateTime>)> = web_users::table
        .select((web_users::name, web_users::role, web_users::created_at, web_users::last_login_at))
        .order(web_users::id)
        .load(c)?;
    rows.into_iter()
        .map(|(name, role, created_at, last_login_at)| {
            Ok(UserInfo { name, role: Role::parse(&role)?, created_at, last_login_at })
        })
        .collect()
}

/// Deletes user `name`; their sessions end with them (a session of a missing user is refused).
pub fn delete(c: &mut AnyConnection, actor: &Actor, name: &str, now: NaiveDateTime) -> Result<(), UserError> {
    crate::store::transaction(c, |c| {
        let n = diesel::delete(web_users::table.filter(web_users::name.eq(name))).execute(c)?;
        if n == 0 {
            return Err(UserError::NotFound(name.to_string()));
        }
        let target = format!("user:{name}");
        audit::record(
            c,
            actor.as_str(),
            audit::Change { action: "user.delete", target: &target, ..Default::default() },
            now,
        )?;
        Ok(())
    })
}

/// The user `name` when `password` is theirs, else None (an unknown name costs a hash too, so
/// the answer's timing does not tell which names exist).
pub fn sign_in(
    c: &mut AnyConnection,
    name: &str,
    password: &str,
    now: NaiveDateTime,
) -> Result<Option<Principal>, UserError> {
    let row: Option<(i64, String, String)> = web_users::table
        .filter(web_users::name.eq(name))
        .select((web_users::id, web_users::role, web_users::password_hash))
        .first(c)
        .optional()?;
    let argon = Argon2::default();
    let Some((id, role, stored)) = row else {
        let _ = argon.hash_password(password.as_bytes());
        return Ok(None);
    };
    let matches = PasswordHash::new(&stored).is_ok_and(|h| argon.verify_password(password.as_bytes(), &h).is_ok());
    if !matches {
        return Ok(None);
    }
    diesel::update(web_users::table.find(id)).set(web_users::last_login_at.eq(now)).execute(c)?;
    Ok(Some(principal(id, name.to_string(), Role::parse(&role)?)))
}

/// The live user with row `id` (a session's), or None once deleted.
pub fn by_id(c: &mut AnyConnection, id: i64) -> Result<Option<Principal>, UserError> {
    let row: Option<(String, String)> =
        web_users::table.find(id).select((web_users::name, web_users::role)).first(c).optional()?;
    row.map(|(name, role)| Ok(principal(id, name, Role::parse(&role)?))).transpose()
}
