//! The rule list: ordering, the Global rule's guarantees, re-sync and reset, on both backends.

use crate::support::TestDb;
use rebound::classify::repo::{self, Placement, RulesError};
use rebound::classify::{Condition, Engine, Facts, Field, GLOBAL_KEY, Op, Origin, Outcome, Rule};
use rebound::store::{AnyConnection, Db};

fn custom(key: &str, outcome: Outcome, when: Vec<Condition>) -> Rule {
    Rule {
        key: key.into(),
        name: format!("custom {key}"),
        description: None,
        enabled: true,
        origin: Origin::Custom,
        when,
        outcome,
        reason: None,
    }
}

fn engine(c: &mut AnyConnection) -> Engine {
    Engine::new(repo::list(c).unwrap().into_iter().map(|s| s.rule).collect()).unwrap()
}

fn decide(c: &mut AnyConnection, f: &Facts) -> String {
    engine(c).classify(f).unwrap().rule_key.to_string()
}

fn seeded(db: &TestDb) -> (Db, impl FnMut() -> diesel::r2d2::PooledConnection<rebound::store::Manager>) {
    let store = Db::connect(&db.config()).unwrap();
    let mut c = store.conn().unwrap();
    let n = repo::seed_if_empty(&mut c).unwrap();
    assert!(n > 100, "library seeded {n} rules");
    assert_eq!(repo::seed_if_empty(&mut c).unwrap(), 0, "seeding twice adds nothing");
    let s2 = store.clone();
    (store, move || s2.conn().unwrap())
}

async fn reordering_changes_the_outcome(db: TestDb) {
    let (_s, mut conn) = seeded(&db);
    let c = &mut conn();
    let facts = Facts { status: Some("5.1.1"), diagnostic: Some("550 5.1.1 user unknown"), ..Default::default() };
    let first = decide(c, &facts);
    assert_ne!(first, "vip");
    // A custom rule at the bottom never beats the defaults above it...
    let vip = custom("vip", Outcome::Ignore, vec![Condition::new(Field::Diagnostic, Op::Contains, "user unknown")]);
    repo::add(c, &rebound::audit::Actor::system("test"), vip, &Placement::Bottom).unwrap();
    assert_eq!(decide(c, &facts), first);
    // ...moved to the top it decides.
    repo::move_to(c, &rebound::audit::Actor::system("test"), "vip", &Placement::At(1)).unwrap();
    assert_eq!(decide(c, &facts), "vip");
    assert_eq!(repo::list(c).unwrap()[0].rule.key, "vip");
    // Disabled, it is skipped.
    repo::set_enabled(c, &rebound::audit::Actor::system("test"), "vip", false).unwrap();
    assert_eq!(decide(c, &facts), first);
    // Moved before a named rule.
    repo::set_enabled(c, &rebound::audit::Actor::system("test"), "vip", true).unwrap();
    repo::move_to(c, &rebound::audit::Actor::system("test"), "vip", &Placement::Before(first.clone())).unwrap();
    let list = repo::list(c).unwrap();
    let pos = |k: &str| list.iter().position(|r| r.rule.key == k).unwrap();
    assert_eq!(pos("vip") + 1, pos(&first));
    assert!(list.iter().enumerate().all(|(i, r)| r.position == i + 1), "positions stay dense");
}
on_both_backends!(reorder, reordering_changes_the_outcome);

async fn the_global_rule_stays_put(db: TestDb) {
    let (_s, mut conn) = seeded(&db);
    let c = &mut conn();
    assert!(matches!(repo::delete(c, &rebound::audit::Actor::system("test"), GLOBAL_KEY), Err(RulesError::Global(_))));
    assert!(matches!(
        repo::set_enabled(c, &rebound::audit::Actor::system("test"), GLOBAL_KEY, false),
        Err(RulesError::Global(_))
    ));
    assert!(matches!(
        repo::move_to(c, &rebound::audit::Actor::system("test"), GLOBAL_KEY, &Placement::At(1)),
        Err(RulesError::Global(_))
    ));
    let n = repo::list(c).unwrap().len();
    let e = repo::add(
        c,
        &rebound::audit::Actor::system("test"),
        custom("late", Outcome::Soft, vec![Condition::new(Field::Kind, Op::Is, "x")]),
        &Placement::At(n + 1),
    );
    assert!(matches!(e, Err(RulesError::Position(..))), "{e:?}");
    // Its outcome can be edited.
    let mut g = repo::get(c, GLOBAL_KEY).unwrap().rule;
    g.outcome = Outcome::Ignore;
    repo::update(c, &rebound::audit::Actor::system("test"), g.clone()).unwrap();
    assert_eq!(repo::get(c, GLOBAL_KEY).unwrap().rule.outcome, Outcome::Ignore);
    g.enabled = false;
    assert!(repo::update(c, &rebound::audit::Actor::system("test"), g).is_err());
    let list = repo::list(c).unwrap();
    assert_eq!(list.last().unwrap().rule.key, GLOBAL_KEY);
}
on_both_backends!(global_rule, the_global_rule_stays_put);

async fn invalid_rules_are_refused(db: TestDb) {
    let (_s, mut conn) = seeded(&db);
    let c = &mut conn();
    let bad = custom("bad-re", Outcome::Hard, vec![Condition::new(Field::Diagnostic, Op::Matches, "user (unknown")]);
    let e = repo::add(c, &rebound::audit::Actor::system("test"), bad, &Placement::Bottom).unwrap_err().to_string();
    assert!(e.contains("bad-re") && e.contains("invalid regex"), "{e}");
    assert!(repo::get(c, "bad-re").is_err(), "nothing was saved");
    let dup = custom("global", Outcome::Hard, vec![]);
    assert!(repo::add(c, &rebound::audit::Actor::system("test"), dup, &Placement::Bottom).is_err());
}
on_both_backends!(invalid, invalid_rules_are_refused);

/// Simulates a library upgrade by rewriting the stored shipped state, then re-syncs.
async fn resync_keeps_user_work_and_adds_new_rules(db: TestDb) {
    use diesel::prelude::*;
    use rebound::store::schema::rules;
    let (_s, mut conn) = seeded(&db);
    let c = &mut conn();
    // The user: a custom rule near the top, an edited default, a disabled default.
    repo::add(
        c,
        &rebound::audit::Actor::system("test"),
        custom("mine", Outcome::Hard, vec![Condition::new(Field::Subject, Op::Contains, "x")]),
        &Placement::At(2),
    )
    .unwrap();
    let mut edited = repo::get(c, "reason-sender-side").unwrap().rule;
    edited.outcome = Outcome::Soft;
    repo::update(c, &rebound::audit::Actor::system("test"), edited).unwrap();
    repo::set_enabled(c, &rebound::audit::Actor::system("test"), "phrase-spam", false).unwrap();
    // "Old library": one shipped rule missing, and three whose shipped version differed.
    diesel::delete(rules::table.find("status-5.7.30")).execute(c).unwrap();
    for k in ["reason-sender-side", "phrase-spam"] {
        diesel::update(rules::table.find(k)).set(rules::shipped_hash.eq(Some("old"))).execute(c).unwrap();
    }
    // An untouched rule as the old library shipped it: other content, hash of that content.
    let mut old = repo::get(c, "status-5.1.1").unwrap().rule;
    old.name = "old wording".into();
    let old_hash = rebound::classify::library::content_hash(&old);
    diesel::update(rules::table.find("status-5.1.1"))
        .set((rules::name.eq(&old.name), rules::shipped_hash.eq(Some(old_hash))))
        .execute(c)
        .unwrap();
    assert!(!repo::get(c, "status-5.1.1").unwrap().edited);
    let s = repo::resync(c, &rebound::audit::Actor::system("test")).unwrap();
    assert_eq!(s.added, vec!["status-5.7.30".to_string()]);
    assert_eq!(s.updated, vec!["status-5.1.1".to_string()]);
    let mut conflicts = s.conflicts.clone();
    conflicts.sort();
    assert_eq!(conflicts, vec!["phrase-spam".to_string(), "reason-sender-side".to_string()]);
    let list = repo::list(c).unwrap();
    assert_eq!(list[1].rule.key, "mine", "custom rule kept its position");
    assert_eq!(repo::get(c, "reason-sender-side").unwrap().rule.outcome, Outcome::Soft);
    assert_ne!(repo::get(c, "status-5.1.1").unwrap().rule.name, "old wording");
    assert!(!repo::get(c, "phrase-spam").unwrap().rule.enabled);
    let pos = |k: &str| list.iter().position(|r| r.rule.key == k).unwrap();
    assert_eq!(pos("status-5.7.30"), pos("status-4.7.29") + 1, "new rule lands in shipped order");
    assert_eq!(list.last().unwrap().rule.key, GLOBAL_KEY);
    // Nothing left to do the second time.
    let again = repo::resync(c, &rebound::audit::Actor::system("test")).unwrap();
    assert!(again.added.is_empty() && again.updated.is_empty() && again.retired.is_empty());
}
on_both_backends!(resync, resync_keeps_user_work_and_adds_new_rules);

async fn reset_restores_the_library(db: TestDb) {
    let (_s, mut conn) = seeded(&db);
    let c = &mut conn();
    let shipped: Vec<String> = repo::list(c).unwrap().into_iter().map(|r| r.rule.key).collect();
    repo::add(
        c,
        &rebound::audit::Actor::system("test"),
        custom("mine", Outcome::Hard, vec![Condition::new(Field::Subject, Op::Contains, "x")]),
        &Placement::At(1),
    )
    .unwrap();
    repo::set_enabled(c, &rebound::audit::Actor::system("test"), "phrase-spam", false).unwrap();
    repo::delete(c, &rebound::audit::Actor::system("test"), "status-5.1.1").unwrap();
    let v = repo::version(c).unwrap();
    let s = repo::reset(c, &rebound::audit::Actor::system("test")).unwrap();
    assert_eq!(s.removed_custom, 1);
    let after = repo::list(c).unwrap();
    assert_eq!(after.iter().map(|r| r.rule.key.clone()).collect::<Vec<_>>(), shipped);
    assert!(after.iter().all(|r| r.rule.enabled && !r.edited && r.rule.origin == Origin::Default));
    assert!(repo::version(c).unwrap() > v, "engines learn of the change");
}
on_both_backends!(reset, reset_restores_the_library);
