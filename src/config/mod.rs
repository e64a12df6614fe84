//! Configuration: one TOML file, overridable by `REBOUND__SECTION__KEY` environment variables.
//!
//! Takes the file text and the process environment; gives a validated [`Config`] or a
//! [`ConfigError`] listing *every* problem found, each naming its key and how to fix it.
//! Unknown keys are errors (a typo must never silently fall back to a default). It never
//! reads secrets into the config itself: those stay behind `password_env` / `password_file`
//! and are resolved by the component that needs them.

pub mod alert;
mod cclient;
mod env;
mod load;
pub mod mailbox;
pub mod mta_log;
pub mod node;
pub mod oauth2;
mod pipeline;
pub mod secret;
mod sections;
pub mod webhook;

pub use alert::{AlertConfig, AlertsConfig};
pub use load::{ConfigError, Problem, load, load_str};
pub use mailbox::{AfterProcessing, Inline, MailboxConfig, Protocol, Purpose, Security};
pub use mta_log::{CampaignFrom, MtaLogConfig};
pub use node::{NodeConfig, SyncConfig, Target};
pub use oauth2::{Auth, Flow, Mechanism, OAuth2Config};
pub use pipeline::*;
pub use secret::{Secret, SecretKeys, SecretRef};
pub use sections::*;
pub use webhook::{NotifyConfig, WebhookConfig};

/// The whole configuration. Every section has defaults, so an empty file is valid.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Config {
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub log: LogConfig,
    pub parse: ParseConfig,
    pub attribution: AttributionConfig,
    pub suppression: SuppressionConfig,
    pub retention: RetentionConfig,
    pub sync: SyncConfig,
    /// `[secrets]`: the key sealing passwords given through the admin API.
    pub secrets: crate::secrets::SecretsConfig,
    /// `[[mailbox]]` entries: the mailboxes to poll, in file order.
    pub mailbox: Vec<MailboxConfig>,
    /// `[[node]]` entries: the sending nodes the suppression list is rendered for.
    pub node: Vec<NodeConfig>,
    /// `[notify]`: how webhook deliveries are retried.
    pub notify: NotifyConfig,
    /// `[[webhook]]` entries: the endpoints events are POSTed to.
    pub webhook: Vec<WebhookConfig>,
    /// `[alerts]`: evaluation pace and the Pushover / email channels.
    pub alerts: AlertsConfig,
    /// `[[alert]]` rules.
    pub alert: Vec<AlertConfig>,
    /// `[[mta_log]]` entries: the MTAs' own logs read as a second input.
    pub mta_log: Vec<MtaLogConfig>,
}

impl Config {
    /// The effective configuration as TOML with secrets masked (for `check-config`).
    pub fn to_masked_toml(&self) -> String {
        let mut shown = self.clone();
        shown.database.url = crate::store::mask_url(&shown.database.url);
        toml::to_string_pretty(&shown).unwrap_or_else(|e| format!("# cannot render config: {e}\n"))
    }
}

/// A JSON body (an admin API request) as the keys of a `[[SECTION]]` table; nulls are "not
/// given". A value TOML cannot hold is a problem keyed `SECTION.KEY`.
pub fn table_of_json(
    body: serde_json::Map<String, serde_json::Value>,
    section: &str,
) -> Result<toml::Table, Vec<Problem>> {
    let mut table = toml::Table::new();
    let mut problems = Vec::new();
    for (k, v) in body.into_iter().filter(|(_, v)| !v.is_null()) {
        match toml::Value::try_from(&v) {
            Ok(v) => {
                table.insert(k, v);
            }
            Err(e) => problems.push(Problem::new(format!("{section}.{k}"), format!("cannot be read: {e}"))),
        }
    }
    if problems.is_empty() { Ok(table) } else { Err(problems) }
}
