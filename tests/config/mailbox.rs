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
