//! OAuth2 mailbox login against the real test Dovecot (its oauth2 passdb asks the local
//! stand-in provider about each token): XOAUTH2 and OAUTHBEARER over IMAP and POP3, both
//! flows, the cache, one renewal after a refusal, the token stage of verify, and no token or
//! secret in any log line, error or report.

use crate::support::oauth::{Client, provider};
use crate::support::{Dovecot, MailUser, sample_message};
use base64::Engine;
use rebound::config::{MailboxConfig, Mechanism, Protocol, Security};
use rebound::fetch::{Credentials, ErrorKind, Session, Stage, VerifyReport, verify};
use std::time::Duration;

fn tls_port(d: &Dovecot, protocol: Protocol) -> u16 {
    match protocol {
        Protocol::Imap => d.imaps_port,
        Protocol::Pop3 => d.pop3s_port,
    }
}

/// A fresh mail user with one message, a client of the stand-in for it, and its mailbox.
fn setup(protocol: Protocol, refresh: bool, mechanism: Option<Mechanism>) -> (MailUser, Client, MailboxConfig) {
    let d = Dovecot::get();
    let user = d.add_user();
    user.deliver("INBOX", &sample_message(&format!("{}-oauth", user.name), "hello"));
    let client = provider().client(&user.name);
    let cfg = client.mailbox(d.mailbox(&user, protocol, Security::Ssl, tls_port(&d, protocol)), refresh, mechanism);
    (user, client, cfg)
}

fn login(cfg: &MailboxConfig) -> Credentials {
    Credentials::of(cfg, "mailbox").unwrap_or_else(|e| panic!("{e}"))
}

fn summary(r: &VerifyReport, stage: Stage) -> String {
    r.stages.iter().find(|s| s.stage == stage).map(|s| s.summary.clone()).unwrap_or_else(|| panic!("no {stage}:\n{r}"))
}

#[tokio::test]
async fn both_mechanisms_log_in_over_imap_and_pop3() {
    for protocol in [Protocol::Imap, Protocol::Pop3] {
        for (wanted, used) in [
            (None, "OAUTHBEARER"),
            (Some(Mechanism::Xoauth2), "XOAUTH2"),
            (Some(Mechanism::Oauthbearer), "OAUTHBEARER"),
        ] {
            let (_user, client, cfg) = setup(protocol, false, wanted);
            let what = format!("{protocol} {wanted:?}");
            let r = verify(&cfg, login(&cfg)).await;
            assert!(r.ok, "{what}:\n{r}");
            let stages: Vec<Stage> = r.stages.iter().map(|s| s.stage).collect();
            let (token, at) =
                (stages.iter().position(|s| *s == Stage::Token), stages.iter().position(|s| *s == Stage::Login));
            assert!(token.is_some() && token < at, "{what}: token before login: {stages:?}");
            assert!(summary(&r, Stage::Login).contains(&format!("({used})")), "{what}:\n{r}");
            assert!(
                summary(&r, Stage::Token).contains("token from http://127.0.0.1:")
                    && summary(&r, Stage::Token).contains("(client credentials flow"),
                "{what}:\n{r}"
            );
            // A real session: the message is there, and the token came from the cache.
            let mut src = Session::open(&cfg, &login(&cfg)).await.unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!(src.list().await.unwrap().len(), 1, "{what}");
            src.close().await.unwrap();
            assert_eq!(client.token_requests(), 1, "{what}: the second login used the cached token");
            assert_eq!(client.grants(), ["client_credentials"], "{what}");
        }
    }
}

#[tokio::test]
async fn the_refresh_token_flow_logs_in() {
    for protocol in [Protocol::Imap, Protocol::Pop3] {
        let (_user, client, cfg) = setup(protocol, true, None);
        let r = verify(&cfg, login(&cfg)).await;
        assert!(r.ok, "{protocol}:\n{r}");
        assert!(summary(&r, Stage::Token).contains("(refresh token flow, expires in 3600 s)"), "{r}");
        assert_eq!(client.grants(), ["refresh_token"]);
    }
}

#[tokio::test]
async fn a_refused_cached_token_is_renewed_once_and_then_works() {
    for protocol in [Protocol::Imap, Protocol::Pop3] {
        let (_user, client, cfg) = setup(protocol, false, None);
        Session::open(&cfg, &login(&cfg)).await.unwrap().close().await.unwrap();
        client.revoke_tokens();
        let r = verify(&cfg, login(&cfg)).await;
        assert!(r.ok, "{protocol}: a revoked cached token is replaced:\n{r}");
        assert!(summary(&r, Stage::Token).contains("from memory"), "{r}");
        assert!(summary(&r, Stage::Login).contains("after renewing a refused token"), "{r}");
        assert_eq!(client.token_requests(), 2, "{protocol}");
        // The renewed token is cached in turn.
        Session::open(&cfg, &login(&cfg)).await.unwrap().close().await.unwrap();
        assert_eq!(client.token_requests(), 2, "{protocol}");

        // Revoked again, and the client too: one renewal, refused at the token stage.
        client.revoke_tokens();
        client.revoke_client();
        let e = Session::open(&cfg, &login(&cfg)).await.err().expect("the client is revoked");
        assert_eq!((e.stage, e.kind), (Stage::Token, ErrorKind::Rejected), "{e}");
        assert!(e.detail.contains("invalid_client"), "{e}");
        assert_eq!(client.token_requests(), 3, "{protocol}: renewed once, not in a loop");
    }
}

#[tokio::test]
async fn a_token_the_server_refuses_at_once_is_not_asked_for_again() {
    for protocol in [Protocol::Imap, Protocol::Pop3] {
        let (_user, client, mut cfg) = setup(protocol, false, None);
        // Tokens of this client name another user: Dovecot refuses them for this one.
        cfg.username = Dovecot::get().add_user().name;
        let r = verify(&cfg, login(&cfg)).await;
        let f = r.failure.as_ref().unwrap_or_else(|| panic!("must fail:\n{r}"));
        assert_eq!((f.stage, f.kind), (Stage::Login, ErrorKind::Rejected), "{r}");
        assert!(f.detail.contains("refused the OAuth2 token"), "{r}");
        assert!(f.hint.contains("oauth2_scope"), "{}", f.hint);
        assert_eq!(client.token_requests(), 1, "{protocol}: a token just issued is not renewed");
    }
}

#[tokio::test]
async fn an_expiring_token_is_replaced_before_it_is_used() {
    let (_user, client, cfg) = setup(Protocol::Imap, false, None);
    client.set_expires_in(2);
    Session::open(&cfg, &login(&cfg)).await.unwrap().close().await.unwrap();
    // Kept for half its two seconds, then replaced without a refused login.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let r = verify(&cfg, login(&cfg)).await;
    assert!(r.ok && !summary(&r, Stage::Login).contains("renewing"), "{r}");
    assert!(summary(&r, Stage::Token).contains("expires in 2 s"), "{r}");
    assert_eq!(client.token_requests(), 2);
    assert_eq!(client.introspections(), 2, "each token was shown to the server once");
}

#[tokio::test]
async fn verify_names_the_token_stage_with_the_endpoints_words() {
    for protocol in [Protocol::Imap, Protocol::Pop3] {
        let (_user, client, cfg) = setup(protocol, false, None);
        client.revoke_client();
        let r = verify(&cfg, login(&cfg)).await;
        let f = r.failure.as_ref().unwrap_or_else(|| panic!("must fail:\n{r}"));
        assert_eq!((f.stage, f.kind), (Stage::Token, ErrorKind::Rejected), "{r}");
        for words in [client.token_url().as_str(), "HTTP 401", "invalid_client", "AADSTS7000215: Invalid client secret"]
        {
            assert!(f.detail.contains(words), "`{words}` in {}", f.detail);
        }
        assert!(f.hint.contains("oauth2_client_id") && f.hint.contains("client secret"), "{}", f.hint);
        let json = serde_json::to_value(&r).unwrap();
        let stage = json["stages"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(stage["facts"]["http_status"], 401, "{stage}");
        assert_eq!(stage["facts"]["error"], "invalid_client", "{stage}");
        assert!(stage["facts"]["error_description"].as_str().unwrap().contains("AADSTS7000215"), "{stage}");
        assert!(!r.stages.iter().any(|s| s.stage == Stage::Login), "no login is tried without a token: {r}");
        assert!(!json.to_string().contains(&client.secret), "the client secret is not in the report");
    }
    // A refresh token the endpoint no longer honours: invalid_grant, and what to do.
    let (_user, client, cfg) = setup(Protocol::Imap, true, None);
    let mut oauth2 = cfg.oauth2.clone().unwrap();
    oauth2.inline_refresh_token = Some(rebound::config::Secret::new("refresh-revoked"));
    let cfg = MailboxConfig { oauth2: Some(oauth2), ..cfg };
    let r = verify(&cfg, login(&cfg)).await;
    let f = r.failure.as_ref().unwrap();
    assert_eq!(f.stage, Stage::Token, "{r}");
    assert!(f.detail.contains("HTTP 400, invalid_grant: Token has been expired or revoked."), "{}", f.detail);
    assert!(f.hint.contains("authorize the app again"), "{}", f.hint);
    assert!(!format!("{r}{}", serde_json::to_string(&r).unwrap()).contains("refresh-revoked"));
    let _ = client;
    // An endpoint that is not there.
    let (_user, _client, cfg) = setup(Protocol::Pop3, false, None);
    let mut oauth2 = cfg.oauth2.clone().unwrap();
    oauth2.oauth2_token_url = "http://127.0.0.1:9/token".into();
    let cfg = MailboxConfig { oauth2: Some(oauth2), ..cfg };
    let r = verify(&cfg, login(&cfg)).await;
    let f = r.failure.as_ref().unwrap();
    assert_eq!((f.stage, f.kind), (Stage::Token, ErrorKind::Network), "{r}");
    assert!(f.hint.contains("cannot reach the token endpoint"), "{}", f.hint);
}

fn rebound(conf: &std::path::Path, args: &[&str], env: &[(&str, &str)], rust_log: Option<&str>) -> (bool, String) {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_rebound"));
    cmd.arg("--config").arg(conf).args(args).env_remove("RUST_LOG");
    for (k, v) in env {
        cmd.env(k, v);
    }
    if let Some(v) = rust_log {
        cmd.env("RUST_LOG", v);
    }
    let out = cmd.output().expect("run rebound");
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// `rebound verify` and `rebound poll` at trace level, both protocols and flows, a login
/// that renews a refused token and one refused at the token stage: the output shows the
/// logins happened and never a token, the client secret, the refresh token or the SASL
/// messages carrying them.
#[test]
fn no_log_level_shows_a_token_or_a_secret() {
    let d = Dovecot::get();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("rebound.db");
    let mut text = format!("[database]\nurl = \"sqlite://{}\"\n\n[log]\nlevel = \"trace\"\n", db.display());
    let mut env: Vec<(String, String)> = Vec::new();
    let mut clients = Vec::new();
    for (i, (protocol, refresh)) in [(Protocol::Imap, false), (Protocol::Pop3, true)].into_iter().enumerate() {
        let user = d.add_user();
        user.deliver("INBOX", &sample_message(&format!("{}-trace", user.name), "hello"));
        let client = provider().client(&user.name);
        let port = tls_port(&d, protocol);
        text.push_str(&format!(
            "\n[[mailbox]]\nname = \"m{i}\"\nprotocol = \"{protocol}\"\nhost = \"localhost\"\nport = {port}\n\
             ca_file = \"{ca}\"\nusername = \"{u}\"\nauth = \"oauth2\"\noauth2_token_url = \"{url}\"\n\
             oauth2_client_id = \"{id}\"\noauth2_client_secret_env = \"REBOUND_TEST_SECRET_{i}\"\n",
            ca = d.ca_file.display(),
            u = user.name,
            url = client.token_url(),
            id = client.id,
        ));
        env.push((format!("REBOUND_TEST_SECRET_{i}"), client.secret.clone()));
        if refresh {
            let file = dir.path().join(format!("refresh-{i}"));
            std::fs::write(&file, format!("{}\n", client.refresh_token)).unwrap();
            text.push_str(&format!("oauth2_refresh_token_file = \"{}\"\n", file.display()));
        }
        clients.push((user, client, port));
    }
    let conf = dir.path().join("rebound.toml");
    std::fs::write(&conf, &text).unwrap();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let runs: Vec<Vec<&str>> = vec![vec!["verify", "m0"], vec!["verify", "m1"], vec!["poll", "m0"], vec!["poll", "m1"]];
    let mut seen = Vec::new();
    for rust_log in [None, Some("trace"), Some("trace,async_imap=trace,reqwest=trace,hyper=trace,oauth2=trace")] {
        for args in &runs {
            let (ok, out) = rebound(&conf, args, &env, rust_log);
            let what = format!("{args:?} RUST_LOG={rust_log:?}");
            assert!(ok, "{what}: {out}");
            assert!(
                out.contains("logged in as") && out.contains("token from"),
                "{what}: the log shows the login: {out}"
            );
            seen.push((what, out));
        }
    }
    // A refused client, at trace level too.
    clients[0].1.revoke_client();
    let (ok, out) = rebound(&conf, &["verify", "m0"], &env, Some("trace"));
    assert!(!ok && out.contains("invalid_client"), "{out}");
    seen.push(("revoked".into(), out));

    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    for (user, client, port) in &clients {
        let mut secrets = vec![client.secret.clone(), client.refresh_token.clone()];
        for token in client.issued() {
            let u = &user.name;
            secrets.push(b64(&format!("user={u}\x01auth=Bearer {token}\x01\x01")));
            secrets.push(b64(&format!("n,a={u},\x01host=localhost\x01port={port}\x01auth=Bearer {token}\x01\x01")));
            secrets.push(token);
        }
        assert!(secrets.len() > 4, "tokens were issued: {secrets:?}");
        for (what, out) in &seen {
            for s in &secrets {
                assert!(!out.contains(s.as_str()), "{what}: shows `{s}`:\n{out}");
            }
        }
    }
}

/// `rebound verify` for a mailbox not saved yet, from --auth oauth2 and the --oauth2-* flags;
/// a missing flag is named as a flag.
#[test]
fn cli_verify_takes_oauth2_flags() {
    let d = Dovecot::get();
    let user = d.add_user();
    let client = provider().client(&user.name);
    let (port, ca, url) = (d.pop3s_port.to_string(), d.ca_file.display().to_string(), client.token_url());
    let conf = std::path::Path::new("/nonexistent/rebound.toml");
    let mut args =
        vec!["verify", "--protocol", "pop3", "--host", "localhost", "--port", &port, "--username", &user.name];
    args.extend(["--ca-file", &ca, "--auth", "oauth2", "--oauth2-token-url", &url, "--json"]);
    args.extend(["--oauth2-client-secret-env", "REBOUND_TEST_CLIENT_SECRET"]);
    let env = [("REBOUND_TEST_CLIENT_SECRET", client.secret.as_str())];
    let (ok, out) = rebound(conf, &args, &env, None);
    assert!(!ok && out.contains("--oauth2-client-id") && out.contains("missing"), "{out}");
    args.extend(["--oauth2-client-id", &client.id, "--oauth2-mechanism", "xoauth2"]);
    let (ok, out) = rebound(conf, &args, &env, None);
    assert!(ok, "{out}");
    assert!(out.contains("\"stage\": \"token\"") && out.contains("(XOAUTH2)"), "{out}");
    assert!(!out.contains(&client.secret) && !client.issued().iter().any(|t| out.contains(t.as_str())), "{out}");
}
