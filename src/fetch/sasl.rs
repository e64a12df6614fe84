//! SASL for OAuth2 bearer tokens: XOAUTH2 (Google's and Microsoft's form) and OAUTHBEARER
//! (RFC 7628), shared by IMAP `AUTHENTICATE` and POP3 `AUTH`.
//!
//! Takes the server's mechanisms, the username and a token; gives the mechanism to use, the
//! client's first message, the reply a failure challenge wants, and the server's failure
//! words. OAUTHBEARER is preferred when both are offered: it is the IETF standard, its
//! failure answer is specified, and it binds the server's host and port into the message;
//! XOAUTH2 is used otherwise (Microsoft 365 offers only XOAUTH2). It never formats a token
//! into anything but the message it sends, and [`scrub`] keeps one out of any text a
//! server echoes.

use super::error::{DETAIL_MAX, clip};
use crate::config::{Mechanism, Secret};

/// In every login error about a refused token, so the advice can tell it from a password.
pub const TOKEN_REFUSED: &str = "refused the OAuth2 token";

/// The mechanism to use among those the server offers (`offered` as advertised, any case).
/// A server that lists no mechanism at all is tried with XOAUTH2, the most deployed; one
/// that lists others but neither of these is an error naming what it offers.
pub fn choose(offered: &[String], wanted: Option<Mechanism>) -> Result<Mechanism, String> {
    let has = |m: Mechanism| offered.iter().any(|o| o.eq_ignore_ascii_case(m.name()));
    let shown = if offered.is_empty() { "none".to_string() } else { offered.join(" ") };
    match wanted {
        Some(m) if offered.is_empty() || has(m) => Ok(m),
        Some(m) => Err(format!(
            "the server does not offer {m}, which oauth2_mechanism asks for (it offers SASL {shown}); remove \
             oauth2_mechanism to choose from what the server offers"
        )),
        None if has(Mechanism::Oauthbearer) => Ok(Mechanism::Oauthbearer),
        None if has(Mechanism::Xoauth2) || offered.is_empty() => Ok(Mechanism::Xoauth2),
        None => Err(format!(
            "the server offers neither XOAUTH2 nor OAUTHBEARER (it offers SASL {shown}), so it does not take OAuth2 \
             tokens; use auth = \"password\" for this server"
        )),
    }
}

/// The client's first (and only) message: the username and the bearer token.
pub fn first_message(m: Mechanism, user: &str, token: &Secret, host: &str, port: u16) -> Vec<u8> {
    let token = token.expose();
    match m {
        Mechanism::Xoauth2 => format!("user={user}\x01auth=Bearer {token}\x01\x01").into_bytes(),
        // RFC 7628 §3.1: a GS2 header naming the authorization identity (`,` and `=` escaped
        // as in RFC 5801), then key-value pairs separated by ^A.
        Mechanism::Oauthbearer => {
            let authzid = user.replace('=', "=3D").replace(',', "=2C");
            format!("n,a={authzid},\x01host={host}\x01port={port}\x01auth=Bearer {token}\x01\x01").into_bytes()
        }
    }
}

/// What the client answers to a failure challenge (the server's error JSON), after which the
/// server sends its final refusal: an empty message for XOAUTH2, a single ^A for OAUTHBEARER
/// (RFC 7628 §3.2.3).
pub fn failure_reply(m: Mechanism) -> &'static [u8] {
    match m {
        Mechanism::Xoauth2 => b"",
        Mechanism::Oauthbearer => b"\x01",
    }
}

/// A server's failure challenge (decoded), as words for an error: printable text only,
/// clipped.
pub fn server_said(challenge: &[u8]) -> String {
    let text: String =
        String::from_utf8_lossy(challenge).chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    clip(text.trim(), DETAIL_MAX)
}

/// `text` with every occurrence of the token masked: a server may echo what it was sent.
pub fn scrub(text: &str, token: &Secret) -> String {
    let t = token.expose();
    if t.is_empty() { text.to_string() } else { text.replace(t, "****") }
}

/// IMAP `AUTHENTICATE`'s side of the exchange (async-imap calls it per server challenge):
/// the first message once, then the failure reply, keeping what the server said.
pub struct Exchange {
    first: Option<Vec<u8>>,
    mechanism: Mechanism,
    pub server_error: Option<String>,
}

impl Exchange {
    pub fn new(mechanism: Mechanism, first: Vec<u8>) -> Exchange {
        Exchange { first: Some(first), mechanism, server_error: None }
    }
}

impl async_imap::Authenticator for &mut Exchange {
    type Response = Vec<u8>;

    fn process(&mut self, challenge: &[u8]) -> Vec<u8> {
        match self.first.take() {
            Some(first) => first,
            None => {
                self.server_error = Some(server_said(challenge));
                failure_reply(self.mechanism).to_vec()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offered(list: &str) -> Vec<String> {
        list.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn oauthbearer_is_preferred_and_xoauth2_is_the_fallback() {
        assert_eq!(choose(&offered("PLAIN XOAUTH2 OAUTHBEARER"), None), Ok(Mechanism::Oauthbearer));
        assert_eq!(choose(&offered("PLAIN xoauth2"), None), Ok(Mechanism::Xoauth2));
        assert_eq!(choose(&[], None), Ok(Mechanism::Xoauth2));
        assert!(choose(&offered("PLAIN LOGIN"), None).unwrap_err().contains("offers SASL PLAIN LOGIN"));
        assert_eq!(choose(&offered("XOAUTH2 OAUTHBEARER"), Some(Mechanism::Xoauth2)), Ok(Mechanism::Xoauth2));
        assert!(choose(&offered("XOAUTH2"), Some(Mechanism::Oauthbearer)).unwrap_err().contains("oauth2_mechanism"));
    }

    #[test]
    fn messages_follow_the_two_formats() {
        let t = Secret::new("tok");
        assert_eq!(first_message(Mechanism::Xoauth2, "a@b", &t, "h", 993), b"user=a@b\x01auth=Bearer tok\x01\x01");
        assert_eq!(
            first_message(Mechanism::Oauthbearer, "a,=b", &t, "mail.example.com", 993),
            b"n,a=a=2C=3Db,\x01host=mail.example.com\x01port=993\x01auth=Bearer tok\x01\x01"
        );
        assert_eq!(failure_reply(Mechanism::Oauthbearer), b"\x01");
        assert_eq!(server_said(b"{\"status\":\"invalid_token\"}\x01"), "{\"status\":\"invalid_token\"}");
        assert_eq!(scrub("echo tok here", &t), "echo **** here");
    }
}
