//! After the fact: a log line in the review queue is read again by its format's reader when
//! reprocessed (and leaves the queue once it reads, as an event with its provenance), and
//! `reclassify` re-runs the rules over logged events with the MTA's bounce category.

use super::support::TestDb;
use super::{count, rebound, run_ok, text};
use rebound::store::Db;

const HEADER: &str = "type,timeLogged,orig,rcpt,dsnStatus,dsnDiag,bounceCat,vmta,header_X-Campaign-ID\n";

/// An accounting file cut at its start: its first line came before the header (the part
/// before it went to an older file), so it could not be read on its own then.
fn accounting() -> String {
    let mut s = String::from(
        "b,2026-12-01 09:59:59+0000,bounce-42@news.example.com,early@example.net,5.1.1 (bad destination mailbox address),smtp;550 5.1.1 no such user,bad-mailbox,vmta-3,camp-42\n",
    );
    s += HEADER;
    s += "b,2026-12-01 10:00:02+0000,bounce-42@news.example.com,late@example.net,4.2.2 (mailbox full),smtp;452 4.2.2 over quota,quota-issues,vmta-3,camp-42\n";
    s += "utter garbage that is no accounting record\n";
    s
}

async fn a_log_line_reprocessed_reads_and_reclassify_sees_the_category(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("acct.csv");
    std::fs::write(&file, accounting()).unwrap();
    run_ok(rebound(&db, &["import-log", "--format", "powermta", file.to_str().unwrap()]));
    let store = Db::connect(&db.config()).unwrap();
    assert_eq!(count(&store, "messages WHERE kind = 'log_line' AND state = 'review'").await, 2);
    let early = text(
        &store,
        "SELECT CAST(id AS TEXT) AS s FROM messages WHERE kind = 'log_line' AND review_reason LIKE '%line 1 %'",
    )
    .await
    .unwrap();
    let garbage = text(
        &store,
        "SELECT CAST(id AS TEXT) AS s FROM messages WHERE kind = 'log_line' AND review_reason LIKE '%line 4 %'",
    )
    .await
    .unwrap();

    // Read again: the file's header (in its checkpoint now) names the fields.
    let out = run_ok(rebound(&db, &["review", "reprocess", &early]));
    assert!(out.contains("1 left the queue, 1 new records"), "{out}");
    let ev = "events e JOIN event_provenance p ON p.event_id = e.id WHERE e.recipient = 'early@example.net' \
              AND e.origin = 'log' AND e.classification = 'hard' AND e.campaign_id = 'camp-42' \
              AND p.vmta = 'vmta-3' AND p.mta_category = 'bad-mailbox' AND p.line_no = 1 AND p.byte_offset = 0";
    assert_eq!(count(&store, ev).await, 1);
    assert_eq!(count(&store, "suppressions WHERE address = 'early@example.net'").await, 1);
    assert_eq!(count(&store, &format!("messages WHERE id = {early} AND state = 'processed'")).await, 1);
    // Again: it left the queue; importing the file again records nothing new.
    let again = run_ok(rebound(&db, &["review", "reprocess", "--all"]));
    assert!(again.contains("reprocessed 1: 0 left the queue, 0 new records"), "{again}");
    let reimport = run_ok(rebound(&db, &["import-log", "--format", "powermta", file.to_str().unwrap()]));
    assert!(reimport.starts_with("0 new records"), "{reimport}");
    // The garbage is still garbage: it stays, saying so.
    let why = text(&store, &format!("SELECT review_reason AS s FROM messages WHERE id = {garbage}")).await.unwrap();
    assert!(why.contains("read again") && why.contains("line 4"), "{why}");
    assert_eq!(count(&store, "events").await, 2);

    // A rule on PowerMTA's own category: a mailbox-full bounce of category quota-issues is
    // not the address's fault here. Reclassify re-runs the rules over the logged event.
    run_ok(rebound(
        &db,
        &[
            "rules",
            "add",
            "--key",
            "pmta-quota",
            "--name",
            "PowerMTA quota",
            "--when",
            "mta_category is quota-issues",
            "--outcome",
            "ignore",
            "--to",
            "1",
        ],
    ));
    let dry = run_ok(rebound(&db, &["reclassify", "--since", "2026-11-01", "--dry-run"]));
    assert!(dry.contains("late@example.net") && dry.contains("pmta-quota"), "{dry}");
    run_ok(rebound(&db, &["reclassify", "--since", "2026-11-01"]));
    let late = "events WHERE recipient = 'late@example.net' AND classification = 'ignore' AND rule_key = 'pmta-quota'";
    assert_eq!(count(&store, late).await, 1);
}
on_both_backends!(log_line_again, a_log_line_reprocessed_reads_and_reclassify_sees_the_category);
