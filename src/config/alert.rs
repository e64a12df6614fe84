//! `[alerts]` and `[[alert]]`: criteria over the recorded events and the state of mailboxes
//! and nodes, and where a firing goes (webhooks, Pushover, email).
//!
//! Takes the `alert` array and the `alerts` table; gives resolved [`AlertConfig`]s (patterns
//! compiled once here, so a bad one is a config error, never a runtime one) and a
//! [`Problem`] for everything wrong, keyed `alert[i].key`. It never evaluates a rule (that is
//! [`crate::notify::alert`]) and never reads a secret into the config.

use super::load::entry;
use super::{Problem, SecretRef};
use serde::{Deserialize, Serialize};

/// `[alerts]`: the evaluation pace and the channels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AlertsConfig {
    /// Seconds between two evaluations (they also run after each ingest batch of `serve`).
    pub evaluate_every_seconds: u64,
    /// The web admin's address as the people alerted reach it (`https://rebound.example.com`);
    /// a Pushover message links to the alert there. Unset: `http(s)://` + `[server] listen`.
    pub web_url: Option<String>,
    pub pushover: Option<PushoverConfig>,
    pub email: Option<EmailConfig>,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        Self { evaluate_every_seconds: 60, web_url: None, pushover: None, email: None }
    }
}

/// `[alerts.pushover]`: the Pushover messages API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushoverConfig {
    /// The application's API token, from the environment or a file.
    pub token_env: Option<String>,
    pub token_file: Option<String>,
    /// The user (or group) key to notify.
    pub user_env: Option<String>,
    pub user_file: Option<String>,
    /// `https://api.pushover.net` unless a stand-in is wanted (tests).
    #[serde(default = "pushover_url")]
    pub base_url: String,
    /// -2 to 2 (Pushover's priorities); 2 (emergency) is not supported (it needs retry/expire).
    #[serde(default)]
    pub priority: i32,
}

fn pushover_url() -> String {
    "https://api.pushover.net".into()
}

impl PushoverConfig {
    pub fn token(&self) -> SecretRef {
        SecretRef { password_env: self.token_env.clone(), password_file: self.token_file.clone() }
    }
    pub fn user(&self) -> SecretRef {
        SecretRef { password_env: self.user_env.clone(), password_file: self.user_file.clone() }
    }
}

/// `[alerts.email]`: alert mail through an SMTP relay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    pub host: String,
    #[serde(default = "smtp_port")]
    pub port: u16,
    /// `none` (plain, loopback relays), `starttls` (default) or `tls`.
    #[serde(default = "starttls")]
    pub security: String,
    pub from: String,
    pub to: Vec<String>,
    pub username: Option<String>,
    pub password_env: Option<String>,
    pub password_file: Option<String>,
}

fn smtp_port() -> u16 {
    587
}
fn starttls() -> String {
    "starttls".into()
}

impl EmailConfig {
    pub fn password(&self) -> SecretRef {
        SecretRef { password_env: self.password_env.clone(), password_file: self.password_file.clone() }
    }
}

impl AlertsConfig {
    pub fn validate(&self, out: &mut Vec<Problem>) {
        if !(5..=86400).contains(&self.evaluate_every_seconds) {
            out.push(Problem::new("alerts.evaluate_every_seconds", "must be between 5 and 86400"));
        }
        if let Some(u) = &self.web_url
            && !url::Url::parse(u).is_ok_and(|u| matches!(u.scheme(), "http" | "https"))
        {
            out.push(Problem::new(
                "alerts.web_url",
                format!("`{u}` is not an http(s) URL; write e.g. https://rebound.example.com"),
            ));
        }
        if let Some(p) = &self.pushover {
            for (key, r) in [("alerts.pushover.token_env", p.token()), ("alerts.pushover.user_env", p.user())] {
                if !r.is_set() {
                    out.push(Problem::new(key, "missing; name the variable (or the *_file) that holds it"));
                } else if let Err(e) = r.resolve(key) {
                    out.push(Problem::new(key, e));
                }
            }
            if url::Url::parse(&p.base_url).is_err() {
                out.push(Problem::new("alerts.pushover.base_url", format!("`{}` is not a URL", p.base_url)));
            }
            if !(-2..=1).contains(&p.priority) {
                out.push(Problem::new("alerts.pushover.priority", "must be between -2 and 1"));
            }
        }
        if let Some(e) = &self.email {
            if e.host.is_empty() {
                out.push(Problem::new("alerts.email.host", "missing; the SMTP relay's host name"));
            }
            if !["none", "starttls", "tls"].contains(&e.security.as_str()) {
                out.push(Problem::new("alerts.email.security", "must be \"none\", \"starttls\" or \"tls\""));
            }
            for (key, a) in
                std::iter::once(("alerts.email.from", &e.from)).chain(e.to.iter().map(|t| ("alerts.email.to", t)))
            {
                if a.parse::<lettre::Address>().is_err() {
                    out.push(Problem::new(key, format!("`{a}` is not an email address")));
                }
            }
            if e.to.is_empty() {
                out.push(Problem::new("alerts.email.to", "is empty; list who gets alert mail"));
            }
            if let Err(m) = e.password().resolve("alerts.email") {
                out.push(Problem::new("alerts.email.password_env", m));
            }
        }
    }
}

/// What a rule groups the events by: one episode per group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Per {
    /// Everything together.
    All,
    Campaign,
    SendingDomain,
    /// The recipient's domain (the mailbox provider).
    RecipientDomain,
    RemoteMta,
    /// Where the evidence was fetched (`mailbox:NAME`).
    Source,
    /// Mailbox criteria, per mailbox.
    Mailbox,
    /// Node criteria, per node.
    Node,
}

/// The share a rate criterion measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Hard bounces.
    HardBounce,
    /// Bounces, hard or soft.
    Bounce,
    Complaint,
}

/// One criterion of a rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Criterion {
    /// `metric` events over the recorded events (bounces, delays, deliveries, complaints) of
    /// the group in the last `window_minutes`, once there are at least `min_volume` of them.
    Rate { metric: Metric, window_minutes: u32, min_volume: u64, at_least: f64 },
    /// At least `at_least` events in the last `window_minutes` matching every filter given:
    /// enhanced status pattern (`5.7.*`, `5.7.1`), reason, rule key, regex over the server's words.
    Count {
        window_minutes: u32,
        at_least: u64,
        status: Option<String>,
        reason: Option<String>,
        rule: Option<String>,
        text: Option<String>,
    },
    /// A mailbox has failed at least `polls` polls in a row.
    MailboxFailing { polls: u32 },
    /// A node has had no successful sync for `minutes` while changes wait for it.
    NodeLagging { minutes: u32 },
}

/// One rule, resolved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AlertConfig {
    pub name: String,
    pub per: Per,
    /// `all` (every criterion holds) or `any`.
    #[serde(rename = "match")]
    pub combine: String,
    pub criteria: Vec<Criterion>,
    /// After an episode resolves, no new one for the same group before this many minutes.
    pub cooldown_minutes: u32,
    /// `webhook` (an `alert.fired`/`alert.resolved` event for the endpoints that take
    /// them), `pushover`, `email`.
    pub channels: Vec<String>,
    pub enabled: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Raw {
    name: Option<String>,
    per: Option<Per>,
    #[serde(rename = "match")]
    combine: Option<String>,
    criteria: Vec<Criterion>,
    cooldown_minutes: Option<u32>,
    channels: Option<Vec<String>>,
    enabled: Option<bool>,
}

/// Takes `alert` out of the root table and reads every rule; `alerts` says which channels
/// are configured.
pub(super) fn load_all(root: &mut toml::Table, alerts: &AlertsConfig, out: &mut Vec<Problem>) -> Vec<AlertConfig> {
    let Some(value) = root.remove("alert") else { return Vec::new() };
    let toml::Value::Array(entries) = value else {
        out.push(Problem::new("alert", "must be an array of tables: write each one as [[alert]]"));
        return Vec::new();
    };
    let mut all: Vec<AlertConfig> = Vec::new();
    for (i, value) in entries.into_iter().enumerate() {
        let key = format!("alert[{i}]");
        let Some(a) = entry::<Raw>(value, &key, out).and_then(|raw| resolve(raw, alerts, &key, out)) else { continue };
        if all.iter().any(|o| o.name == a.name) {
            out.push(Problem::new(
                format!("{key}.name"),
                format!("`{}` is already taken; names must be unique", a.name),
            ));
        }
        all.push(a);
    }
    all
}

/// Reads one rule given as a table (the admin API's body), checked as a `[[alert]]` entry
/// is; problems are keyed `alert.FIELD`.
pub fn resolve_table(table: toml::Table, alerts: &AlertsConfig) -> Result<AlertConfig, Vec<Problem>> {
    let mut out = Vec::new();
    let a = entry::<Raw>(toml::Value::Table(table), "alert", &mut out)
        .and_then(|raw| resolve(raw, alerts, "alert", &mut out));
    match a {
        Some(a) if out.is_empty() => Ok(a),
        _ => Err(out),
    }
}

fn resolve(raw: Raw, alerts: &AlertsConfig, key: &str, out: &mut Vec<Problem>) -> Option<AlertConfig> {
    let before = out.len();
    let mut p = |field: &str, msg: String| out.push(Problem::new(format!("{key}.{field}"), msg));
    let name = raw.name.unwrap_or_default();
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
    {
        p("name", format!("`{name}` must be a unique name of a-z, 0-9, `_` and `-`"));
    }
    let combine = raw.combine.unwrap_or_else(|| "all".into());
    if combine != "all" && combine != "any" {
        p("match", format!("`{combine}` must be \"all\" or \"any\""));
    }
    let per = raw.per.unwrap_or(Per::All);
    if raw.criteria.is_empty() {
        p("criteria", "is empty; add at least one [[alert.criteria]]".into());
    }
    for (i, c) in raw.criteria.iter().enumerate() {
        let mut q = |m: String| p(&format!("criteria[{i}]"), m);
        match c {
            Criterion::Rate { window_minutes, at_least, .. } => {
                if *window_minutes == 0 {
                    q("window_minutes must be at least 1".into());
                }
                if !(0.0..=1.0).contains(at_least) || *at_least == 0.0 {
                    q("at_least is a share: above 0 and at most 1 (0.001 is 0.1%)".into());
                }
            }
            Criterion::Count { window_minutes, at_least, status, text, .. } => {
                if *window_minutes == 0 || *at_least == 0 {
                    q("window_minutes and at_least must be at least 1".into());
                }
                if let Some(s) = status
                    && !s.chars().all(|ch| ch.is_ascii_digit() || ch == '.' || ch == '*')
                {
                    q(format!("status `{s}` must be an enhanced status code or a pattern like \"5.7.*\""));
                }
                if let Some(t) = text
                    && let Err(e) = regex::Regex::new(t)
                {
                    q(format!("text is not a valid regex: {e}"));
                }
            }
            Criterion::MailboxFailing { polls } if *polls == 0 => q("polls must be at least 1".into()),
            Criterion::NodeLagging { minutes } if *minutes == 0 => q("minutes must be at least 1".into()),
            _ => {}
        }
    }
    let channels = raw.channels.unwrap_or_else(|| vec!["webhook".into()]);
    for ch in &channels {
        match ch.as_str() {
            "webhook" => {}
            "pushover" if alerts.pushover.is_some() => {}
            "email" if alerts.email.is_some() => {}
            "pushover" | "email" => p("channels", format!("`{ch}` needs an [alerts.{ch}] section")),
            other => p("channels", format!("`{other}` is not a channel; use \"webhook\", \"pushover\" or \"email\"")),
        }
    }
    (out.len() == before).then(|| AlertConfig {
        name,
        per,
        combine,
        criteria: raw.criteria,
        cooldown_minutes: raw.cooldown_minutes.unwrap_or(60),
        channels,
        enabled: raw.enabled.unwrap_or(true),
    })
}
