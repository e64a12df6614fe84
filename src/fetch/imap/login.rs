//! IMAP login: `LOGIN` with a password, `AUTHENTICATE XOAUTH2`/`OAUTHBEARER` with an OAuth2
//! token (the mechanism chosen from a `CAPABILITY` sent just before, since capabilities may
//! change with STARTTLS and greetings need not list them).
//!
//! Takes the client after the greeting (and STARTTLS), the mailbox settings and its
//! [`Credentials`]; gives the logged-in session and how it logged in. A refused token that
//! came from the cache is renewed once and tried again on the same connection. It never
//! sends a secret in anything but the login, never logs one (async-imap's own wire dump is
//! dropped by `telemetry`), and masks a token a server echoes back.

use super::util::{Fail, to_error, words};
use crate::config::{MailboxConfig, Mechanism};
use crate::fetch::error::{ErrorKind, FetchError, Stage};
use crate::fetch::login::Credentials;
use crate::fetch::net::{Conn, within};
use crate::fetch::oauth2::{Token, TokenSource};
use crate::fetch::sasl;
use crate::fetch::trace::Trace;
use async_imap::imap_proto::{Capability, Response, Status};
use async_imap::{Client, Session};
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// The tag of the CAPABILITY sent before login (async-imap's own tags are `A0001`…).
const CAPABILITY_TAG: &str = "RB0";

/// Logs in; the second value is how, for the stage summary (empty for a password).
pub(super) async fn login(
    client: Client<Conn>,
    cfg: &MailboxConfig,
    login: &Credentials,
    server: &str,
    limit: Duration,
    trace: &mut Trace,
) -> Result<(Session<Conn>, String), FetchError> {
    let password = match login {
        Credentials::Password(p) => p,
        Credentials::OAuth2(source) => return oauth2(client, cfg, source, server, limit, trace).await,
    };
    trace.enter(Stage::Login);
    if [&cfg.username, password.expose()].iter().any(|s| s.contains(['\r', '\n'])) {
        return Err(FetchError::new(
            Stage::Login,
            ErrorKind::Local,
            server,
            "username or password contains a line break",
        ));
    }
    match tokio::time::timeout(limit, client.login(&cfg.username, password.expose())).await {
        Err(_) => Err(FetchError::timeout(Stage::Login, server, limit)),
        Ok(Err((e, _))) => Err(to_error(Stage::Login, server, Fail::Imap(e))),
        Ok(Ok(s)) => Ok((s, String::new())),
    }
}

async fn oauth2(
    mut client: Client<Conn>,
    cfg: &MailboxConfig,
    source: &TokenSource,
    server: &str,
    limit: Duration,
    trace: &mut Trace,
) -> Result<(Session<Conn>, String), FetchError> {
    let offered = sasl_offered(&mut client, server, limit).await?;
    let m = sasl::choose(&offered, source.mechanism())
        .map_err(|why| FetchError::new(Stage::Capabilities, ErrorKind::NotOffered, server, why))?;
    if cfg.username.contains(['\r', '\n', '\x01']) {
        return Err(FetchError::new(Stage::Login, ErrorKind::Local, server, "username contains a line break or ^A"));
    }
    let token = source.token(server, trace).await?;
    trace.enter(Stage::Login);
    let client = match authenticate(client, cfg, m, &token, server, limit).await {
        Ok(s) => return Ok((s, format!(" ({m})"))),
        Err(Refused { client: Some(client), .. }) if token.cached => client,
        Err(r) => return Err(r.error),
    };
    tracing::debug!(%server, mechanism = %m, "cached OAuth2 token refused; renewing it once");
    let fresh = source.renew(&token, server).await?;
    match authenticate(client, cfg, m, &fresh, server, limit).await {
        Ok(s) => Ok((s, format!(" ({m}, after renewing a refused token)"))),
        Err(r) => {
            source.forget(&fresh).await;
            Err(r.error)
        }
    }
}

/// A failed AUTHENTICATE, with the client back when the server only refused (it may try again).
struct Refused {
    error: FetchError,
    client: Option<Client<Conn>>,
}

async fn authenticate(
    client: Client<Conn>,
    cfg: &MailboxConfig,
    m: Mechanism,
    token: &Token,
    server: &str,
    limit: Duration,
) -> Result<Session<Conn>, Refused> {
    let first = sasl::first_message(m, &cfg.username, &token.access, &cfg.host, cfg.port);
    let mut exchange = sasl::Exchange::new(m, first);
    let answer = tokio::time::timeout(limit, client.authenticate(m.name(), &mut exchange)).await;
    let (e, client) = match answer {
        Err(_) => return Err(Refused { error: FetchError::timeout(Stage::Login, server, limit), client: None }),
        Ok(Ok(session)) => return Ok(session),
        Ok(Err(failed)) => failed,
    };
    let (kind, words) = words(&e);
    if kind != ErrorKind::Rejected {
        let error = FetchError::new(Stage::Login, kind, server, sasl::scrub(&words, &token.access));
        return Err(Refused { error, client: None });
    }
    let said = exchange.server_error.map(|s| format!(" (it said {s})")).unwrap_or_default();
    let detail = format!("{m}: the server {}: {words}{said}", sasl::TOKEN_REFUSED);
    let error = FetchError::new(Stage::Login, ErrorKind::Rejected, server, sasl::scrub(&detail, &token.access));
    Err(Refused { error, client: Some(client) })
}

/// The SASL mechanisms (`AUTH=…`) the server offers now.
async fn sasl_offered(client: &mut Client<Conn>, server: &str, limit: Duration) -> Result<Vec<String>, FetchError> {
    let stage = Stage::Capabilities;
    let line = format!("{CAPABILITY_TAG} CAPABILITY\r\n");
    // async-imap's Client cannot send a command and hand back its untagged answers before
    // login, so the line is written on the connection and the answers read through it.
    let conn = client.get_mut();
    within(stage, server, limit, async {
        conn.write_all(line.as_bytes()).await?;
        conn.flush().await
    })
    .await?
    .map_err(|e| crate::fetch::net::io_error(stage, server, &e))?;
    let mut offered = Vec::new();
    loop {
        let resp = match tokio::time::timeout(limit, client.read_response()).await {
            Err(_) => return Err(FetchError::timeout(stage, server, limit)),
            Ok(Err(e)) => return Err(crate::fetch::net::io_error(stage, server, &e)),
            Ok(Ok(None)) => {
                return Err(FetchError::new(stage, ErrorKind::Closed, server, "the server closed the connection"));
            }
            Ok(Ok(Some(r))) => r,
        };
        match resp.parsed() {
            Response::Capabilities(caps) => offered.extend(caps.iter().filter_map(|c| match c {
                Capability::Auth(a) => Some(a.to_string()),
                _ => None,
            })),
            Response::Done { tag, status, .. } if tag.0 == CAPABILITY_TAG => {
                return match status {
                    Status::Ok => Ok(offered),
                    _ => Err(FetchError::new(stage, ErrorKind::Rejected, server, "the server refused CAPABILITY")),
                };
            }
            _ => {}
        }
    }
}
