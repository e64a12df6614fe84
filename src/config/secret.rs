//! Secrets: passwords are never written in the config file itself.
//!
//! Takes a `password_env` (name of an environment variable) or a `password_file` (path to a
//! file whose first line is the secret) and gives a [`Secret`] whose `Debug`/`Display` never
//! show the value. It never logs or prints a secret.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A secret value; formatting prints `****` so it cannot leak through logs or `check-config`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("****")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("****")
    }
}

/// Where a secret comes from: at most one of the two keys may be set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretRef {
    pub password_env: Option<String>,
    pub password_file: Option<String>,
}

impl SecretRef {
    pub fn is_set(&self) -> bool {
        self.password_env.is_some() || self.password_file.is_some()
    }

    /// Reads the secret now. `key` is the config key prefix used in error messages
    /// (e.g. `database`), so the user knows which entry to fix.
    pub fn resolve(&self, key: &str) -> Result<Option<Secret>, String> {
        let names = SecretKeys { env: "password_env", file: "password_file", what: "password" };
        names.resolve(self.password_env.as_deref(), self.password_file.as_deref(), key)
    }
}

/// The two keys that say where one secret comes from (`*_env`, `*_file`) and what it is, for
/// the messages: `password_env`/`password_file`, `oauth2_client_secret_env`/`_file`, …
#[derive(Debug, Clone, Copy)]
pub struct SecretKeys {
    pub env: &'static str,
    pub file: &'static str,
    /// What the secret is, in words ("password", "client secret").
    pub what: &'static str,
}

impl SecretKeys {
    /// Reads the secret named by `env` (a variable's name) or `file` (a path: its first
    /// line) now; `None` when neither is given. Errors start with `key.ENV_OR_FILE_KEY: `.
    pub fn resolve(&self, env: Option<&str>, file: Option<&str>, key: &str) -> Result<Option<Secret>, String> {
        let (env_key, file_key, what) = (self.env, self.file, self.what);
        match (env, file) {
            (Some(_), Some(_)) => Err(format!("{key}: both {env_key} and {file_key} are set; keep only one")),
            (Some(var), None) => match std::env::var(var) {
                Ok(v) if !v.is_empty() => Ok(Some(Secret::new(v))),
                Ok(_) => Err(format!("{key}.{env_key}: environment variable {var} is empty; export the {what} in it")),
                Err(_) => {
                    Err(format!("{key}.{env_key}: environment variable {var} is not set; export the {what} in it"))
                }
            },
            (None, Some(path)) => match std::fs::read_to_string(path) {
                Ok(text) => {
                    let first = text.lines().next().unwrap_or("").to_string();
                    if first.is_empty() {
                        Err(format!("{key}.{file_key}: {path} is empty; write the {what} on its first line"))
                    } else {
                        Ok(Some(Secret::new(first)))
                    }
                }
                Err(e) => Err(format!("{key}.{file_key}: cannot read {path}: {e}; check the path and its permissions")),
            },
            (None, None) => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_never_formats_its_value() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s} {s:?}"), "**** ****");
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn file_secret_takes_first_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("pw");
        std::fs::write(&p, "s3cret\nignored\n").unwrap();
        let r = SecretRef { password_env: None, password_file: Some(p.display().to_string()) };
        assert_eq!(r.resolve("x").unwrap().unwrap().expose(), "s3cret");
    }

    #[test]
    fn missing_env_names_the_variable() {
        let r = SecretRef { password_env: Some("REBOUND_TEST_SURELY_UNSET".into()), password_file: None };
        let e = r.resolve("mailbox[0]").unwrap_err();
        assert!(e.contains("REBOUND_TEST_SURELY_UNSET") && e.starts_with("mailbox[0].password_env"), "{e}");
    }
}
