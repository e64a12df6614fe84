//! OAuth2 access tokens for mailbox login (`auth = "oauth2"`): from the provider's token
//! endpoint, kept in memory until shortly before expiry, renewed once when the mail server
//! refuses one.
//!
//! Takes a mailbox's settings with its OAuth2 secrets read; gives a [`Token`] for SASL
//! XOAUTH2/OAUTHBEARER ([`super::sasl`]) and, on failure, a [`FetchError`] at
//! [`Stage::Token`] with the endpoint, the HTTP status, the provider's `error` and
//! `error_description` and what to do. It never logs, stores or returns a token or a secret
//! except to the login that sends it ([`Secret`] formats as `****`).

mod cache;
mod endpoint;

use super::error::{ErrorKind, FetchError, Stage};
use super::trace::Trace;
use crate::config::oauth2::{Flow, OAuth2Config, OAuth2Secrets};
use crate::config::{MailboxConfig, Mechanism, Secret};
use serde_json::json;
use std::time::{Duration, Instant};

/// Where a mailbox's tokens come from: its settings, its secrets and its cache slot.
#[derive(Clone)]
pub struct TokenSource {
    cfg: OAuth2Config,
    secrets: OAuth2Secrets,
    key: cache::Key,
    limit: Duration,
}

impl std::fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TokenSource({}, {})", self.cfg.oauth2_token_url, self.cfg.flow())
    }
}

/// An access token and whether it came from the cache (only a cached one is worth renewing
/// when the server refuses it: a token just issued is as fresh as they come).
pub struct Token {
    pub access: Secret,
    pub cached: bool,
}

impl TokenSource {
    /// The token source of an `auth = "oauth2"` mailbox, its secrets read now; the error
    /// names the key to fix (`key` prefixes it).
    pub fn new(m: &MailboxConfig, key: &str) -> Result<TokenSource, String> {
        let cfg = m.oauth2.clone().ok_or_else(|| format!("{key}.auth: is not \"oauth2\""))?;
        let secrets = cfg.secrets(key)?;
        let reveal = |s: &Option<Secret>| s.as_ref().map(|s| s.expose().to_string()).unwrap_or_default();
        let parts = [
            m.name.as_str(),
            &m.username,
            &cfg.oauth2_token_url,
            &cfg.oauth2_client_id,
            cfg.oauth2_scope.as_deref().unwrap_or(""),
            &reveal(&secrets.client_secret),
            &reveal(&secrets.refresh_token),
        ];
        let key = cache::key(&parts);
        Ok(TokenSource { cfg, secrets, key, limit: Duration::from_secs(m.timeout_seconds) })
    }

    /// The mechanism the settings insist on, if any.
    pub fn mechanism(&self) -> Option<Mechanism> {
        self.cfg.oauth2_mechanism
    }

    /// A usable token (cached, or new from the endpoint), recorded as the `token` stage.
    pub async fn token(&self, server: &str, trace: &mut Trace) -> Result<Token, FetchError> {
        trace.enter(Stage::Token);
        let slot = cache::slot(&self.key);
        let mut held = slot.lock().await;
        let now = Instant::now();
        if let Some(c) = held.token.as_ref().filter(|c| c.usable(now)) {
            let left = c.use_until.saturating_duration_since(now).as_secs();
            trace.pass(
                format!("token from memory ({} flow, {}; used for {left} s more)", self.cfg.flow(), self.endpoint()),
                json!({ "endpoint": self.endpoint(), "flow": self.cfg.flow(), "cached": true }),
            );
            return Ok(Token { access: c.access.clone(), cached: true });
        }
        let (access, expires_in) = self.fetch(&mut held, server, trace).await?;
        trace.pass(
            format!("token from {} ({} flow, expires in {} s)", self.endpoint(), self.cfg.flow(), expires_in.as_secs()),
            json!({ "endpoint": self.endpoint(), "flow": self.cfg.flow(), "cached": false,
                    "expires_in_seconds": expires_in.as_secs() }),
        );
        Ok(Token { access, cached: false })
    }

    /// A new token after the server refused `used`, unless another login already replaced
    /// it. Failures are token-stage errors (not recorded in `trace`, whose current stage is
    /// the login).
    pub async fn renew(&self, used: &Token, server: &str) -> Result<Token, FetchError> {
        let slot = cache::slot(&self.key);
        let mut held = slot.lock().await;
        match held.token.as_ref() {
            Some(c) if c.access != used.access && c.usable(Instant::now()) => {
                return Ok(Token { access: c.access.clone(), cached: true });
            }
            _ => held.token = None,
        }
        let mut scratch = Trace::default();
        let (access, _) = self.fetch(&mut held, server, &mut scratch).await?;
        Ok(Token { access, cached: false })
    }

    /// Drops the cached token if it is `used` (the server refused it twice over).
    pub async fn forget(&self, used: &Token) {
        let slot = cache::slot(&self.key);
        let mut held = slot.lock().await;
        if held.token.as_ref().is_some_and(|c| c.access == used.access) {
            held.token = None;
        }
    }

    fn endpoint(&self) -> &str {
        &self.cfg.oauth2_token_url
    }

    /// Asks the endpoint and fills the slot; a refusal notes its facts in `trace`.
    async fn fetch(
        &self,
        held: &mut cache::Held,
        server: &str,
        trace: &mut Trace,
    ) -> Result<(Secret, Duration), FetchError> {
        let refresh = held.refresh_token.clone().or_else(|| self.secrets.refresh_token.clone());
        match endpoint::request(&self.cfg, &self.secrets, refresh.as_ref(), self.limit).await {
            Ok(granted) => {
                let cached = cache::Cached::new(granted.access.clone(), granted.expires_in, Instant::now());
                let expires_in = cached.expires_in;
                held.token = Some(cached);
                if granted.refresh_token.is_some() && self.cfg.flow() == Flow::RefreshToken {
                    held.refresh_token = granted.refresh_token;
                }
                Ok((granted.access, expires_in))
            }
            Err(r) => {
                held.token = None;
                trace.note_failure(json!({
                    "endpoint": self.endpoint(), "flow": self.cfg.flow(), "http_status": r.status,
                    "error": r.error, "error_description": r.description,
                }));
                Err(FetchError::new(Stage::Token, r.kind, server, r.detail))
            }
        }
    }
}

/// What to do about a token-stage failure (`detail` quotes the endpoint).
pub fn hint(kind: ErrorKind, d: &str) -> String {
    let says = |code: &str| d.contains(&format!(", {code}"));
    if says("invalid_client") {
        format!(
            "the token endpoint does not accept the client: {d}; check oauth2_client_id and the client secret \
             (Microsoft 365: a new secret under App registrations > Certificates & secrets; Google: the OAuth \
             client in the Cloud console)"
        )
    } else if says("invalid_grant") {
        format!(
            "the refresh token is expired, revoked or belongs to another client: {d}; authorize the app again and \
             store the new refresh token (oauth2_refresh_token_env/_file, or oauth2_refresh_token through the API)"
        )
    } else if says("invalid_scope") {
        format!(
            "the scope was refused: {d}; check oauth2_scope (Microsoft 365 app-only: \
             https://outlook.office365.com/.default; Google: https://mail.google.com/)"
        )
    } else if says("unauthorized_client") {
        format!(
            "the client may not use this grant: {d}; allow it in the provider's app settings (Microsoft 365 \
             app-only: application permission IMAP.AccessAsApp or POP.AccessAsApp with admin consent)"
        )
    } else if says("unsupported_grant_type") || says("invalid_request") {
        format!(
            "the token endpoint did not understand the request: {d}; check oauth2_token_url (Microsoft 365: \
             https://login.microsoftonline.com/TENANT-ID/oauth2/v2.0/token; Google: https://oauth2.googleapis.com/token)"
        )
    } else {
        match kind {
            ErrorKind::Timeout | ErrorKind::Network => format!(
                "cannot reach the token endpoint: {d}; check oauth2_token_url and that this machine reaches it \
                 (DNS, proxy, firewall)"
            ),
            ErrorKind::Protocol => format!(
                "the token endpoint's answer is not a token response: {d}; check that oauth2_token_url is the \
                 provider's token endpoint"
            ),
            ErrorKind::Local => format!("{d}; fix the mailbox's OAuth2 settings"),
            _ => format!(
                "the token endpoint refused: {d}; check oauth2_token_url, oauth2_client_id, the client secret and \
                 oauth2_scope"
            ),
        }
    }
}
