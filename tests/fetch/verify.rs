//! "Verify connection" against the real test Dovecot and against servers that misbehave:
//! every stage reported, failures named by stage with the server's words, always bounded.

use crate::support;
use crate::support::{Dovecot, MailUser};
use rebound::config::{MailboxConfig, Protocol, Secret, Security};
use rebound::fetch::{ErrorKind, Stage, VerifyReport, verify};
use std::process::Command;
use std::time::{Duration, Instant};

fn cfg(d: &Dovecot, user: &MailUser, protocol: Protocol, security: Security) -> MailboxConfig {
    let port = match (protocol, security) {
        (Protocol::Imap, Security::Ssl) => d.imaps_port,
        (Protocol::Imap, Security::Starttls) => d.imap_port,
        (Protocol::Imap, Security::None) => d.plain_imap_port,
        (Protocol::Pop3, Security::Ssl) => d.pop3s_port,
        (Protocol::Pop3, Security::Starttls) => d.pop3_port,
        (Protocol::Pop3, Security::None) => d.plain_pop3_port,
    };
    d.mailbox(user, protocol, security, port)
}

fn stages(r: &VerifyReport) -> Vec<Stage> {
    r.stages.iter().map(|s| s.stage).collect()
}

fn failed(r: &VerifyReport) -> (Stage, ErrorKind, String) {
    let f = r.failure.as_ref().unwrap_or_else(|| panic!("expected a failure:\n{r}"));
    assert!(!r.ok);
    assert_eq!(r.stages.last().map(|s| (s.stage, s.ok)), Some((f.stage, false)), "{r}");
    (f.stage, f.kind, f.detail.clone())
}

#[tokio::test]
async fn every_protocol_and_security_passes_every_stage() {
    let d = Dovecot::get();
    let user = d.add_user();
    user.deliver("INBOX", &support::sample_message("verify-me", "x"));
    for protocol in [Protocol::Imap, Protocol::Pop3] {
        for security in [Security::Ssl, Security::Starttls, Security::None] {
            let r = verify(&cfg(&d, &user, protocol, security), &user.secret()).await;
            assert!(r.ok && r.failure.is_none(), "{protocol} {security}:\n{r}");
            let mut want = vec![Stage::Dns, Stage::Connect];
            match (protocol, security) {
                (_, Security::Ssl) => want.extend([Stage::Tls, Stage::Greeting]),
                (Protocol::Imap, Security::Starttls) => want.extend([Stage::Greeting, Stage::Tls]),
                (Protocol::Pop3, Security::Starttls) => want.extend([Stage::Greeting, Stage::Tls]),
                (_, Security::None) => want.push(Stage::Greeting),
            }
            match protocol {
                Protocol::Imap => want.extend([Stage::Login, Stage::Capabilities]),
                Protocol::Pop3 => want.extend([Stage::Capabilities, Stage::Login]),
            }
            want.extend([Stage::Select, Stage::Delete, Stage::Logout]);
            assert_eq!(stages(&r), want, "{protocol} {security}:\n{r}");
            let json = serde_json::to_value(&r).unwrap();
            if security != Security::None {
                let tls = json["stages"].as_array().unwrap().iter().find(|s| s["stage"] == "tls").unwrap();
                assert_eq!(tls["facts"]["verified"], true, "{json}");
                assert_eq!(tls["facts"]["issuer"], "CN=rebound test CA", "{json}");
                assert!(tls["facts"]["not_after"].as_str().unwrap().starts_with("20"), "{json}");
            }
            let select = &r.stages[r.stages.len() - 3];
            assert!(select.summary.contains("1 message"), "{r}");
        }
    }
    let r = verify(&cfg(&d, &user, Protocol::Imap, Security::Ssl), &user.secret()).await;
    let caps = &r.stages.iter().find(|s| s.stage == Stage::Capabilities).unwrap().facts;
    assert_eq!(
        (caps["idle"].as_bool(), caps["move"].as_bool(), caps["uidplus"].as_bool()),
        (Some(true), Some(true), Some(true))
    );
    assert!(r.to_string().contains("result: OK"), "{r}");
}

#[tokio::test]
async fn wrong_password_fails_at_login_with_the_server_words() {
    let d = Dovecot::get();
    let user = d.add_user();
    let wrong = Secret::new("not-the-password");
    let r = verify(&cfg(&d, &user, Protocol::Imap, Security::Ssl), &wrong).await;
    let (stage, kind, detail) = failed(&r);
    assert_eq!((stage, kind), (Stage::Login, ErrorKind::Rejected));
    assert_eq!(detail, "[AUTHENTICATIONFAILED] Authentication failed.");
    let hint = &r.failure.as_ref().unwrap().hint;
    assert_eq!(
        hint,
        "login rejected by server: [AUTHENTICATIONFAILED] Authentication failed.; check username/password"
    );

    let r = verify(&cfg(&d, &user, Protocol::Pop3, Security::Starttls), &wrong).await;
    let (stage, kind, detail) = failed(&r);
    assert_eq!((stage, kind), (Stage::Login, ErrorKind::Rejected));
    assert!(detail.contains("Authentication failed"), "{r}");
}

#[tokio::test]
async fn unknown_host_fails_at_dns() {
    let d = Dovecot::get();
    let user = d.add_user();
    let mut c = cfg(&d, &user, Protocol::Pop3, Security::Ssl);
    c.host = "no-such-host.invalid".into();
    let r = verify(&c, &user.secret()).await;
    let (stage, _, _) = failed(&r);
    assert_eq!(stage, Stage::Dns, "{r}");
    assert!(r.failure.unwrap().hint.contains("check the host name"));
}

#[tokio::test]
async fn wrong_port_fails_at_connect() {
    let d = Dovecot::get();
    let user = d.add_user();
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut c = cfg(&d, &user, Protocol::Imap, Security::Ssl);
    c.host = "127.0.0.1".into();
    c.port = free;
    let r = verify(&c, &user.secret()).await;
    let (stage, _, detail) = failed(&r);
    assert_eq!(stage, Stage::Connect);
    assert!(detail.contains("connection refused"), "{r}");
    assert!(r.failure.unwrap().hint.contains("check host and port"));
}

#[tokio::test]
async fn untrusted_certificate_fails_at_tls_unless_told_not_to_check() {
    let d = Dovecot::get();
    let user = d.add_user();
    for protocol in [Protocol::Imap, Protocol::Pop3] {
        let mut c = cfg(&d, &user, protocol, Security::Ssl);
        c.ca_file = None;
        let r = verify(&c, &user.secret()).await;
        let (stage, kind, detail) = failed(&r);
        assert_eq!((stage, kind), (Stage::Tls, ErrorKind::Certificate), "{r}");
        assert!(detail.starts_with("certificate verify failed"), "{r}");
        let tls = r.stages.last().unwrap();
        assert_eq!(tls.facts["presented"]["issuer"], "CN=rebound test CA", "{r}");
        assert!(tls.summary.contains("the server presents CN=localhost"), "{r}");
        assert!(r.failure.unwrap().hint.contains("ca_file"));

        c.verify_certificate = false;
        let r = verify(&c, &user.secret()).await;
        assert!(r.ok, "{r}");
        let tls = r.stages.iter().find(|s| s.stage == Stage::Tls).unwrap();
        assert_eq!(tls.facts["verified"], false);
        assert!(tls.summary.contains("NOT verified"), "{r}");
    }
}

#[tokio::test]
async fn implicit_tls_on_a_plaintext_port_says_so() {
    let d = Dovecot::get();
    let user = d.add_user();
    let c = d.mailbox(&user, Protocol::Imap, Security::Ssl, d.imap_port);
    let r = verify(&c, &user.secret()).await;
    let (stage, _, detail) = failed(&r);
    assert_eq!(stage, Stage::Tls, "{r}");
    assert!(detail.contains("plaintext first"), "{r}");
    assert!(r.failure.unwrap().hint.contains("security matches the port"));
}

#[tokio::test]
async fn starttls_not_offered_is_named_as_such() {
    let d = Dovecot::get();
    let user = d.add_user();
    for (protocol, port) in [(Protocol::Imap, d.plain_imap_port), (Protocol::Pop3, d.plain_pop3_port)] {
        let c = d.mailbox(&user, protocol, Security::Starttls, port);
        let r = verify(&c, &user.secret()).await;
        let (stage, kind, detail) = failed(&r);
        assert_eq!((stage, kind), (Stage::Tls, ErrorKind::NotOffered), "{r}");
        assert!(detail.contains("does not offer"), "{r}");
        assert!(r.failure.unwrap().hint.contains("security = \"ssl\""));
    }
}

#[tokio::test]
async fn a_silent_server_times_out_at_greeting_quickly() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    // Accepts and says nothing, keeping every connection open.
    let server = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    let d = Dovecot::get();
    let user = d.add_user();
    for protocol in [Protocol::Imap, Protocol::Pop3] {
        let mut c = d.mailbox(&user, protocol, Security::None, port);
        c.ca_file = None;
        c.host = "127.0.0.1".into();
        c.timeout_seconds = 1;
        let started = Instant::now();
        let r = verify(&c, &user.secret()).await;
        assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
        let (stage, kind, _) = failed(&r);
        assert_eq!((stage, kind), (Stage::Greeting, ErrorKind::Timeout), "{r}");
        assert!(r.failure.unwrap().hint.contains("sent no greeting"));
    }
    server.abort();
}

fn rebound(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rebound"));
    cmd.args(args).env_remove("REBOUND_CONFIG");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run rebound")
}

#[test]
fn cli_verify_exit_codes_and_json() {
    let d = Dovecot::get();
    let user = d.add_user();
    let port = d.imaps_port.to_string();
    let ca = d.ca_file.display().to_string();
    let base = ["verify", "--protocol", "imap", "--host", "localhost", "--port", &port, "--username", &user.name];
    let mut args: Vec<&str> = base.to_vec();
    args.extend(["--password-env", "REBOUND_TEST_MAILBOX_PW", "--ca-file", &ca, "--json"]);
    let ok = rebound(&args, &[("REBOUND_TEST_MAILBOX_PW", &user.password)]);
    assert_eq!(ok.status.code(), Some(0), "{}", String::from_utf8_lossy(&ok.stderr));
    let report: serde_json::Value = serde_json::from_slice(&ok.stdout).expect("JSON report");
    assert_eq!(report["ok"], true);
    assert!(!String::from_utf8_lossy(&ok.stdout).contains(&user.password), "the password must never be printed");

    let bad = rebound(&args, &[("REBOUND_TEST_MAILBOX_PW", "wrong")]);
    assert_eq!(bad.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&bad.stdout).expect("JSON report");
    assert_eq!(report["failure"]["stage"], "login");

    // The human rendering of a mailbox from the config file, by name.
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("rebound.toml");
    let entry = format!(
        "[[mailbox]]\nname = \"fbl-main\"\nprotocol = \"pop3\"\nhost = \"localhost\"\nport = {}\nusername = \"{}\"\n\
         password_env = \"REBOUND_TEST_MAILBOX_PW\"\nca_file = \"{ca}\"\n",
        d.pop3s_port, user.name
    );
    std::fs::write(&conf, entry).unwrap();
    let conf = conf.display().to_string();
    let named = rebound(&["--config", &conf, "verify", "fbl-main"], &[("REBOUND_TEST_MAILBOX_PW", &user.password)]);
    let text = String::from_utf8_lossy(&named.stdout);
    assert_eq!(named.status.code(), Some(0), "{text}{}", String::from_utf8_lossy(&named.stderr));
    assert!(text.contains("result: OK") && text.contains("maildrop"), "{text}");

    let unknown = rebound(&["--config", &conf, "verify", "nope"], &[("REBOUND_TEST_MAILBOX_PW", "x")]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("fbl-main"));

    let missing = rebound(&base, &[]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("--password-env"));
}
