//! Alert rules: a rate rule's minimum volume, one firing per episode, resolution and
//! cooldown; a status-pattern count per provider; Pushover and email reaching loopback
//! stand-ins from a running service.

use super::receiver::Receiver;
use super::support::TestDb;
use super::support::app::TestApp;
use super::support::mail::{dsn, original};
use super::webhooks::{SECRET, hook, secret_file};
use axum::extract::State;
use rebound::config::alert::{Criterion, Metric, Per};
use rebound::config::{AlertConfig, AlertsConfig};
use rebound::notify::alert::{Evaluator, round};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

/// A report dated now (alert windows follow when things happened).
fn report(rcpt: &str, status: &str, diag: &str, n: &str) -> Vec<u8> {
    let now = chrono::Utc::now().to_rfc2822();
    dsn("bounces@sender.example", rcpt, status, diag, &original(Some("spring"), &format!("{n}@sender.example")), &now)
}

pub(super) fn ingest(app: &TestApp, tag: &str, raws: Vec<Vec<u8>>) {
    let mut c = app.conn();
    for (i, raw) in raws.iter().enumerate() {
        app.ingest(&mut c, "mailbox:test", &format!("{tag}-{i}"), raw);
    }
}

pub(super) fn many(n: usize, tag: &str, status: &str, diag: &str, domain: &str) -> Vec<Vec<u8>> {
    (0..n).map(|i| report(&format!("{tag}{i}@{domain}"), status, diag, &format!("{tag}{i}"))).collect()
}

fn rule(name: &str, per: Per, criteria: Vec<Criterion>, cooldown_minutes: u32) -> AlertConfig {
    AlertConfig {
        name: name.into(),
        per,
        combine: "all".into(),
        criteria,
        cooldown_minutes,
        channels: vec!["webhook".into()],
        enabled: true,
    }
}

async fn rate_rule(db: TestDb) {
    rate_rule_over(db, 60).await
}

/// A day or more is summed from the hourly counters, not kept in memory: the same story.
async fn day_rate_rule(db: TestDb) {
    rate_rule_over(db, 1440).await
}

async fn rate_rule_over(db: TestDb, window_minutes: u32) {
    let rx = Receiver::start(0, SECRET, 200).await;
    let (_dir, secret) = secret_file();
    let app = TestApp::new(db, |_| {});
    let mut h = hook("alerts", &rx.url(), &secret);
    h.events = vec!["alert.fired".into(), "alert.resolved".into()];
    h.ordered = true;
    rebound::notify::endpoints::sync_config(&mut app.conn(), &[h], None, chrono::Utc::now().naive_utc()).unwrap();
    let hard = Criterion::Rate { metric: Metric::HardBounce, window_minutes, min_volume: 10, at_least: 0.5 };
    let rules = vec![rule("hard-rate", Per::Campaign, vec![hard], 60)];
    let mut ev = Evaluator::new(&rules);
    let cfg = AlertsConfig::default();
    let eval = |ev: &mut Evaluator| {
        let db = app.db.clone();
        let ev = std::mem::replace(ev, Evaluator::new(&[]));
        let cfg = cfg.clone();
        async move {
            let mut ev = ev;
            let changed = round(&db, &mut ev, &cfg, "me").await.unwrap();
            (ev, changed)
        }
    };
    // 8 hard bounces of 8 events: 100%, but below the minimum volume of 10.
    ingest(&app, "a", many(8, "a", "5.1.1", "550 5.1.1 user unknown", "example.org"));
    let (back, changed) = eval(&mut ev).await;
    ev = back;
    assert!(changed.is_empty(), "below the minimum volume nothing fires: {changed:?}");
    // Two delays: 8 of 10, 80% ≥ 50% with the volume reached.
    ingest(&app, "b", many(2, "b", "4.4.1", "451 4.4.1 try later", "example.org"));
    let (back, changed) = eval(&mut ev).await;
    ev = back;
    assert_eq!(changed.len(), 1, "{changed:?}");
    let fired = &changed[0];
    assert_eq!((fired.group_key.as_str(), fired.resolved_at), ("spring", None));
    assert!(fired.summary.contains("80.00%") && fired.summary.contains("8 of 10"), "{}", fired.summary);
    // Still holding: no second firing for the same episode.
    ingest(&app, "c", many(2, "c", "5.1.1", "550 5.1.1 user unknown", "example.org"));
    let (back, changed) = eval(&mut ev).await;
    ev = back;
    assert!(changed.is_empty(), "one firing per episode: {changed:?}");
    // Deliveries dilute it below 50%: 10 of 22.
    let delivered: Vec<Vec<u8>> = many(10, "d", "2.0.0", "250 2.0.0 ok", "example.org")
        .into_iter()
        .map(|m| String::from_utf8(m).unwrap().replace("Action: failed", "Action: delivered").into_bytes())
        .collect();
    ingest(&app, "d", delivered);
    let (back, changed) = eval(&mut ev).await;
    ev = back;
    assert_eq!(changed.len(), 1, "{changed:?}");
    assert!(changed[0].resolved_at.is_some() && changed[0].id == fired.id, "{changed:?}");
    // Above the line again, within the cooldown: nothing fires.
    ingest(&app, "e", many(20, "e", "5.1.1", "550 5.1.1 user unknown", "example.org"));
    let (back, changed) = eval(&mut ev).await;
    ev = back;
    assert!(changed.is_empty(), "cooldown: {changed:?}");
    let _ = ev;
    // The history shows one episode, resolved; the webhook channel got both events.
    let mut c = app.conn();
    let page = rebound::store::Page { limit: 10, after: None };
    let history = rebound::notify::alert::episodes::history(&mut c, &page).unwrap().rows;
    assert_eq!(history.len(), 1);
    drop(c);
    let worker = rebound::notify::worker::Worker::new(app.db.clone(), app.config.notify.clone(), "me".into());
    worker.round().await.unwrap();
    let events = rx.wait_events(2, 10).await;
    let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["alert.fired", "alert.resolved"]);
    assert_eq!(events[0]["data"]["episode_id"], fired.id);
    assert_eq!(events[0]["data"]["rule"], "hard-rate");
}
on_both_backends!(a_rate_rule_respects_volume_fires_once_resolves_and_cools_down, rate_rule);
on_both_backends!(a_day_long_rate_rule_respects_volume_fires_once_resolves_and_cools_down, day_rate_rule);

async fn count_rule(db: TestDb) {
    let app = TestApp::new(db, |_| {});
    let policy = Criterion::Count {
        window_minutes: 60,
        at_least: 3,
        status: Some("5.7.*".into()),
        reason: None,
        rule: None,
        text: Some("(?i)not authori[sz]ed".into()),
    };
    let rules = vec![rule("policy-blocks", Per::RecipientDomain, vec![policy], 60)];
    let mut ev = Evaluator::new(&rules);
    let cfg = AlertsConfig::default();
    let words = "550 5.7.1 delivery not authorized, message refused";
    ingest(&app, "a", many(2, "a", "5.7.1", words, "isp.example"));
    ingest(&app, "b", many(2, "b", "5.7.1", words, "other.example"));
    // Not counted: another status, and the same status with other words.
    ingest(&app, "c", many(2, "c", "5.1.1", "550 5.1.1 user unknown", "isp.example"));
    ingest(&app, "d", many(1, "d", "5.7.1", "550 5.7.1 spam detected", "isp.example"));
    assert!(round(&app.db, &mut ev, &cfg, "me").await.unwrap().is_empty());
    // The third from one provider fires, for that provider only.
    ingest(&app, "e", many(1, "e", "5.7.1", words, "isp.example"));
    let fired = round(&app.db, &mut ev, &cfg, "me").await.unwrap();
    assert_eq!(fired.len(), 1, "{fired:?}");
    assert_eq!(fired[0].group_key, "isp.example");
    assert!(fired[0].summary.starts_with("3 matching events"), "{}", fired[0].summary);
    // Another evaluator (another instance) does nothing while this one holds the lease.
    let mut other = Evaluator::new(&rules);
    ingest(&app, "f", many(3, "f", "5.7.1", words, "third.example"));
    assert!(round(&app.db, &mut other, &cfg, "someone-else").await.unwrap().is_empty());
}
on_both_backends!(a_status_pattern_count_fires_on_the_nth_from_one_provider, count_rule);

/// What the Pushover stand-in received (the form fields of each POST).
type Posts = Arc<Mutex<Vec<Vec<(String, String)>>>>;

async fn pushover_stand_in() -> (String, Posts) {
    let posts: Posts = Arc::default();
    async fn messages(State(posts): State<Posts>, body: String) -> &'static str {
        let fields = url::form_urlencoded::parse(body.as_bytes()).into_owned().collect();
        posts.lock().unwrap().push(fields);
        r#"{"status":1,"request":"test"}"#
    }
    let app = axum::Router::new().route("/1/messages.json", axum::routing::post(messages)).with_state(posts.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, posts)
}

/// A loopback SMTP sink: accepts every message and keeps its DATA.
async fn smtp_sink() -> (u16, Arc<Mutex<Vec<String>>>) {
    let got: Arc<Mutex<Vec<String>>> = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let sink = got.clone();
    tokio::spawn(async move {
        loop {
            let Ok((sock, _)) = listener.accept().await else { return };
            let sink = sink.clone();
            tokio::spawn(async move {
                let (r, mut w) = sock.into_split();
                let mut lines = tokio::io::BufReader::new(r).lines();
                w.write_all(b"220 sink.test ESMTP\r\n").await.unwrap();
                let mut data: Option<String> = None;
                while let Ok(Some(line)) = lines.next_line().await {
                    if let Some(d) = data.as_mut() {
                        if line == "." {
                            sink.lock().unwrap().push(data.take().unwrap());
                            w.write_all(b"250 2.0.0 queued\r\n").await.unwrap();
                        } else {
                            d.push_str(&line);
                            d.push('\n');
                        }
                        continue;
                    }
                    let verb = line.split_whitespace().next().unwrap_or_default().to_ascii_uppercase();
                    let reply: &[u8] = match verb.as_str() {
                        "EHLO" | "HELO" => b"250 sink.test\r\n",
                        "DATA" => {
                            data = Some(String::new());
                            b"354 go ahead\r\n"
                        }
                        "QUIT" => {
                            let _ = w.write_all(b"221 bye\r\n").await;
                            return;
                        }
                        _ => b"250 2.0.0 ok\r\n",
                    };
                    w.write_all(reply).await.unwrap();
                }
            });
        }
    });
    (port, got)
}

async fn channels(db: TestDb) {
    let (pushover_url, posts) = pushover_stand_in().await;
    let (smtp_port, mails) = smtp_sink().await;
    let dir = tempfile::tempdir().unwrap();
    let (token, user) = (dir.path().join("token"), dir.path().join("user"));
    std::fs::write(&token, "app-token-123\n").unwrap();
    std::fs::write(&user, "user-key-456\n").unwrap();
    let alerts_toml = format!(
        "[alerts]\nevaluate_every_seconds = 3600\nweb_url = \"https://rebound.example.test/\"\n[alerts.pushover]\ntoken_file = \"{}\"\nuser_file = \"{}\"\n\
         base_url = \"{pushover_url}\"\npriority = 1\n[alerts.email]\nhost = \"127.0.0.1\"\nport = {smtp_port}\n\
         security = \"none\"\nfrom = \"rebound@sender.example\"\nto = [\"oncall@sender.example\"]\n\n\
         [[alert]]\nname = \"unknown-users\"\nper = \"recipient_domain\"\nchannels = [\"pushover\", \"email\"]\n\
         [[alert.criteria]]\nkind = \"count\"\nwindow_minutes = 60\nat_least = 2\nstatus = \"5.1.1\"\n",
        token.display(),
        user.display()
    );
    // Read as a config file is, so the keys documented are the keys that work.
    let parsed = rebound::config::load_str("alerts.toml", &alerts_toml, std::iter::empty()).unwrap();
    let app = TestApp::new(db, |c| {
        c.alerts = parsed.alerts.clone();
        c.alert = parsed.alert.clone();
    })
    .serve()
    .await;
    // The hourly schedule ran once at start; the second bounce fires right after its batch.
    ingest(&app, "a", many(2, "a", "5.1.1", "550 5.1.1 user unknown", "isp.example"));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while (posts.lock().unwrap().is_empty() || mails.lock().unwrap().is_empty())
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let posts = posts.lock().unwrap().clone();
    let history = app.admin().get("/api/v1/alerts/history").await.expect(200);
    assert_eq!(posts.len(), 1, "{posts:?} {history}");
    let field = |k: &str| posts[0].iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default();
    assert_eq!(field("token"), "app-token-123");
    assert_eq!(field("user"), "user-key-456");
    assert_eq!(field("priority"), "1");
    assert_eq!(field("title"), "rebound alert FIRING: unknown-users");
    assert!(field("message").contains("isp.example") && field("message").contains("2 matching events"), "{posts:?}");
    // The link opens the episode on the web admin's alerts page.
    let episode = history["episodes"][0]["id"].as_i64().unwrap_or_else(|| panic!("{history}"));
    assert_eq!(field("url"), format!("https://rebound.example.test/alerts#episode-{episode}"));
    assert_eq!(field("url_title"), "Open in rebound");
    let mails = mails.lock().unwrap().clone();
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert!(mails[0].contains("Subject: rebound alert FIRING: unknown-users"), "{}", mails[0]);
    assert!(mails[0].contains("To: oncall@sender.example") && mails[0].contains("isp.example"), "{}", mails[0]);
    let admin = app.admin();
    let alerts = admin.get("/api/v1/alerts").await.expect(200);
    assert_eq!(alerts["active"][0]["rule"], "unknown-users", "{alerts}");
    assert_eq!(alerts["active"][0]["notified"], "pushover: ok; email: ok", "{alerts}");
    assert!(!alerts.to_string().contains("app-token-123"), "no secret in the API");
    app.stop(10).await.unwrap();
}
on_both_backends!(pushover_and_email_reach_loopback_stand_ins, channels);

/// The commented rules of config.example.toml are rules the loader takes as they are.
#[test]
fn the_example_rules_parse() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config.example.toml")).unwrap();
    let start = text.find("# [[alert]]\n# name = \"complaint-rate\"").expect("the example rules");
    let rules: Vec<&str> = text[start..]
        .lines()
        .filter_map(|l| l.strip_prefix("# "))
        .filter(|l| l.contains('=') || l.starts_with('['))
        .collect();
    let channels = "[alerts.pushover]\ntoken_env = \"PATH\"\nuser_env = \"PATH\"\n\
                    [alerts.email]\nhost = \"relay.example\"\nfrom = \"a@b.example\"\nto = [\"c@d.example\"]\n";
    let cfg = rebound::config::load_str("example", &format!("{channels}{}", rules.join("\n")), std::iter::empty())
        .unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = cfg.alert.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["complaint-rate", "bounce-rate", "provider-block", "plumbing"]);
    assert!(matches!(cfg.alert[0].criteria[0], Criterion::Rate { at_least, .. } if at_least == 0.001));
    assert!(matches!(cfg.alert[1].criteria[0], Criterion::Rate { min_volume: 200, at_least, .. } if at_least == 0.05));
}

/// The hourly counters the write path keeps match the events under every scope, and a
/// window of a day (filled from them when the evaluator starts) counts what a shorter one
/// (filled from the events) counts.
async fn counters_match_events(db: TestDb) {
    let app = TestApp::new(db, |_| {});
    ingest(&app, "a", many(3, "a", "5.1.1", "550 5.1.1 user unknown", "isp.example"));
    ingest(&app, "b", many(2, "b", "5.7.1", "550 5.7.1 not authorized", "other.example"));
    ingest(&app, "c", many(1, "c", "4.2.2", "452 4.2.2 mailbox full", "isp.example"));
    use diesel::RunQueryDsl;
    #[derive(diesel::QueryableByName, Debug, PartialEq)]
    struct Cell {
        #[diesel(sql_type = diesel::sql_types::Text)]
        k: String,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut c = app.conn();
    for (scope, col) in [
        ("all", "''"),
        ("campaign", "campaign_id"),
        ("sending_domain", "sending_domain"),
        ("recipient_domain", "recipient_domain"),
        ("remote_mta", "remote_mta"),
        ("source", "source"),
    ] {
        let mut q = |sql: String| diesel::sql_query(sql).load::<Cell>(&mut c).unwrap();
        let counted = q(format!(
            "SELECT scope_key || '/' || kind || '/' || classification || '/' || status || '/' || reason || '/' || \
             rule_key AS k, CAST(SUM(n) AS BIGINT) AS n FROM alert_counts WHERE scope = '{scope}' GROUP BY 1 ORDER BY 1"
        ));
        let events = q(format!(
            "SELECT COALESCE({col}, '') || '/' || kind || '/' || classification || '/' || COALESCE(status, '') || '/' || \
             reason || '/' || COALESCE(rule_key, '') AS k, CAST(COUNT(*) AS BIGINT) AS n FROM events GROUP BY 1 ORDER BY 1"
        ));
        assert!(!events.is_empty());
        assert_eq!(counted, events, "scope {scope}");
    }
    drop(c);
    let count = |minutes| Criterion::Count {
        window_minutes: minutes,
        at_least: 1,
        status: Some("5.*.*".into()),
        reason: None,
        rule: None,
        text: None,
    };
    let hard = |minutes| Criterion::Rate {
        metric: Metric::HardBounce,
        window_minutes: minutes,
        min_volume: 1,
        at_least: 0.01,
    };
    let cfg = AlertsConfig::default();
    let mut summaries = Vec::new();
    for minutes in [1440, 1380] {
        let rules = vec![
            rule("fails", Per::RecipientDomain, vec![count(minutes)], 60),
            rule("hard", Per::All, vec![hard(minutes)], 60),
        ];
        let fired = round(&app.db, &mut Evaluator::new(&rules), &cfg, "me").await.unwrap();
        let mut got: Vec<String> = fired
            .iter()
            .map(|e| format!("{}/{}: {}", e.rule, e.group_key, e.summary.replace(&minutes.to_string(), "N")))
            .collect();
        got.sort();
        summaries.push(got);
        // The next window size starts from no episode.
        use diesel::RunQueryDsl;
        diesel::sql_query("DELETE FROM alert_episodes").execute(&mut app.conn()).unwrap();
    }
    assert_eq!(summaries[0].len(), 3, "{summaries:?}");
    assert!(summaries[0].iter().any(|s| s.starts_with("fails/isp.example: 3 matching")), "{summaries:?}");
    assert_eq!(summaries[0], summaries[1], "a day from the counters, 23 hours from the events");
}
on_both_backends!(the_alert_counters_match_the_events, counters_match_events);
