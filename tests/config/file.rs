//! The config file contract: the example documents every key, every problem is reported.

use rebound::config::{AfterProcessing, Config, MailboxConfig, Protocol, Purpose, Security, load, load_str};
use std::path::Path;

fn no_env() -> Vec<(String, String)> {
    Vec::new()
}

#[test]
fn example_config_is_valid_and_equals_the_defaults() {
    let cfg = load(Path::new("config.example.toml")).expect("config.example.toml must be valid");
    assert_eq!(cfg, Config::default(), "config.example.toml drifted from the defaults in the code");
}

/// Every key the code knows (including optional ones, shown commented out) is documented.
#[test]
fn example_config_documents_every_key() {
    let text = std::fs::read_to_string("config.example.toml").unwrap();
    let mut all = Config::default();
    all.database.password_env = Some("X".into());
    all.database.password_file = Some("X".into());
    all.attribution.verp_secret_env = Some("X".into());
    all.attribution.verp_secret_file = Some("X".into());
    all.secrets.key_env = Some("X".into());
    all.secrets.key_file = Some("X".into());
    all.mailbox.push(MailboxConfig {
        name: "x".into(),
        purpose: Purpose::Bounce,
        protocol: Protocol::Imap,
        host: "x".into(),
        port: 993,
        security: Security::Ssl,
        verify_certificate: true,
        ca_file: Some("X".into()),
        username: "x".into(),
        // Not a valid combination with the password keys: only every key's name matters here.
        auth: rebound::config::Auth::OAuth2,
        oauth2: Some(rebound::config::OAuth2Config {
            oauth2_token_url: "X".into(),
            oauth2_client_id: "X".into(),
            oauth2_client_secret_env: Some("X".into()),
            oauth2_client_secret_file: Some("X".into()),
            oauth2_refresh_token_env: Some("X".into()),
            oauth2_refresh_token_file: Some("X".into()),
            oauth2_scope: Some("X".into()),
            oauth2_mechanism: Some(rebound::config::Mechanism::Xoauth2),
            inline_client_secret: None,
            inline_refresh_token: None,
        }),
        password_env: Some("X".into()),
        password_file: Some("X".into()),
        folders: vec!["INBOX".into()],
        after_processing: AfterProcessing::Keep,
        schedule: "*/5 * * * *".into(),
        idle: false,
        enabled: true,
        max_messages_per_poll: 500,
        max_message_bytes: 10,
        timeout_seconds: 30,
        lease_seconds: 30,
        inline_password: None,
    });
    // Every [[node]] key, optional ones set.
    let mut node = rebound::config::load_str(
        "t",
        "[[node]]\nname = \"x\"\ntarget = \"postfix\"\npath = \"/tmp/x\"\n",
        std::iter::empty(),
    )
    .unwrap()
    .node
    .remove(0);
    node.config_dir = Some("X".into());
    node.domain_path = Some("X".into());
    node.after_command = Some("X".into());
    all.node.push(node);
    // Every [[mta_log]] key, optional ones set.
    all.mta_log.push(rebound::config::MtaLogConfig {
        name: "x".into(),
        format: rebound::logs::Format::PowerMta,
        path: "/x".into(),
        node: Some("X".into()),
        utc_offset: "+00:00".into(),
        campaign_from: rebound::config::CampaignFrom::JobId,
        enabled: true,
    });
    // Every [[webhook]], [[alert]] (each criterion kind) and [alerts.*] key, optional ones set.
    all.webhook.push(rebound::config::WebhookConfig {
        name: "x".into(),
        url: "X".into(),
        events: vec!["X".into()],
        secret_env: Some("X".into()),
        secret_file: Some("X".into()),
        campaigns: vec!["X".into()],
        sending_domains: vec!["X".into()],
        enabled: true,
        batch: true,
        ordered: true,
        retry_hours: 1,
    });
    {
        use rebound::config::alert::{Criterion, EmailConfig, Metric, Per, PushoverConfig};
        let x = || Some("X".to_string());
        all.alert.push(rebound::config::AlertConfig {
            name: "x".into(),
            per: Per::Campaign,
            combine: "all".into(),
            criteria: vec![
                Criterion::Rate { metric: Metric::Bounce, window_minutes: 1, min_volume: 1, at_least: 0.5 },
                Criterion::Count { window_minutes: 1, at_least: 1, status: x(), reason: x(), rule: x(), text: x() },
                Criterion::MailboxFailing { polls: 1 },
                Criterion::NodeLagging { minutes: 1 },
            ],
            cooldown_minutes: 1,
            channels: vec!["X".into()],
            enabled: true,
        });
        all.alerts.web_url = x();
        all.alerts.pushover = Some(PushoverConfig {
            token_env: x(),
            token_file: x(),
            user_env: x(),
            user_file: x(),
            base_url: "X".into(),
            priority: 0,
        });
        all.alerts.email = Some(EmailConfig {
            host: "X".into(),
            port: 1,
            security: "X".into(),
            from: "X".into(),
            to: vec!["X".into()],
            username: x(),
            password_env: x(),
            password_file: x(),
        });
    }
    let rendered = toml::to_string(&all).unwrap();
    let mut section = String::new();
    for line in rendered.lines() {
        if let Some(s) = line.strip_prefix('[') {
            section = s.trim_end_matches(']').to_string();
            assert!(text.contains(&format!("[{section}]")), "section [{section}] is not documented");
        } else if let Some((key, _)) = line.split_once(" = ") {
            let documented = text.lines().any(|l| {
                let l = l.trim_start_matches('#').trim();
                l.starts_with(&format!("{key} =")) || l.starts_with(&format!("{key}="))
            });
            assert!(documented, "key {section}.{key} is not documented in config.example.toml");
        }
    }
}

#[test]
fn three_mistakes_are_all_reported_with_their_keys() {
    let text = r#"
[server]
listen = "not-an-address"
[database]
url = "mysql://db/rebound"
[log]
formatt = "json"
"#;
    let err = load_str("bad.toml", text, no_env()).unwrap_err();
    let keys: Vec<_> = err.problems.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(err.problems.len(), 3, "{err}");
    for k in ["server.listen", "database.url", "log.formatt"] {
        assert!(keys.contains(&k), "missing {k} in {err}");
    }
    let shown = err.to_string();
    assert!(shown.contains("3 problems") && shown.contains("127.0.0.1:8025"), "{shown}");
}

#[test]
fn type_errors_do_not_hide_later_keys() {
    let text = "[server]\nshutdown_grace_seconds = \"ten\"\nlisten = \"nope\"\n[database]\npool_size = -1\n";
    let err = load_str("bad.toml", text, no_env()).unwrap_err();
    let keys: Vec<_> = err.problems.iter().map(|p| p.key.as_str()).collect();
    assert!(keys.contains(&"server.shutdown_grace_seconds"), "{err}");
    assert!(keys.contains(&"server.listen"), "{err}");
    assert!(keys.contains(&"database.pool_size"), "{err}");
}

#[test]
fn environment_overrides_the_file() {
    let env = vec![
        ("REBOUND__DATABASE__URL".to_string(), "postgres://rebound@db.internal:5433/reb".to_string()),
        ("REBOUND__SERVER__SHUTDOWN_GRACE_SECONDS".to_string(), "7".to_string()),
    ];
    let cfg = load_str("t.toml", "[database]\nurl = \"sqlite://a.db\"\n", env).unwrap();
    assert_eq!(cfg.database.url, "postgres://rebound@db.internal:5433/reb");
    assert_eq!(cfg.server.shutdown_grace_seconds, 7);
}

#[test]
fn unknown_environment_keys_are_errors_too() {
    let env = vec![("REBOUND__DATABASE__URLL".to_string(), "x".to_string())];
    let err = load_str("t.toml", "", env).unwrap_err();
    assert_eq!(err.problems[0].key, "database.urll", "{err}");
}

#[test]
fn secrets_come_from_the_environment_and_are_masked() {
    let env = vec![("REBOUND__DATABASE__PASSWORD_ENV".to_string(), "REBOUND_TEST_UNSET_PW_VAR".to_string())];
    let err = load_str("t.toml", "[database]\nurl = \"postgres://u@h/db\"\n", env).unwrap_err();
    assert!(err.to_string().contains("REBOUND_TEST_UNSET_PW_VAR is not set"), "{err}");

    let cfg = load_str("t.toml", "[database]\nurl = \"postgres://u:hunter2@h/db\"\n", no_env()).unwrap();
    let shown = cfg.to_masked_toml();
    assert!(!shown.contains("hunter2") && shown.contains("u:****@h"), "{shown}");
}

#[test]
fn node_entries_report_every_problem_at_once() {
    let text = r#"
[[node]]
name = "Bad Name"
target = "postfix"
path = "relative/path"
format = "csv"
cdb_command = "cdb"
schedule = "61 * * * *"
scopes = ["*", "brand.example"]

[[node]]
target = "smtp"

[[node]]
name = "f"
target = "file"
format = "xml"
push = true
"#;
    let err = rebound::config::load_str("t", text, std::iter::empty()).unwrap_err();
    let keys: Vec<&str> = err.problems.iter().map(|p| p.key.as_str()).collect();
    for k in [
        "node[0].name",
        "node[0].path",
        "node[0].format",
        "node[0].cdb_command",
        "node[0].schedule",
        "node[0].scopes",
        "node[1].target",
        "node[2].format",
        "node[2].push",
    ] {
        assert!(keys.contains(&k), "{k} missing from {err}");
    }
    let ok = rebound::config::load_str(
        "t",
        "[[node]]\nname = \"a\"\ntarget = \"exim\"\npath = \"/tmp/a.cdb\"\nscopes = [\"Brand.Example\"]\n",
        std::iter::empty(),
    )
    .unwrap();
    let n = &ok.node[0];
    assert_eq!(n.scopes, ["brand.example", "global"], "global is always taken");
    assert_eq!(n.schedule, "*/15 * * * *");
    assert!(!n.push && n.enabled);
}

#[test]
fn mta_log_entries_report_every_problem_at_once() {
    let text = r#"
[[mta_log]]
name = "Bad Name"
format = "sendmail"
path = "relative.log"
utc_offset = "CET"
colour = "red"

[[mta_log]]
name = "p"
format = "postfix"
path = "-"

[[mta_log]]
name = "ok"
format = "pmta"
path = "/var/log/pmta/acct-*.csv"
node = "pmta-1"
utc_offset = "+01:00"
campaign_from = "job_id"
"#;
    let err = rebound::config::load_str("t", text, std::iter::empty()).unwrap_err();
    let keys: Vec<&str> = err.problems.iter().map(|p| p.key.as_str()).collect();
    for k in [
        "mta_log[0].name",
        "mta_log[0].format",
        "mta_log[0].path",
        "mta_log[0].utc_offset",
        "mta_log[0].colour",
        "mta_log[1].path",
    ] {
        assert!(keys.contains(&k), "{k} not reported: {keys:?}");
    }
    let ok =
        rebound::config::load_str("t", &text[text.find("[[mta_log]]\nname = \"ok\"").unwrap()..], std::iter::empty())
            .unwrap();
    let l = &ok.mta_log[0];
    assert_eq!(
        (l.format, l.node.as_deref(), l.offset().local_minus_utc()),
        (rebound::logs::Format::PowerMta, Some("pmta-1"), 3600)
    );
    assert_eq!(l.campaign_from, rebound::config::CampaignFrom::JobId);
}
