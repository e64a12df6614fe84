//! Tiny scripted mail servers for the cases a real Dovecot will not produce (a connection
//! dropped mid-answer, a server without MOVE or UIDPLUS): one connection, answered line by
//! line, every command recorded.

use rebound::config::{AfterProcessing, MailboxConfig, Protocol, Purpose, Security};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

pub struct Fake {
    pub port: u16,
    log: Arc<Mutex<Vec<String>>>,
}

impl Fake {
    /// The command lines received so far, in order.
    pub fn commands(&self) -> Vec<String> {
        self.log.lock().expect("fake server log").clone()
    }
}

/// Serves one connection: sends `greeting`, then answers each command line with what
/// `answer` returns (None: close the connection right there; a reply ending in CLOSE: send
/// what comes before it, then close).
pub async fn serve(greeting: &'static str, answer: fn(&str) -> Option<String>) -> Fake {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port");
    let port = listener.local_addr().expect("bound address").port();
    let log = Arc::new(Mutex::new(Vec::new()));
    let seen = log.clone();
    tokio::spawn(async move {
        let Ok((s, _)) = listener.accept().await else { return };
        let (r, mut w) = s.into_split();
        let mut lines = BufReader::new(r).lines();
        if w.write_all(greeting.as_bytes()).await.is_err() {
            return;
        }
        while let Ok(Some(line)) = lines.next_line().await {
            if let Ok(mut log) = seen.lock() {
                log.push(line.clone());
            }
            let Some(reply) = answer(&line) else { return };
            let (reply, close) = match reply.strip_suffix("CLOSE") {
                Some(r) => (r.to_string(), true),
                None => (reply, false),
            };
            if w.write_all(reply.as_bytes()).await.is_err() || close {
                return;
            }
        }
    });
    Fake { port, log }
}

/// A mailbox on a fake server: no TLS, 2 s per operation.
pub fn mailbox(protocol: Protocol, port: u16) -> MailboxConfig {
    MailboxConfig {
        name: "fake".into(),
        purpose: Purpose::Bounce,
        protocol,
        host: "127.0.0.1".into(),
        port,
        security: Security::None,
        verify_certificate: true,
        ca_file: None,
        username: "u".into(),
        auth: rebound::config::Auth::Password,
        oauth2: None,
        password_env: None,
        password_file: None,
        folders: vec!["INBOX".into()],
        after_processing: AfterProcessing::Keep,
        schedule: "*/5 * * * *".into(),
        idle: false,
        enabled: true,
        max_messages_per_poll: 500,
        max_message_bytes: 1024 * 1024,
        timeout_seconds: 2,
        lease_seconds: 30,
        inline_password: None,
    }
}
