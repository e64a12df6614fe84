//! Where an alert goes besides webhooks: Pushover's messages API and email through an SMTP
//! relay (lettre).
//!
//! Takes the `[alerts]` channel settings and one line about an episode; gives what the
//! channel answered, in words for the episode's `notified` column. Secrets are read when
//! sending (env or file) and never appear in a message or an error.

use crate::config::alert::{EmailConfig, PushoverConfig};
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::time::Duration;

/// A link for the message: where the alert is shown (`url`) and its words (`url_title`).
pub struct Link<'a> {
    pub url: &'a str,
    pub title: &'a str,
}

/// POSTs `title`/`message` (and the link, when there is one) to `{base_url}/1/messages.json`.
pub async fn pushover(cfg: &PushoverConfig, title: &str, message: &str, link: Option<Link<'_>>) -> Result<(), String> {
    let token = cfg.token().resolve("alerts.pushover.token")?.ok_or("no token configured")?;
    let user = cfg.user().resolve("alerts.pushover.user")?.ok_or("no user key configured")?;
    let body = {
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        form.append_pair("token", token.expose())
            .append_pair("user", user.expose())
            .append_pair("title", title)
            .append_pair("message", message)
            .append_pair("priority", &cfg.priority.to_string());
        if let Some(l) = link {
            form.append_pair("url", l.url).append_pair("url_title", l.title);
        }
        form.finish()
    };
    let url = format!("{}/1/messages.json", cfg.base_url.trim_end_matches('/'));
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().map_err(|e| e.to_string())?;
    let resp = client
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .map_err(|e| format!("cannot reach {url}: {e}"))?;
    let status = resp.status();
    if status.is_success() {
        return Ok(());
    }
    let text = resp.text().await.unwrap_or_default();
    Err(format!("Pushover answered {status}: {}", crate::fetch::error::clip(&text, 300)))
}

/// Sends one alert mail to every `to`.
pub async fn email(cfg: &EmailConfig, subject: &str, text: &str) -> Result<(), String> {
    let from: Mailbox = cfg.from.parse().map_err(|e| format!("alerts.email.from: {e}"))?;
    let mut m = Message::builder().from(from).subject(subject);
    for to in &cfg.to {
        m = m.to(to.parse().map_err(|e| format!("alerts.email.to `{to}`: {e}"))?);
    }
    let message = m.body(text.to_string()).map_err(|e| format!("cannot build the alert mail: {e}"))?;
    let builder = match cfg.security.as_str() {
        "none" => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&cfg.host),
        "tls" => AsyncSmtpTransport::<Tokio1Executor>::relay(&cfg.host).map_err(|e| e.to_string())?,
        _ => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&cfg.host).map_err(|e| e.to_string())?,
    };
    let mut builder = builder.port(cfg.port).timeout(Some(Duration::from_secs(20)));
    if let Some(user) = &cfg.username {
        let password = cfg.password().resolve("alerts.email")?.ok_or("username is set but no password_env/_file")?;
        builder = builder.credentials(lettre::transport::smtp::authentication::Credentials::new(
            user.clone(),
            password.expose().to_string(),
        ));
    }
    builder
        .build()
        .send(message)
        .await
        .map(|_| ())
        .map_err(|e| format!("the relay {}:{} refused the alert mail: {e}", cfg.host, cfg.port))
}
