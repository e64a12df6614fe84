//! TLS for both protocols: one connector honouring `verify_certificate` and `ca_file`, and
//! what the server's certificate says (for `rebound verify`).
//!
//! Takes a connected TCP stream and the mailbox settings; gives a TLS stream plus a
//! [`PeerCert`], or a [`FetchError`] at stage `tls` with the TLS library's reason. It never
//! turns verification off unless the configuration says so, and then it warns every time.

use super::error::{ErrorKind, FetchError, Stage};
use super::net::{Conn, within};
use crate::config::MailboxConfig;
use async_native_tls::{Certificate, TlsConnector};
use serde::Serialize;
use std::time::Duration;
use tokio::net::TcpStream;

/// The server certificate as presented, and whether it was checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PeerCert {
    pub subject: String,
    pub issuer: String,
    /// RFC 3339, UTC.
    pub not_after: String,
    pub verified: bool,
    /// "verified against the system roots", "… against ca_file X", or why it was not checked.
    pub verification: String,
}

fn connector(cfg: &MailboxConfig, server: &str) -> Result<(TlsConnector, String), FetchError> {
    let mut tls = TlsConnector::new();
    let mut how = "verified against the system's trusted CAs".to_string();
    if let Some(path) = &cfg.ca_file {
        let pem = std::fs::read(path).map_err(|e| {
            FetchError::new(Stage::Tls, ErrorKind::Local, server, format!("cannot read ca_file {path}: {e}"))
        })?;
        let ca = Certificate::from_pem(&pem).map_err(|e| {
            FetchError::new(
                Stage::Tls,
                ErrorKind::Local,
                server,
                format!("ca_file {path} is not a PEM certificate: {e}"),
            )
        })?;
        tls = tls.add_root_certificate(ca);
        how = format!("verified against the system's trusted CAs and ca_file {path}");
    }
    if !cfg.verify_certificate {
        tracing::warn!(
            mailbox = %cfg.name, %server,
            "TLS CERTIFICATE NOT VERIFIED (verify_certificate = false): anyone on the path can read the password"
        );
        tls = tls.danger_accept_invalid_certs(true).danger_accept_invalid_hostnames(true);
        how = "NOT verified: verify_certificate = false".to_string();
    }
    Ok((tls, how))
}

/// What the server presents, over a handshake that does not check it: for `verify`, after
/// verification failed, to show the operator which certificate was refused. Nothing is sent
/// over this connection and it is dropped at once.
pub async fn peek_certificate(tcp: TcpStream, host: &str, limit: Duration) -> Option<PeerCert> {
    let tls = TlsConnector::new().danger_accept_invalid_certs(true).danger_accept_invalid_hostnames(true);
    let stream = tokio::time::timeout(limit, tls.connect(host, tcp)).await.ok()?.ok()?;
    let der = stream.peer_certificate().ok().flatten()?.to_der().ok()?;
    Some(describe(&der))
}

/// Runs the TLS handshake on `tcp`, under the per-operation timeout.
pub async fn handshake(
    tcp: TcpStream,
    cfg: &MailboxConfig,
    server: &str,
    limit: Duration,
) -> Result<(Conn, PeerCert), FetchError> {
    let (tls, how) = connector(cfg, server)?;
    let stream = within(Stage::Tls, server, limit, tls.connect(cfg.host.as_str(), tcp)).await?.map_err(|e| {
        let text = e.to_string();
        let kind = if text.contains("certificate") { ErrorKind::Certificate } else { ErrorKind::Network };
        FetchError::new(Stage::Tls, kind, server, readable_tls_error(&text))
    })?;
    let der = stream.peer_certificate().ok().flatten().and_then(|c| c.to_der().ok());
    let mut cert = der.as_deref().map(describe).unwrap_or_else(|| PeerCert {
        subject: "(none presented)".into(),
        issuer: String::new(),
        not_after: String::new(),
        verified: false,
        verification: String::new(),
    });
    cert.verified = cfg.verify_certificate;
    cert.verification = how;
    Ok((Conn::Tls(Box::new(stream)), cert))
}

/// OpenSSL's "error:0A000086:SSL routines:…:certificate verify failed:…:1889: (reason)"
/// becomes "certificate verify failed: reason"; "wrong version number" (the peer answered
/// in plaintext) is said plainly; other texts stay as they are.
fn readable_tls_error(text: &str) -> String {
    if text.contains("wrong version number") {
        return "the server did not answer with TLS (OpenSSL: wrong version number); this port speaks \
                plaintext first"
            .into();
    }
    match (text.find("certificate verify failed"), text.rfind('('), text.ends_with(')')) {
        (Some(_), Some(open), true) => format!("certificate verify failed: {}", &text[open + 1..text.len() - 1]),
        _ => text.to_string(),
    }
}

fn describe(der: &[u8]) -> PeerCert {
    let blank = |why: String| PeerCert {
        subject: why,
        issuer: String::new(),
        not_after: String::new(),
        verified: false,
        verification: String::new(),
    };
    match x509_parser::parse_x509_certificate(der) {
        Ok((_, c)) => PeerCert {
            subject: c.subject().to_string(),
            issuer: c.issuer().to_string(),
            not_after: chrono::DateTime::from_timestamp(c.validity().not_after.timestamp(), 0)
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                .unwrap_or_default(),
            verified: false,
            verification: String::new(),
        },
        Err(e) => blank(format!("(unreadable certificate: {e})")),
    }
}
