//! `[[node]]`: the sending nodes (MTAs) that take the suppression list, and how to write it.
//!
//! Takes the `node` array of the config file; gives one resolved [`NodeConfig`] per entry
//! (target options defaulted, scopes normalised) and a [`Problem`] for everything wrong, keyed
//! `node[i].key`, all at once. An option that does not belong to the entry's target is an
//! error, never ignored. It never writes a file or runs a command (that is [`crate::sync`]).

use super::Problem;
use super::load::entry;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The MTA (or file format) a node takes the list in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    Postfix,
    Exim,
    Powermta,
    Kumomta,
    Haraka,
    File,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Target::Postfix => "postfix",
            Target::Exim => "exim",
            Target::Powermta => "powermta",
            Target::Kumomta => "kumomta",
            Target::Haraka => "haraka",
            Target::File => "file",
        })
    }
}

pub const DEFAULT_NODE_SCHEDULE: &str = "*/15 * * * *";
pub const DEFAULT_REJECT_TEXT: &str = "Recipient address suppressed (bounced or complained)";
/// Every scope: what a node without a `scopes` key takes.
pub const ALL_SCOPES: &str = "*";

/// One node, fully resolved: every field holds the value rebound will use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeConfig {
    pub name: String,
    pub target: Target,
    /// The file rebound writes (absolute). None: rebound writes nothing itself (the node
    /// agent of a later release pulls the list instead).
    pub path: Option<String>,
    /// `file`: `plain`, `csv` or `json`; `kumomta`: `sqlite` or `text`; empty otherwise.
    pub format: String,
    /// `postfix`: the postmap table type (`cdb`, `lmdb`, `hash`, `btree`).
    pub table_type: String,
    /// `postfix`: the text after `REJECT 5.1.1`.
    pub reject_text: String,
    /// `postfix`: the postmap program.
    pub postmap_command: String,
    /// `postfix` with `table_type = "cdb"`: rebound writes the cdb index itself (postmap
    /// needs ~70 s for a million keys); default true unless `postmap_command` is given.
    /// Absent in settings stored by an earlier version: postmap, as then.
    #[serde(default)]
    pub builtin_cdb: bool,
    /// `postfix`: the Postfix config directory postmap reads (`-c DIR`); None: postmap's own default.
    pub config_dir: Option<String>,
    /// `exim`: the tinycdb program.
    pub cdb_command: String,
    /// `powermta`: the file of domain-wide entries (`domain` lines); None: domain-wide entries are not written.
    pub domain_path: Option<String>,
    /// Run with `sh -c` after each rename; a failure puts the previous files back.
    pub after_command: Option<String>,
    /// Suppression scopes taken: `["*"]` every scope; otherwise `global` plus the sending
    /// domains listed (lowercased, sorted).
    pub scopes: Vec<String>,
    pub schedule: String,
    /// Re-render within seconds of a committed change, besides the schedule.
    pub push: bool,
    pub enabled: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Raw {
    name: Option<String>,
    target: Option<Target>,
    path: Option<String>,
    format: Option<String>,
    table_type: Option<String>,
    reject_text: Option<String>,
    postmap_command: Option<String>,
    builtin_cdb: Option<bool>,
    config_dir: Option<String>,
    cdb_command: Option<String>,
    domain_path: Option<String>,
    after_command: Option<String>,
    scopes: Option<Vec<String>>,
    schedule: Option<String>,
    push: bool,
    enabled: Option<bool>,
}

impl NodeConfig {
    /// Does the node take entries of `scope`?
    pub fn takes(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == ALL_SCOPES || s == scope)
    }
}

/// Takes `node` out of the root table and reads every entry.
pub(super) fn load_all(root: &mut toml::Table, out: &mut Vec<Problem>) -> Vec<NodeConfig> {
    let Some(value) = root.remove("node") else { return Vec::new() };
    let toml::Value::Array(entries) = value else {
        out.push(Problem::new("node", "must be an array of tables: write each one as [[node]]"));
        return Vec::new();
    };
    let mut all: Vec<NodeConfig> = Vec::new();
    for (i, value) in entries.into_iter().enumerate() {
        let key = format!("node[{i}]");
        if !value.is_table() {
            out.push(Problem::new(key, "must be a table: write it as [[node]]"));
            continue;
        }
        let Some(n) = entry::<Raw>(value, &key, out).and_then(|raw| resolve(raw, &key, out)) else { continue };
        if let Some(j) = all.iter().position(|other| other.name == n.name) {
            out.push(Problem::new(
                format!("{key}.name"),
                format!("`{}` is already the name of node[{j}]; names must be unique", n.name),
            ));
        }
        if let Some(path) = &n.path
            && let Some(j) = all.iter().position(|other| other.path.as_ref() == Some(path))
        {
            out.push(Problem::new(format!("{key}.path"), format!("`{path}` is already written by node[{j}]")));
        }
        all.push(n);
    }
    all
}

/// One node's settings from a table of `[[node]]` keys (the node agent's options); every
/// problem at once, keyed `node.KEY`.
pub fn resolve_table(table: toml::Table) -> Result<NodeConfig, Vec<Problem>> {
    let mut out = Vec::new();
    let n = entry::<Raw>(toml::Value::Table(table), "node", &mut out).and_then(|raw| resolve(raw, "node", &mut out));
    match n {
        Some(n) if out.is_empty() => Ok(n),
        _ => Err(out),
    }
}

fn resolve(raw: Raw, key: &str, out: &mut Vec<Problem>) -> Option<NodeConfig> {
    let before = out.len();
    let mut p = |field: &str, msg: String| out.push(Problem::new(format!("{key}.{field}"), msg));
    let name = raw.name.unwrap_or_default();
    if name.is_empty() {
        p("name", "missing; give each node a unique name, e.g. name = \"mta-1\"".into());
    } else if !name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-') {
        p("name", format!("`{name}` may only use a-z, 0-9, `_` and `-`"));
    }
    let Some(target) = raw.target else {
        p("target", "missing; one of \"postfix\", \"exim\", \"powermta\", \"kumomta\", \"haraka\", \"file\"".into());
        return None;
    };
    for (field, value) in [("path", &raw.path), ("config_dir", &raw.config_dir), ("domain_path", &raw.domain_path)] {
        if let Some(v) = value
            && (!v.starts_with('/') || v.contains(['\n', '\0']))
        {
            p(field, format!("`{v}` must be an absolute path"));
        }
    }
    if let Some(path) = &raw.path
        && let Some(dir) = std::path::Path::new(path).parent()
        && !dir.is_dir()
    {
        p("path", format!("its directory {} does not exist; create it or fix the path", dir.display()));
    }
    // Options that belong to one target only: given to another, they are a mistake.
    let only = |field: &str, given: bool, wanted: &[Target]| -> Option<String> {
        (given && !wanted.contains(&target)).then(|| {
            let names: Vec<String> = wanted.iter().map(|t| format!("\"{t}\"")).collect();
            format!("{field} applies to target {} only, not \"{target}\"; remove it", names.join(" or "))
        })
    };
    let checks = [
        ("format", raw.format.is_some(), &[Target::File, Target::Kumomta][..]),
        ("table_type", raw.table_type.is_some(), &[Target::Postfix][..]),
        ("reject_text", raw.reject_text.is_some(), &[Target::Postfix][..]),
        ("postmap_command", raw.postmap_command.is_some(), &[Target::Postfix][..]),
        ("builtin_cdb", raw.builtin_cdb.is_some(), &[Target::Postfix][..]),
        ("config_dir", raw.config_dir.is_some(), &[Target::Postfix][..]),
        ("cdb_command", raw.cdb_command.is_some(), &[Target::Exim][..]),
        ("domain_path", raw.domain_path.is_some(), &[Target::Powermta][..]),
    ];
    for (field, given, wanted) in checks {
        if let Some(msg) = only(field, given, wanted) {
            p(field, msg);
        }
    }
    let format = match (target, raw.format) {
        (Target::File, None) => "plain".to_string(),
        (Target::Kumomta, None) => "sqlite".to_string(),
        (Target::File, Some(f)) if ["plain", "csv", "json"].contains(&f.as_str()) => f,
        (Target::Kumomta, Some(f)) if ["sqlite", "text"].contains(&f.as_str()) => f,
        (Target::File | Target::Kumomta, Some(f)) => {
            let valid =
                if target == Target::File { "\"plain\", \"csv\" or \"json\"" } else { "\"sqlite\" or \"text\"" };
            p("format", format!("`{f}` is not one of {valid}"));
            f
        }
        _ => String::new(),
    };
    let table_type = raw.table_type.unwrap_or_else(|| "cdb".into());
    if !["cdb", "lmdb", "hash", "btree"].contains(&table_type.as_str()) {
        p("table_type", format!("`{table_type}` is not one of \"cdb\", \"lmdb\", \"hash\", \"btree\""));
    }
    let reject_text = raw.reject_text.unwrap_or_else(|| DEFAULT_REJECT_TEXT.into());
    if reject_text.contains(|c: char| c.is_control()) {
        p("reject_text", "must be one line without control characters".into());
    }
    for (field, value) in [("after_command", &raw.after_command), ("postmap_command", &raw.postmap_command)] {
        if value.as_ref().is_some_and(|v| v.trim().is_empty()) {
            p(field, "is empty; remove it or write the command".into());
        }
    }
    let mut scopes: Vec<String> = match raw.scopes {
        None => vec![ALL_SCOPES.to_string()],
        Some(list) => list.iter().map(|s| s.trim().to_lowercase()).collect(),
    };
    if scopes.iter().any(|s| s.is_empty() || s.contains(char::is_whitespace)) {
        p("scopes", "every scope must be \"*\", \"global\" or a sending domain, without spaces".into());
    }
    if scopes.len() > 1 && scopes.iter().any(|s| s == ALL_SCOPES) {
        p("scopes", "\"*\" already takes every scope; list it alone".into());
    }
    if !scopes.iter().any(|s| s == ALL_SCOPES) && !scopes.iter().any(|s| s == crate::suppress::GLOBAL) {
        // A node always takes the global list: complaints and global suppressions apply to every sender.
        scopes.push(crate::suppress::GLOBAL.to_string());
    }
    scopes.sort();
    scopes.dedup();
    let schedule = raw.schedule.unwrap_or_else(|| DEFAULT_NODE_SCHEDULE.to_string());
    if let Err(e) = crate::scheduler::parse_cron(&schedule) {
        p("schedule", format!("`{schedule}` {e}"));
    }
    if raw.push && raw.path.is_none() {
        p("push", "needs a path: rebound can only re-render a file it writes".into());
    }
    let builtin_cdb =
        target == Target::Postfix && table_type == "cdb" && raw.builtin_cdb.unwrap_or(raw.postmap_command.is_none());
    if raw.builtin_cdb == Some(true) && table_type != "cdb" {
        p("builtin_cdb", format!("rebound writes cdb tables only; table_type is \"{table_type}\" (postmap builds it)"));
    }
    (out.len() == before).then(|| NodeConfig {
        name,
        target,
        path: raw.path,
        format,
        table_type,
        reject_text,
        builtin_cdb,
        postmap_command: raw.postmap_command.unwrap_or_else(|| "postmap".into()),
        config_dir: raw.config_dir,
        cdb_command: raw.cdb_command.unwrap_or_else(|| "cdb".into()),
        domain_path: raw.domain_path,
        after_command: raw.after_command,
        scopes,
        schedule,
        push: raw.push,
        enabled: raw.enabled.unwrap_or(true),
    })
}

/// `[sync]`: the change log the nodes follow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SyncConfig {
    /// Days of suppression changes kept; a node whose cursor is older takes a fresh snapshot.
    pub change_retention_days: u32,
}

impl Default for SyncConfig {
    fn default() -> Self {
        Self { change_retention_days: 30 }
    }
}

impl SyncConfig {
    pub fn validate(&self, out: &mut Vec<Problem>) {
        if !(1..=3650).contains(&self.change_retention_days) {
            out.push(Problem::new("sync.change_retention_days", "must be between 1 and 3650"));
        }
    }
}
