//! `[[mailbox]]` entries: defaults per protocol and security, the legacy c-client host form,
//! and every problem of every entry reported at once with its key.

use rebound::config::{AfterProcessing, MailboxConfig, Protocol, Purpose, Security, load_str};

fn no_env() -> Vec<(String, String)> {
    Vec::new()
}

/// A password file for entries that need one (an env var would leak between parallel tests).
fn pw_file() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("pw");
    std::fs::write(&p, "secret\n").unwrap();
    let shown = p.display().to_string();
    (dir, shown)
}

fn one(entry: &str) -> MailboxConfig {
    let (_dir, pw) = pw_file();
    let text = format!("[[mailbox]]\nname = \"m\"\nusername = \"u\"\npassword_file = \"{pw}\"\n{entry}");
    let mut cfg = load_str("t.toml", &text, no_env()).unwrap_or_else(|e| panic!("{e}"));
    cfg.mailbox.remove(0)
}

#[test]
fn defaults_follow_protocol_and_security() {
    let m = one("protocol = \"imap\"\nhost = \"mail.example.com\"\n");
    assert_eq!((m.port, m.security, m.verify_certificate), (993, Security::Ssl, true));
    assert_eq!(m.purpose, Purpose::Bounce);
    assert_eq!(m.folders, ["INBOX"]);
    assert_eq!(m.after_processing, AfterProcessing::Keep);
    assert_eq!(m.schedule, "*/5 * * * *");
    assert!(m.enabled && !m.idle);
    assert_eq!((m.max_messages_per_poll, m.max_message_bytes, m.timeout_seconds), (500, 10 * 1024 * 1024, 30));

    assert_eq!(one("protocol = \"imap\"\nhost = \"h\"\nsecurity = \"starttls\"\n").port, 143);
    assert_eq!(one("protocol = \"pop3\"\nhost = \"h\"\n").port, 995);
    assert_eq!(one("protocol = \"pop3\"\nhost = \"h\"\nsecurity = \"none\"\n").port, 110);
    assert_eq!(one("protocol = \"pop3\"\nhost = \"h\"\nsecurity = \"starttls\"\nport = 1110\n").port, 1110);
    let m = one(
        "protocol = \"imap\"\nhost = \"h\"\nafter_processing = \"move:Processed\"\nfolders = [\"INBOX\", \"FBL\"]\n",
    );
    assert_eq!(m.after_processing, AfterProcessing::Move("Processed".into()));
    assert_eq!(m.folders, ["INBOX", "FBL"]);
}

#[test]
fn legacy_cclient_host_fills_protocol_port_and_security() {
    let m = one("host = \"{mail.example.com:995/pop3/ssl/novalidate-cert}INBOX\"\n");
    assert_eq!(m.host, "mail.example.com");
    assert_eq!((m.protocol, m.port, m.security, m.verify_certificate), (Protocol::Pop3, 995, Security::Ssl, false));

    let m = one("host = \"mail.example.com:143/imap/tls\"\n");
    assert_eq!((m.protocol, m.port, m.security, m.verify_certificate), (Protocol::Imap, 143, Security::Starttls, true));
    let m = one("host = \"{imap.example.com/imap/ssl}Bounces\"\n");
    assert_eq!((m.port, m.folders.clone()), (993, vec!["Bounces".to_string()]));
    // Explicit keys that agree with the legacy form are fine.
    let m = one("host = \"h:995/pop3/ssl\"\nprotocol = \"pop3\"\nport = 995\n");
    assert_eq!(m.port, 995);
}

#[test]
fn legacy_form_disagreeing_with_explicit_keys_is_a_problem() {
    let (_dir, pw) = pw_file();
    let text = format!(
        "[[mailbox]]\nname = \"m\"\nusername = \"u\"\npassword_file = \"{pw}\"\n\
         host = \"h:995/pop3/ssl/novalidate-cert\"\nprotocol = \"imap\"\nport = 993\nverify_certificate = true\n"
    );
    let err = load_str("t.toml", &text, no_env()).unwrap_err();
    let keys: Vec<_> = err.problems.iter().map(|p| p.key.as_str()).collect();
    for k in ["mailbox[0].protocol", "mailbox[0].port", "mailbox[0].verify_certificate"] {
        assert!(keys.contains(&k), "missing {k} in {err}");
    }
    assert!(err.to_string().contains("host says `pop3`"), "{err}");
}

#[test]
fn every_problem_of_every_mailbox_is_reported_with_its_key() {
    let (_dir, pw) = pw_file();
    let text = format!(
        r#"
[[mailbox]]
name = "Bad Name"
protocol = "imap"
host = "mail.example.com"
port = "nine"
username = "u"
password_file = "{pw}"
schedule = "61 * * * *"
timeout_seconds = 0
colour = "blue"

[[mailbox]]
name = "pop"
protocol = "pop3"
host = "h"
username = "u"
password_env = "REBOUND_TEST_SURELY_UNSET_MAILBOX_PW"
after_processing = "seen"
idle = true
folders = ["Junk"]

[[mailbox]]
name = "pop"
host = "h"
username = "u"
password_file = "{pw}"
after_processing = "archive"
"#
    );
    let err = load_str("t.toml", &text, no_env()).unwrap_err();
    let keys: Vec<_> = err.problems.iter().map(|p| p.key.as_str()).collect();
    for k in [
        "mailbox[0].name",
        "mailbox[0].port",
        "mailbox[0].schedule",
        "mailbox[0].timeout_seconds",
        "mailbox[0].colour",
        "mailbox[1].password_env",
        "mailbox[1].after_processing",
        "mailbox[1].idle",
        "mailbox[1].folders",
        "mailbox[2].after_processing",
        "mailbox[2].protocol",
    ] {
        assert!(keys.contains(&k), "missing {k} in {err}");
    }
    let shown = err.to_string();
    assert!(shown.contains("REBOUND_TEST_SURELY_UNSET_MAILBOX_PW is not set"), "{shown}");
    assert!(shown.contains("move:FOLDER"), "{shown}");
}

#[test]
fn duplicate_names_are_reported() {
    let (_dir, pw) = pw_file();
    let entry = format!(
        "[[mailbox]]\nname = \"a\"\nprotocol = \"imap\"\nhost = \"h\"\nusername = \"u\"\npassword_file = \"{pw}\"\n"
    );
    let err = load_str("t.toml", &format!("{entry}{entry}"), no_env()).unwrap_err();
    assert_eq!(err.problems.len(), 1, "{err}");
    assert_eq!(err.problems[0].key, "mailbox[1].name");
}

#[test]
fn environment_overrides_reach_mailboxes_and_disabled_ones_need_no_secret_yet() {
    let text = "[[mailbox]]\nname = \"a\"\nprotocol = \"imap\"\nhost = \"h\"\nusername = \"u\"\n\
                password_env = \"REBOUND_TEST_SURELY_UNSET_MAILBOX_PW\"\nenabled = false\n";
    let env = vec![("REBOUND__MAILBOX__0__PORT".to_string(), "1993".to_string())];
    let cfg = load_str("t.toml", text, env).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cfg.mailbox[0].port, 1993);
    assert!(!cfg.mailbox[0].enabled);
}

fn problems(text: &str) -> Vec<(String, String)> {
    let err = load_str("t.toml", text, no_env()).unwrap_err();
    err.problems.into_iter().map(|p| (p.key, p.message)).collect()
}

fn has(problems: &[(String, String)], key: &str, words: &str) -> bool {
    problems.iter().any(|(k, m)| k == key && m.contains(words))
}

/// `auth = "oauth2"`: both flows, the c-client host form still works, the effective config
/// (check-config, stored settings) is flat and shows no secret, every mistake is named.
#[test]
fn oauth2_entries_follow_their_flow_and_report_every_mistake() {
    use rebound::config::{Auth, Flow, Mechanism};
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("client-secret");
    std::fs::write(&secret, "s3cr3t-value\n").unwrap();
    let text = format!(
        "[[mailbox]]\nname = \"m365\"\nhost = \"{{outlook.office365.com:993/imap/ssl}}INBOX\"\nusername = \"b@example.com\"\n\
         auth = \"oauth2\"\noauth2_token_url = \"https://login.microsoftonline.com/t/oauth2/v2.0/token\"\n\
         oauth2_client_id = \"app\"\noauth2_client_secret_file = \"{}\"\noauth2_scope = \"https://outlook.office365.com/.default\"\n",
        secret.display()
    );
    let cfg = load_str("t.toml", &text, no_env()).unwrap_or_else(|e| panic!("{e}"));
    let m = &cfg.mailbox[0];
    assert_eq!((m.auth, m.protocol, m.port, m.security), (Auth::OAuth2, Protocol::Imap, 993, Security::Ssl));
    let o = m.oauth2.as_ref().unwrap();
    assert_eq!((o.flow(), o.oauth2_mechanism), (Flow::ClientCredentials, None));
    assert_eq!(o.secrets("m").unwrap().client_secret.unwrap().expose(), "s3cr3t-value");
    let shown = cfg.to_masked_toml();
    assert!(shown.contains("auth = \"oauth2\"") && shown.contains("oauth2_client_id = \"app\""), "{shown}");
    assert!(!shown.contains("s3cr3t-value") && !shown.contains("[mailbox.oauth2]"), "{shown}");
    let stored = rebound::mailbox::repo::settings_of(m);
    assert_eq!(
        stored.get("oauth2_token_url").and_then(|v| v.as_str()),
        m.oauth2.as_ref().map(|o| o.oauth2_token_url.as_str())
    );
    // Stored settings read back to the same mailbox.
    let mut again = stored.clone();
    again.insert("name".into(), "m365".into());
    assert_eq!(&MailboxConfig::from_value(toml::Value::Table(again), "x").unwrap(), m);

    // The refresh-token flow (Google), client secret optional there, a mechanism forced.
    let google = format!(
        "[[mailbox]]\nname = \"g\"\nprotocol = \"imap\"\nhost = \"imap.gmail.com\"\nusername = \"f@example.com\"\n\
         auth = \"oauth2\"\noauth2_token_url = \"https://oauth2.googleapis.com/token\"\noauth2_client_id = \"c\"\n\
         oauth2_refresh_token_file = \"{}\"\noauth2_mechanism = \"xoauth2\"\n",
        secret.display()
    );
    let g = load_str("t.toml", &google, no_env()).unwrap_or_else(|e| panic!("{e}")).mailbox.remove(0);
    let o = g.oauth2.unwrap();
    assert_eq!((o.flow(), o.oauth2_mechanism), (Flow::RefreshToken, Some(Mechanism::Xoauth2)));
    // A password mailbox serialises as before: no auth key, no oauth2 keys.
    let plain = rebound::mailbox::repo::settings_of(&one("protocol = \"imap\"\nhost = \"h\"\n"));
    assert!(!plain.contains_key("auth") && !plain.keys().any(|k| k.starts_with("oauth2")), "{plain:?}");

    let p = problems(
        "[[mailbox]]\nname = \"a\"\nprotocol = \"imap\"\nhost = \"h\"\nusername = \"u\"\nauth = \"oauth2\"\n\
         password_env = \"X\"\noauth2_token_url = \"http://login.example.com/token\"\noauth2_scope = \"\"\n\
         [[mailbox]]\nname = \"b\"\nprotocol = \"imap\"\nhost = \"h\"\nusername = \"u\"\nauth = \"oauth2\"\n\
         oauth2_client_id = \"c\"\noauth2_client_secret_env = \"REBOUND_TEST_SURELY_UNSET_SECRET\"\n\
         [[mailbox]]\nname = \"c\"\nprotocol = \"imap\"\nhost = \"h\"\nusername = \"u\"\npassword_env = \"X\"\n\
         oauth2_client_id = \"c\"\nauth = \"token\"\n",
    );
    assert!(has(&p, "mailbox[0].password_env", "not used with auth = \"oauth2\""), "{p:?}");
    assert!(has(&p, "mailbox[0].oauth2_token_url", "use https"), "{p:?}");
    assert!(has(&p, "mailbox[0].oauth2_client_id", "missing"), "{p:?}");
    assert!(has(&p, "mailbox[0].oauth2_scope", "is empty"), "{p:?}");
    assert!(has(&p, "mailbox[0].oauth2_client_secret_env", "client-credentials flow"), "{p:?}");
    assert!(has(&p, "mailbox[1].oauth2_token_url", "missing"), "{p:?}");
    assert!(has(&p, "mailbox[1].oauth2_client_secret_env", "REBOUND_TEST_SURELY_UNSET_SECRET is not set"), "{p:?}");
    assert!(has(&p, "mailbox[2].auth", "unknown variant"), "{p:?}");
    let q = problems(
        "[[mailbox]]\nname = \"c\"\nprotocol = \"imap\"\nhost = \"h\"\nusername = \"u\"\npassword_env = \"X\"\n\
         oauth2_client_id = \"c\"\n",
    );
    assert!(has(&q, "mailbox[0].oauth2_client_id", "only used with auth = \"oauth2\""), "{q:?}");
}
