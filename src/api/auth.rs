//! Bearer-token authentication for `/api`: the [`Viewer`], [`Admin`] and [`SyncCaller`]
//! extractors.
//!
//! Takes the `Authorization: Bearer TOKEN` header; gives the calling [`Principal`], or 401
//! (no token, a malformed header, an unknown or revoked token) or 403 (a viewer writing, a
//! node token anywhere but the sync routes, a viewer on the sync routes). It
//! never logs or echoes a token. Verified tokens are cached for [`CACHE_TTL`], so a revoked
//! token is refused within that time on every instance, and `last_used_at` is written at
//! most once a minute per token instead of on every request.

use super::AppState;
use super::error::ApiError;
use crate::access::{Principal, Role, tokens};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a verified token is trusted without asking the database again.
pub const CACHE_TTL: Duration = Duration::from_secs(5);
const TOUCH_EVERY: Duration = Duration::from_secs(60);

/// Verified tokens by hash, with when they were checked and last noted as used.
#[derive(Debug, Default, Clone)]
pub struct TokenCache(Arc<Mutex<HashMap<String, Cached>>>);

#[derive(Debug, Clone)]
struct Cached {
    principal: Principal,
    checked: Instant,
    touched: Option<Instant>,
}

/// A viewer or an admin token: may read. Node tokens are refused.
#[derive(Debug, Clone)]
pub struct Viewer(pub Principal);

/// A node token or an admin token: may use the sync routes (snapshot, changes, report).
#[derive(Debug, Clone)]
pub struct SyncCaller(pub Principal);

fn node_refused(p: &Principal) -> ApiError {
    ApiError::forbidden(format!(
        "token `{}` is a node token: it may only use the sync routes (/api/v1/sync/…); use a viewer or admin token",
        p.name
    ))
}

/// An admin token: may also write, verify and poll.
#[derive(Debug, Clone)]
pub struct Admin(pub Principal);

impl FromRequestParts<AppState> for Viewer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let principal = authenticate(parts, state).await?;
        if principal.role == Role::Node {
            return Err(node_refused(&principal));
        }
        Ok(Viewer(principal))
    }
}

impl FromRequestParts<AppState> for SyncCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let principal = authenticate(parts, state).await?;
        if !principal.role.allows(Role::Node) {
            return Err(ApiError::forbidden(format!(
                "token `{}` is a {} token: the sync routes take a node token (`rebound token create --role node`) or an admin token",
                principal.name,
                principal.role.as_str()
            )));
        }
        Ok(SyncCaller(principal))
    }
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let principal = authenticate(parts, state).await?;
        if principal.role == Role::Node {
            return Err(node_refused(&principal));
        }
        if !principal.role.allows(Role::Admin) {
            return Err(ApiError::forbidden(format!(
                "token `{}` is a {} token: it may read but not change anything; use an admin token",
                principal.name,
                principal.role.as_str()
            )));
        }
        Ok(Admin(principal))
    }
}

async fn authenticate(parts: &Parts, state: &AppState) -> Result<Principal, ApiError> {
    let header = parts.headers.get(axum::http::header::AUTHORIZATION).ok_or_else(|| {
        ApiError::unauthorized("send `Authorization: Bearer TOKEN`; `rebound token create` makes a token")
    })?;
    let presented = header
        .to_str()
        .ok()
        .and_then(|h| h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer ")))
        .map(str::trim)
        .ok_or_else(|| ApiError::unauthorized("the Authorization header must be `Bearer TOKEN`"))?
        .to_string();
    let hash = tokens::hash(&presented);
    let now = Instant::now();
    let cached = state.tokens.0.lock().expect("token cache lock").get(&hash).cloned();
    let mut entry = match cached {
        Some(c) if now.duration_since(c.checked) < CACHE_TTL => c,
        stale => {
            let found = state.db.run(move |c| tokens::authenticate(c, &presented)).await?;
            let Some(principal) = found else {
                state.tokens.0.lock().expect("token cache lock").remove(&hash);
                return Err(ApiError::unauthorized(
                    "the token is unknown or revoked; `rebound token list` shows live ones",
                ));
            };
            Cached { principal, checked: now, touched: stale.and_then(|s| s.touched) }
        }
    };
    if entry.touched.is_none_or(|t| now.duration_since(t) >= TOUCH_EVERY) {
        entry.touched = Some(now);
        let (db, id) = (state.db.clone(), entry.principal.id);
        // Noting use is bookkeeping: a failure must not fail the request.
        tokio::spawn(async move {
            let at = chrono::Utc::now().naive_utc();
            if let Err(e) = db.run(move |c| tokens::touch(c, id, at)).await {
                tracing::debug!(error = %e, "could not note a token's last use");
            }
        });
    }
    let principal = entry.principal.clone();
    state.tokens.0.lock().expect("token cache lock").insert(hash, entry);
    Ok(principal)
}
