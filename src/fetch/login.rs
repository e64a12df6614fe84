//! What a session logs in with: a password, or OAuth2 tokens from a [`TokenSource`].
//!
//! Takes a mailbox's settings; gives its [`Credentials`], every secret read now, or a
//! sentence naming the key to fix. It never logs or formats a secret (`Debug` shows the
//! kind only).

use super::oauth2::TokenSource;
use crate::config::{Auth, MailboxConfig, Secret};

#[derive(Clone)]
pub enum Credentials {
    Password(Secret),
    /// Boxed: a token source holds the mailbox's OAuth2 settings, far larger than a password.
    OAuth2(Box<TokenSource>),
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::Password(_) => f.write_str("Password(****)"),
            Credentials::OAuth2(t) => write!(f, "OAuth2({t:?})"),
        }
    }
}

impl Credentials {
    /// The credentials `m` is configured with; errors start with the key to fix (`key`
    /// prefixes it, e.g. `mailbox bounces-main`).
    pub fn of(m: &MailboxConfig, key: &str) -> Result<Credentials, String> {
        match m.auth {
            Auth::Password => m.secret(key).map(Credentials::Password),
            Auth::OAuth2 => TokenSource::new(m, key).map(|t| Credentials::OAuth2(Box::new(t))),
        }
    }
}

impl From<&Secret> for Credentials {
    fn from(s: &Secret) -> Credentials {
        Credentials::Password(s.clone())
    }
}

impl From<&Credentials> for Credentials {
    fn from(c: &Credentials) -> Credentials {
        c.clone()
    }
}
