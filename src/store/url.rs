//! Database URLs: which backend, where, and how to show them without their password.

use std::path::PathBuf;

/// A parsed `[database] url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbUrl {
    /// `sqlite://PATH` (relative) or `sqlite:///PATH` (absolute).
    Sqlite { path: PathBuf },
    /// `postgres://` or `postgresql://`; `url` is the full libpq URI.
    Postgres { url: url::Url },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UrlError(String);

impl DbUrl {
    pub fn parse(raw: &str) -> Result<Self, UrlError> {
        if let Some(rest) = raw.strip_prefix("sqlite:") {
            let path = rest.strip_prefix("//").unwrap_or(rest);
            if path.is_empty() {
                return Err(UrlError(format!("`{raw}` names no file; write e.g. url = \"sqlite://data/rebound.db\"")));
            }
            return Ok(DbUrl::Sqlite { path: PathBuf::from(path) });
        }
        if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            let url = url::Url::parse(raw).map_err(|e| {
                UrlError(format!(
                    "`{}` is not a valid PostgreSQL URL ({e}); write e.g. postgres://rebound@127.0.0.1:5432/rebound",
                    mask_url(raw)
                ))
            })?;
            if url.host_str().is_none_or(str::is_empty) {
                return Err(UrlError(
                    "PostgreSQL URL has no host; write e.g. postgres://rebound@127.0.0.1:5432/rebound".into(),
                ));
            }
            return Ok(DbUrl::Postgres { url });
        }
        Err(UrlError(format!(
            "`{}` is neither sqlite:// nor postgres://; write e.g. url = \"sqlite://data/rebound.db\"",
            mask_url(raw)
        )))
    }

    /// A short description for messages: the file, or host:port/db as user.
    pub fn describe(&self) -> String {
        match self {
            DbUrl::Sqlite { path } => format!("SQLite database {}", path.display()),
            DbUrl::Postgres { url } => {
                let user = if url.username().is_empty() { "(default user)" } else { url.username() };
                format!(
                    "PostgreSQL at {}:{} (database {}, user {user})",
                    url.host_str().unwrap_or("?"),
                    url.port().unwrap_or(5432),
                    url.path().trim_start_matches('/'),
                )
            }
        }
    }
}

/// The URL with any password replaced by `****` (safe to print and log).
pub fn mask_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("****"));
            u.to_string()
        }
        _ => raw.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_paths() {
        assert_eq!(DbUrl::parse("sqlite://data/r.db").unwrap(), DbUrl::Sqlite { path: "data/r.db".into() });
        assert_eq!(DbUrl::parse("sqlite:///tmp/r.db").unwrap(), DbUrl::Sqlite { path: "/tmp/r.db".into() });
        assert!(DbUrl::parse("sqlite://").is_err());
    }

    #[test]
    fn postgres_is_described_and_masked() {
        let u = DbUrl::parse("postgres://bob:pw@db.example:5433/reb").unwrap();
        assert_eq!(u.describe(), "PostgreSQL at db.example:5433 (database reb, user bob)");
        assert_eq!(mask_url("postgres://bob:pw@db.example/reb"), "postgres://bob:****@db.example/reb");
        assert!(DbUrl::parse("mysql://x").unwrap_err().to_string().contains("neither"));
    }
}
