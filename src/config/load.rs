//! Reads a config file, applies environment overrides, and collects every problem.

use super::{Config, env};
use serde::de::DeserializeOwned;
use std::fmt;
use std::path::Path;
use toml::Table;

/// One thing wrong with the configuration: the key (or environment variable) and the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub key: String,
    pub message: String,
}

impl Problem {
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self { key: key.into(), message: message.into() }
    }
}

/// All the problems of one config, reported together.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    pub source_name: String,
    pub problems: Vec<Problem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        writeln!(f, "{}: {n} problem{}:", self.source_name, if n == 1 { "" } else { "s" })?;
        for p in &self.problems {
            writeln!(f, "  - {}: {}", p.key, p.message)?;
        }
        Ok(())
    }
}

/// Loads `path` with the process environment's `REBOUND__*` overrides.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        source_name: name.clone(),
        problems: vec![Problem::new(
            "(file)",
            format!("cannot read config file: {e}; pass --config PATH (see config.example.toml)"),
        )],
    })?;
    load_str(&name, &text, std::env::vars())
}

/// Parses config text with explicit environment variables (testable without the process env).
pub fn load_str(
    source_name: &str,
    text: &str,
    vars: impl IntoIterator<Item = (String, String)>,
) -> Result<Config, ConfigError> {
    let fail = |problems| ConfigError { source_name: source_name.to_string(), problems };
    let mut root: Table = text
        .parse()
        .map_err(|e: toml::de::Error| fail(vec![Problem::new("(syntax)", e.to_string().trim().to_string())]))?;
    let (_, mut problems) = env::apply(&mut root, vars);

    let alerts: super::AlertsConfig = section(&mut root, "alerts", &mut problems);
    let alert = super::alert::load_all(&mut root, &alerts, &mut problems);
    let config = Config {
        server: section(&mut root, "server", &mut problems),
        database: section(&mut root, "database", &mut problems),
        log: section(&mut root, "log", &mut problems),
        parse: section(&mut root, "parse", &mut problems),
        attribution: section(&mut root, "attribution", &mut problems),
        suppression: section(&mut root, "suppression", &mut problems),
        retention: section(&mut root, "retention", &mut problems),
        sync: section(&mut root, "sync", &mut problems),
        secrets: section(&mut root, "secrets", &mut problems),
        mailbox: super::mailbox::load_all(&mut root, &mut problems),
        node: super::node::load_all(&mut root, &mut problems),
        notify: section(&mut root, "notify", &mut problems),
        webhook: super::webhook::load_all(&mut root, &mut problems),
        alerts,
        alert,
        mta_log: super::mta_log::load_all(&mut root, &mut problems),
    };
    for key in root.keys() {
        problems.push(Problem::new(key.clone(), "unknown section or key; see config.example.toml for the valid ones"));
    }
    config.server.validate(&mut problems);
    config.database.validate(&mut problems);
    config.log.validate(&mut problems);
    config.parse.validate(&mut problems);
    config.attribution.validate(&mut problems);
    config.suppression.validate(&mut problems);
    config.retention.validate(&mut problems);
    config.sync.validate(&mut problems);
    config.secrets.validate(&mut problems);
    config.notify.validate(&mut problems);
    config.alerts.validate(&mut problems);

    if problems.is_empty() { Ok(config) } else { Err(fail(problems)) }
}

/// Deserializes one section, reporting unknown keys and every badly typed key.
pub(super) fn section<T: DeserializeOwned + Default>(root: &mut Table, name: &str, out: &mut Vec<Problem>) -> T {
    let Some(value) = root.remove(name) else { return T::default() };
    if !value.is_table() {
        out.push(Problem::new(name, format!("must be a table: write it as [{name}]")));
        return T::default();
    }
    entry(value, name, out).unwrap_or_default()
}

/// Deserializes one table whose keys are reported as `prefix.key` (`server`, `mailbox[2]`):
/// a key that fails is reported, removed, and the table retried, so later keys are still
/// checked. Gives `None` only when the table cannot be read at all.
pub(super) fn entry<T: DeserializeOwned>(mut value: toml::Value, prefix: &str, out: &mut Vec<Problem>) -> Option<T> {
    loop {
        let mut unknown = Vec::new();
        let mut note = |p: serde_ignored::Path| unknown.push(p.to_string());
        let de = serde_ignored::Deserializer::new(value.clone(), &mut note);
        let result = serde_path_to_error::deserialize::<_, T>(de);
        match result {
            Ok(t) => {
                for key in unknown {
                    out.push(Problem::new(
                        format!("{prefix}.{key}"),
                        "unknown key; check its spelling against config.example.toml",
                    ));
                }
                return Some(t);
            }
            Err(e) => {
                let path = e.path().to_string();
                let key = if path == "." { prefix.to_string() } else { format!("{prefix}.{path}") };
                // toml appends its own "in `key`" line; the key is already in front.
                let why = e.inner().to_string();
                out.push(Problem::new(key, why.lines().next().unwrap_or_default().trim().to_string()));
                // Drop the offending key and retry so the remaining keys are checked too.
                let first = e.path().iter().next().map(|s| s.to_string());
                let removed = match (first, value.as_table_mut()) {
                    (Some(k), Some(t)) => t.remove(&k).is_some(),
                    _ => false,
                };
                if !removed {
                    return None;
                }
            }
        }
    }
}
