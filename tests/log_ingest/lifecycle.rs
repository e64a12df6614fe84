//! Lifecycle from mailboxes: a delivery report (NOTIFY=SUCCESS, `Action: relayed`) and delay
//! notices (a DSN with `Action: delayed`, and Sendmail's text-only "Warning: could not send
//! message for past 30 minutes") become `delivered` / `delay` events like a log's, never a
//! bounce and never suppressed, whatever a rule says; a logged deferral and the delay DSN
//! about it are one event.

use super::count;
use super::support::{TestDb, outbox_waiting};
use rebound::config::Config;
use rebound::ingest::log::LogContext;
use rebound::ingest::log_read::LogSource;
use rebound::ingest::{Item, Pipeline};
use rebound::logs::{Format, Options};
use rebound::store::Db;

const DELIVERED: &str = r#"Return-Path: <>
From: MAILER-DAEMON@mx.example.net (Mail Delivery System)
To: bounces+spring-ann=example.net@news.example.com
Subject: Successful Mail Delivery Report
Message-ID: <ok1@mx.example.net>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B"

--B
Content-Type: text/plain

This is the mail system at host mx.example.net.

Your message was successfully delivered to the destination(s)
listed below.

<ann@example.net>: delivery via in.example.net[192.0.2.5]:25: 250 2.0.0 Ok

--B
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net

Final-Recipient: rfc822; ann@example.net
Action: relayed
Status: 2.0.0
Remote-MTA: dns; in.example.net
Diagnostic-Code: smtp; 250 2.0.0 Ok

--B
Content-Type: text/rfc822-headers

From: news@news.example.com
Message-ID: <m1@news.example.com>
X-Campaign-ID: spring

--B--
"#;
const DELAY_DSN: &str = r#"Return-Path: <>
From: Mail Delivery Subsystem <MAILER-DAEMON@mx.example.org>
To: bounces+spring-bob=example.org@news.example.com
Subject: Warning: could not send message for past 4 hours
Message-ID: <w1@mx.example.org>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="C"

--C

    **********************************************
    **      THIS IS A WARNING MESSAGE ONLY      **
    **  YOU DO NOT NEED TO RESEND YOUR MESSAGE  **
    **********************************************

The original message was received at Tue, 1 Dec 2026 06:00:00 GMT

   ----- Transcript of session follows -----
<bob@example.org>... Deferred: Connection timed out with mx.example.org.
Warning: message still undelivered after 4 hours
Will keep trying until message is 5 days old

--C
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.org
Arrival-Date: Tue, 1 Dec 2026 06:00:00 GMT

Final-Recipient: RFC822; bob@example.org
Action: delayed
Status: 4.4.1
Remote-MTA: DNS; mx.example.org
Last-Attempt-Date: Tue, 1 Dec 2026 10:00:00 GMT
Will-Retry-Until: Sun, 6 Dec 2026 06:00:00 GMT

--C
Content-Type: text/rfc822-headers

From: news@news.example.com
Message-ID: <m2@news.example.com>
X-Campaign-ID: spring

--C--
"#;
const DELAY_TEXT: &str = r#"Return-Path: <>
From: Mail Delivery Subsystem <MAILER-DAEMON@mx.example.com>
To: bounces+spring-cat=example.com@news.example.com
Subject: Warning: could not send message for past 30 minutes
Message-ID: <w2@mx.example.com>

    **********************************************
    **      THIS IS A WARNING MESSAGE ONLY      **
    **  YOU DO NOT NEED TO RESEND YOUR MESSAGE  **
    **********************************************

The original message was received at Tue, 1 Dec 2026 09:30:00 GMT

   ----- Transcript of session follows -----
<cat@example.com>... Deferred: 451 4.3.0 Temporary failure, please try again later
Warning: message still undelivered after 30 minutes
Will keep trying until message is 5 days old

   ----- Original message follows -----
From: news@news.example.com
To: cat@example.com
Message-ID: <m3@news.example.com>
X-Campaign-ID: spring
Subject: news

Hello
"#;

/// PowerMTA logged the deferral the delay DSN reports (same status, minutes apart).
const ACCOUNTING: &str = "type,timeLogged,orig,rcpt,dsnAction,dsnStatus,dsnDiag,header_X-Campaign-ID
t,2026-12-01 09:58:00+0000,bounces+spring-bob=example.org@news.example.com,bob@example.org,delayed,4.4.1 (no answer from host),smtp;421 4.4.1 connection timed out,spring
";

async fn lifecycle_from_mailboxes(db: TestDb) {
    let cfg = Config { database: db.config(), ..Default::default() };
    let store = Db::connect(&cfg.database).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let acct = dir.path().join("acct.csv");
    std::fs::write(&acct, ACCOUNTING).unwrap();
    let secret = dir.path().join("hook.secret");
    std::fs::write(&secret, "0123456789abcdef0123456789abcdef").unwrap();
    let hook = super::support::notify::webhook("hook", "http://127.0.0.1:9/", secret.to_str().unwrap());
    store
        .run(move |c| rebound::notify::endpoints::sync_config(c, &[hook], None, chrono::Utc::now().naive_utc()))
        .await
        .unwrap();
    let pipeline = std::sync::Arc::new(Pipeline::new(&cfg).unwrap());
    let p = pipeline.clone();
    store
        .run(move |c| {
            let src = LogSource {
                source: "log:pmta".into(),
                format: Format::PowerMta,
                options: Options::default(),
                context: LogContext::default(),
            };
            p.log_pass(c, &src, &acct, &mut |_, _| {})
        })
        .await
        .unwrap();
    // A rule that would make every delay hard: a delay still never suppresses.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rebound"))
        .args(["--config", "config.example.toml", "rules", "add", "--key", "delays-hard", "--name", "Delays are hard"])
        .args(["--when", "kind is delay", "--outcome", "hard", "--to", "1"])
        .env("REBOUND__DATABASE__URL", db.url())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let p = pipeline.clone();
    let stats = store
        .run(move |c| {
            let raws = [DELIVERED, DELAY_DSN, DELAY_TEXT];
            let ids = ["1:1", "1:2", "1:3"];
            let items: Vec<Item> = raws
                .iter()
                .zip(ids)
                .map(|(raw, id)| Item { source: "bounces", source_id: id, raw: raw.as_bytes() })
                .collect();
            p.ingest(c, &items).map(|(_, s)| s)
        })
        .await
        .unwrap();
    assert_eq!(stats.corroborated, 1, "bob's delay DSN is the deferral the log recorded: {stats:?}");
    let ev = |who: &str, kind: &str| {
        format!(
            "events WHERE recipient = '{who}' AND kind = '{kind}' AND classification = 'ignore' AND campaign_id = 'spring'"
        )
    };
    assert_eq!(
        count(&store, &(ev("ann@example.net", "delivered") + " AND origin = 'mail' AND status = '2.0.0'")).await,
        1
    );
    assert_eq!(count(&store, &(ev("bob@example.org", "delay") + " AND origin = 'log'")).await, 1);
    assert_eq!(count(&store, "event_evidence WHERE origin = 'mail' AND status = '4.4.1'").await, 1);
    assert_eq!(count(&store, &(ev("cat@example.com", "delay") + " AND origin = 'mail' AND status = '4.3.0'")).await, 1);
    assert_eq!(count(&store, "events WHERE kind = 'bounce'").await, 0, "no delay or delivery is a bounce");
    assert_eq!(count(&store, "events").await, 3);
    assert_eq!(count(&store, "suppressions").await, 0);
    assert_eq!(count(&store, "campaigns WHERE id = 'spring' AND hard = 0 AND soft = 0").await, 1);
    assert_eq!(outbox_waiting(&store, "delivery.delivered").await, 1);
    assert_eq!(outbox_waiting(&store, "delivery.delayed").await, 2);
}
on_both_backends!(lifecycle, lifecycle_from_mailboxes);
