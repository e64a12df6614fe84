//! The ingest pipeline on both backends: exactly once, campaign views, suppression policy,
//! review queue.

mod support;

use rebound::ingest::{Disposition, Item, Pipeline, review};
use rebound::record::views;
use rebound::store::Page;
use rebound::store::{AnyConnection, Db};
use rebound::suppress::list;
use support::TestDb;
use support::app::TestApp;
use support::mail::{arf, dsn, original};

fn page() -> Page {
    Page::first(100)
}

fn ingest(p: &Pipeline, c: &mut AnyConnection, source: &str, id: &str, raw: &[u8]) -> Disposition {
    let (mut d, _) = p.ingest(c, &[Item { source, source_id: id, raw }]).unwrap();
    d.remove(0)
}

fn suppressed(c: &mut AnyConnection, addr: &str) -> Option<String> {
    list::get(c, addr, "global").unwrap().map(|s| s.source)
}

const T0: &str = "Tue, 10 Nov 2026 10:00:00 +0000";

async fn exactly_once_and_campaign_views(db: TestDb) {
    let app = TestApp::new(db, |_| {});
    let (store, p) = (&app.db, app.pipeline.clone());
    let c = &mut *store.conn().unwrap();
    let hard = dsn(
        "bounces@sender.example",
        "gone@example.org",
        "5.1.1",
        "550 5.1.1 <gone@example.org>: Recipient address rejected: User unknown in virtual mailbox table",
        &original(Some("spring"), "m1@sender.example"),
        T0,
    );
    let first = ingest(&p, c, "inbox-a", "7:1", &hard);
    assert!(matches!(first, Disposition::New { events: 1, review: None, .. }), "{first:?}");
    // Fetched again, from another mailbox, or imported: nothing changes.
    assert_eq!(ingest(&p, c, "inbox-a", "7:1", &hard), Disposition::Seen);
    assert!(matches!(ingest(&p, c, "inbox-b", "UIDL-9", &hard), Disposition::Duplicate { .. }));
    assert!(matches!(ingest(&p, c, "file", "/tmp/x.eml", &hard), Disposition::Duplicate { .. }));

    let rows = views::bounced(c, "spring", &Default::default(), &page(), &[]).unwrap().rows;
    assert_eq!(rows.len(), 1, "{rows:?}");
    let r = &rows[0];
    assert_eq!((r.email.as_str(), r.kind.as_str(), r.reason.as_str()), ("gone@example.org", "hard", "userunknown"));
    assert!(r.rule.is_some() && r.diagnostic.as_deref().unwrap().contains("User unknown"));
    assert_eq!(suppressed(c, "gone@example.org").as_deref(), Some("hard_bounce"));
    let camps = views::campaigns(c).unwrap();
    assert_eq!((camps[0].id.as_str(), camps[0].hard, camps[0].soft), ("spring", 1, 0));
    assert_eq!(rebound::suppress::changes::since(c, 0, 100).unwrap().len(), 1, "one change for the nodes");
}
on_both_backends!(exactly_once, exactly_once_and_campaign_views);

async fn soft_threshold_boundaries(db: TestDb) {
    let app = TestApp::new(db, |c| {
        c.suppression.soft_threshold = 3;
        c.suppression.soft_window_days = 7;
    });
    let (store, p) = (&app.db, app.pipeline.clone());
    let c = &mut *store.conn().unwrap();
    let full = |day: u32, n: u32| {
        let when = chrono::NaiveDate::from_ymd_opt(2026, 11, day)
            .unwrap()
            .and_hms_opt(10, 0, 0)
            .unwrap()
            .and_utc()
            .to_rfc2822();
        dsn(
            "b@sender.example",
            "full@example.org",
            "5.2.2",
            &format!("552 5.2.2 Mailbox full (try {n})"),
            &original(Some("c"), &format!("f{n}@s")),
            &when,
        )
    };
    // Two in the window, one far outside it: below the threshold of 3.
    ingest(&p, c, "m", "1", &full(1, 1));
    ingest(&p, c, "m", "2", &full(20, 2));
    ingest(&p, c, "m", "3", &full(22, 3));
    assert_eq!(suppressed(c, "full@example.org"), None, "N-1 within the window must not suppress");
    // The third within seven days suppresses.
    ingest(&p, c, "m", "4", &full(24, 4));
    assert_eq!(suppressed(c, "full@example.org").as_deref(), Some("soft_threshold"));
    // Later soft bounces of a suppressed address change nothing.
    let changes = rebound::suppress::changes::since(c, 0, 100).unwrap().len();
    ingest(&p, c, "m", "5", &full(25, 5));
    assert_eq!(suppressed(c, "full@example.org").as_deref(), Some("soft_threshold"));
    assert_eq!(rebound::suppress::changes::since(c, 0, 100).unwrap().len(), changes, "no second suppression");
    let rows = views::bounced(c, "c", &Default::default(), &page(), &[]).unwrap().rows;
    // The rules keep 5.2.2 soft; what the server said (5.x) is still a permanent failure.
    assert!(rows.iter().all(|r| r.classification == "soft" && r.kind == "hard"), "{rows:?}");
    assert_eq!(rows.iter().filter(|r| r.action == "suppressed").count(), 1, "{rows:?}");
}
on_both_backends!(soft_threshold, soft_threshold_boundaries);

async fn expired_soft_suppression_counts_history_again(db: TestDb) {
    use diesel::prelude::*;
    use rebound::store::schema::suppressions;
    let app = TestApp::new(db, |c| {
        c.suppression.soft_threshold = 2;
        c.suppression.soft_window_days = 7;
        c.suppression.expire_after_days = 30;
    });
    let (store, p) = (&app.db, app.pipeline.clone());
    let c = &mut *store.conn().unwrap();
    let full = |n: u32| {
        let when = format!("Tue, {} Nov 2026 10:00:00 +0000", 10 + n);
        let diag = format!("552 5.2.2 Mailbox full (try {n})");
        dsn("b@sender.example", "full@example.org", "5.2.2", &diag, &original(Some("c"), &format!("f{n}@s")), &when)
    };
    ingest(&p, c, "m", "1", &full(1));
    ingest(&p, c, "m", "2", &full(2));
    assert_eq!(suppressed(c, "full@example.org").as_deref(), Some("soft_threshold"));
    // The suppression lapses; the next soft bounce, with the earlier ones still in its
    // window, suppresses afresh.
    let past = chrono::Utc::now().naive_utc() - chrono::Duration::days(1);
    diesel::update(suppressions::table).set(suppressions::expires_at.eq(Some(past))).execute(c).unwrap();
    ingest(&p, c, "m", "3", &full(3));
    let s = list::get(c, "full@example.org", "global").unwrap().expect("suppressed again");
    assert!(s.expires_at.is_some_and(|t| t > chrono::Utc::now().naive_utc()), "{s:?}");
}
on_both_backends!(expired_soft_suppression, expired_soft_suppression_counts_history_again);

async fn sender_side_soft_bounces_do_not_count(db: TestDb) {
    let app = TestApp::new(db, |c| c.suppression.soft_threshold = 1);
    let (store, p) = (&app.db, app.pipeline.clone());
    let c = &mut *store.conn().unwrap();
    let blocked = dsn(
        "b@s",
        "ok@example.org",
        "5.7.1",
        "554 5.7.1 Service unavailable; Client host [192.0.2.9] blocked using zen.spamhaus.org",
        &original(None, "z@s"),
        T0,
    );
    ingest(&p, c, "m", "1", &blocked);
    assert_eq!(suppressed(c, "ok@example.org"), None, "a blocklisted sending IP is not the address's fault");
}
on_both_backends!(sender_side, sender_side_soft_bounces_do_not_count);

async fn complaints_suppress_except_not_spam(db: TestDb) {
    let app = TestApp::new(db, |_| {});
    let (store, p) = (&app.db, app.pipeline.clone());
    let c = &mut *store.conn().unwrap();
    ingest(&p, c, "fbl", "1", &arf("angry@example.org", "abuse", &original(Some("fall"), "a1@s")));
    ingest(&p, c, "fbl", "2", &arf("happy@example.org", "not-spam", &original(Some("fall"), "a2@s")));
    assert_eq!(suppressed(c, "angry@example.org").as_deref(), Some("fbl_complaint"));
    assert_eq!(suppressed(c, "happy@example.org"), None, "not-spam is recorded only");
    let rows = views::complaints(c, "fall", &Default::default(), &page()).unwrap().rows;
    let mut types: Vec<_> = rows.iter().map(|r| r.feedback_type.clone().unwrap_or_default()).collect();
    types.sort();
    assert_eq!(types, vec!["abuse", "not-spam"]);
    assert!(rows.iter().all(|r| r.mailbox == "fbl"));
}
on_both_backends!(complaints, complaints_suppress_except_not_spam);

async fn allowlisted_addresses_never_suppress(db: TestDb) {
    let app = TestApp::new(db, |c| c.suppression.allowlist = vec!["vip.example".into()]);
    let (store, p) = (&app.db, app.pipeline.clone());
    let c = &mut *store.conn().unwrap();
    let hard = dsn("b@s", "ceo@vip.example", "5.1.1", "550 5.1.1 User unknown", &original(None, "v@s"), T0);
    ingest(&p, c, "m", "1", &hard);
    assert_eq!(suppressed(c, "ceo@vip.example"), None);
    let arf = arf("ceo@vip.example", "abuse", &original(None, "v2@s"));
    ingest(&p, c, "m", "2", &arf);
    assert_eq!(suppressed(c, "ceo@vip.example"), None);
}
on_both_backends!(allowlist, allowlisted_addresses_never_suppress);

async fn forged_verp_is_refused(db: TestDb) {
    // SAFETY of the env var: a unique name no other test reads.
    unsafe { std::env::set_var("REBOUND_TEST_VERP_KEY_PIPELINE", "s3cret") };
    let app = TestApp::new(db, |c| {
        c.attribution.verp_pattern =
            r"^b\+(?P<campaign>\w+)\.(?P<recipient>[^@=]+=[^@]+?)\.(?P<sig>[0-9a-f]{16})@".into();
        c.attribution.verp_secret_env = Some("REBOUND_TEST_VERP_KEY_PIPELINE".into());
    });
    let (store, p) = (&app.db, app.pipeline.clone());
    let c = &mut *store.conn().unwrap();
    let key = rebound::config::Secret::new("s3cret");
    let sig = &rebound::ingest::attribute::sign(&key, "c9:real@example.org")[..16];
    let good = dsn(
        &format!("b+c9.real=example.org.{sig}@bounce.sender.example"),
        "real@example.org",
        "5.1.1",
        "550 5.1.1 User unknown",
        "",
        T0,
    );
    assert!(matches!(ingest(&p, c, "m", "1", &good), Disposition::New { review: None, .. }));
    assert_eq!(suppressed(c, "real@example.org").as_deref(), Some("hard_bounce"));
    assert_eq!(views::bounced(c, "c9", &Default::default(), &page(), &[]).unwrap().rows.len(), 1, "attributed by VERP");

    let forged = dsn(
        "b+c9.victim=example.org.0000000000000000@bounce.sender.example",
        "victim@example.org",
        "5.1.1",
        "550 5.1.1 User unknown",
        "",
        T0,
    );
    let d = ingest(&p, c, "m", "2", &forged);
    assert!(matches!(&d, Disposition::New { events: 0, review: Some(r), .. } if r.contains("signature")), "{d:?}");
    assert_eq!(suppressed(c, "victim@example.org"), None, "a forged bounce must not suppress");
    assert_eq!(review::list(c, &rebound::store::Page::first(10)).unwrap().rows.len(), 1);
}
on_both_backends!(forged_verp, forged_verp_is_refused);

async fn unparseable_mail_is_kept_for_review(db: TestDb) {
    let app = TestApp::new(db, |_| {});
    let (store, p) = (&app.db, app.pipeline.clone());
    let c = &mut *store.conn().unwrap();
    let junk = b"Subject: lunch?\r\nFrom: a@example.org\r\n\r\nTacos at noon.\r\n";
    let d = ingest(&p, c, "m", "1", junk);
    let Disposition::New { message, events: 0, review: Some(_) } = d else { panic!("{d:?}") };
    let (item, raw, sources) = review::show(c, message).unwrap().unwrap();
    assert_eq!(raw.as_deref(), Some(&junk[..]), "raw bytes are kept");
    assert_eq!(sources, vec!["m:1"]);
    assert!(item.reason.is_some());
    let done = review::reprocess(c, &p, &rebound::audit::Actor::system("test"), message).unwrap();
    assert!(done.state == "review" && done.events == 0, "still nothing to make of it");
}
on_both_backends!(review_queue, unparseable_mail_is_kept_for_review);

async fn reclassify_after_a_rule_change(db: TestDb) {
    use rebound::classify::repo::{self, Placement};
    use rebound::classify::{Condition, Field, Op, Origin, Outcome, Rule};
    use rebound::ingest::reclassify;
    let app = TestApp::new(db, |_| {});
    let (store, p) = (&app.db, app.pipeline.clone());
    let c = &mut *store.conn().unwrap();
    let hard = dsn(
        "b@s",
        "maybe@example.org",
        "5.1.1",
        "550 5.1.1 <maybe@example.org>: user unknown (directory sync lag)",
        &original(Some("w"), "r1@s"),
        T0,
    );
    ingest(&p, c, "m", "1", &hard);
    assert_eq!(suppressed(c, "maybe@example.org").as_deref(), Some("hard_bounce"));
    let rule = Rule {
        key: "sync-lag".into(),
        name: "Directory sync lag is temporary".into(),
        description: None,
        enabled: true,
        origin: Origin::Custom,
        when: vec![Condition::new(Field::Diagnostic, Op::Contains, "directory sync lag")],
        outcome: Outcome::Soft,
        reason: None,
    };
    repo::add(c, &rebound::audit::Actor::system("test"), rule, &Placement::At(1)).unwrap();
    let since = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap().and_hms_opt(0, 0, 0).unwrap();

    let dry = reclassify::run(c, &p, since, true).unwrap();
    assert_eq!(dry.len(), 1);
    assert_eq!((dry[0].from.as_str(), dry[0].to.as_str(), dry[0].new_rule.as_str()), ("hard", "soft", "sync-lag"));
    assert_eq!(suppressed(c, "maybe@example.org").as_deref(), Some("hard_bounce"), "dry run changes nothing");

    let done = reclassify::run(c, &p, since, false).unwrap();
    assert_eq!(done[0].suppression, "released");
    assert_eq!(suppressed(c, "maybe@example.org"), None);
    let rows = views::bounced(c, "w", &Default::default(), &page(), &[]).unwrap().rows;
    assert_eq!((rows[0].classification.as_str(), rows[0].rule.as_deref()), ("soft", Some("sync-lag")));
    let camp = &views::campaigns(c).unwrap()[0];
    assert_eq!((camp.hard, camp.soft), (0, 1));
    let log = rebound::suppress::changes::since(c, 0, 10).unwrap();
    assert_eq!(log.iter().map(|l| l.op.as_str()).collect::<Vec<_>>(), vec!["add", "remove"]);
    assert!(reclassify::run(c, &p, since, false).unwrap().is_empty(), "a second run finds nothing to change");
}
on_both_backends!(reclassify, reclassify_after_a_rule_change);

async fn raw_messages_are_purged_after_retention_but_review_items_kept(db: TestDb) {
    use diesel::prelude::*;
    use rebound::store::schema::messages;
    let app = TestApp::new(db, |c| c.retention.raw_message_days = 30);
    let (store, p) = (&app.db, app.pipeline.clone());
    let c = &mut *store.conn().unwrap();
    let hard = dsn("b@s", "x@example.org", "5.1.1", "550 5.1.1 User unknown", &original(None, "p1@s"), T0);
    let Disposition::New { message: done, .. } = ingest(&p, c, "m", "1", &hard) else { panic!() };
    let Disposition::New { message: queued, .. } = ingest(&p, c, "m", "2", b"Subject: hi\r\n\r\nnot a bounce\r\n")
    else {
        panic!()
    };
    let now = chrono::Utc::now().naive_utc();
    assert_eq!(rebound::record::ledger::purge_raw(c, now).unwrap(), 0, "nothing is due yet");
    let later = now + chrono::Duration::days(31);
    assert_eq!(rebound::record::ledger::purge_raw(c, later).unwrap(), 1);
    let raw_of = |c: &mut AnyConnection, id: i64| -> Option<Vec<u8>> {
        messages::table.find(id).select(messages::raw).first(c).unwrap()
    };
    assert!(raw_of(c, done).is_none(), "processed message purged");
    assert!(raw_of(c, queued).is_some(), "review item keeps its raw bytes");
}
on_both_backends!(retention, raw_messages_are_purged_after_retention_but_review_items_kept);

async fn an_expired_suppression_leaves_with_a_remove_change(db: TestDb) {
    let app = TestApp::new(db, |c| c.suppression.expire_after_days = 30);
    let (store, p) = (&app.db, app.pipeline.clone());
    let c = &mut *store.conn().unwrap();
    let hard = dsn("b@s", "lapse@example.org", "5.1.1", "550 5.1.1 User unknown", &original(None, "e1@s"), T0);
    ingest(&p, c, "m", "1", &hard);
    let now = chrono::Utc::now().naive_utc();
    let in_force = |c: &mut AnyConnection, at| list::in_force(c, None, 100, at).unwrap().len();
    assert_eq!(in_force(c, now), 1);
    let later = now + chrono::Duration::days(31);
    assert_eq!(in_force(c, later), 0, "the export never lists a lapsed entry");
    assert_eq!(list::expire(c, now).unwrap(), 0, "nothing has lapsed yet");
    assert_eq!(list::expire(c, later).unwrap(), 1);
    let log = rebound::suppress::changes::since(c, 0, 10).unwrap();
    assert_eq!(
        log.iter().map(|l| (l.op.as_str(), l.source.as_str())).collect::<Vec<_>>(),
        vec![("add", "hard_bounce"), ("remove", "expiry")]
    );
    assert!(list::get(c, "lapse@example.org", "global").unwrap().is_none());
}
on_both_backends!(expiry, an_expired_suppression_leaves_with_a_remove_change);

/// Two instances writing the change log while a node follows it by cursor: on PostgreSQL a
/// sequence number is handed out at insert, so without commit ordering the reader can pass a
/// seq whose transaction commits later, and never see it.
#[test]
fn a_cursor_reader_never_misses_a_change_from_two_concurrent_writers() {
    use rebound::suppress::{Source, Suppression, changes};
    let db = TestDb::postgres();
    let store = Db::connect(&db.config()).unwrap();
    let per_writer = 150;
    let done = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let (store, done) = (store.clone(), done.clone());
            std::thread::spawn(move || {
                let mut conn = store.conn().unwrap();
                for i in 0..per_writer {
                    let now = chrono::Utc::now().naive_utc();
                    let entry = Suppression {
                        address: format!("w{w}.{i}@example.org"),
                        scope: "global".into(),
                        source: Source::Manual.as_str().into(),
                        event_id: None,
                        reason: None,
                        note: None,
                        created_at: now,
                        expires_at: None,
                    };
                    rebound::store::transaction(&mut conn, |c| -> Result<(), rebound::store::StoreError> {
                        list::add(c, &entry, None)?;
                        // Work after the append keeps the transaction open: the other writer's
                        // later seq may commit first.
                        std::thread::sleep(std::time::Duration::from_micros(((i * 7 + w * 3) % 5) as u64 * 400));
                        Ok(())
                    })
                    .unwrap();
                }
                done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            })
        })
        .collect();
    let mut conn = store.conn().unwrap();
    let (mut cursor, mut seen) = (0i64, std::collections::BTreeSet::new());
    loop {
        let finished = done.load(std::sync::atomic::Ordering::SeqCst) == 2;
        let page = changes::since(&mut conn, cursor, 1000).unwrap();
        for ch in &page {
            seen.insert(ch.seq);
            cursor = ch.seq;
        }
        if finished && page.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_micros(300));
    }
    for w in writers {
        w.join().unwrap();
    }
    let all: std::collections::BTreeSet<i64> =
        changes::since(&mut conn, 0, 10_000).unwrap().iter().map(|c| c.seq).collect();
    assert_eq!(all.len(), 2 * per_writer);
    let missed: Vec<_> = all.difference(&seen).collect();
    assert!(missed.is_empty(), "the cursor reader missed {} changes: {missed:?}", missed.len());
}

async fn keyset_pages_stay_right_while_events_arrive(db: TestDb) {
    let app = TestApp::new(db, |_| {});
    let (store, p) = (&app.db, app.pipeline.clone());
    let c = &mut *store.conn().unwrap();
    let bounce = |i: usize| {
        dsn(
            "b@s",
            &format!("k{i}@example.org"),
            "5.1.1",
            "550 5.1.1 User unknown",
            &original(Some("k"), &format!("k{i}@s")),
            &format!("Tue, 10 Nov 2026 10:{:02}:00 +0000", i),
        )
    };
    for i in 0..5 {
        ingest(&p, c, "m", &format!("1:{i}"), &bounce(i));
    }
    let mut seen = Vec::new();
    let mut page = Page::first(2);
    let first = views::bounced(c, "k", &Default::default(), &page, &[]).unwrap();
    seen.extend(first.rows.iter().map(|r| r.email.clone()));
    // Newer bounces arrive between two page reads: an offset would now repeat rows.
    for i in 5..8 {
        ingest(&p, c, "m", &format!("1:{i}"), &bounce(i));
    }
    page.after = first.next;
    while page.after.is_some() {
        let next = views::bounced(c, "k", &Default::default(), &page, &[]).unwrap();
        seen.extend(next.rows.iter().map(|r| r.email.clone()));
        page.after = next.next;
    }
    let want: Vec<String> = (0..5).rev().map(|i| format!("k{i}@example.org")).collect();
    assert_eq!(seen, want, "every row of the first read exactly once, newest first");
    let bad = Page { limit: 2, after: Some(rebound::store::Cursor("not a cursor".into())) };
    assert!(views::bounced(c, "k", &Default::default(), &bad, &[]).is_err());
}
on_both_backends!(keyset_pages, keyset_pages_stay_right_while_events_arrive);

async fn bounced_lists_every_failed_delivery_with_what_rebound_did(db: TestDb) {
    use rebound::classify::repo::{self, Placement};
    use rebound::classify::{Condition, Field, Op, Origin, Outcome, Rule};
    let app = TestApp::new(db, |c| c.suppression.soft_threshold = 3);
    let (store, p) = (&app.db, app.pipeline.clone());
    let c = &mut *store.conn().unwrap();
    // An operator's rule: DKIM failures are the sender's problem, never the address's.
    let rule = Rule {
        key: "dkim-is-ours".into(),
        name: "DKIM failures are ours to fix".into(),
        description: None,
        enabled: true,
        origin: Origin::Custom,
        when: vec![Condition::new(Field::Diagnostic, Op::Contains, "dkim")],
        outcome: Outcome::Ignore,
        reason: None,
    };
    repo::add(c, &rebound::audit::Actor::system("test"), rule, &Placement::At(1)).unwrap();
    let orig = |id: &str| original(Some("v"), &format!("{id}@s"));
    let mails = [
        dsn("b@s", "gone@example.org", "5.1.1", "550 5.1.1 User unknown", &orig("v1"), T0),
        // The MTA gave up on a temporary failure: a failed delivery with a 4.x status.
        String::from_utf8(dsn("b@s", "full@example.org", "4.4.7", "451 4.4.7 Delivery time expired", &orig("v2"), T0))
            .unwrap()
            .replace("Action: delayed", "Action: failed")
            .into_bytes(),
        dsn("b@s", "dkim@example.org", "5.7.1", "550 5.7.1 DKIM signature did not verify", &orig("v3"), T0),
    ];
    for (i, m) in mails.iter().enumerate() {
        ingest(&p, c, "m", &format!("1:{i}"), m);
    }
    let rows = views::bounced(c, "v", &Default::default(), &page(), &[]).unwrap().rows;
    let mut got: Vec<(String, String, String, Option<String>)> =
        rows.iter().map(|r| (r.email.clone(), r.kind.clone(), r.action.clone(), r.rule.clone())).collect();
    got.sort();
    assert_eq!(
        got,
        vec![
            ("dkim@example.org".into(), "hard".into(), "not counted".into(), Some("dkim-is-ours".into())),
            (
                "full@example.org".into(),
                "soft".into(),
                "counted".into(),
                rows.iter().find(|r| r.email.starts_with("full")).unwrap().rule.clone()
            ),
            (
                "gone@example.org".into(),
                "hard".into(),
                "suppressed".into(),
                rows.iter().find(|r| r.email.starts_with("gone")).unwrap().rule.clone()
            ),
        ],
        "the ignored 5.7.1 is listed, typed by what the server said"
    );
    let camp = views::campaigns(c).unwrap().into_iter().find(|x| x.id == "v").unwrap();
    assert_eq!((camp.failed_permanent, camp.failed_temporary), (2, 1));
}
on_both_backends!(bounced_view, bounced_lists_every_failed_delivery_with_what_rebound_did);
