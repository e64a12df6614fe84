//! `auth = "oauth2"` on a `[[mailbox]]`: logging in with a bearer token (SASL XOAUTH2 or
//! OAUTHBEARER) from the provider's token endpoint instead of a password.
//!
//! Takes the `oauth2_*` keys of an entry (and, for API-managed mailboxes, the client secret
//! and refresh token given inline); gives a checked [`OAuth2Config`] or a [`Problem`] per
//! wrong key. The flow follows from what is given: a refresh token means the refresh-token
//! flow (Google: a user consented once), none means the client-credentials flow (Microsoft
//! 365 app-only access, which needs the client secret). It never fetches a token and never
//! puts a secret into the config: `*_env`/`*_file` stay references, and inline values are
//! never serialised.

use super::Secret;
use super::secret::SecretKeys;
use serde::{Deserialize, Serialize};
use std::fmt;

/// How a mailbox logs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Auth {
    /// LOGIN / USER+PASS / APOP with `password_env`, `password_file` or `password`.
    #[default]
    Password,
    /// SASL XOAUTH2 or OAUTHBEARER with a token from `oauth2_token_url`.
    OAuth2,
}

impl Auth {
    pub fn is_password(&self) -> bool {
        *self == Auth::Password
    }
}

/// The SASL mechanism carrying the token. Without `oauth2_mechanism` it is chosen from the
/// server's capabilities (OAUTHBEARER preferred, see `fetch::sasl`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mechanism {
    /// Google's and Microsoft's pre-standard form (`user=…^Aauth=Bearer …^A^A`).
    Xoauth2,
    /// RFC 7628.
    Oauthbearer,
}

impl Mechanism {
    /// The name as servers advertise it (`AUTH=XOAUTH2`, `SASL … OAUTHBEARER`).
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Xoauth2 => "XOAUTH2",
            Mechanism::Oauthbearer => "OAUTHBEARER",
        }
    }
}

impl fmt::Display for Mechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which grant the token endpoint is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Flow {
    ClientCredentials,
    RefreshToken,
}

impl fmt::Display for Flow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Flow::ClientCredentials => "client credentials",
            Flow::RefreshToken => "refresh token",
        })
    }
}

const CLIENT_SECRET: SecretKeys =
    SecretKeys { env: "oauth2_client_secret_env", file: "oauth2_client_secret_file", what: "client secret" };
const REFRESH_TOKEN: SecretKeys =
    SecretKeys { env: "oauth2_refresh_token_env", file: "oauth2_refresh_token_file", what: "refresh token" };

/// The OAuth2 settings of one mailbox, checked. Serialised flat into the mailbox's keys.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OAuth2Config {
    pub oauth2_token_url: String,
    pub oauth2_client_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oauth2_client_secret_env: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oauth2_client_secret_file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oauth2_refresh_token_env: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oauth2_refresh_token_file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oauth2_scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oauth2_mechanism: Option<Mechanism>,
    /// The client secret given through the admin API (opened from its sealed form).
    #[serde(skip)]
    pub inline_client_secret: Option<Secret>,
    /// The refresh token given through the admin API (opened from its sealed form).
    #[serde(skip)]
    pub inline_refresh_token: Option<Secret>,
}

/// The secrets an OAuth2 mailbox logs in with, read now.
#[derive(Debug, Clone)]
pub struct OAuth2Secrets {
    pub client_secret: Option<Secret>,
    pub refresh_token: Option<Secret>,
}

impl OAuth2Config {
    pub fn flow(&self) -> Flow {
        let refresh = self.inline_refresh_token.is_some()
            || self.oauth2_refresh_token_env.is_some()
            || self.oauth2_refresh_token_file.is_some();
        if refresh { Flow::RefreshToken } else { Flow::ClientCredentials }
    }

    /// The client secret and refresh token: the inline ones, or read now from their
    /// references. The error names the key to fix (`key` prefixes it).
    pub fn secrets(&self, key: &str) -> Result<OAuth2Secrets, String> {
        let read =
            |inline: &Option<Secret>, names: SecretKeys, env: &Option<String>, file: &Option<String>| match inline {
                Some(s) => Ok(Some(s.clone())),
                None => names.resolve(env.as_deref(), file.as_deref(), key),
            };
        let client_secret = read(
            &self.inline_client_secret,
            CLIENT_SECRET,
            &self.oauth2_client_secret_env,
            &self.oauth2_client_secret_file,
        )?;
        let refresh_token = read(
            &self.inline_refresh_token,
            REFRESH_TOKEN,
            &self.oauth2_refresh_token_env,
            &self.oauth2_refresh_token_file,
        )?;
        if self.flow() == Flow::ClientCredentials && client_secret.is_none() {
            return Err(format!("{key}.oauth2_client_secret_env: {}", NO_CLIENT_SECRET));
        }
        Ok(OAuth2Secrets { client_secret, refresh_token })
    }
}

const NO_CLIENT_SECRET: &str = "missing: without a refresh token the client-credentials flow is used, which needs \
     the app's client secret (oauth2_client_secret_env or oauth2_client_secret_file, or oauth2_client_secret \
     through the admin API); for a refresh-token flow (Google) give oauth2_refresh_token_env or _file";

/// The `oauth2_*` keys of an entry as written.
#[derive(Debug, Default)]
pub struct RawOAuth2 {
    pub token_url: Option<String>,
    pub client_id: Option<String>,
    pub client_secret_env: Option<String>,
    pub client_secret_file: Option<String>,
    pub refresh_token_env: Option<String>,
    pub refresh_token_file: Option<String>,
    pub scope: Option<String>,
    pub mechanism: Option<Mechanism>,
}

/// Secrets given inline (the admin API's `oauth2_client_secret`, `oauth2_refresh_token`).
#[derive(Debug, Clone, Default)]
pub struct InlineOAuth2 {
    pub client_secret: Option<Secret>,
    pub refresh_token: Option<Secret>,
}

/// Checks the OAuth2 keys for `auth`; `Some` only for `auth = "oauth2"` with no problem.
/// `enabled` mailboxes have their secret references read now, so a missing variable is
/// reported at load, not at the first poll.
pub fn resolve(
    auth: Auth,
    raw: RawOAuth2,
    inline: InlineOAuth2,
    key: &str,
    enabled: bool,
    p: &mut impl FnMut(&str, String),
) -> Option<OAuth2Config> {
    if auth == Auth::Password {
        let given = [
            ("oauth2_token_url", raw.token_url.is_some()),
            ("oauth2_client_id", raw.client_id.is_some()),
            ("oauth2_client_secret_env", raw.client_secret_env.is_some()),
            ("oauth2_client_secret_file", raw.client_secret_file.is_some()),
            ("oauth2_refresh_token_env", raw.refresh_token_env.is_some()),
            ("oauth2_refresh_token_file", raw.refresh_token_file.is_some()),
            ("oauth2_scope", raw.scope.is_some()),
            ("oauth2_mechanism", raw.mechanism.is_some()),
            ("oauth2_client_secret", inline.client_secret.is_some()),
            ("oauth2_refresh_token", inline.refresh_token.is_some()),
        ];
        for (field, _) in given.iter().filter(|(_, set)| *set) {
            p(field, "is only used with auth = \"oauth2\"; set auth = \"oauth2\" or remove it".into());
        }
        return None;
    }
    let mut ok = true;
    let mut bad = |field: &str, msg: String| {
        ok = false;
        p(field, msg)
    };
    let token_url = raw.token_url.unwrap_or_default();
    if token_url.trim().is_empty() {
        bad(
            "oauth2_token_url",
            "missing; the provider's token endpoint, e.g. \
             \"https://login.microsoftonline.com/TENANT-ID/oauth2/v2.0/token\" (Microsoft 365) or \
             \"https://oauth2.googleapis.com/token\" (Google)"
                .into(),
        );
    } else if let Err(e) = check_token_url(&token_url) {
        bad("oauth2_token_url", format!("`{token_url}` {e}"));
    }
    let client_id = raw.client_id.unwrap_or_default();
    if client_id.trim().is_empty() {
        bad("oauth2_client_id", "missing; the application (client) id the provider gave the app".into());
    }
    if raw.scope.as_deref().is_some_and(|s| s.trim().is_empty()) {
        bad(
            "oauth2_scope",
            "is empty; leave it out, or give the scope, e.g. \"https://outlook.office365.com/.default\"".into(),
        );
    }
    let pairs = [
        (CLIENT_SECRET, &raw.client_secret_env, &raw.client_secret_file, &inline.client_secret, "oauth2_client_secret"),
        (REFRESH_TOKEN, &raw.refresh_token_env, &raw.refresh_token_file, &inline.refresh_token, "oauth2_refresh_token"),
    ];
    for (names, env, file, given, inline_key) in pairs {
        let refs = env.is_some() || file.is_some();
        if given.is_some() && refs {
            bad(
                inline_key,
                format!("is given with {}/{}; keep only one way to give the {}", names.env, names.file, names.what),
            );
        } else if refs
            && enabled
            && let Err(e) = names.resolve(env.as_deref(), file.as_deref(), key)
        {
            // A disabled mailbox may name a secret not provisioned yet (as for passwords).
            let (field, msg) = match e.split_once(": ") {
                Some((k, m)) => (k.rsplit('.').next().unwrap_or(names.env).to_string(), m.to_string()),
                None => (names.env.to_string(), e),
            };
            bad(&field, msg);
        }
    }
    let cfg = OAuth2Config {
        oauth2_token_url: token_url,
        oauth2_client_id: client_id,
        oauth2_client_secret_env: raw.client_secret_env,
        oauth2_client_secret_file: raw.client_secret_file,
        oauth2_refresh_token_env: raw.refresh_token_env,
        oauth2_refresh_token_file: raw.refresh_token_file,
        oauth2_scope: raw.scope,
        oauth2_mechanism: raw.mechanism,
        inline_client_secret: inline.client_secret,
        inline_refresh_token: inline.refresh_token,
    };
    let has_secret = cfg.inline_client_secret.is_some()
        || cfg.oauth2_client_secret_env.is_some()
        || cfg.oauth2_client_secret_file.is_some();
    if cfg.flow() == Flow::ClientCredentials && !has_secret {
        bad("oauth2_client_secret_env", NO_CLIENT_SECRET.into());
    }
    ok.then_some(cfg)
}

/// A token URL must be HTTPS: the client secret crosses it. Plain HTTP only to this machine
/// (a local token service or a test stand-in).
fn check_token_url(text: &str) -> Result<(), String> {
    let url = url::Url::parse(text).map_err(|e| format!("is not a URL ({e}); write the full https:// address"))?;
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(&url) => Ok(()),
        "http" => Err("is plain http: the client secret would cross the network in clear; use https".into()),
        other => Err(format!("has scheme `{other}`; a token endpoint is an https:// address")),
    }
}

fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_urls_must_be_https_except_to_this_machine() {
        assert!(check_token_url("https://login.microsoftonline.com/t/oauth2/v2.0/token").is_ok());
        assert!(check_token_url("http://127.0.0.1:8080/token").is_ok());
        assert!(check_token_url("http://localhost/token").is_ok());
        assert!(check_token_url("http://[::1]:9/token").is_ok());
        assert!(check_token_url("http://oauth2.googleapis.com/token").unwrap_err().contains("use https"));
        assert!(check_token_url("ftp://x/token").unwrap_err().contains("scheme `ftp`"));
        assert!(check_token_url("login.example.com/token").unwrap_err().contains("not a URL"));
    }
}
