//! API tokens: create (shown once), list, revoke, authenticate.
//!
//! A token is `rbd_` and 43 characters of URL-safe base64 (32 random bytes from the operating
//! system). Only its SHA-256 is stored. A fast hash is right here, where argon2 would be
//! wrong: argon2 slows guessing of *low-entropy* passwords, while 256 random bits cannot be
//! guessed however fast the hash, and every API request verifies a token.
//!
//! Three roles: a viewer reads, an admin also writes, and a node token (for `rebound
//! node-agent` on a sending node) may use the sync routes only, for the one node it is bound
//! to (or, unbound, for the node each call names).

use crate::audit::{self, Actor};
use crate::store::schema::api_tokens;
use crate::store::{AnyConnection, StoreError};
use base64::Engine;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};

/// What a token may do. A viewer reads; an admin also writes and runs verify and poll; a
/// node token pulls the suppression list (the sync routes) and nothing else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Viewer,
    Admin,
    Node,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Admin => "admin",
            Role::Node => "node",
        }
    }

    pub fn parse(s: &str) -> Result<Role, TokenError> {
        match s {
            "viewer" => Ok(Role::Viewer),
            "admin" => Ok(Role::Admin),
            "node" => Ok(Role::Node),
            other => Err(TokenError::BadRole(other.to_string())),
        }
    }

    /// Whether this role may do what `needed` allows: an admin may do what a viewer or a
    /// node may; a viewer and a node only their own.
    pub fn allows(self, needed: Role) -> bool {
        self == needed || self == Role::Admin
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("`{0}` is not a role; use admin, viewer or node")]
    BadRole(String),
    #[error("a token name must be 1–64 letters, digits, `-`, `_` or `.`; `{0}` is not")]
    BadName(String),
    #[error("a live token named `{0}` exists; revoke it first or pick another name")]
    Exists(String),
    #[error("only a node token is bound to a node; drop --node or use --role node")]
    NodeOfOtherRole,
    #[error("`{0}` is not a node name (a-z, 0-9, `_` and `-`)")]
    BadNode(String),
    #[error("no live token named `{0}`; `rebound token list` shows them")]
    NotFound(String),
    #[error("the operating system gave no random bytes for a token: {0}")]
    Random(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<diesel::result::Error> for TokenError {
    fn from(e: diesel::result::Error) -> Self {
        TokenError::Store(StoreError::Query(e))
    }
}

/// A token as listed: never the token itself.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct TokenInfo {
    pub id: i64,
    pub name: String,
    pub role: Role,
    /// A node token's node; None: any node, named on each call.
    pub node: Option<String>,
    pub created_at: NaiveDateTime,
    pub last_used_at: Option<NaiveDateTime>,
    pub revoked_at: Option<NaiveDateTime>,
}

/// Who is calling the API: a live token's name and role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub id: i64,
    pub name: String,
    pub role: Role,
    /// The node a node token is bound to.
    pub node: Option<String>,
    /// Whether this is an API token or a person signed in to the web admin with a password.
    pub kind: Kind,
}

/// What a [`Principal`] authenticated with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Token,
    /// A web admin user (`rebound user create`); its `id` is the user's id, negated, so it
    /// never shares a token's per-token limits (verify slots).
    User,
}

impl Principal {
    /// How the audit log names this caller.
    pub fn actor(&self) -> Actor {
        match self.kind {
            Kind::Token => Actor::token(&self.name),
            Kind::User => Actor::user(&self.name),
        }
    }
}

const PREFIX: &str = "rbd_";

/// The stored form of a presented token.
pub fn hash(token: &str) -> String {
    Sha256::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

fn valid_name(name: &str) -> Result<(), TokenError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok { Ok(()) } else { Err(TokenError::BadName(name.to_string())) }
}

/// Creates a token; gives its listing and the token itself, which is never readable again.
pub fn create(
    c: &mut AnyConnection,
    actor: &Actor,
    name: &str,
    role: Role,
    now: NaiveDateTime,
) -> Result<(TokenInfo, String), TokenError> {
    create_bound(c, actor, name, role, None, now)
}

/// Like [`create`], binding a node token to the node named `node`.
pub fn create_bound(
    c: &mut AnyConnection,
    actor: &Actor,
    name: &str,
    role: Role,
    node: Option<&str>,
    now: NaiveDateTime,
) -> Result<(TokenInfo, String), TokenError> {
    valid_name(name)?;
    if let Some(n) = node {
        if role != Role::Node {
            return Err(TokenError::NodeOfOtherRole);
        }
        if n.is_empty() || !n.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-') {
            return Err(TokenError::BadNode(n.to_string()));
        }
    }
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| TokenError::Random(e.to_string()))?;
    let token = format!("{PREFIX}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes));
    let info = crate::store::transaction(c, |c| {
        let live: i64 = api_tokens::table
            .filter(api_tokens::name.eq(name))
            .filter(api_tokens::revoked_at.is_null())
            .count()
            .get_result(c)?;
        if live > 0 {
            return Err(TokenError::Exists(name.to_string()));
        }
        let id: i64 = diesel::insert_into(api_tokens::table)
            .values((
                api_tokens::name.eq(name),
                api_tokens::role.eq(role.as_str()),
                api_tokens::token_hash.eq(hash(&token)),
                api_tokens::node.eq(node),
                api_tokens::created_at.eq(now),
            ))
            .returning(api_tokens::id)
            .get_result(c)?;
        let node = node.map(str::to_string);
        let info = TokenInfo {
            id,
            name: name.to_string(),
            role,
            node: node.clone(),
            created_at: now,
            last_used_at: None,
            revoked_at: None,
        };
        let after = serde_json::json!({"name": name, "role": role.as_str(), "node": node});
        let target = format!("token:{name}");
        audit::record(
            c,
            actor.as_str(),
            audit::Change { action: "token.create", target: &target, after: Some(after), ..Default::default() },
            now,
        )?;
        Ok(info)
    })?;
    Ok((info, token))
}

type Row = (i64, String, String, Option<String>, NaiveDateTime, Option<NaiveDateTime>, Option<NaiveDateTime>);

fn info((id, name, role, node, created_at, last_used_at, revoked_at): Row) -> Result<TokenInfo, TokenError> {
    Ok(TokenInfo { id, name, role: Role::parse(&role)?, node, created_at, last_used_at, revoked_at })
}

/// Every token, revoked ones included (`revoked_at` set), oldest first.
pub fn list(c: &mut AnyConnection) -> Result<Vec<TokenInfo>, TokenError> {
    let rows: Vec<Row> = api_tokens::table
        .select((
            api_tokens::id,
            api_tokens::name,
            api_tokens::role,
            api_tokens::node,
            api_tokens::created_at,
            api_tokens::last_used_at,
            api_tokens::revoked_at,
        ))
        .order(api_tokens::id)
        .load(c)?;
    rows.into_iter().map(info).collect()
}

/// Revokes the live token `name`: from now on it is refused (within the API's cache lifetime).
pub fn revoke(c: &mut AnyConnection, actor: &Actor, name: &str, now: NaiveDateTime) -> Result<(), TokenError> {
    crate::store::transaction(c, |c| {
        let n = diesel::update(api_tokens::table)
            .filter(api_tokens::name.eq(name))
            .filter(api_tokens::revoked_at.is_null())
            .set(api_tokens::revoked_at.eq(now))
            .execute(c)?;
        if n == 0 {
            return Err(TokenError::NotFound(name.to_string()));
        }
        let target = format!("token:{name}");
        audit::record(
            c,
            actor.as_str(),
            audit::Change { action: "token.revoke", target: &target, ..Default::default() },
            now,
        )?;
        Ok(())
    })
}

/// The live token `presented` stands for, or None. Malformed input is simply not a token.
pub fn authenticate(c: &mut AnyConnection, presented: &str) -> Result<Option<Principal>, TokenError> {
    if !presented.starts_with(PREFIX) || presented.len() > 128 {
        return Ok(None);
    }
    let row: Option<(i64, String, String, Option<String>)> = api_tokens::table
        .filter(api_tokens::token_hash.eq(hash(presented)))
        .filter(api_tokens::revoked_at.is_null())
        .select((api_tokens::id, api_tokens::name, api_tokens::role, api_tokens::node))
        .first(c)
        .optional()?;
    row.map(|(id, name, role, node)| Ok(Principal { id, name, role: Role::parse(&role)?, node, kind: Kind::Token }))
        .transpose()
}

/// Notes that token `id` was used at `now` (the API calls this at most once a minute per token).
pub fn touch(c: &mut AnyConnection, id: i64, now: NaiveDateTime) -> Result<(), TokenError> {
    diesel::update(api_tokens::table.find(id)).set(api_tokens::last_used_at.eq(now)).execute(c)?;
    Ok(())
}

/// The live token with row `id` (a web session signed in with it), or None once revoked.
pub fn by_id(c: &mut AnyConnection, id: i64) -> Result<Option<Principal>, TokenError> {
    let row: Option<(String, String, Option<String>)> = api_tokens::table
        .find(id)
        .filter(api_tokens::revoked_at.is_null())
        .select((api_tokens::name, api_tokens::role, api_tokens::node))
        .first(c)
        .optional()?;
    row.map(|(name, role, node)| Ok(Principal { id, name, role: Role::parse(&role)?, node, kind: Kind::Token }))
        .transpose()
}
