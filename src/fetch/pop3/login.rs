//! POP3 login: APOP or USER/PASS with a password, `AUTH XOAUTH2`/`AUTH OAUTHBEARER`
//! (RFC 5034) with an OAuth2 token.
//!
//! Takes the session after CAPA (and STLS), the mailbox settings and its [`Credentials`];
//! gives how it logged in. The token goes in the line after the server's `+` (never as an
//! initial response: RFC 5034 caps that line at 255 octets, and tokens are longer). A
//! refused token that came from the cache is renewed once and tried again on the same
//! connection. It never sends a secret in anything but the login lines, never logs one, and
//! masks a token a server echoes back.

use super::Pop3Session;
use super::wire::Step;
use crate::config::{MailboxConfig, Mechanism, Secret};
use crate::fetch::error::{ErrorKind, FetchError, Stage};
use crate::fetch::login::Credentials;
use crate::fetch::oauth2::{Token, TokenSource};
use crate::fetch::sasl;
use crate::fetch::trace::Trace;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use md5::{Digest, Md5};

impl Pop3Session {
    pub(super) async fn login(
        &mut self,
        cfg: &MailboxConfig,
        login: &Credentials,
        greeting: &str,
        trace: &mut Trace,
    ) -> Result<String, FetchError> {
        match login {
            Credentials::Password(password) => {
                trace.enter(Stage::Login);
                self.password(&cfg.username, password, greeting).await.map(str::to_string)
            }
            Credentials::OAuth2(source) => self.oauth2(cfg, source, trace).await,
        }
    }

    async fn password(&mut self, user: &str, password: &Secret, greeting: &str) -> Result<&'static str, FetchError> {
        if [user, password.expose()].iter().any(|s| s.contains(['\r', '\n'])) {
            return Err(self.wire.err(Stage::Login, ErrorKind::Local, "username or password contains a line break"));
        }
        if let Some(stamp) = apop_timestamp(greeting) {
            let digest = apop_digest(stamp, password.expose());
            match self.wire.command(Stage::Login, &format!("APOP {user} {digest}")).await {
                Ok(_) => return Ok("APOP"),
                // The server may offer APOP without holding a usable secret for it: try USER/PASS.
                Err(e) if e.kind == ErrorKind::Rejected => {
                    tracing::debug!(server = %self.wire.server, error = %e.detail, "APOP refused; trying USER/PASS")
                }
                Err(e) => return Err(e),
            }
        }
        self.wire.command(Stage::Login, &format!("USER {user}")).await?;
        self.wire.command(Stage::Login, &format!("PASS {}", password.expose())).await?;
        Ok("USER/PASS")
    }

    /// The SASL mechanisms of CAPA's `SASL` line.
    fn sasl_mechanisms(&self) -> Vec<String> {
        let line = self
            .capabilities
            .iter()
            .find(|c| c.split_whitespace().next().is_some_and(|w| w.eq_ignore_ascii_case("SASL")));
        line.map(|l| l.split_whitespace().skip(1).map(str::to_string).collect()).unwrap_or_default()
    }

    async fn oauth2(
        &mut self,
        cfg: &MailboxConfig,
        source: &TokenSource,
        trace: &mut Trace,
    ) -> Result<String, FetchError> {
        let mechanism = sasl::choose(&self.sasl_mechanisms(), source.mechanism())
            .map_err(|why| self.wire.err(Stage::Capabilities, ErrorKind::NotOffered, why))?;
        if cfg.username.contains(['\r', '\n', '\x01']) {
            return Err(self.wire.err(Stage::Login, ErrorKind::Local, "username contains a line break or ^A"));
        }
        let token = source.token(&self.wire.server, trace).await?;
        trace.enter(Stage::Login);
        match self.authenticate(cfg, mechanism, &token).await {
            Err(e) if e.detail.contains(sasl::TOKEN_REFUSED) && token.cached && !self.wire.is_broken() => {
                tracing::debug!(server = %self.wire.server, mechanism = %mechanism, "cached OAuth2 token refused; renewing it once");
                let fresh = source.renew(&token, &self.wire.server).await?;
                let r = self.authenticate(cfg, mechanism, &fresh).await;
                if r.is_err() {
                    source.forget(&fresh).await;
                }
                r.map(|()| format!("{mechanism}, after renewing a refused token"))
            }
            r => r.map(|()| mechanism.to_string()),
        }
    }

    /// One `AUTH` exchange: the mechanism, then the token after the server's `+`.
    async fn authenticate(&mut self, cfg: &MailboxConfig, m: Mechanism, token: &Token) -> Result<(), FetchError> {
        match self.wire.sasl(Stage::Login, &format!("AUTH {}", m.name())).await {
            Ok(Step::Challenge(_)) => {}
            Ok(Step::Done) => return Ok(()),
            Err(e) => return Err(e),
        }
        let first = sasl::first_message(m, &cfg.username, &token.access, &cfg.host, cfg.port);
        match self.wire.sasl(Stage::Login, &STANDARD.encode(first)).await {
            Ok(Step::Done) => Ok(()),
            Err(e) => Err(refused(m, e, None, token)),
            // A failure challenge: the server's error JSON, answered so it sends its -ERR.
            Ok(Step::Challenge(challenge)) => {
                let said = STANDARD.decode(challenge.as_bytes()).map(|b| sasl::server_said(&b)).ok();
                match self.wire.sasl(Stage::Login, &STANDARD.encode(sasl::failure_reply(m))).await {
                    Err(e) => Err(refused(m, e, said, token)),
                    Ok(_) => Err(self.wire.abandon(self.wire.err(
                        Stage::Login,
                        ErrorKind::Protocol,
                        "the server sent a failure challenge but did not refuse the login",
                    ))),
                }
            }
        }
    }
}

/// A refusal of the token, with what the server said in its failure challenge.
fn refused(m: Mechanism, e: FetchError, said: Option<String>, token: &Token) -> FetchError {
    let said = said.map(|s| format!(" (it said {s})")).unwrap_or_default();
    let detail = format!("{m}: the server {}: {}{said}", sasl::TOKEN_REFUSED, e.detail);
    FetchError { detail: sasl::scrub(&detail, &token.access), ..e }
}

pub(super) fn apop_timestamp(greeting: &str) -> Option<&str> {
    let start = greeting.find('<')?;
    let end = start + greeting[start..].find('>')?;
    let stamp = &greeting[start..=end];
    stamp.contains('@').then_some(stamp)
}

fn apop_digest(stamp: &str, secret: &str) -> String {
    Md5::digest(format!("{stamp}{secret}").as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apop_digest_matches_rfc_1939() {
        let stamp = apop_timestamp("POP3 server ready <1896.697170952@dbc.mtview.ca.us>").unwrap();
        assert_eq!(apop_digest(stamp, "tanstaaf"), "c4c9334bac560ecc979e58001b3e22fb");
        assert_eq!(apop_timestamp("Dovecot ready."), None);
    }
}
