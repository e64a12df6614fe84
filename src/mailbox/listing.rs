//! Mailboxes as operators see and poll them: config-file and API-managed ones together.
//!
//! Takes a connection and the config file's entries; gives the rows of `mailbox list` (each
//! with its source and its status: state, last poll, last error and its stage, lease) and the
//! mailboxes a manual poll should run. The CLI and the admin API print these; neither joins
//! tables itself. Listing never writes; choosing poll targets registers a file entry that
//! has no row yet (so its status has an id to go under), nothing more.

use super::repo::{self, MailboxError, ManagedBy};
use super::state::{self, Status};
use crate::config::MailboxConfig;
use crate::store::AnyConnection;
use serde::Serialize;

/// One line of the mailbox list.
#[derive(Debug, Clone, Serialize)]
pub struct Overview {
    /// None for a file entry no `serve` has registered yet.
    pub id: Option<i64>,
    pub name: String,
    pub source: ManagedBy,
    pub purpose: String,
    pub protocol: String,
    pub server: String,
    pub enabled: bool,
    #[serde(flatten)]
    pub status: Option<Status>,
}

/// Every live mailbox of the table with its status, plus the entries of `file` that are not
/// in the table yet (registered at the next `serve` start), in name order.
pub fn overview(c: &mut AnyConnection, file: &[MailboxConfig]) -> Result<Vec<Overview>, MailboxError> {
    let known = state::all(c)?;
    let mut rows: Vec<Overview> = repo::list(c)?
        .into_iter()
        .map(|m| Overview {
            id: Some(m.id),
            purpose: m.setting("purpose"),
            protocol: m.setting("protocol"),
            server: format!("{}:{}", m.setting("host"), m.setting("port")),
            enabled: m.enabled,
            status: known.iter().find(|s| s.mailbox_id == m.id).cloned(),
            name: m.name,
            source: m.source,
        })
        .collect();
    let missing: Vec<&MailboxConfig> = file.iter().filter(|m| !rows.iter().any(|r| r.name == m.name)).collect();
    for m in missing {
        rows.push(Overview {
            id: None,
            name: m.name.clone(),
            source: ManagedBy::Config,
            purpose: format!("{:?}", m.purpose).to_lowercase(),
            protocol: m.protocol.to_string(),
            server: format!("{}:{}", m.host, m.port),
            enabled: m.enabled,
            status: None,
        });
    }
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(rows)
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
/// table's. Each comes with its own error, so one bad mailbox does not stop the others.
pub fn targets(
    c: &mut AnyConnection,
    file: &[MailboxConfig],
    file_name: Option<&str>,
    name: Option<&str>,
) -> Result<Vec<Planned>, MailboxError> {
    let from_file = |c: &mut AnyConnection, m: &MailboxConfig| {
        repo::register_config(c, m, file_name).map(|id| Target { id, config: m.clone() })
    };
    let from_table =
        |m: &repo::Mailbox| m.config().map(|config| Target { id: m.id, config }).map_err(MailboxError::Invalid);
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
