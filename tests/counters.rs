//! A campaign's pre-aggregated report (`record::counters`) against a GROUP BY over its
//! events (`report::days_grouped`, and the failure groups' statement here), on both
//! backends, after each path that writes events or changes their classification: ingest,
//! reclassify and review reprocess.

mod support;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};
use rebound::ingest::{Item, Pipeline, reclassify, review};
use rebound::record::counters;
use rebound::record::report::{self, BounceGroup, Day};
use rebound::store::AnyConnection;
use support::TestDb;
use support::app::TestApp;
use support::mail::{arf, dsn, dsn_many, original};

#[derive(QueryableByName, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct GroupRow {
    #[diesel(sql_type = Nullable<Text>)]
    status: Option<String>,
    #[diesel(sql_type = Text)]
    domain: String,
    #[diesel(sql_type = Nullable<Text>)]
    remote_mta: Option<String>,
    #[diesel(sql_type = BigInt)]
    count: i64,
    #[diesel(sql_type = BigInt)]
    permanent: i64,
}

/// The campaign's bounces per status × domain × remote MTA from its events, sorted.
fn groups_from_events(c: &mut AnyConnection, campaign: &str) -> Vec<GroupRow> {
    let mut rows: Vec<GroupRow> = diesel::sql_query(format!(
        "SELECT status, recipient_domain AS domain, remote_mta, COUNT(*) AS count, \
         CAST(SUM(CASE WHEN permanent = 1 THEN 1 ELSE 0 END) AS BIGINT) AS permanent \
         FROM events WHERE campaign_id = '{campaign}' AND kind = 'bounce' AND recipient_domain IS NOT NULL \
         GROUP BY status, recipient_domain, remote_mta"
    ))
    .load(c)
    .unwrap();
    rows.sort();
    rows
}

fn groups_from_counters(c: &mut AnyConnection, campaign: &str) -> Vec<GroupRow> {
    let all: Vec<BounceGroup> = counters::bounce_groups(c, campaign, 1000).unwrap();
    assert!(all.windows(2).all(|w| w[0].count >= w[1].count), "largest first: {all:?}");
    let mut rows: Vec<GroupRow> = all
        .into_iter()
        .map(|g| GroupRow {
            status: g.status,
            domain: g.domain,
            remote_mta: g.remote_mta,
            count: g.count,
            permanent: g.permanent,
        })
        .collect();
    rows.sort();
    rows
}

/// Every campaign's counters equal the GROUP BY; gives campaign `a`'s days for the caller's
/// own expectations.
fn counters_match(c: &mut AnyConnection, when: &str) -> Vec<Day> {
    for campaign in ["a", "b", "none"] {
        let (want, got) = (report::days_grouped(c, campaign).unwrap(), counters::days(c, campaign).unwrap());
        assert_eq!(got, want, "{when}: days of campaign {campaign}");
        let (want, got) = (groups_from_events(c, campaign), groups_from_counters(c, campaign));
        assert_eq!(got, want, "{when}: failure groups of campaign {campaign}");
    }
    counters::days(c, "a").unwrap()
}

fn ingest(p: &Pipeline, c: &mut AnyConnection, items: &[(String, Vec<u8>)]) {
    let items: Vec<Item> = items.iter().map(|(id, raw)| Item { source: "m", source_id: id, raw }).collect();
    p.ingest(c, &items).unwrap();
}

const DAY1: &str = "Tue, 10 Nov 2026 10:00:00 +0000";
const DAY2: &str = "Wed, 11 Nov 2026 23:59:00 +0000";

async fn counters_follow_every_write(db: TestDb) {
    use rebound::classify::repo::{self, Placement};
    use rebound::classify::{Condition, Field, Op, Origin, Outcome, Rule};
    let app = TestApp::new(db, |_| {});
    let p = app.pipeline.clone();
    let c = &mut *app.conn();
    let mut batch = Vec::new();
    for i in 0..12 {
        let (status, diag) = match i % 3 {
            0 => ("5.1.1", "550 5.1.1 User unknown"),
            1 => ("4.2.2", "452 4.2.2 Mailbox full"),
            _ => ("5.7.1", "550 5.7.1 Delivery not authorized, policy lag"),
        };
        let campaign = if i % 4 == 3 { "b" } else { "a" };
        let rcpt = format!("u{i}@d{}.example", i % 2);
        let orig = original(Some(campaign), &format!("m{i}@sender.example"));
        let day = if i % 2 == 0 { DAY1 } else { DAY2 };
        batch.push((format!("{i}"), dsn("b@sender.example", &rcpt, status, diag, &orig, day)));
    }
    // Several recipients in one report, without a Remote-MTA; a complaint; an unattributed bounce.
    let many = (0..5).map(|i| format!("list{i}@big.example"));
    batch.push(("many".into(), dsn_many("b@sender.example", many, &original(Some("a"), "many@sender.example"))));
    batch.push(("arf".into(), arf("u1@d1.example", "abuse", &original(Some("a"), "m1@sender.example"))));
    let orphan = dsn("b@s", "x@d0.example", "5.1.1", "550 5.1.1 gone", &original(None, "o@s"), DAY1);
    batch.push(("orphan".into(), orphan));
    // Two batches: the second adds to rows the first created.
    ingest(&p, c, &batch[..7]);
    ingest(&p, c, &batch[7..]);
    let days = counters_match(c, "after ingest");
    assert_eq!(days.len(), 2, "two days: {days:?}");
    let total: i64 = days.iter().map(|d| d.hard + d.soft + d.complaints + d.ignored).sum();
    assert_eq!(total, 9 + 5 + 1, "campaign a: nine single bounces, five of one report, a complaint");
    assert!(counters::days(c, "none").unwrap().is_empty());

    // A rule now calls the policy refusals soft: reclassify moves them.
    let rule = Rule {
        key: "policy-lag".into(),
        name: "Policy lag passes".into(),
        description: None,
        enabled: true,
        origin: Origin::Custom,
        when: vec![Condition::new(Field::Diagnostic, Op::Contains, "policy lag")],
        outcome: Outcome::Soft,
        reason: None,
    };
    repo::add(c, &rebound::audit::Actor::system("test"), rule, &Placement::At(1)).unwrap();
    let since = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap().and_hms_opt(0, 0, 0).unwrap();
    let before: i64 = days.iter().map(|d| d.soft).sum();
    assert!(!reclassify::run(c, &p, since, false).unwrap().is_empty(), "the rule changes something");
    let days = counters_match(c, "after reclassify");
    assert_eq!(days.iter().map(|d| d.soft).sum::<i64>(), before + 3, "a's three 5.7.1 refusals");

    // A review item today's parser reads: reprocessing writes its events and counts them.
    let raw = dsn("b@s", "late@d9.example", "5.1.1", "550 5.1.1 gone", &original(Some("a"), "late@s"), DAY2);
    let id = support::review::legacy_item(c, &raw);
    let done = review::reprocess(c, &p, &rebound::audit::Actor::system("test"), id).unwrap();
    assert_eq!(done.events, 1, "{done:?}");
    let days = counters_match(c, "after reprocess");
    assert_eq!(
        days.iter().map(|d| d.failed_permanent).sum::<i64>(),
        6 + 5 + 1,
        "six single 5.x.x, five of one report, the late one"
    );

    // The repair gives what the writes kept.
    let kept = (counters::days(c, "a").unwrap(), groups_from_counters(c, "a"));
    counters::rebuild(c).unwrap();
    assert_eq!((counters::days(c, "a").unwrap(), groups_from_counters(c, "a")), kept, "rebuild");
}
on_both_backends!(counters_follow_every_write, counters_follow_every_write);
