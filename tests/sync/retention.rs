//! Change-log compaction: old changes go, the newest stays (the head never moves back), the
//! floor says where the log now starts, and the list itself is untouched.

use crate::support::TestDb;
use chrono::{Duration, Utc};
use rebound::store::Db;
use rebound::suppress::manual::{self, Actor};

async fn compaction_keeps_the_head_and_the_current_set(db: TestDb) {
    let db = Db::connect(&db.config()).unwrap();
    let mut c = db.conn().unwrap();
    let c: &mut rebound::store::AnyConnection = &mut c;
    let actor = Actor::cli();
    let long_ago = Utc::now().naive_utc() - Duration::days(90);
    for i in 0..5 {
        manual::suppress(c, &actor, &format!("old{i}@example.org"), "global", None, long_ago).unwrap();
    }
    manual::release(c, &actor, "old0@example.org", "global", None, long_ago).unwrap();
    let head = rebound::sync::set::head(c).unwrap();
    assert_eq!(head, 6);
    // Every change is past retention; the newest still stays.
    let n = rebound::sync::retention::compact(c, 30, Utc::now().naive_utc()).unwrap();
    assert_eq!(n, 5);
    assert_eq!(rebound::sync::retention::floor(c).unwrap(), 5);
    assert_eq!(rebound::sync::set::head(c).unwrap(), head, "the head never moves back");
    assert_eq!(rebound::sync::retention::compact(c, 30, Utc::now().naive_utc()).unwrap(), 0, "idempotent");
    let now = Utc::now().naive_utc();
    let set = rebound::suppress::list::in_force_keys(c, None, 100, now, None).unwrap();
    assert_eq!(set.len(), 4, "the list is never compacted: {set:?}");
    // New changes continue above the old head.
    manual::suppress(c, &actor, "new@example.org", "global", None, now).unwrap();
    assert_eq!(rebound::sync::set::head(c).unwrap(), head + 1);
    assert_eq!(
        rebound::sync::retention::compact(c, 30, now).unwrap(),
        1,
        "the old head goes once it is not the newest"
    );
    assert_eq!(rebound::sync::retention::floor(c).unwrap(), head);
}
on_both_backends!(compaction_keeps_the_head_and_the_current_set, compaction_keeps_the_head_and_the_current_set);
