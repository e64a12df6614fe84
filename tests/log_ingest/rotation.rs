//! The join state of unfinished Postfix queue ids is part of the committed checkpoint and
//! carries into the file rotated in next: a queue id whose `from=` line is in file N and its
//! `to=` line in file N+1 still joins, also when the process reading them was restarted in
//! between (all it knows then is what was committed).

use super::count;
use super::support::TestDb;
use rebound::config::Config;
use rebound::ingest::Pipeline;
use rebound::ingest::log::LogContext;
use rebound::ingest::log_read::LogSource;
use rebound::logs::{Format, Options, file};
use rebound::store::Db;

const FILE_N: &str = "\
Dec  1 10:00:00 mx1 postfix/cleanup[2102]: 4Tq7Xz1AbcD: message-id=<m1@news.example.com>
Dec  1 10:00:00 mx1 postfix/qmgr[900]: 4Tq7Xz1AbcD: from=<bounces+fall-bob=example.net@news.example.com>, size=4242, nrcpt=1 (queue active)
Dec  1 10:00:00 mx1 postfix/cleanup[2102]: 5Ab8Yz2BcdE: message-id=<m2@news.example.com>
Dec  1 10:00:00 mx1 postfix/qmgr[900]: 5Ab8Yz2BcdE: from=<bounces+fall-ann=example.net@news.example.com>, size=4242, nrcpt=1 (queue active)
Dec  1 10:00:01 mx1 postfix/smtp[2103]: 5Ab8Yz2BcdE: to=<ann@example.net>, relay=mx1.example.net[192.0.2.10]:25, delay=1, delays=0.1/0/0.5/0.4, dsn=2.0.0, status=sent (250 2.0.0 Ok)
Dec  1 10:00:01 mx1 postfix/qmgr[900]: 5Ab8Yz2BcdE: removed
";
const FILE_N1: &str = "\
Dec  1 10:05:03 mx1 postfix/smtp[2203]: 4Tq7Xz1AbcD: to=<bob@example.net>, relay=mx1.example.net[192.0.2.10]:25, delay=303, delays=0.1/300/1/2, dsn=5.1.1, status=bounced (host mx1.example.net[192.0.2.10] said: 550 5.1.1 <bob@example.net>: Recipient address rejected: User unknown (in reply to RCPT TO command))
Dec  1 10:05:03 mx1 postfix/qmgr[900]: 4Tq7Xz1AbcD: removed
";

fn source() -> LogSource {
    LogSource {
        source: "log:maillog".into(),
        format: Format::Postfix,
        options: Options { year: 2026, ..Default::default() },
        context: LogContext::default(),
    }
}

/// One poll of `serve` over the glob, by a process that starts now.
async fn poll(db: &TestDb, pattern: &str) -> usize {
    let cfg = Config { database: db.config(), ..Default::default() };
    let store = Db::connect(&cfg.database).unwrap();
    let pipeline = Pipeline::new(&cfg).unwrap();
    let pattern = pattern.to_string();
    store
        .run(move |c| -> Result<usize, rebound::ingest::log_read::PassError> {
            let mut n = 0;
            for f in file::expand(&pattern).unwrap() {
                n += pipeline.log_pass(c, &source(), &f, &mut |_, _| {})?.records;
            }
            Ok(n)
        })
        .await
        .unwrap()
}

async fn a_queue_id_joins_across_rotation(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let current = dir.path().join("maillog");
    std::fs::write(&current, FILE_N).unwrap();
    let pattern = format!("{}*", current.display());
    assert_eq!(poll(&db, &pattern).await, 1, "ann's delivery");
    // logrotate: the file is renamed, a new one is started; the process restarts.
    std::fs::rename(&current, dir.path().join("maillog.1")).unwrap();
    std::fs::write(&current, FILE_N1).unwrap();
    assert_eq!(poll(&db, &pattern).await, 1, "bob's bounce");

    let store = Db::connect(&db.config()).unwrap();
    let bob = "events e JOIN event_provenance p ON p.event_id = e.id WHERE e.recipient = 'bob@example.net' \
               AND e.classification = 'hard' AND e.campaign_id = 'fall' AND e.attribution = 'verp' \
               AND p.queue_id = '4Tq7Xz1AbcD' AND p.message_id = 'm1@news.example.com' \
               AND p.sender = 'bounces+fall-bob=example.net@news.example.com'";
    assert_eq!(count(&store, bob).await, 1, "joined with the from= and message-id= lines of the file before");
    // The finished queue id left the join state; the one that was carried is gone too.
    let state = super::text(&store, "SELECT join_state AS s FROM log_checkpoints ORDER BY updated_at DESC").await;
    let state = state.unwrap();
    assert!(!state.contains("4Tq7Xz1AbcD") && !state.contains("5Ab8Yz2BcdE"), "{state}");
    // Nothing read twice on the next poll.
    assert_eq!(poll(&db, &pattern).await, 0);
    assert_eq!(count(&store, "events").await, 2);
}
on_both_backends!(join_across_rotation, a_queue_id_joins_across_rotation);

/// A pass reads what the file held when it began: lines appended during the pass (here by
/// its own progress callback, after the first committed chunk) wait for the next pass, so
/// a file written all the time cannot keep a follower from its other files and sources.
async fn a_pass_stops_at_the_size_it_began_with(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("maillog");
    std::fs::write(&log, FILE_N).unwrap();
    let cfg = Config { database: db.config(), ..Default::default() };
    let store = Db::connect(&cfg.database).unwrap();
    let pipeline = Pipeline::new(&cfg).unwrap();
    let path = log.clone();
    let (first, calls, second) = store
        .run(move |c| -> Result<(usize, usize, usize), rebound::ingest::log_read::PassError> {
            let mut calls = 0;
            let first = pipeline
                .log_pass(c, &source(), &path, &mut |_, _| {
                    calls += 1;
                    if calls == 1 {
                        use std::io::Write;
                        let mut f = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
                        f.write_all(FILE_N1.as_bytes()).unwrap();
                    }
                })?
                .records;
            let second = pipeline.log_pass(c, &source(), &path, &mut |_, _| {})?.records;
            Ok((first, calls, second))
        })
        .await
        .unwrap();
    assert_eq!((first, calls), (1, 1), "ann's delivery only, in one chunk");
    assert_eq!(second, 1, "bob's bounce, appended during the first pass, on the next one");
    assert_eq!(count(&store, "events").await, 2);
}
on_both_backends!(pass_stops_at_its_start_size, a_pass_stops_at_the_size_it_began_with);
