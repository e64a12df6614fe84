//! Web admin sessions: opened at sign-in, looked up on every page, closed at sign-out.
//!
//! Takes a signed-in [`Principal`] (a user or an API token); gives a random session secret
//! for the cookie and a random CSRF token for the session's forms, and for a presented
//! secret the live session — its principal read afresh, so a revoked token or a deleted user
//! ends it at once. Only the SHA-256 of the secret is stored (like tokens: 256 random bits
//! need no slow hash). Sessions last [`LIFETIME`]; expired rows are swept at each sign-in.

use super::tokens::{self, Kind, Principal};
use super::users::{self, UserError};
use crate::store::schema::web_sessions;
use crate::store::{AnyConnection, StoreError};
use base64::Engine;
use chrono::NaiveDateTime;
use diesel::prelude::*;

/// How long a session lasts from sign-in.
pub const LIFETIME: chrono::Duration = chrono::Duration::hours(12);

/// A live session.
#[derive(Debug, Clone)]
pub struct Session {
    pub principal: Principal,
    /// Every form of this session carries it; a POST without it is refused.
    pub csrf: String,
}

/// 32 random bytes, URL-safe base64.
pub fn random_secret() -> Result<String, UserError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| UserError::Hash(format!("the operating system gave no random bytes: {e}")))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// Opens a session for `p`; gives the secret for the cookie and the session.
pub fn open(c: &mut AnyConnection, p: &Principal, now: NaiveDateTime) -> Result<(String, Session), UserError> {
    let (secret, csrf) = (random_secret()?, random_secret()?);
    let (user_id, token_id) = match p.kind {
        Kind::User => (users::user_id(p), None),
        Kind::Token => (None, Some(p.id)),
    };
    diesel::delete(web_sessions::table.filter(web_sessions::expires_at.le(now))).execute(c)?;
    diesel::insert_into(web_sessions::table)
        .values((
            web_sessions::session_hash.eq(tokens::hash(&secret)),
            web_sessions::csrf_token.eq(&csrf),
            web_sessions::user_id.eq(user_id),
            web_sessions::token_id.eq(token_id),
            web_sessions::created_at.eq(now),
            web_sessions::expires_at.eq(now + LIFETIME),
        ))
        .execute(c)?;
    Ok((secret, Session { principal: p.clone(), csrf }))
}

/// The live session `secret` opens, or None (unknown, expired, or its user or token gone).
pub fn find(c: &mut AnyConnection, secret: &str, now: NaiveDateTime) -> Result<Option<Session>, UserError> {
    if secret.len() > 128 {
        return Ok(None);
    }
    let row: Option<(String, Option<i64>, Option<i64>)> = web_sessions::table
        .filter(web_sessions::session_hash.eq(tokens::hash(secret)))
        .filter(web_sessions::expires_at.gt(now))
        .select((web_sessions::csrf_token, web_sessions::user_id, web_sessions::token_id))
        .first(c)
        .optional()?;
    let Some((csrf, user_id, token_id)) = row else { return Ok(None) };
    let principal = match (user_id, token_id) {
        (Some(u), _) => users::by_id(c, u)?,
        (None, Some(t)) => tokens::by_id(c, t).map_err(UserError::from)?,
        (None, None) => None,
    };
    Ok(principal.filter(|p| p.role != tokens::Role::Node).map(|principal| Session { principal, csrf }))
}

/// Ends the session `secret` (sign-out); an unknown one is already ended.
pub fn close(c: &mut AnyConnection, secret: &str) -> Result<(), StoreError> {
    diesel::delete(web_sessions::table.filter(web_sessions::session_hash.eq(tokens::hash(secret))))
        .execute(c)
        .map_err(StoreError::Query)?;
    Ok(())
}
