//! `rebound verify`: check a mailbox's connection stage by stage, from the config file by
//! name or from command-line flags for a mailbox not yet saved.
//!
//! Takes the parsed flags (and the config when a name is given); gives the report on stdout
//! (a table, or JSON with `--json`) and whether every stage passed. It never changes the
//! mailbox and never prints the password.

use crate::config::{Auth, ConfigError, MailboxConfig, Problem};
use crate::fetch::{Credentials, VerifyReport, verify};

/// Flags of `rebound verify`.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// Name of a [[mailbox]] in the config file. Leave it out and give --protocol, --host,
    /// --username and --password-env (or --auth oauth2 and the --oauth2-* flags) to check a
    /// mailbox that is not saved yet.
    pub name: Option<String>,
    /// imap or pop3.
    #[arg(long, conflicts_with = "name")]
    pub protocol: Option<String>,
    /// Server host name or address (the c-client form host:port/flags is accepted too).
    #[arg(long, conflicts_with = "name")]
    pub host: Option<String>,
    /// Port; default by protocol and security (993/143 IMAP, 995/110 POP3).
    #[arg(long, conflicts_with = "name")]
    pub port: Option<u16>,
    /// ssl (implicit TLS, default), starttls or none.
    #[arg(long, conflicts_with = "name")]
    pub security: Option<String>,
    #[arg(long, conflicts_with = "name")]
    pub username: Option<String>,
    /// Environment variable holding the password.
    #[arg(long, conflicts_with = "name")]
    pub password_env: Option<String>,
    /// File whose first line is the password.
    #[arg(long, conflicts_with = "name")]
    pub password_file: Option<String>,
    /// Also trust this CA certificate (PEM).
    #[arg(long, conflicts_with = "name")]
    pub ca_file: Option<String>,
    /// password (default) or oauth2: a bearer token from --oauth2-token-url (SASL
    /// OAUTHBEARER or XOAUTH2) instead of a password.
    #[arg(long, conflicts_with = "name")]
    pub auth: Option<String>,
    /// OAuth2: the provider's token endpoint.
    #[arg(long, conflicts_with = "name")]
    pub oauth2_token_url: Option<String>,
    /// OAuth2: the application (client) id.
    #[arg(long, conflicts_with = "name")]
    pub oauth2_client_id: Option<String>,
    /// OAuth2: environment variable holding the client secret.
    #[arg(long, conflicts_with = "name")]
    pub oauth2_client_secret_env: Option<String>,
    /// OAuth2: file whose first line is the client secret.
    #[arg(long, conflicts_with = "name")]
    pub oauth2_client_secret_file: Option<String>,
    /// OAuth2: environment variable holding a refresh token (the refresh-token flow).
    #[arg(long, conflicts_with = "name")]
    pub oauth2_refresh_token_env: Option<String>,
    /// OAuth2: file whose first line is a refresh token.
    #[arg(long, conflicts_with = "name")]
    pub oauth2_refresh_token_file: Option<String>,
    /// OAuth2: the scope to ask for.
    #[arg(long, conflicts_with = "name")]
    pub oauth2_scope: Option<String>,
    /// OAuth2: xoauth2 or oauthbearer (default: chosen from what the server offers).
    #[arg(long, conflicts_with = "name")]
    pub oauth2_mechanism: Option<String>,
    /// Do not check the server certificate (testing only).
    #[arg(long, conflicts_with = "name")]
    pub no_verify_certificate: bool,
    /// IMAP folder to select (repeatable; default INBOX).
    #[arg(long = "folder", conflicts_with = "name")]
    pub folders: Vec<String>,
    /// Seconds each network operation may take (default 30).
    #[arg(long, conflicts_with = "name")]
    pub timeout_seconds: Option<u64>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

impl VerifyArgs {
    /// The mailbox the flags describe, checked like a config entry; problems name the flags.
    pub fn adhoc_mailbox(&self) -> Result<MailboxConfig, ConfigError> {
        let mut t = toml::Table::new();
        let mut set = |k: &str, v: toml::Value| {
            t.insert(k.to_string(), v);
        };
        set("name", "command-line".into());
        let strings = [
            ("protocol", &self.protocol),
            ("host", &self.host),
            ("security", &self.security),
            ("username", &self.username),
            ("password_env", &self.password_env),
            ("password_file", &self.password_file),
            ("ca_file", &self.ca_file),
            ("auth", &self.auth),
            ("oauth2_token_url", &self.oauth2_token_url),
            ("oauth2_client_id", &self.oauth2_client_id),
            ("oauth2_client_secret_env", &self.oauth2_client_secret_env),
            ("oauth2_client_secret_file", &self.oauth2_client_secret_file),
            ("oauth2_refresh_token_env", &self.oauth2_refresh_token_env),
            ("oauth2_refresh_token_file", &self.oauth2_refresh_token_file),
            ("oauth2_scope", &self.oauth2_scope),
            ("oauth2_mechanism", &self.oauth2_mechanism),
        ];
        for (k, v) in strings {
            if let Some(v) = v {
                set(k, v.clone().into());
            }
        }
        if let Some(p) = self.port {
            set("port", i64::from(p).into());
        }
        if let Some(s) = self.timeout_seconds {
            set("timeout_seconds", i64::try_from(s).unwrap_or(i64::MAX).into());
        }
        if self.no_verify_certificate {
            set("verify_certificate", false.into());
        }
        if !self.folders.is_empty() {
            set("folders", toml::Value::Array(self.folders.iter().map(|f| f.clone().into()).collect()));
        }
        MailboxConfig::from_value(toml::Value::Table(t), "verify").map_err(|problems| ConfigError {
            source_name: "command line".into(),
            problems: problems
                .into_iter()
                .map(|p| {
                    let field = p.key.strip_prefix("verify.").unwrap_or(&p.key).replace('_', "-");
                    Problem::new(format!("--{field}"), p.message)
                })
                .collect(),
        })
    }
}

/// The mailbox's password or OAuth2 token source, or a configuration problem saying where
/// the secret should come from.
pub fn credentials(m: &MailboxConfig, key: &str) -> Result<Credentials, ConfigError> {
    let fail = |field: &str, message: String| ConfigError {
        source_name: key.to_string(),
        problems: vec![Problem::new(format!("{key}.{field}"), message)],
    };
    if m.auth == Auth::OAuth2 {
        return Credentials::of(m, key).map_err(|e| match e.split_once(": ") {
            Some((k, msg)) => fail(k.rsplit('.').next().unwrap_or("auth"), msg.to_string()),
            None => fail("auth", e),
        });
    }
    match m.password().resolve(key) {
        Ok(Some(s)) => Ok(Credentials::Password(s)),
        Ok(None) => Err(fail("password_env", "no password: set password_env or password_file".into())),
        Err(e) => Err(ConfigError {
            source_name: key.to_string(),
            problems: vec![Problem::new(format!("{key}.password_env"), e)],
        }),
    }
}

/// Runs the check and prints the report; true when every stage passed.
pub async fn run(m: &MailboxConfig, login: &Credentials, json: bool) -> bool {
    let report: VerifyReport = verify(m, login).await;
    if json {
        match serde_json::to_string_pretty(&report) {
            Ok(text) => println!("{text}"),
            Err(e) => eprintln!("error: cannot render the report as JSON: {e}"),
        }
    } else {
        print!("{report}");
    }
    report.ok
}
