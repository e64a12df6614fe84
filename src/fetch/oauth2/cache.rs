//! Access tokens kept in memory until shortly before they expire, one slot per mailbox and
//! credentials.
//!
//! Takes a key (a SHA-256 over the mailbox, endpoint, client, scope, username and the
//! secrets, so the map holds no secret in a readable key and a changed secret gets a fresh
//! slot); gives a slot whose async lock makes concurrent logins of one mailbox share one
//! token request. It never writes a token anywhere but process memory.

use crate::config::Secret;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

/// How long before its expiry a token stops being used: at most a minute, at most half its
/// lifetime (a login must not start with a token about to lapse).
const MARGIN: Duration = Duration::from_secs(60);
/// The lifetime assumed when the endpoint gives no `expires_in` (both Microsoft and Google
/// issue one-hour tokens); a refusal by the server renews earlier anyway.
pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(3600);

pub type Key = [u8; 32];

/// What a slot holds.
#[derive(Default)]
pub struct Held {
    pub token: Option<Cached>,
    /// The newest refresh token the provider gave (providers may rotate them).
    pub refresh_token: Option<Secret>,
}

pub struct Cached {
    pub access: Secret,
    pub use_until: Instant,
    pub expires_in: Duration,
}

impl Cached {
    pub fn new(access: Secret, expires_in: Option<Duration>, now: Instant) -> Cached {
        let lifetime = expires_in.unwrap_or(DEFAULT_LIFETIME);
        Cached { access, use_until: now + lifetime.saturating_sub(MARGIN.min(lifetime / 2)), expires_in: lifetime }
    }

    pub fn usable(&self, now: Instant) -> bool {
        now < self.use_until
    }
}

pub type Slot = Arc<tokio::sync::Mutex<Held>>;

static SLOTS: LazyLock<Mutex<HashMap<Key, Slot>>> = LazyLock::new(|| Mutex::new(HashMap::new()));

/// The slot for `key`, created empty when new.
pub fn slot(key: &Key) -> Slot {
    let mut slots = SLOTS.lock().unwrap_or_else(|p| p.into_inner());
    slots.entry(*key).or_default().clone()
}

/// A key from the parts that make a token: each part length-prefixed, so no two different
/// lists hash alike.
pub fn key(parts: &[&str]) -> Key {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p.as_bytes());
    }
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_dropped_a_minute_or_half_its_life_before_it_expires() {
        let now = Instant::now();
        let hour = Cached::new(Secret::new("t"), Some(Duration::from_secs(3600)), now);
        assert_eq!(hour.use_until, now + Duration::from_secs(3540));
        let short = Cached::new(Secret::new("t"), Some(Duration::from_secs(4)), now);
        assert_eq!(short.use_until, now + Duration::from_secs(2));
        assert!(short.usable(now + Duration::from_secs(1)) && !short.usable(now + Duration::from_secs(2)));
        let unknown = Cached::new(Secret::new("t"), None, now);
        assert_eq!(unknown.expires_in, DEFAULT_LIFETIME);
    }

    #[test]
    fn keys_differ_by_every_part_and_their_boundaries() {
        assert_ne!(key(&["ab", "c"]), key(&["a", "bc"]));
        assert_ne!(key(&["a", "b"]), key(&["a", "c"]));
        assert_eq!(key(&["a", "b"]), key(&["a", "b"]));
        assert!(Arc::ptr_eq(&slot(&key(&["x"])), &slot(&key(&["x"]))));
    }
}
