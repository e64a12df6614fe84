//! MTA logs through the pipeline as operators run it (`rebound import-log`, `rebound
//! ingest-log -`), on both backends: events with provenance, the same rules, attribution and
//! suppression as mail, unreadable lines in the review queue, a second run (and a compressed
//! rotated copy) changing nothing, and kill -9 mid-file then a rerun giving each record once.

#[macro_use]
mod support;
#[path = "log_ingest/again.rs"]
mod again;
#[path = "log_ingest/lifecycle.rs"]
mod lifecycle;
#[path = "log_ingest/postfix_real.rs"]
mod postfix_real;
#[path = "log_ingest/rotation.rs"]
mod rotation;
#[path = "log_ingest/same.rs"]
mod same;

use diesel::RunQueryDsl;
use rebound::store::Db;
use std::io::Write;
use std::process::{Command, Stdio};
use support::{TestDb, count_rows};

#[derive(diesel::QueryableByName)]
struct N {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

#[derive(diesel::QueryableByName)]
struct S {
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    s: Option<String>,
}

async fn count(db: &Db, sql: &str) -> i64 {
    let sql = sql.to_string();
    db.run(move |c| -> Result<_, rebound::store::StoreError> {
        Ok(diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {sql}")).load::<N>(c)?[0].n)
    })
    .await
    .unwrap()
}

async fn text(db: &Db, sql: &str) -> Option<String> {
    let sql = sql.to_string();
    db.run(move |c| -> Result<_, rebound::store::StoreError> {
        Ok(diesel::sql_query(sql).load::<S>(c)?.into_iter().next().and_then(|r| r.s))
    })
    .await
    .unwrap()
}

const HEADER: &str = "type,timeLogged,timeQueued,orig,rcpt,orcpt,dsnAction,dsnStatus,dsnDiag,dsnMta,bounceCat,srcType,srcMta,dlvType,dlvSourceIp,dlvDestinationIp,dlvEsmtpAvailable,dlvSize,vmta,jobId,envId,queue,vmtaPool,header_X-Campaign-ID\n";

fn accounting() -> String {
    let mut s = String::from(HEADER);
    s += "d,2026-12-01 10:00:01+0000,2026-12-01 09:59:58+0000,bounce-42@news.example.com,ann@example.net,,relayed,2.0.0 (success),smtp;250 2.0.0 OK,mx1.example.net (192.0.2.10),,smtp,app1,smtp,198.51.100.7,192.0.2.10,,5120,vmta-7,job-1,env-1,example.net/vmta-7,pool-a,camp-42\n";
    s += "b,2026-12-01 10:00:02+0000,2026-12-01 09:59:58+0000,bounce-42@news.example.com,bob@example.net,,failed,5.1.1 (bad destination mailbox address),\"smtp;550 5.1.1 <bob@example.net>: Recipient address rejected: User unknown\",mx1.example.net (192.0.2.10),bad-mailbox,smtp,app1,smtp,198.51.100.7,192.0.2.10,,5120,vmta-7,job-1,env-2,example.net/vmta-7,pool-a,camp-42\n";
    s += "t,2026-12-01 10:00:03+0000,2026-12-01 09:59:58+0000,bounce-42@news.example.com,cat@example.org,,delayed,4.7.0 (other),smtp;421 4.7.0 Try again later,mx.example.org (203.0.113.5),policy-related,smtp,app1,smtp,198.51.100.8,203.0.113.5,,5120,vmta-8,job-1,env-3,example.org/vmta-8,pool-a,camp-42\n";
    s += "b,2026-12-01 10:00:04+0000,2026-12-01 09:59:58+0000,bounce-42@news.example.com,gone@example.net,,failed,5.0.0 (undefined status),smtp;550 5.0.0 recipient is in suppression list,,other,smtp,app1,smtp,,,,5120,vmta-7,job-1,env-4,example.net/vmta-7,pool-a,camp-42\n";
    s += "this line was cut by a crash\n";
    s += "b,2026-12-01 10:00:06+0000,2026-11-27 10:00:00+0000,bounce-42@news.example.com,old@example.com,,failed,4.4.7 (delivery time expired),smtp;421 4.4.7 message expired,,message-expired,smtp,app1,smtp,198.51.100.7,,,5120,vmta-7,job-1,env-5,example.com/vmta-7,pool-a,camp-42\n";
    // No campaign column value: VERP in the envelope sender names it.
    s += "b,2026-12-01 10:00:07+0000,2026-12-01 09:59:58+0000,bounces+spring-dan=example.com@news.example.com,dan@example.com,,failed,5.1.1 (bad destination mailbox address),smtp;550 5.1.1 no such user,mx.example.com (203.0.113.9),bad-mailbox,smtp,app1,smtp,198.51.100.9,203.0.113.9,,5120,vmta-9,job-2,env-6,example.com/vmta-9,pool-b,\n";
    s
}

fn rebound(db: &TestDb, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rebound"));
    cmd.args(["--config", "config.example.toml"]).args(args).env("REBOUND__DATABASE__URL", db.url());
    cmd
}

fn run_ok(mut cmd: Command) -> String {
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

async fn accounting_file_goes_through_the_pipeline(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("acct-2026-12-01.csv");
    std::fs::write(&file, accounting()).unwrap();
    let f = file.to_str().unwrap();
    let out = run_ok(rebound(&db, &["import-log", "--format", "powermta", "--node", "pmta-1", f]));
    assert!(out.starts_with("6 new records (0 recorded before)"), "{out}");
    let store = Db::connect(&db.config()).unwrap();

    assert_eq!(count(&store, "events WHERE origin = 'log' AND origin_ref IS NOT NULL").await, 6);
    assert_eq!(count(&store, "events WHERE kind = 'delivered' AND recipient = 'ann@example.net'").await, 1);
    assert_eq!(count(&store, "events WHERE kind = 'delay' AND recipient = 'cat@example.org'").await, 1);
    // The same rules as mail: an unknown user is hard and suppressed, attributed by header or VERP.
    let bob = "events WHERE recipient = 'bob@example.net' AND kind = 'bounce' AND classification = 'hard' \
               AND campaign_id = 'camp-42' AND attribution = 'header' AND status = '5.1.1' AND reply_code = 550";
    assert_eq!(count(&store, bob).await, 1);
    assert_eq!(
        count(&store, "events WHERE recipient = 'dan@example.com' AND campaign_id = 'spring' AND attribution = 'verp'")
            .await,
        1
    );
    assert_eq!(count(&store, "suppressions WHERE address IN ('bob@example.net', 'dan@example.com')").await, 2);
    // PowerMTA's own suppression-list refusal: kept as evidence, never a new bounce.
    assert_eq!(
        count(&store, "events WHERE recipient = 'gone@example.net' AND classification = 'ignore' AND rule_key = 'mta-suppression-list'").await,
        1
    );
    assert_eq!(count(&store, "suppressions WHERE address = 'gone@example.net'").await, 0);
    // Campaign counters as for mail.
    assert_eq!(
        text(&store, "SELECT CAST(hard AS TEXT) AS s FROM campaigns WHERE id = 'camp-42'").await.as_deref(),
        Some("1")
    );
    // Provenance kept verbatim beside the event.
    let prov = "event_provenance p JOIN events e ON e.id = p.event_id WHERE e.recipient = 'bob@example.net' \
                AND p.log_kind = 'bounced' AND p.node = 'pmta-1' AND p.vmta = 'vmta-7' AND p.vmta_pool = 'pool-a' \
                AND p.source_ip = '198.51.100.7' AND p.remote_ip = '192.0.2.10' AND p.job_id = 'job-1' \
                AND p.envelope_id = 'env-2' AND p.mta_category = 'bad-mailbox' AND p.sender = 'bounce-42@news.example.com'";
    assert_eq!(count(&store, prov).await, 1);
    let expired = "event_provenance p JOIN events e ON e.id = p.event_id WHERE e.recipient = 'old@example.com' \
                   AND p.log_kind = 'expired' AND e.kind = 'bounce' AND e.permanent = 1";
    assert_eq!(count(&store, expired).await, 1);
    // The unreadable line waits for review, whole, with its position.
    assert_eq!(count(&store, "messages WHERE kind = 'log_line' AND state = 'review'").await, 1);
    let why = text(&store, "SELECT review_reason AS s FROM messages WHERE kind = 'log_line'").await.unwrap();
    assert!(why.contains("line 6 (byte ") && why.contains("acct-2026-12-01.csv"), "{why}");
    // The checkpoint is at the end of the file.
    let len = std::fs::metadata(&file).unwrap().len();
    assert_eq!(
        count(&store, &format!("log_checkpoints WHERE read_offset = {len} AND records = 6 AND unreadable = 1")).await,
        1
    );

    // Again, and a gzip copy as logrotate leaves it: nothing new.
    let again = run_ok(rebound(&db, &["import-log", "--format", "powermta", "--node", "pmta-1", f]));
    assert!(again.starts_with("0 new records (0 recorded before)"), "{again}");
    let gz = dir.path().join("acct-2026-12-01.csv.1.gz");
    let mut enc = flate2::write::GzEncoder::new(std::fs::File::create(&gz).unwrap(), Default::default());
    enc.write_all(accounting().as_bytes()).unwrap();
    enc.finish().unwrap();
    let rotated = run_ok(rebound(&db, &["import-log", "--format", "powermta", gz.to_str().unwrap()]));
    assert!(rotated.starts_with("0 new records (6 recorded before)"), "{rotated}");
    assert_eq!(count_rows(&store, "events").await, 6);
    assert_eq!(
        count(&store, "messages WHERE kind = 'log_line'").await,
        1 + 1,
        "the copy's line is its own review item"
    );

    let list = run_ok(rebound(&db, &["log", "list", "--format", "csv"]));
    assert!(list.contains("powermta,powermta,false,2,6,2,0,"), "{list}");
}
on_both_backends!(accounting_file, accounting_file_goes_through_the_pipeline);

fn big_accounting(n: usize) -> String {
    let mut s = String::from(HEADER);
    for i in 0..n {
        s += &format!(
            "b,2026-12-01 10:{:02}:{:02}+0000,2026-12-01 09:00:00+0000,bounce-7@news.example.com,u{i}@example.net,,failed,5.1.1 (bad destination mailbox address),smtp;550 5.1.1 user unknown,mx.example.net (192.0.2.10),bad-mailbox,smtp,app1,smtp,198.51.100.7,192.0.2.10,,5120,vmta-7,job-7,env-{i},example.net/vmta-7,pool-a,camp-7\n",
            (i / 60) % 60,
            i % 60
        );
    }
    s
}

async fn killed_import_log_then_rerun_counts_each_record_once(db: TestDb) {
    let n = 40_000;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("acct.csv");
    std::fs::write(&file, big_accounting(n)).unwrap();
    let f = file.to_str().unwrap();
    let store = Db::connect(&db.config()).unwrap();
    let mut child = rebound(&db, &["import-log", "--format", "powermta", f]).stdout(Stdio::null()).spawn().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while count_rows(&store, "events").await < 100 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    // SIGKILL: no chance to finish a transaction or write anything more.
    child.kill().unwrap();
    child.wait().unwrap();
    let partial = count_rows(&store, "events").await;
    assert!(partial > 0 && (partial as usize) < n, "the kill should land mid-file ({partial} of {n})");
    assert_eq!(partial, count(&store, "event_provenance").await, "a chunk is all or nothing");
    let offset = text(&store, "SELECT CAST(records AS TEXT) AS s FROM log_checkpoints").await;
    assert_eq!(offset, Some(partial.to_string()), "the checkpoint counts exactly what was committed");

    let out = run_ok(rebound(&db, &["import-log", "--format", "powermta", f]));
    assert!(out.starts_with(&format!("{} new records (0 recorded before)", n as i64 - partial)), "{out}");
    assert_eq!(count_rows(&store, "events").await as usize, n, "every record exactly once");
    assert_eq!(count(&store, "(SELECT DISTINCT recipient FROM events) d").await as usize, n);
    assert_eq!(count_rows(&store, "suppressions").await as usize, n);
    assert_eq!(
        text(&store, "SELECT CAST(hard AS TEXT) AS s FROM campaigns WHERE id = 'camp-7'").await,
        Some(n.to_string())
    );
}
on_both_backends!(killed_import_log, killed_import_log_then_rerun_counts_each_record_once);

const POSTFIX_A: &str = "\
Dec  1 10:00:00 mx1 postfix/cleanup[2102]: 4Tq7Xz1AbcD: message-id=<m1@news.example.com>
Dec  1 10:00:00 mx1 postfix/qmgr[900]: 4Tq7Xz1AbcD: from=<bounces+fall-bob=example.net@news.example.com>, size=4242, nrcpt=2 (queue active)
Dec  1 10:00:02 mx1 postfix/smtp[2103]: 4Tq7Xz1AbcD: to=<ann@example.net>, relay=mx1.example.net[192.0.2.10]:25, delay=2.1, delays=0.1/0/1/1, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 77AB)
";
const POSTFIX_B: &str = "\
Dec  1 10:00:03 mx1 postfix/smtp[2103]: 4Tq7Xz1AbcD: to=<bob@example.net>, relay=mx1.example.net[192.0.2.10]:25, delay=3, delays=0.1/0/1/2, dsn=5.1.1, status=bounced (host mx1.example.net[192.0.2.10] said: 550 5.1.1 <bob@example.net>: Recipient address rejected: User unknown (in reply to RCPT TO command))
Dec  1 10:00:06 mx1 postfix/qmgr[900]: 4Tq7Xz1AbcD: removed
";

fn pipe(db: &TestDb, input: &str) -> String {
    let mut child = rebound(db, &["ingest-log", "--format", "postfix", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A pipe's join state survives between runs: the sender logged in the first run attributes
/// the bounce logged in the second.
async fn a_pipe_keeps_its_join_state_between_runs(db: TestDb) {
    let first = pipe(&db, POSTFIX_A);
    assert!(first.starts_with("1 new records"), "{first}");
    let second = pipe(&db, POSTFIX_B);
    assert!(second.starts_with("1 new records"), "{second}");
    let store = Db::connect(&db.config()).unwrap();
    let bob = "events e JOIN event_provenance p ON p.event_id = e.id WHERE e.recipient = 'bob@example.net' \
               AND e.classification = 'hard' AND e.campaign_id = 'fall' AND p.queue_id = '4Tq7Xz1AbcD' \
               AND p.message_id = 'm1@news.example.com' AND p.node = 'mx1'";
    assert_eq!(count(&store, bob).await, 1);
    let again = pipe(&db, &format!("{POSTFIX_A}{POSTFIX_B}"));
    assert!(again.starts_with("0 new records (2 recorded before)"), "{again}");
}
on_both_backends!(pipe_join_state, a_pipe_keeps_its_join_state_between_runs);
