//! `[[mailbox]]`: the bounce and FBL mailboxes rebound polls over POP3 or IMAP.
//!
//! Takes the `mailbox` array of the config file; gives one resolved [`MailboxConfig`] per
//! entry (protocol, port and security settled, defaults applied, the legacy c-client `host`
//! form merged in) and a [`Problem`] for everything wrong, keyed `mailbox[i].key`. Each entry
//! is read on its own, so one bad entry never hides the problems of another. It never
//! connects anywhere and never reads a password into the config: `password_env`/
//! `password_file` stay refs. Only API-managed mailboxes carry one, opened from its sealed
//! form by the mailbox stage ([`MailboxConfig::inline_password`], never serialised).
//! `auth = "oauth2"` and its `oauth2_*` keys are checked in [`super::oauth2`].

use super::cclient;
use super::load::entry;
use super::oauth2::{self, Auth, InlineOAuth2, Mechanism, OAuth2Config, RawOAuth2};
use super::{Problem, Secret, SecretRef};
use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Purpose {
    /// Non-delivery reports (DSNs) sent to the return path.
    #[default]
    Bounce,
    /// Feedback-loop complaints (ARF).
    Fbl,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Pop3,
    Imap,
}

/// How the connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    /// TLS from the first byte (POP3S 995, IMAPS 993).
    #[default]
    Ssl,
    /// Plain connect, then STLS/STARTTLS before login; refused if the server does not offer it.
    Starttls,
    /// No TLS at all: the password crosses the network in clear.
    None,
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Pop3 => "pop3",
            Protocol::Imap => "imap",
        })
    }
}

impl fmt::Display for Security {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Security::Ssl => "ssl",
            Security::Starttls => "starttls",
            Security::None => "none",
        })
    }
}

/// What happens to a message once the caller has committed what it learned from it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum AfterProcessing {
    /// Leave it; a checkpoint or ledger keeps it from being processed twice.
    #[default]
    Keep,
    Delete,
    /// IMAP: move it to this folder (created when missing).
    Move(String),
    /// IMAP: set \Seen.
    Seen,
}

impl TryFrom<String> for AfterProcessing {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        match s.as_str() {
            "keep" => Ok(Self::Keep),
            "delete" => Ok(Self::Delete),
            "seen" => Ok(Self::Seen),
            _ => match s.strip_prefix("move:") {
                Some(folder) if !folder.trim().is_empty() => Ok(Self::Move(folder.to_string())),
                _ => Err(format!("`{s}` is not one of \"keep\", \"delete\", \"seen\", \"move:FOLDER\"")),
            },
        }
    }
}

impl From<AfterProcessing> for String {
    fn from(a: AfterProcessing) -> String {
        match a {
            AfterProcessing::Keep => "keep".into(),
            AfterProcessing::Delete => "delete".into(),
            AfterProcessing::Seen => "seen".into(),
            AfterProcessing::Move(f) => format!("move:{f}"),
        }
    }
}

pub const DEFAULT_SCHEDULE: &str = "*/5 * * * *";

/// One mailbox, fully resolved: every field holds the value rebound will use.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MailboxConfig {
    pub name: String,
    pub purpose: Purpose,
    pub protocol: Protocol,
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub verify_certificate: bool,
    pub ca_file: Option<String>,
    pub username: String,
    /// `password` (the default) or `oauth2`; with `oauth2` the `oauth2_*` keys are in [`Self::oauth2`].
    #[serde(skip_serializing_if = "Auth::is_password")]
    pub auth: Auth,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub oauth2: Option<OAuth2Config>,
    pub password_env: Option<String>,
    pub password_file: Option<String>,
    pub folders: Vec<String>,
    pub after_processing: AfterProcessing,
    pub schedule: String,
    pub idle: bool,
    pub enabled: bool,
    pub max_messages_per_poll: u32,
    pub max_message_bytes: u64,
    pub timeout_seconds: u64,
    /// How long a poll's claim on the mailbox lasts unless renewed (it is renewed every third
    /// of this while the poll runs), so a killed poller blocks the mailbox at most this long.
    pub lease_seconds: u64,
    /// The password itself, for API-managed mailboxes given a `password` (decrypted from its
    /// sealed form when the mailbox is loaded). Never serialised: not stored in settings,
    /// not shown by `check-config`, not in any response.
    #[serde(skip)]
    pub inline_password: Option<Secret>,
}

/// Secrets the admin API gives inline, in place of their `*_env`/`*_file` references.
#[derive(Debug, Clone, Default)]
pub struct Inline {
    pub password: Option<Secret>,
    pub oauth2: InlineOAuth2,
}

/// An entry as written: optional where a default depends on other keys or on `host`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Raw {
    name: Option<String>,
    purpose: Purpose,
    protocol: Option<Protocol>,
    host: Option<String>,
    port: Option<u16>,
    security: Option<Security>,
    verify_certificate: Option<bool>,
    ca_file: Option<String>,
    username: Option<String>,
    auth: Auth,
    password_env: Option<String>,
    password_file: Option<String>,
    oauth2_token_url: Option<String>,
    oauth2_client_id: Option<String>,
    oauth2_client_secret_env: Option<String>,
    oauth2_client_secret_file: Option<String>,
    oauth2_refresh_token_env: Option<String>,
    oauth2_refresh_token_file: Option<String>,
    oauth2_scope: Option<String>,
    oauth2_mechanism: Option<Mechanism>,
    folders: Option<Vec<String>>,
    after_processing: AfterProcessing,
    schedule: Option<String>,
    idle: bool,
    enabled: Option<bool>,
    max_messages_per_poll: Option<u32>,
    max_message_bytes: Option<u64>,
    timeout_seconds: Option<u64>,
    lease_seconds: Option<u64>,
}

impl MailboxConfig {
    /// Settings that work but expose the mailbox, one sentence each: `check-config` lists
    /// them, and the fetch stage warns at every connection.
    pub fn exposures(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.security == Security::None {
            out.push(
                "security = \"none\": NOT ENCRYPTED; anyone on the path can read the password and the mail, and \
                 change the mail (use ssl or starttls; none only on a trusted network)"
                    .to_string(),
            );
        } else if !self.verify_certificate {
            out.push(
                "verify_certificate = false: TLS CERTIFICATE NOT VERIFIED; anyone on the path can read the password \
                 (testing only)"
                    .to_string(),
            );
        }
        out
    }

    pub fn password(&self) -> SecretRef {
        SecretRef { password_env: self.password_env.clone(), password_file: self.password_file.clone() }
    }

    /// The password to log in with: the inline one, or read now from its env/file reference.
    /// The error says which key to fix (`key` prefixes it, e.g. `mailbox ops`).
    pub fn secret(&self, key: &str) -> Result<Secret, String> {
        if let Some(s) = &self.inline_password {
            return Ok(s.clone());
        }
        self.password().resolve(key)?.ok_or_else(|| {
            format!("{key}: no password: set password_env or password_file (or `password` through the API)")
        })
    }

    /// The port used when none is given: the IANA one for the protocol and security.
    pub fn default_port(protocol: Protocol, security: Security) -> u16 {
        match (protocol, security) {
            (Protocol::Pop3, Security::Ssl) => 995,
            (Protocol::Pop3, _) => 110,
            (Protocol::Imap, Security::Ssl) => 993,
            (Protocol::Imap, _) => 143,
        }
    }

    /// Reads one entry (a TOML table) whose keys are reported as `key.field`; the
    /// `verify` command uses it for a mailbox given on the command line.
    pub fn from_value(value: toml::Value, key: &str) -> Result<MailboxConfig, Vec<Problem>> {
        Self::from_value_with_secrets(value, key, Inline::default())
    }

    /// Like [`MailboxConfig::from_value`], with the password given inline (the admin API's
    /// `password`) instead of `password_env`/`password_file`; giving both is a problem.
    pub fn from_value_with_password(
        value: toml::Value,
        key: &str,
        password: Option<Secret>,
    ) -> Result<MailboxConfig, Vec<Problem>> {
        Self::from_value_with_secrets(value, key, Inline { password, ..Inline::default() })
    }

    /// Like [`MailboxConfig::from_value`], with every secret the admin API may give inline.
    pub fn from_value_with_secrets(
        value: toml::Value,
        key: &str,
        inline: Inline,
    ) -> Result<MailboxConfig, Vec<Problem>> {
        let mut out = Vec::new();
        let resolved = entry::<Raw>(value, key, &mut out).and_then(|raw| resolve(raw, key, inline, &mut out));
        match resolved {
            Some(m) if out.is_empty() => Ok(m),
            _ => Err(out),
        }
    }
}

/// Takes `mailbox` out of the root table and reads every entry.
pub(super) fn load_all(root: &mut toml::Table, out: &mut Vec<Problem>) -> Vec<MailboxConfig> {
    let Some(value) = root.remove("mailbox") else { return Vec::new() };
    let toml::Value::Array(entries) = value else {
        out.push(Problem::new("mailbox", "must be an array of tables: write each one as [[mailbox]]"));
        return Vec::new();
    };
    let mut all: Vec<MailboxConfig> = Vec::new();
    for (i, value) in entries.into_iter().enumerate() {
        let key = format!("mailbox[{i}]");
        if !value.is_table() {
            out.push(Problem::new(key, "must be a table: write it as [[mailbox]]"));
            continue;
        }
        let Some(m) = entry::<Raw>(value, &key, out).and_then(|raw| resolve(raw, &key, Inline::default(), out)) else {
            continue;
        };
        if let Some(j) = all.iter().position(|other| other.name == m.name) {
            out.push(Problem::new(
                format!("{key}.name"),
                format!("`{}` is already the name of mailbox[{j}]; names must be unique", m.name),
            ));
        }
        all.push(m);
    }
    all
}

/// Merges the c-client form, applies defaults, and checks every key; `None` when the entry
/// lacks something it cannot do without (the problems say what).
fn resolve(raw: Raw, key: &str, given: Inline, out: &mut Vec<Problem>) -> Option<MailboxConfig> {
    let inline = given.password;
    let before = out.len();
    let mut p = |field: &str, msg: String| out.push(Problem::new(format!("{key}.{field}"), msg));

    let name = raw.name.unwrap_or_default();
    if name.is_empty() {
        p("name", "missing; give each mailbox a unique name, e.g. name = \"bounces-main\"".into());
    } else if !name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-') {
        p("name", format!("`{name}` may only use a-z, 0-9, `_` and `-`"));
    }

    // The legacy form fills what it states, unless the explicit key says otherwise.
    let mut host = raw.host.clone().unwrap_or_default();
    let mut legacy = cclient::CClient::default();
    if cclient::is_cclient(&host) {
        match cclient::parse(&host) {
            Ok(c) => {
                host = c.host.clone();
                legacy = c;
            }
            Err(e) => p("host", format!("`{host}` {e}")),
        }
    }
    conflict(&mut p, "protocol", raw.protocol, legacy.protocol);
    conflict(&mut p, "port", raw.port, legacy.port);
    conflict(&mut p, "security", raw.security, legacy.security);
    conflict(&mut p, "verify_certificate", raw.verify_certificate, legacy.verify_certificate);

    if host.trim().is_empty() || host.contains(char::is_whitespace) {
        p("host", "missing or blank; write the server name, e.g. host = \"mail.example.com\"".into());
    }
    let protocol = raw.protocol.or(legacy.protocol);
    if protocol.is_none() {
        p("protocol", "missing; write protocol = \"imap\" or protocol = \"pop3\"".into());
    }
    let security = raw.security.or(legacy.security).unwrap_or_default();
    let port = raw.port.or(legacy.port);
    if port == Some(0) {
        p("port", "0 is not a port; leave it out for the protocol's default".into());
    }
    let username = raw.username.unwrap_or_default();
    if username.is_empty() {
        p("username", "missing; write the login name of the mailbox".into());
    }
    let secret = SecretRef { password_env: raw.password_env.clone(), password_file: raw.password_file.clone() };
    let enabled = raw.enabled.unwrap_or(true);
    if raw.auth == Auth::OAuth2 {
        if inline.is_some() {
            p("password", "is not used with auth = \"oauth2\" (the token is); remove it".into());
        }
        for (field, set) in [("password_env", &raw.password_env), ("password_file", &raw.password_file)] {
            if set.is_some() {
                p(field, "is not used with auth = \"oauth2\" (the token is); remove it".into());
            }
        }
    } else if inline.is_some() {
        if secret.is_set() {
            p("password", "is given with password_env/password_file; keep only one way to give the password".into());
        }
    } else if !secret.is_set() {
        p(
            "password_env",
            "missing; name an environment variable (password_env) or a file (password_file), or give `password` \
             through the admin API"
                .into(),
        );
    } else if enabled && let Err(e) = secret.resolve(key) {
        // A disabled mailbox may keep a reference to a secret that is not provisioned yet.
        // The message starts with its own key (`mailbox[0].password_env: …`).
        let (field, msg) = match e.split_once(": ") {
            Some((k, m)) => (k.rsplit('.').next().unwrap_or("password_env").to_string(), m.to_string()),
            None => ("password_env".to_string(), e),
        };
        p(&field, msg);
    }

    let raw_oauth2 = RawOAuth2 {
        token_url: raw.oauth2_token_url,
        client_id: raw.oauth2_client_id,
        client_secret_env: raw.oauth2_client_secret_env,
        client_secret_file: raw.oauth2_client_secret_file,
        refresh_token_env: raw.oauth2_refresh_token_env,
        refresh_token_file: raw.oauth2_refresh_token_file,
        scope: raw.oauth2_scope,
        mechanism: raw.oauth2_mechanism,
    };
    let oauth2 = oauth2::resolve(raw.auth, raw_oauth2, given.oauth2, key, enabled, &mut p);

    let is_pop3 = protocol == Some(Protocol::Pop3);
    let folders = match (raw.folders, legacy.folder) {
        (Some(f), _) => f,
        (None, Some(f)) if !is_pop3 => vec![f],
        _ => vec!["INBOX".to_string()],
    };
    if is_pop3 && folders != ["INBOX"] {
        p("folders", "POP3 has a single maildrop and no folders; remove folders or use protocol = \"imap\"".into());
    }
    if folders.is_empty() || folders.iter().any(|f| f.trim().is_empty()) {
        p("folders", "must list at least one non-empty folder name, e.g. [\"INBOX\"]".into());
    }
    if folders.iter().any(|f| f.contains(['\r', '\n', '\0'])) {
        p("folders", "folder names cannot contain line breaks or NUL".into());
    }
    match &raw.after_processing {
        AfterProcessing::Move(_) | AfterProcessing::Seen if is_pop3 => {
            p("after_processing", "POP3 can only \"delete\" or \"keep\"; move and seen need IMAP".into());
        }
        AfterProcessing::Move(target) if target.contains(['\r', '\n', '\0']) => {
            p("after_processing", "the move target cannot contain line breaks or NUL".into());
        }
        AfterProcessing::Move(target) if folders.contains(target) => {
            p("after_processing", format!("moves into `{target}`, which is polled too; move to another folder"));
        }
        _ => {}
    }
    if raw.idle && is_pop3 {
        p("idle", "POP3 has no IDLE; remove it or use protocol = \"imap\"".into());
    }
    let schedule = raw.schedule.unwrap_or_else(|| DEFAULT_SCHEDULE.to_string());
    if let Err(e) = check_cron(&schedule) {
        p("schedule", format!("`{schedule}` {e}"));
    }
    if let Some(ca) = &raw.ca_file {
        if security == Security::None {
            p("ca_file", "has no effect with security = \"none\"; remove it or use ssl/starttls".into());
        } else if let Err(e) = check_ca(ca) {
            p("ca_file", e);
        }
    }
    let max_messages_per_poll = raw.max_messages_per_poll.unwrap_or(500);
    if !(1..=100_000).contains(&max_messages_per_poll) {
        p("max_messages_per_poll", "must be between 1 and 100000".into());
    }
    let max_message_bytes = raw.max_message_bytes.unwrap_or(10 * 1024 * 1024);
    if !(1024..=256 * 1024 * 1024).contains(&max_message_bytes) {
        p("max_message_bytes", "must be between 1024 and 268435456 (256 MiB)".into());
    }
    let timeout_seconds = raw.timeout_seconds.unwrap_or(30);
    if !(1..=600).contains(&timeout_seconds) {
        p("timeout_seconds", "must be between 1 and 600".into());
    }
    let lease_seconds = raw.lease_seconds.unwrap_or(30);
    if !(3..=3600).contains(&lease_seconds) {
        p("lease_seconds", "must be between 3 and 3600".into());
    }

    let protocol = protocol?;
    (out.len() == before).then(|| MailboxConfig {
        name,
        purpose: raw.purpose,
        protocol,
        host,
        port: port.unwrap_or_else(|| MailboxConfig::default_port(protocol, security)),
        security,
        verify_certificate: raw.verify_certificate.or(legacy.verify_certificate).unwrap_or(true),
        ca_file: raw.ca_file,
        username,
        auth: raw.auth,
        oauth2,
        password_env: raw.password_env,
        password_file: raw.password_file,
        folders,
        after_processing: raw.after_processing,
        schedule,
        idle: raw.idle,
        enabled,
        max_messages_per_poll,
        max_message_bytes,
        timeout_seconds,
        lease_seconds,
        inline_password: inline,
    })
}

/// Reports a key given both explicitly and in the c-client `host` with different values.
fn conflict<T: PartialEq + fmt::Display>(
    p: &mut impl FnMut(&str, String),
    field: &str,
    explicit: Option<T>,
    stated: Option<T>,
) {
    if let (Some(e), Some(s)) = (explicit, stated)
        && e != s
    {
        p(field, format!("is `{e}` but host says `{s}` (c-client form); remove one of them"));
    }
}

/// Checks a schedule with the parser the scheduler itself uses, so a schedule that passes
/// here is one the mailbox supervisor runs.
fn check_cron(expr: &str) -> Result<(), String> {
    crate::scheduler::parse_cron(expr).map(|_| ())
}

fn check_ca(path: &str) -> Result<(), String> {
    let pem = std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}; check the path and permissions"))?;
    async_native_tls::Certificate::from_pem(&pem)
        .map(|_| ())
        .map_err(|e| format!("{path} is not a PEM certificate ({e}); give the CA certificate in PEM form"))
}
