//! "Verify connection": one bounded dry run of a mailbox that reports every stage.
//!
//! Takes a [`MailboxConfig`] and its [`Credentials`]; gives a [`VerifyReport`] with each stage's
//! duration and findings (addresses, certificate, capabilities, folders, whether delete and
//! move are possible), and on failure the stage, the server's words and what to do. The
//! whole run has an overall deadline, so it never hangs. It never changes the mailbox.

use super::error::{ErrorKind, FetchError, Stage};
use super::trace::{StageReport, Trace};
use super::{Credentials, Session, dial};
use crate::config::{AfterProcessing, MailboxConfig, Protocol, Security};
use serde::Serialize;
use serde_json::json;
use std::fmt;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    pub mailbox: String,
    pub protocol: Protocol,
    pub server: String,
    pub security: Security,
    pub ok: bool,
    pub duration_ms: u64,
    pub stages: Vec<StageReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<FailedStage>,
}

/// The stage that failed, in words and as data.
#[derive(Debug, Clone, Serialize)]
pub struct FailedStage {
    pub stage: Stage,
    pub kind: ErrorKind,
    pub detail: String,
    pub hint: String,
}

/// The deadline for the whole run: a few operations' worth, at least 10 s.
fn overall_limit(cfg: &MailboxConfig) -> Duration {
    Duration::from_secs((cfg.timeout_seconds * 3).clamp(10, 300))
}

/// The staged check; an `auth = "oauth2"` mailbox gets a `token` stage before `login`.
pub fn verify(
    cfg: &MailboxConfig,
    login: impl Into<Credentials>,
) -> impl std::future::Future<Output = VerifyReport> + Send + '_ {
    let login = login.into();
    async move { verify_with(cfg, &login).await }
}

async fn verify_with(cfg: &MailboxConfig, login: &Credentials) -> VerifyReport {
    let started = Instant::now();
    let limit = overall_limit(cfg);
    let mut trace = Trace::default();
    let result = tokio::time::timeout(limit, run(cfg, login, &mut trace)).await;
    let error = match result {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(e),
        Err(_) => Some(FetchError::new(
            trace.current(),
            ErrorKind::Timeout,
            &dial::server(cfg),
            format!("verification did not finish within {} s", limit.as_secs()),
        )),
    };
    if let Some(e) = &error {
        trace.fail(e);
        if e.kind == ErrorKind::Certificate
            && cfg.security == Security::Ssl
            && let (Some(cert), Some(stage)) = (presented(cfg).await, trace.stages.last_mut())
        {
            stage.summary = format!(
                "{}; the server presents {} issued by {}, expiring {}",
                stage.summary, cert.subject, cert.issuer, cert.not_after
            );
            stage.facts = json!({ "presented": cert });
        }
    }
    VerifyReport {
        mailbox: cfg.name.clone(),
        protocol: cfg.protocol,
        server: dial::server(cfg),
        security: cfg.security,
        ok: error.is_none(),
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        stages: trace.stages,
        failure: error.map(|e| FailedStage { stage: e.stage, kind: e.kind, hint: e.hint(), detail: e.detail }),
    }
}

/// The certificate an implicit-TLS server presents, read without checking it.
async fn presented(cfg: &MailboxConfig) -> Option<super::PeerCert> {
    let (server, limit) = (dial::server(cfg), dial::limit(cfg));
    let addrs = super::net::resolve(&cfg.host, cfg.port, &server, limit).await.ok()?;
    let tcp = super::net::connect(&addrs, &server, limit).await.ok()?;
    super::tls::peek_certificate(tcp, &cfg.host, limit).await
}

async fn run(cfg: &MailboxConfig, login: &Credentials, trace: &mut Trace) -> Result<(), FetchError> {
    let mut source = Session::open_traced(cfg, login, trace).await?;
    trace.enter(Stage::Select);
    match &mut source {
        Session::Imap(s) => {
            let infos = s.folder_infos().await?;
            let shown: Vec<String> = infos
                .iter()
                .map(|i| format!("{}: {} message(s), UIDVALIDITY {}", i.name, i.messages, i.uidvalidity))
                .collect();
            trace.pass(shown.join("; "), json!({ "folders": infos }));
            trace.enter(Stage::Delete);
            let caps = s.capabilities();
            let delete = if caps.uidplus { "UID EXPUNGE (UIDPLUS)" } else { "EXPUNGE (no UIDPLUS)" };
            let mv = if caps.move_ { "UID MOVE" } else { "COPY then delete (no MOVE)" };
            let configured = String::from(cfg.after_processing.clone());
            let doing = match &cfg.after_processing {
                AfterProcessing::Keep => "nothing is changed".to_string(),
                AfterProcessing::Seen => "sets \\Seen".to_string(),
                AfterProcessing::Delete => format!("deletes with {delete}"),
                AfterProcessing::Move(f) => format!("moves to {f} with {mv}"),
            };
            trace.pass(
                format!("after_processing = \"{configured}\": {doing}; delete possible via {delete}, move via {mv}"),
                json!({ "after_processing": configured, "delete": delete, "move": mv }),
            );
        }
        Session::Pop3(s) => {
            let (messages, octets) = s.stat().await?;
            trace.pass(
                format!("maildrop: {messages} message(s), {octets} bytes"),
                json!({ "messages": messages, "octets": octets }),
            );
            trace.enter(Stage::Delete);
            let configured = String::from(cfg.after_processing.clone());
            trace.pass(
                format!("after_processing = \"{configured}\"; delete possible via DELE (applied at logout); no move"),
                json!({ "after_processing": configured, "delete": "DELE", "move": null }),
            );
        }
    }
    trace.enter(Stage::Logout);
    source.close().await?;
    trace.pass("logged out", serde_json::Value::Null);
    Ok(())
}

impl fmt::Display for VerifyReport {
    /// A table of stages for terminals, then the verdict and what to do.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "mailbox {}: {}://{} (security {})", self.mailbox, self.protocol, self.server, self.security)?;
        for s in &self.stages {
            let mark = if s.ok { "ok  " } else { "FAIL" };
            writeln!(f, "  {mark} {:<13} {:>6} ms  {}", s.stage.to_string(), s.duration_ms, s.summary)?;
        }
        match &self.failure {
            None => writeln!(f, "result: OK in {} ms", self.duration_ms),
            Some(e) => {
                writeln!(f, "result: FAILED at {} after {} ms\n  what to do: {}", e.stage, self.duration_ms, e.hint)
            }
        }
    }
}
