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
    add_policy_lag_rule(c);
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

// ---- Delivery statistics (record::stats, record::stats_query) against the input itself.

use rebound::record::stats_query::{self, By, Query};
use std::collections::BTreeMap;

const ACCT_HEADER: &str =
    "type,timeLogged,rcpt,orig,dsnStatus,dsnDiag,dsnMta,bounceCat,dlvSourceIp,vmta,header_X-Campaign-ID\n";

/// One written attempt and what the test knows of it.
struct Line {
    at: chrono::NaiveDateTime,
    /// 0 delivered, 1 deferred, 2 bounced, 3 expired.
    outcome: usize,
    campaign: Option<&'static str>,
    domain: String,
    node: &'static str,
    vmta: &'static str,
    ip: &'static str,
    status: &'static str,
}

/// `n` attempts over three days, from a fixed seed: every outcome, domain, node, vmta, IP,
/// status and campaign mixed.
fn attempts(n: usize) -> Vec<Line> {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = |m: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % m) as usize
    };
    (0..n)
        .map(|_| {
            let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 10 + next(3) as u32).unwrap();
            let at = day.and_hms_opt(next(24) as u32, next(60) as u32, next(60) as u32).unwrap();
            let outcome = [0, 0, 0, 0, 1, 1, 2, 2, 2, 3][next(10)];
            let status = match outcome {
                0 => "2.0.0",
                1 => "4.7.0",
                3 => "4.4.7",
                _ => ["5.1.1", "5.7.1", "5.2.2"][next(3)],
            };
            Line {
                at,
                outcome,
                campaign: [Some("camp-a"), Some("camp-b"), None][next(3)],
                // Two of a provider's domains, to be summed under its name.
                domain: ["d0.example", "d1.example", "hotmail.co.uk", "outlook.fr"][next(4)].to_string(),
                node: ["pmta-1", "pmta-2"][next(2)],
                vmta: ["vmta-1", "vmta-2", "vmta-3"][next(3)],
                ip: ["198.51.100.1", "198.51.100.2", "198.51.100.3"][next(3)],
                status,
            }
        })
        .collect()
}

/// The accounting file of one node's lines.
fn acct(lines: &[(usize, &Line)]) -> String {
    let mut s = String::from(ACCT_HEADER);
    for (i, l) in lines {
        let (ty, diag, cat) = match (l.outcome, l.status) {
            (0, _) => ("d", "smtp;250 2.0.0 OK", ""),
            (1, _) => ("t", "smtp;421 4.7.0 Try again later", "policy-related"),
            (3, _) => ("b", "smtp;421 4.4.7 message expired", "message-expired"),
            (_, "5.1.1") => ("b", "smtp;550 5.1.1 user unknown", "bad-mailbox"),
            (_, "5.7.1") => ("b", "smtp;550 5.7.1 rejected by policy", "policy-related"),
            _ => ("b", "smtp;552 5.2.2 mailbox full", "inactive-mailbox"),
        };
        s += &format!(
            "{ty},{}+0000,u{i}@{},bounce@news.example.com,{} (x),{diag},mx.{} (192.0.2.1),{cat},{},{},{}\n",
            l.at.format("%Y-%m-%d %H:%M:%S"),
            l.domain,
            l.status,
            l.domain,
            l.ip,
            l.vmta,
            l.campaign.unwrap_or("")
        );
    }
    s
}

type Want = BTreeMap<String, [i64; 4]>;

/// The counts the test makes itself from what it wrote.
fn want(lines: &[Line], campaign: Option<&str>, from: i64, to: i64, key: impl Fn(&Line) -> Option<String>) -> Want {
    let mut out = Want::new();
    for l in lines {
        let h = l.at.and_utc().timestamp().div_euclid(3600);
        if campaign.is_some_and(|c| l.campaign != Some(c)) || h < from || h >= to {
            continue;
        }
        if let Some(k) = key(l) {
            out.entry(k).or_default()[l.outcome] += 1;
        }
    }
    out
}

fn got(c: &mut AnyConnection, q: &Query) -> Want {
    let s = stats_query::query(c, q).unwrap();
    let mut total = [0i64; 4];
    let mut out = Want::new();
    for g in &s.groups {
        let f = &g.figures;
        let v = [f.delivered, f.deferred, f.bounced, f.expired];
        if v != [0; 4] {
            out.insert(g.key.clone(), v);
        }
        total = std::array::from_fn(|i| total[i] + v[i]);
    }
    let t = &s.total;
    if q.by != By::Total && q.by != By::Why {
        assert_eq!(total, [t.delivered, t.deferred, t.bounced, t.expired], "{q:?}: groups add up to the total");
    }
    if q.by == By::Total {
        out.insert(String::new(), [t.delivered, t.deferred, t.bounced, t.expired]);
    }
    out
}

#[derive(QueryableByName, Debug, PartialEq, Eq)]
struct HardSoft {
    #[diesel(sql_type = BigInt)]
    hard: i64,
    #[diesel(sql_type = BigInt)]
    soft: i64,
}

/// Hard and soft bounces of `domain` by the events' classification now.
fn hard_soft_of_events(c: &mut AnyConnection, domain: &str) -> HardSoft {
    diesel::sql_query(format!(
        "SELECT CAST(SUM(CASE WHEN classification = 'hard' THEN 1 ELSE 0 END) AS BIGINT) AS hard, \
         CAST(SUM(CASE WHEN classification = 'soft' THEN 1 ELSE 0 END) AS BIGINT) AS soft \
         FROM events WHERE kind = 'bounce' AND recipient_domain = '{domain}'"
    ))
    .get_result(c)
    .unwrap()
}

fn hard_soft_of_stats(c: &mut AnyConnection, q: &Query, domain: &str) -> HardSoft {
    let s = stats_query::query(c, q).unwrap();
    let g = s.groups.iter().find(|g| g.key == domain).unwrap_or_else(|| panic!("{domain} in {:?}", s.groups));
    HardSoft { hard: g.figures.hard, soft: g.figures.soft }
}

async fn stats_equal_counts_made_from_the_input(db: TestDb) {
    use rebound::ingest::log::LogContext;
    use rebound::ingest::log_read::LogSource;
    use rebound::logs::{Format, Options};
    let app = TestApp::new(db, |_| {});
    let p = app.pipeline.clone();
    let c = &mut *app.conn();
    let lines = attempts(600);
    let dir = tempfile::tempdir().unwrap();
    for node in ["pmta-1", "pmta-2"] {
        let mine: Vec<(usize, &Line)> = lines.iter().enumerate().filter(|(_, l)| l.node == node).collect();
        let file = dir.path().join(format!("{node}.csv"));
        std::fs::write(&file, acct(&mine)).unwrap();
        let src = LogSource {
            source: "import:powermta".into(),
            format: Format::PowerMta,
            options: Options { node: Some(node.into()), ..Options::default() },
            context: LogContext { node: Some(node.into()), ..LogContext::default() },
        };
        let done = p.log_pass(c, &src, &file, &mut |_, _| {}).unwrap();
        assert_eq!(done.records, mine.len(), "{node}: every line read");
    }
    // Mailed bounces count too: four 5.7.1 refusals of camp-a on the 11th (no node, no IP).
    let mut mail = Vec::new();
    for i in 0..4 {
        let orig = original(Some("camp-a"), &format!("s{i}@sender.example"));
        let raw = dsn("b@sender.example", &format!("m{i}@d0.example"), "5.7.1", "550 5.7.1 policy lag", &orig, DAY2);
        mail.push((format!("mail{i}"), raw));
    }
    ingest(&p, c, &mail);
    let mut lines = lines;
    let day2 = chrono::DateTime::parse_from_rfc2822(DAY2).unwrap().naive_utc();
    for _ in 0..4 {
        let status = "5.7.1";
        lines.push(Line {
            at: day2,
            outcome: 2,
            campaign: Some("camp-a"),
            domain: "d0.example".into(),
            node: "",
            vmta: "",
            ip: "",
            status,
        });
    }

    let start = chrono::NaiveDate::from_ymd_opt(2026, 11, 10).unwrap().and_hms_opt(0, 0, 0).unwrap();
    let at = |h: i64| start + chrono::Duration::hours(h);
    let h0 = start.and_utc().timestamp() / 3600;
    let q = |by: By, campaign: Option<&str>, from: i64, to: i64, offset: i32| Query {
        from: at(from),
        to: at(to),
        campaign: campaign.map(str::to_string),
        by,
        offset_hours: offset,
        top: 1000,
    };
    type Key = fn(&Line) -> Option<String>;
    let local = |l: &Line, off: i64| l.at + chrono::Duration::hours(off);
    let checks: Vec<(By, Key)> = vec![
        (By::Total, |_| Some(String::new())),
        (By::Day, |l| Some(l.at.format("%Y-%m-%d").to_string())),
        (By::Domain, |l| Some(l.domain.clone())),
        (By::Provider, |l| Some(if l.domain.starts_with("d") { l.domain.clone() } else { "Microsoft".into() })),
        (By::Node, |l| Some(l.node.to_string())),
        (By::Vmta, |l| Some(l.vmta.to_string())),
        (By::SourceIp, |l| Some(l.ip.to_string())),
        (By::Status, |l| Some(l.status.to_string())),
        (By::Why, |l| (l.outcome >= 2).then(|| [l.status, &l.domain, l.node, l.ip].join(" / "))),
    ];
    // Whole days, and a range with partial first and last days (hour rows at its edges).
    for (from, to) in [(0, 72), (13, 55), (30, 40)] {
        for campaign in [None, Some("camp-a"), Some("camp-b")] {
            for (by, key) in &checks {
                let want = want(&lines, campaign, h0 + from, h0 + to, key);
                assert_eq!(got(c, &q(*by, campaign, from, to, 0)), want, "{by:?} {campaign:?} hours {from}..{to}");
            }
        }
    }
    // Hours and weekdays in an offset (three hours east): the test shifts its own times.
    for off in [0i64, 3, -5] {
        let want_hour = want(&lines, None, h0, h0 + 72, |l| Some(local(l, off).format("%H").to_string()));
        assert_eq!(got(c, &q(By::Hour, None, 0, 72, off as i32)), want_hour, "by hour, offset {off}");
        let want_dow = want(&lines, None, h0, h0 + 72, |l| Some(local(l, off).format("%a").to_string()));
        assert_eq!(got(c, &q(By::DayOfWeek, None, 0, 72, off as i32)), want_dow, "by weekday, offset {off}");
    }

    // Hard and soft follow the rules, and a reclassification moves them.
    let whole = q(By::Domain, None, 0, 72, 0);
    assert_eq!(hard_soft_of_stats(c, &whole, "d0.example"), hard_soft_of_events(c, "d0.example"));
    let before = hard_soft_of_stats(c, &whole, "d0.example");
    add_policy_lag_rule(c);
    let changes = reclassify::run(c, &p, start, false).unwrap();
    assert_eq!(changes.len(), 4, "the four mailed refusals: {changes:?}");
    let from_hard = changes.iter().filter(|ch| ch.from == "hard").count() as i64;
    let after = hard_soft_of_stats(c, &whole, "d0.example");
    assert_eq!(after, hard_soft_of_events(c, "d0.example"), "after reclassify");
    assert_eq!((after.hard, after.soft), (before.hard - from_hard, before.soft + 4));

    // The repair (the migration's backfill) gives what the writes kept.
    let queries: Vec<Query> = checks.iter().map(|(by, _)| q(*by, Some("camp-a"), 13, 55, 0)).collect();
    let kept: Vec<_> = queries.iter().map(|q| stats_query::query(c, q).unwrap().groups).collect();
    rebound::record::stats::rebuild(c).unwrap();
    let rebuilt: Vec<_> = queries.iter().map(|q| stats_query::query(c, q).unwrap().groups).collect();
    assert_eq!(rebuilt, kept, "rebuild");
    assert_eq!(hard_soft_of_stats(c, &whole, "d0.example"), after);
}
on_both_backends!(stats_from_input, stats_equal_counts_made_from_the_input);

/// A custom rule, first in the list, that calls the "policy lag" refusals soft.
fn add_policy_lag_rule(c: &mut rebound::store::AnyConnection) {
    use rebound::classify::repo::{self, Placement};
    use rebound::classify::{Condition, Field, Op, Origin, Outcome, Rule};
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
}
