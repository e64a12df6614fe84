//! A webhook endpoint for tests and benches: every event type, signed with the secret in
//! `secret_file`, one event per POST, unordered, retried 24 h.

use rebound::config::WebhookConfig;

pub fn webhook(name: &str, url: &str, secret_file: &str) -> WebhookConfig {
    WebhookConfig {
        name: name.into(),
        url: url.into(),
        events: vec!["*".into()],
        secret_env: None,
        secret_file: Some(secret_file.into()),
        campaigns: vec![],
        sending_domains: vec![],
        enabled: true,
        batch: false,
        ordered: false,
        retry_hours: 24,
    }
}
