//! The first steps both protocols share: resolve, connect, and TLS (at once for `ssl`, after
//! the protocol's STARTTLS/STLS for `starttls`).
//!
//! Takes the mailbox settings and a [`Trace`]; gives a [`Conn`] and records each stage. It
//! never speaks the mail protocol itself.

use super::error::{ErrorKind, FetchError, Stage};
use super::net::{self, Conn};
use super::tls;
use super::trace::Trace;
use crate::config::{MailboxConfig, Security};
use serde_json::json;
use std::time::Duration;

pub fn server(cfg: &MailboxConfig) -> String {
    format!("{}:{}", cfg.host, cfg.port)
}

pub fn limit(cfg: &MailboxConfig) -> Duration {
    Duration::from_secs(cfg.timeout_seconds)
}

/// DNS, TCP, and for `security = "ssl"` the TLS handshake.
pub async fn dial(cfg: &MailboxConfig, trace: &mut Trace) -> Result<Conn, FetchError> {
    let (server, limit) = (server(cfg), limit(cfg));
    trace.enter(Stage::Dns);
    let addrs = net::resolve(&cfg.host, cfg.port, &server, limit).await?;
    let shown: Vec<String> = addrs.iter().map(|a| a.ip().to_string()).collect();
    trace.pass(format!("{} resolves to {}", cfg.host, shown.join(", ")), json!({ "addresses": shown }));

    trace.enter(Stage::Connect);
    let tcp = net::connect(&addrs, &server, limit).await?;
    let peer = tcp.peer_addr().map(|a| a.to_string()).unwrap_or_else(|_| server.clone());
    let mut summary = format!("TCP connected to {peer}");
    if cfg.security == Security::None {
        // Said at every connection, as for verify_certificate = false (tls.rs): the
        // password is about to cross the network in clear.
        tracing::warn!(
            mailbox = %cfg.name, %server,
            "NOT ENCRYPTED (security = \"none\"): anyone on the path can read the password and the mail, and change the mail"
        );
        summary.push_str("; NOT ENCRYPTED (security = \"none\"): the password and the mail cross the network in clear");
    }
    trace.pass(summary, json!({ "address": peer }));

    match cfg.security {
        Security::Ssl => upgrade(Conn::Plain(tcp), cfg, trace).await,
        Security::Starttls | Security::None => Ok(Conn::Plain(tcp)),
    }
}

/// The TLS handshake on a plain connection (implicit TLS, or after STARTTLS/STLS was accepted).
pub async fn upgrade(conn: Conn, cfg: &MailboxConfig, trace: &mut Trace) -> Result<Conn, FetchError> {
    let server = server(cfg);
    trace.enter(Stage::Tls);
    let Conn::Plain(tcp) = conn else {
        return Err(FetchError::new(Stage::Tls, ErrorKind::Protocol, &server, "TLS requested twice on one connection"));
    };
    let (conn, cert) = tls::handshake(tcp, cfg, &server, limit(cfg)).await?;
    let summary = format!(
        "TLS with {} (issuer {}, expires {}): {}",
        cert.subject, cert.issuer, cert.not_after, cert.verification
    );
    trace.pass(summary, json!(cert));
    Ok(conn)
}
