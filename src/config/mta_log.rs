//! `[[mta_log]]`: the MTAs' own logs read as a second input (PowerMTA accounting, Postfix,
//! Exim, KumoMTA).
//!
//! Takes the `mta_log` array of the config file; gives one resolved [`MtaLogConfig`] per
//! entry and a [`Problem`] for everything wrong, keyed `mta_log[i].key`, all at once. It
//! never opens a log (that is [`crate::logs`]) nor stores anything.
//!
//! Why `[[mta_log]]` and not `[[log]]`: `[log]` is already the section of rebound's own
//! logging, and TOML cannot hold a table and an array of tables under one name.

use super::Problem;
use super::load::entry;
use crate::logs::Format;
use serde::{Deserialize, Serialize};

/// Which campaign id a logged attempt carries when neither VERP nor a campaign header names
/// one (before the sent map is asked).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CampaignFrom {
    /// Nothing more: VERP, headers and the sent map only.
    #[default]
    None,
    /// The DSN envelope id (`MAIL FROM … ENVID=`, PowerMTA `envId`).
    EnvelopeId,
    /// The MTA's job id (PowerMTA `jobId`, from the `X-Job` header).
    JobId,
}

/// One log source, fully resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MtaLogConfig {
    pub name: String,
    pub format: Format,
    /// A file, a glob of rotated files (`/var/log/pmta/acct-*.csv`), or `-` for standard input.
    pub path: String,
    /// The sending node's name, for formats that do not log it (PowerMTA, Exim).
    pub node: Option<String>,
    /// The zone of timestamps the log writes without one (classic syslog, Exim), e.g. `+01:00`.
    pub utc_offset: String,
    pub campaign_from: CampaignFrom,
    /// `rebound serve` follows this source.
    pub enabled: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Raw {
    name: Option<String>,
    format: Option<String>,
    path: Option<String>,
    node: Option<String>,
    utc_offset: Option<String>,
    campaign_from: Option<CampaignFrom>,
    enabled: Option<bool>,
}

impl MtaLogConfig {
    /// The fixed offset of `utc_offset` (validated at load).
    pub fn offset(&self) -> chrono::FixedOffset {
        parse_offset(&self.utc_offset).unwrap_or_else(|| chrono::FixedOffset::east_opt(0).expect("UTC"))
    }

    /// The source name events and checkpoints go by.
    pub fn source(&self) -> String {
        format!("log:{}", self.name)
    }
}

fn parse_offset(s: &str) -> Option<chrono::FixedOffset> {
    if s.eq_ignore_ascii_case("utc") || s == "Z" {
        return chrono::FixedOffset::east_opt(0);
    }
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    let (h, m) = rest.split_once(':').unwrap_or((rest.get(..2)?, rest.get(2..).unwrap_or("0")));
    let (h, m): (i32, i32) = (h.parse().ok()?, if m.is_empty() { 0 } else { m.parse().ok()? });
    if h > 14 || m > 59 {
        return None;
    }
    chrono::FixedOffset::east_opt(sign * (h * 3600 + m * 60))
}

/// Takes `mta_log` out of the root table and reads every entry.
pub(super) fn load_all(root: &mut toml::Table, out: &mut Vec<Problem>) -> Vec<MtaLogConfig> {
    let Some(value) = root.remove("mta_log") else { return Vec::new() };
    let toml::Value::Array(entries) = value else {
        out.push(Problem::new("mta_log", "must be an array of tables: write each one as [[mta_log]]"));
        return Vec::new();
    };
    let mut all: Vec<MtaLogConfig> = Vec::new();
    for (i, value) in entries.into_iter().enumerate() {
        let key = format!("mta_log[{i}]");
        if !value.is_table() {
            out.push(Problem::new(key, "must be a table: write it as [[mta_log]]"));
            continue;
        }
        let Some(l) = entry::<Raw>(value, &key, out).and_then(|raw| resolve(raw, &key, out)) else { continue };
        if let Some(j) = all.iter().position(|other| other.name == l.name) {
            out.push(Problem::new(
                format!("{key}.name"),
                format!("`{}` is already the name of mta_log[{j}]; names must be unique", l.name),
            ));
        }
        if l.path == "-" && l.enabled {
            out.push(Problem::new(
                format!("{key}.path"),
                "`-` (standard input) is read by `rebound ingest-log`, not followed by serve: set enabled = false",
            ));
        }
        all.push(l);
    }
    all
}

/// One source from a table of `[[mta_log]]` keys (an API body); every problem at once.
pub fn resolve_table(table: toml::Table) -> Result<MtaLogConfig, Vec<Problem>> {
    let mut out = Vec::new();
    let l =
        entry::<Raw>(toml::Value::Table(table), "mta_log", &mut out).and_then(|raw| resolve(raw, "mta_log", &mut out));
    match l {
        Some(l) if out.is_empty() => Ok(l),
        _ => Err(out),
    }
}

fn resolve(raw: Raw, key: &str, out: &mut Vec<Problem>) -> Option<MtaLogConfig> {
    let before = out.len();
    let mut p = |field: &str, msg: String| out.push(Problem::new(format!("{key}.{field}"), msg));
    let name = raw.name.unwrap_or_default();
    if name.is_empty() {
        p("name", "missing; give each log source a unique name, e.g. name = \"pmta-1-acct\"".into());
    } else if !name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-') {
        p("name", format!("`{name}` may only use a-z, 0-9, `_` and `-`"));
    }
    let format = match raw.format.as_deref().map(str::parse::<Format>) {
        Some(Ok(f)) => Some(f),
        Some(Err(e)) => {
            p("format", e);
            None
        }
        None => {
            p("format", "missing; one of \"powermta\", \"postfix\", \"exim\", \"kumomta\"".into());
            None
        }
    };
    let path = raw.path.unwrap_or_default();
    if path.is_empty() {
        p("path", "missing; a file, a glob of rotated files (/var/log/pmta/acct-*.csv) or \"-\"".into());
    } else if path != "-" && (!path.starts_with('/') || path.contains(['\n', '\0'])) {
        p("path", format!("`{path}` must be an absolute path, a glob, or \"-\""));
    }
    let utc_offset = raw.utc_offset.unwrap_or_else(|| "+00:00".into());
    if parse_offset(&utc_offset).is_none() {
        p("utc_offset", format!("`{utc_offset}` is not an offset; write e.g. \"+01:00\", \"-0500\" or \"UTC\""));
    }
    if out.len() > before {
        return None;
    }
    Some(MtaLogConfig {
        name,
        format: format?,
        path,
        node: raw.node.filter(|n| !n.trim().is_empty()),
        utc_offset,
        campaign_from: raw.campaign_from.unwrap_or_default(),
        enabled: raw.enabled.unwrap_or(true),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn offsets() {
        assert_eq!(super::parse_offset("+01:00").map(|o| o.local_minus_utc()), Some(3600));
        assert_eq!(super::parse_offset("-0530").map(|o| o.local_minus_utc()), Some(-19800));
        assert_eq!(super::parse_offset("UTC").map(|o| o.local_minus_utc()), Some(0));
        assert_eq!(super::parse_offset("1:00"), None);
        assert_eq!(super::parse_offset("+25:00"), None);
    }
}
