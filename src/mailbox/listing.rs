//! Mailboxes as operators see and poll them: config-file and API-managed ones together.
//!
//! Takes a connection and the config file's entries; gives the rows of `mailbox list` and of
//! `GET /api/v1/mailboxes` (each with its source, settings, whether it has a password, and
//! its status: state, last poll, last error and its stage, lease) and the mailboxes a manual
//! poll should run. The CLI and the admin API print these; neither joins tables itself. Listing never writes; choosing poll targets registers a file entry that
//! has no row yet (so its status has an id to go under), nothing more.

use super::repo::{self, MailboxError, ManagedBy};
use super::state::{self, MailboxState, Status};
use crate::config::MailboxConfig;
use crate::secrets::SealKey;
use crate::store::AnyConnection;
use chrono::NaiveDateTime;
use serde::Serialize;
use std::collections::BTreeMap;

/// One line of the mailbox list (and one mailbox of the admin API): its settings, never a
/// password (`password_set` says whether it has one), and its status row.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Overview {
    /// None for a file entry no `serve` has registered yet.
    pub id: Option<i64>,
    pub name: String,
    pub source: ManagedBy,
    /// For config mailboxes, the file they come from (write there, not through the API).
    pub config_file: Option<String>,
    pub purpose: String,
    pub protocol: String,
    pub server: String,
    pub enabled: bool,
    /// `disabled`, `unregistered` (a file entry no `serve` has registered yet), `new` (never
    /// polled), `ok` or `failing` (the status row has the stage and the error).
    pub state: String,
    /// Every `[[mailbox]]` key but `name` and `enabled`, resolved (defaults filled in).
    #[schema(value_type = Object)]
    pub settings: serde_json::Value,
    /// Whether it has a password (sealed, or a `password_env`/`password_file`); never the value.
    pub password_set: bool,
    /// `auth = "oauth2"`: whether it has a client secret / a refresh token; never the value.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub oauth2_client_secret_set: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub oauth2_refresh_token_set: bool,
    /// Last poll, last success, last error with its stage, failures, processed, lease.
    pub status: Option<Status>,
}

fn state_of(enabled: bool, registered: bool, status: Option<&Status>) -> String {
    let state = match status {
        _ if !enabled => MailboxState::Disabled.as_str(),
        _ if !registered => "unregistered",
        None => MailboxState::New.as_str(),
        // Disabled before and enabled since: not polled yet under its new state.
        Some(s) if s.state == MailboxState::Disabled.as_str() => MailboxState::New.as_str(),
        Some(s) => s.state.as_str(),
    };
    state.to_string()
}

fn of_row(m: repo::Mailbox, known: &[Status]) -> Overview {
    let status = known.iter().find(|s| s.mailbox_id == m.id).cloned();
    Overview {
        id: Some(m.id),
        purpose: m.setting("purpose"),
        protocol: m.setting("protocol"),
        server: format!("{}:{}", m.setting("host"), m.setting("port")),
        enabled: m.enabled,
        state: state_of(m.enabled, true, status.as_ref()),
        settings: serde_json::to_value(&m.settings).unwrap_or_default(),
        password_set: m.password_set,
        oauth2_client_secret_set: m.oauth2_client_secret_set,
        oauth2_refresh_token_set: m.oauth2_refresh_token_set,
        status,
        config_file: m.config_file,
        name: m.name,
        source: m.source,
    }
}

fn of_file(m: &MailboxConfig, file: Option<&str>) -> Overview {
    Overview {
        id: None,
        name: m.name.clone(),
        source: ManagedBy::Config,
        config_file: file.map(str::to_string),
        purpose: format!("{:?}", m.purpose).to_lowercase(),
        protocol: m.protocol.to_string(),
        server: format!("{}:{}", m.host, m.port),
        enabled: m.enabled,
        state: state_of(m.enabled, false, None),
        settings: serde_json::to_value(repo::settings_of(m)).unwrap_or_default(),
        password_set: m.password().is_set(),
        oauth2_client_secret_set: m
            .oauth2
            .as_ref()
            .is_some_and(|o| o.oauth2_client_secret_env.is_some() || o.oauth2_client_secret_file.is_some()),
        oauth2_refresh_token_set: m
            .oauth2
            .as_ref()
            .is_some_and(|o| o.oauth2_refresh_token_env.is_some() || o.oauth2_refresh_token_file.is_some()),
        status: None,
    }
}

/// Every live mailbox of the table with its status, plus the entries of `file` (named
/// `file_name`) that are not in the table yet (registered at the next `serve` start), in
/// name order.
pub fn overview(
    c: &mut AnyConnection,
    file: &[MailboxConfig],
    file_name: Option<&str>,
) -> Result<Vec<Overview>, MailboxError> {
    let known = state::all(c)?;
    let mut rows: Vec<Overview> = repo::list(c)?.into_iter().map(|m| of_row(m, &known)).collect();
    let missing: Vec<&MailboxConfig> = file.iter().filter(|m| !rows.iter().any(|r| r.name == m.name)).collect();
    for m in missing {
        rows.push(of_file(m, file_name));
    }
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(rows)
}

/// One mailbox of [`overview`], by name.
pub fn one(
    c: &mut AnyConnection,
    file: &[MailboxConfig],
    file_name: Option<&str>,
    name: &str,
) -> Result<Overview, MailboxError> {
    match repo::find_live(c, name)? {
        Some(m) => {
            let status = state::get(c, m.id)?;
            Ok(of_row(m, status.as_slice()))
        }
        None => file
            .iter()
            .find(|m| m.name == name)
            .map(|m| of_file(m, file_name))
            .ok_or_else(|| MailboxError::NotFound(format!("named `{name}`"))),
    }
}

/// A mailbox to poll: its stable id and its resolved settings.
#[derive(Debug, Clone)]
pub struct Target {
    pub id: i64,
    pub config: MailboxConfig,
}

/// A mailbox a manual poll was asked for, by name, and whether it can be polled.
pub type Planned = (String, Result<Target, MailboxError>);

/// What a manual poll runs: the mailbox named `name` (enabled or not), or every enabled one.
/// Config mailboxes are polled with this process's file settings; API ones with the
/// table's (a sealed password opened with `key`). Each comes with its own error, so one bad
/// mailbox does not stop the others.
pub fn targets(
    c: &mut AnyConnection,
    file: &[MailboxConfig],
    file_name: Option<&str>,
    name: Option<&str>,
    key: Option<&SealKey>,
) -> Result<Vec<Planned>, MailboxError> {
    let from_file = |c: &mut AnyConnection, m: &MailboxConfig| {
        repo::register_config(c, m, file_name).map(|id| Target { id, config: m.clone() })
    };
    let from_table =
        |m: &repo::Mailbox| m.config_with(key).map(|config| Target { id: m.id, config }).map_err(MailboxError::Invalid);
    if let Some(n) = name {
        if let Some(m) = file.iter().find(|m| m.name == n) {
            return Ok(vec![(n.to_string(), from_file(c, m))]);
        }
        let m = repo::by_name(c, n)?;
        return Ok(vec![(n.to_string(), from_table(&m))]);
    }
    let mut out = Vec::new();
    for m in file.iter().filter(|m| m.enabled) {
        out.push((m.name.clone(), from_file(c, m)));
    }
    for m in repo::list(c)?.iter().filter(|m| m.source == ManagedBy::Api && m.enabled) {
        out.push((m.name.clone(), from_table(m)));
    }
    Ok(out)
}

/// The mailboxes at a glance: how many in each state, and the failing ones with why.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Health {
    pub total: usize,
    /// Counts by state: `new`, `ok`, `failing`, `disabled`, and `unregistered` for a config
    /// entry no `serve` has registered yet.
    pub by_state: BTreeMap<String, usize>,
    pub failing: Vec<Failing>,
}

/// A failing mailbox: its last error with the stage it failed at.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Failing {
    pub name: String,
    /// `config` or `api`.
    pub source: String,
    /// `connect`, `tls`, `login`, `select`, `fetch`, `pipeline`, `database`, `config`, …
    pub stage: Option<String>,
    pub error: Option<String>,
    pub consecutive_failures: i32,
    pub last_poll_at: Option<NaiveDateTime>,
    pub last_success_at: Option<NaiveDateTime>,
    /// When scheduled polls resume after backing off (null: at the next scheduled time).
    pub next_attempt_at: Option<NaiveDateTime>,
}

/// [`Health`] of every mailbox of [`overview`].
pub fn health(c: &mut AnyConnection, file: &[MailboxConfig]) -> Result<Health, MailboxError> {
    let rows = overview(c, file, None)?;
    let mut by_state: BTreeMap<String, usize> = BTreeMap::new();
    let mut failing = Vec::new();
    for r in &rows {
        *by_state.entry(r.state.clone()).or_default() += 1;
        if let Some(s) = r.status.as_ref().filter(|_| r.state == MailboxState::Failing.as_str()) {
            failing.push(Failing {
                name: r.name.clone(),
                source: r.source.as_str().to_string(),
                stage: s.last_error_stage.clone(),
                error: s.last_error.clone(),
                consecutive_failures: s.consecutive_failures,
                last_poll_at: s.last_poll_at,
                last_success_at: s.last_success_at,
                next_attempt_at: super::next_attempt(s),
            });
        }
    }
    Ok(Health { total: rows.len(), by_state, failing })
}
