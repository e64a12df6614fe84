//! The sections of the config file, their defaults and their semantic checks.
//!
//! Each section is deserialized on its own (so one bad section does not hide problems in
//! another) and then checked by its `validate`, which reports every problem, never just the
//! first. Defaults here are the ones `config.example.toml` documents; a test keeps them equal.

use super::{Problem, SecretRef};
use serde::{Deserialize, Serialize};

/// `[server]`: the admin HTTP server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServerConfig {
    /// Address of the admin HTTP server (`/healthz`, admin API).
    pub listen: String,
    /// How long in-flight work may take to finish after SIGINT/SIGTERM.
    pub shutdown_grace_seconds: u64,
    /// Serve HTTPS with this PEM certificate chain (and `tls_key_file`); both or neither.
    pub tls_cert_file: Option<String>,
    /// The PEM private key of `tls_cert_file`.
    pub tls_key_file: Option<String>,
    /// Largest request body accepted (a raw message posted to `rules/test`, a JSON body).
    pub max_body_bytes: usize,
    /// Largest suppression list uploaded to `POST /api/v1/suppression/import` (streamed, so
    /// memory stays flat whatever this is).
    pub max_import_bytes: u64,
    /// `GET /metrics` needs a token (any role) when true; open when false.
    pub metrics_require_token: bool,
    /// Verify calls one token may have running at once (each may take the mailbox timeout).
    pub verify_concurrency_per_token: usize,
    /// Directories MTA log sources created through the admin API may read under (none by
    /// default: an admin token must not make rebound read any file on the host).
    pub log_source_dirs: Vec<String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8025".into(),
            shutdown_grace_seconds: 30,
            tls_cert_file: None,
            tls_key_file: None,
            max_body_bytes: 10 * 1024 * 1024,
            max_import_bytes: 1024 * 1024 * 1024,
            metrics_require_token: false,
            verify_concurrency_per_token: 2,
            log_source_dirs: Vec::new(),
        }
    }
}

impl ServerConfig {
    pub fn validate(&self, out: &mut Vec<Problem>) {
        if self.listen.parse::<std::net::SocketAddr>().is_err() {
            out.push(Problem::new(
                "server.listen",
                format!("`{}` is not an IP:port address; write e.g. listen = \"127.0.0.1:8025\"", self.listen),
            ));
        }
        if self.shutdown_grace_seconds == 0 || self.shutdown_grace_seconds > 3600 {
            out.push(Problem::new("server.shutdown_grace_seconds", "must be between 1 and 3600"));
        }
        match (&self.tls_cert_file, &self.tls_key_file) {
            (Some(_), None) => {
                out.push(Problem::new("server.tls_key_file", "tls_cert_file is set: set its key file too"))
            }
            (None, Some(_)) => {
                out.push(Problem::new("server.tls_cert_file", "tls_key_file is set: set its certificate too"))
            }
            _ => {}
        }
        for (key, file) in [("server.tls_cert_file", &self.tls_cert_file), ("server.tls_key_file", &self.tls_key_file)]
        {
            if let Some(f) = file
                && let Err(e) = std::fs::metadata(f)
            {
                out.push(Problem::new(key, format!("cannot read {f}: {e}")));
            }
        }
        if !(1024..=1024 * 1024 * 1024).contains(&self.max_body_bytes) {
            out.push(Problem::new("server.max_body_bytes", "must be between 1024 and 1073741824"));
        }
        if !(1024..=64 * 1024 * 1024 * 1024).contains(&self.max_import_bytes) {
            out.push(Problem::new("server.max_import_bytes", "must be between 1024 and 68719476736"));
        }
        if !(1..=64).contains(&self.verify_concurrency_per_token) {
            out.push(Problem::new("server.verify_concurrency_per_token", "must be between 1 and 64"));
        }
        for d in &self.log_source_dirs {
            if !d.starts_with('/') || d.split('/').any(|s| s == "..") || d.trim_end_matches('/').is_empty() {
                out.push(Problem::new(
                    "server.log_source_dirs",
                    format!("`{d}` must be an absolute directory (not `/`, no `..`), e.g. \"/var/log/pmta\""),
                ));
            }
        }
    }
}

/// `[database]`: SQLite (embedded default) or PostgreSQL, chosen by the URL scheme.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DatabaseConfig {
    /// `sqlite://PATH` (relative to the working directory, `sqlite:///abs/path` absolute) or
    /// `postgres://user@host:port/db`.
    pub url: String,
    /// PostgreSQL password from an environment variable, instead of writing it in `url`.
    pub password_env: Option<String>,
    /// PostgreSQL password from a file (first line), instead of writing it in `url`.
    pub password_file: Option<String>,
    /// Connections kept in the pool.
    pub pool_size: u32,
    /// SQLite: how long a writer waits for a lock before failing.
    pub busy_timeout_ms: u64,
    /// How long to wait for a connection (PostgreSQL connect, pool checkout).
    pub connect_timeout_seconds: u64,
    /// How long one unit of database work may take before it is reported as failed (a
    /// black-holed server otherwise holds a poll or a health check indefinitely).
    pub query_timeout_seconds: u64,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: "sqlite://data/rebound.db".into(),
            password_env: None,
            password_file: None,
            pool_size: 8,
            busy_timeout_ms: 5000,
            connect_timeout_seconds: 5,
            query_timeout_seconds: 60,
        }
    }
}

impl DatabaseConfig {
    pub fn password(&self) -> SecretRef {
        SecretRef { password_env: self.password_env.clone(), password_file: self.password_file.clone() }
    }

    pub fn validate(&self, out: &mut Vec<Problem>) {
        if let Err(e) = crate::store::DbUrl::parse(&self.url) {
            out.push(Problem::new("database.url", e.to_string()));
        } else if self.password().is_set() && self.url.starts_with("sqlite:") {
            out.push(Problem::new(
                "database.password_env",
                "SQLite takes no password; remove password_env/password_file",
            ));
        }
        if let Err(e) = self.password().resolve("database") {
            out.push(Problem::new("database.password_env", e));
        }
        if self.pool_size == 0 || self.pool_size > 256 {
            out.push(Problem::new("database.pool_size", "must be between 1 and 256"));
        }
        if self.connect_timeout_seconds == 0 {
            out.push(Problem::new("database.connect_timeout_seconds", "must be at least 1"));
        }
        if !(1..=3600).contains(&self.query_timeout_seconds) {
            out.push(Problem::new("database.query_timeout_seconds", "must be between 1 and 3600"));
        }
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Human,
    Json,
}

/// `[log]`: where tracing output goes and how much of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LogConfig {
    /// `human` (default) or `json` (one object per line, for log shippers).
    pub format: LogFormat,
    /// A tracing filter: `info`, `debug`, or per module `info,rebound::fetch=debug`.
    /// `RUST_LOG`, when set, takes precedence.
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self { format: LogFormat::Human, level: "info".into() }
    }
}

impl LogConfig {
    pub fn validate(&self, out: &mut Vec<Problem>) {
        if let Err(e) = tracing_subscriber::EnvFilter::builder().parse(&self.level) {
            out.push(Problem::new(
                "log.level",
                format!("`{}` is not a valid filter ({e}); use e.g. \"info\"", self.level),
            ));
        }
    }
}
