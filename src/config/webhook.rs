//! `[notify]` and `[[webhook]]`: where events go and how hard rebound tries.
//!
//! Takes the `webhook` array and the `notify` table of the config file (or the keys of one
//! endpoint sent to the admin API); gives resolved [`WebhookConfig`]s and a [`Problem`] for
//! everything wrong, keyed `webhook[i].key`, all at once. It never reads a secret into the
//! config (only checks it can be read) and never sends anything (that is [`crate::notify`]).

use super::Problem;
use super::load::entry;
use serde::{Deserialize, Serialize};

/// Every event type rebound emits, in the order the docs list them.
pub const EVENT_TYPES: &[&str] = &[
    "bounce.recorded",
    "complaint.recorded",
    "delivery.delayed",
    "delivery.delivered",
    "suppression.added",
    "suppression.removed",
    "review.added",
    "mailbox.failing",
    "mailbox.recovered",
    "node.lagging",
    "node.recovered",
    "alert.fired",
    "alert.resolved",
    "webhook.test",
];

/// `[notify]`: the delivery worker's pace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NotifyConfig {
    /// The wait before the first retry; each later one doubles it (with ±50% jitter).
    pub retry_initial_seconds: u64,
    /// The longest wait between two attempts.
    pub retry_max_seconds: u64,
    /// An endpoint that has failed without a success for this long is marked `failing`.
    pub failing_after_seconds: u64,
    /// How long one POST may take.
    pub timeout_seconds: u64,
    /// How long an instance holds an endpoint (renewed every round): another instance takes
    /// over this long after one dies mid-delivery.
    pub lease_seconds: u64,
    /// POSTs in flight at once to one endpoint that is not `ordered`.
    pub concurrency: usize,
    /// Most events in one POST to a `batch` endpoint.
    pub batch_max: usize,
    /// Days delivered and dead deliveries, their outbox rows and attempts are kept.
    pub keep_days: u32,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        Self {
            retry_initial_seconds: 5,
            retry_max_seconds: 3600,
            failing_after_seconds: 86400,
            timeout_seconds: 10,
            lease_seconds: 60,
            concurrency: 8,
            batch_max: 100,
            keep_days: 7,
        }
    }
}

impl NotifyConfig {
    pub fn validate(&self, out: &mut Vec<Problem>) {
        let mut p = |k: &str, m: &str| out.push(Problem::new(format!("notify.{k}"), m));
        if !(1..=86400).contains(&self.retry_initial_seconds) {
            p("retry_initial_seconds", "must be between 1 and 86400");
        }
        if self.retry_max_seconds < self.retry_initial_seconds || self.retry_max_seconds > 86400 {
            p("retry_max_seconds", "must be between retry_initial_seconds and 86400");
        }
        if self.failing_after_seconds == 0 {
            p("failing_after_seconds", "must be at least 1");
        }
        if !(1..=300).contains(&self.timeout_seconds) {
            p("timeout_seconds", "must be between 1 and 300");
        }
        if self.lease_seconds < self.timeout_seconds + 5 || self.lease_seconds > 3600 {
            p(
                "lease_seconds",
                "must be at least timeout_seconds + 5 (a POST must end within the lease) and at most 3600",
            );
        }
        if !(1..=256).contains(&self.concurrency) {
            p("concurrency", "must be between 1 and 256");
        }
        if !(1..=10000).contains(&self.batch_max) {
            p("batch_max", "must be between 1 and 10000");
        }
        if !(1..=3650).contains(&self.keep_days) {
            p("keep_days", "must be between 1 and 3650");
        }
    }
}

/// One webhook endpoint, fully resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WebhookConfig {
    pub name: String,
    /// `http://` or `https://` URL the events are POSTed to.
    pub url: String,
    /// Event types taken; `["*"]` (the default) takes every type.
    pub events: Vec<String>,
    /// Environment variable holding the signing secret(s): `whsec_…` (base64) or raw text;
    /// several separated by spaces while a secret is rotated (each signs every POST).
    pub secret_env: Option<String>,
    /// File whose first line holds the signing secret(s), as `secret_env`.
    pub secret_file: Option<String>,
    /// Only events of these campaigns (empty: every campaign, and events without one).
    pub campaigns: Vec<String>,
    /// Only events of these sending domains (empty: every one).
    pub sending_domains: Vec<String>,
    pub enabled: bool,
    /// Several events per POST (a JSON array), up to `[notify] batch_max`.
    pub batch: bool,
    /// One POST at a time, in event order: a failing event holds back the ones after it.
    pub ordered: bool,
    /// How long an event is retried before it is given up (dead).
    pub retry_hours: u32,
}

impl WebhookConfig {
    /// Does the endpoint take events of type `kind`?
    pub fn takes(&self, kind: &str) -> bool {
        takes(&self.events_column(), kind)
    }

    /// The `webhooks.events` column: comma-joined types, `*` for all.
    pub fn events_column(&self) -> String {
        self.events.join(",")
    }

    /// The signing secret(s) reference as the secret resolver takes it.
    pub fn secret(&self) -> super::SecretRef {
        super::SecretRef { password_env: self.secret_env.clone(), password_file: self.secret_file.clone() }
    }
}

/// Does an `events` column value take `kind`? (`webhook.test` always goes where it is sent.)
pub fn takes(column: &str, kind: &str) -> bool {
    column.split(',').any(|e| e == "*" || e == kind)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Raw {
    name: Option<String>,
    url: Option<String>,
    events: Option<Vec<String>>,
    secret_env: Option<String>,
    secret_file: Option<String>,
    campaigns: Vec<String>,
    sending_domains: Vec<String>,
    enabled: Option<bool>,
    batch: bool,
    ordered: bool,
    retry_hours: Option<u32>,
}

/// Takes `webhook` out of the root table and reads every entry.
pub(super) fn load_all(root: &mut toml::Table, out: &mut Vec<Problem>) -> Vec<WebhookConfig> {
    let Some(value) = root.remove("webhook") else { return Vec::new() };
    let toml::Value::Array(entries) = value else {
        out.push(Problem::new("webhook", "must be an array of tables: write each one as [[webhook]]"));
        return Vec::new();
    };
    let mut all: Vec<WebhookConfig> = Vec::new();
    for (i, value) in entries.into_iter().enumerate() {
        let key = format!("webhook[{i}]");
        if !value.is_table() {
            out.push(Problem::new(key, "must be a table: write it as [[webhook]]"));
            continue;
        }
        let Some(w) = entry::<Raw>(value, &key, out).and_then(|raw| resolve(raw, &key, out)) else { continue };
        if let Some(j) = all.iter().position(|other| other.name == w.name) {
            out.push(Problem::new(
                format!("{key}.name"),
                format!("`{}` is already the name of webhook[{j}]; names must be unique", w.name),
            ));
        }
        all.push(w);
    }
    all
}

/// One endpoint from a table of `[[webhook]]` keys (an API body); every problem at once,
/// keyed `webhook.KEY`.
pub fn resolve_table(table: toml::Table) -> Result<WebhookConfig, Vec<Problem>> {
    let mut out = Vec::new();
    let w =
        entry::<Raw>(toml::Value::Table(table), "webhook", &mut out).and_then(|raw| resolve(raw, "webhook", &mut out));
    match w {
        Some(w) if out.is_empty() => Ok(w),
        _ => Err(out),
    }
}

fn resolve(raw: Raw, key: &str, out: &mut Vec<Problem>) -> Option<WebhookConfig> {
    let before = out.len();
    let mut p = |field: &str, msg: String| out.push(Problem::new(format!("{key}.{field}"), msg));
    let name = raw.name.unwrap_or_default();
    if name.is_empty() {
        p("name", "missing; give each webhook a unique name, e.g. name = \"crm\"".into());
    } else if !name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-') {
        p("name", format!("`{name}` may only use a-z, 0-9, `_` and `-`"));
    }
    let url = raw.url.unwrap_or_default();
    match url::Url::parse(&url) {
        _ if url.is_empty() => {
            p("url", "missing; write the receiver's URL, e.g. url = \"https://crm.example/hooks\"".into())
        }
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
        Ok(_) => p("url", format!("`{url}` must be an http:// or https:// URL with a host")),
        Err(e) => p("url", format!("`{url}` is not a URL ({e})")),
    }
    let mut events = raw.events.unwrap_or_else(|| vec!["*".into()]);
    events.iter_mut().for_each(|e| *e = e.trim().to_string());
    for e in &events {
        if e != "*" && !EVENT_TYPES.contains(&e.as_str()) {
            p("events", format!("`{e}` is not an event type; use \"*\" or some of: {}", EVENT_TYPES.join(", ")));
        }
    }
    if events.is_empty() {
        p("events", "is empty; remove it to take every event, or list the types wanted".into());
    }
    if events.len() > 1 && events.iter().any(|e| e == "*") {
        p("events", "\"*\" already takes every type; list it alone".into());
    }
    events.sort();
    events.dedup();
    let secret = super::SecretRef { password_env: raw.secret_env.clone(), password_file: raw.secret_file.clone() };
    if !secret.is_set() {
        p(
            "secret_env",
            "missing; every webhook is signed: set secret_env (or secret_file) to where its secret is".into(),
        );
    } else if let Err(e) = secret.resolve(key) {
        // The resolver speaks of password_env/_file, the keys of every other secret.
        p("secret_env", e.replace("password_env", "secret_env").replace("password_file", "secret_file"));
    }
    let lower = |v: Vec<String>| -> Vec<String> {
        let mut v: Vec<String> = v.into_iter().map(|s| s.trim().to_lowercase()).filter(|s| !s.is_empty()).collect();
        v.sort();
        v.dedup();
        v
    };
    let campaigns: Vec<String> = raw.campaigns.into_iter().map(|c| c.trim().to_string()).collect();
    let retry_hours = raw.retry_hours.unwrap_or(24);
    if !(1..=720).contains(&retry_hours) {
        p("retry_hours", "must be between 1 and 720".into());
    }
    (out.len() == before).then(|| WebhookConfig {
        name,
        url,
        events,
        secret_env: raw.secret_env,
        secret_file: raw.secret_file,
        campaigns,
        sending_domains: lower(raw.sending_domains),
        enabled: raw.enabled.unwrap_or(true),
        batch: raw.batch,
        ordered: raw.ordered,
        retry_hours,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(s: &str) -> toml::Table {
        s.parse().unwrap()
    }

    #[test]
    fn defaults_and_every_problem() {
        // SAFETY: tests in this process do not read this variable concurrently.
        unsafe { std::env::set_var("REBOUND_TEST_WEBHOOK_SECRET", "whsec_c2VjcmV0") };
        let w = resolve_table(table(
            "name = \"crm\"\nurl = \"http://127.0.0.1:9/h\"\nsecret_env = \"REBOUND_TEST_WEBHOOK_SECRET\"",
        ))
        .unwrap();
        assert_eq!(w.events, vec!["*"]);
        assert!(w.takes("bounce.recorded") && w.enabled && w.retry_hours == 24);
        let bad = resolve_table(table("name = \"Bad Name\"\nurl = \"ftp://x\"\nevents = [\"bounce\"]")).unwrap_err();
        let keys: Vec<&str> = bad.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(keys, ["webhook.name", "webhook.url", "webhook.events", "webhook.secret_env"], "{bad:?}");
    }
}
