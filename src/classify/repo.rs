//! The rule list in the database (both backends): ordering and edits of single rules.
//!
//! Takes a connection, the [`Actor`] making the change and rule operations; gives the ordered
//! list with hit counts and each default rule's edited/pristine state. Every write is one
//! transaction that takes the rules write lock, keeps positions dense (1..N) with the Global
//! rule last, appends its audit entry (before/after) and bumps `rules_version`, so every
//! instance rebuilds its engine on its next batch. It never lets the Global rule be moved,
//! disabled or deleted. Whole-list operations (re-sync, reset, import) are in `sync`.

use super::library;
use super::rule::{GLOBAL_KEY, Origin, Outcome, Rule, RuleError, RuleProblem};
use crate::audit::{self, Actor};
use crate::store::{AnyConnection, StoreError, schema::rules};
use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use serde_json::Value;

pub use super::sync::{ImportMode, ImportSummary, SyncSummary, import, reset, resync};

const VERSION_KEY: &str = "rules_version";

#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    #[error(transparent)]
    Invalid(#[from] RuleError),
    /// Every mistake at once, by field (`when[0].value`, or `rules[2].reason` in an import).
    #[error("{}", describe(.key.as_deref(), .problems))]
    Problems { key: Option<String>, problems: Vec<RuleProblem> },
    #[error(transparent)]
    Compile(#[from] super::CompileError),
    #[error("no rule with key `{0}`; the rule list shows the keys")]
    NotFound(String),
    #[error("a rule with key `{0}` already exists; pick another key or edit that rule")]
    Exists(String),
    #[error("the Global rule {0}")]
    Global(&'static str),
    #[error("position {0} is out of range: use 1 to {1} (the Global rule stays last)")]
    Position(usize, usize),
    #[error("stored rule `{key}` is unreadable: {message}")]
    Corrupt { key: String, message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn describe(key: Option<&str>, problems: &[RuleProblem]) -> String {
    let lines: Vec<String> = problems.iter().map(|p| format!("{}: {}", p.field, p.message)).collect();
    let what = key.map_or_else(|| "the rules document".to_string(), |k| format!("rule `{k}`"));
    format!("{what} is invalid: {}", lines.join("; "))
}

impl From<diesel::result::Error> for RulesError {
    fn from(e: diesel::result::Error) -> Self {
        RulesError::Store(StoreError::Query(e))
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = rules)]
#[diesel(treat_none_as_null = true)]
pub(super) struct Row {
    pub(super) key: String,
    name: String,
    description: Option<String>,
    pub(super) position: i32,
    enabled: i32,
    pub(super) origin: String,
    conditions: String,
    outcome: String,
    reason: Option<String>,
    pub(super) shipped_hash: Option<String>,
    pub(super) hit_count: i64,
    pub(super) last_hit_at: Option<NaiveDateTime>,
    updated_at: NaiveDateTime,
}

/// A stored rule with its bookkeeping.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StoredRule {
    pub position: usize,
    #[serde(flatten)]
    pub rule: Rule,
    pub hit_count: i64,
    pub last_hit_at: Option<NaiveDateTime>,
    /// A default rule whose content differs from what the library last gave it.
    pub edited: bool,
}

impl Row {
    pub(super) fn new(rule: &Rule, position: usize, shipped_hash: Option<String>) -> Row {
        Row {
            key: rule.key.clone(),
            name: rule.name.clone(),
            description: rule.description.clone(),
            position: position as i32,
            enabled: i32::from(rule.enabled),
            origin: rule.origin.as_str().into(),
            conditions: serde_json::to_string(&rule.when).unwrap_or_else(|_| "[]".into()),
            outcome: rule.outcome.as_str().into(),
            reason: rule.reason.clone(),
            shipped_hash,
            hit_count: 0,
            last_hit_at: None,
            updated_at: Utc::now().naive_utc(),
        }
    }

    pub(super) fn to_stored(&self) -> Result<StoredRule, RulesError> {
        let corrupt = |message: String| RulesError::Corrupt { key: self.key.clone(), message };
        let rule = Rule {
            key: self.key.clone(),
            name: self.name.clone(),
            description: self.description.clone(),
            enabled: self.enabled != 0,
            origin: if self.origin == "default" { Origin::Default } else { Origin::Custom },
            when: serde_json::from_str(&self.conditions).map_err(|e| corrupt(e.to_string()))?,
            outcome: self.outcome.parse::<Outcome>().map_err(corrupt)?,
            reason: self.reason.clone(),
        };
        let edited = rule.origin == Origin::Default
            && self.shipped_hash.as_deref().is_some_and(|h| h != library::content_hash(&rule));
        Ok(StoredRule {
            position: self.position as usize,
            rule,
            hit_count: self.hit_count,
            last_hit_at: self.last_hit_at,
            edited,
        })
    }
}

pub(super) fn load_rows(c: &mut AnyConnection) -> Result<Vec<Row>, RulesError> {
    Ok(rules::table.order((rules::position.asc(), rules::key.asc())).select(Row::as_select()).load(c)?)
}

/// The rule list in position order.
pub fn list(c: &mut AnyConnection) -> Result<Vec<StoredRule>, RulesError> {
    load_rows(c)?.iter().map(Row::to_stored).collect()
}

/// The current rules version (changes on every edit).
pub fn version(c: &mut AnyConnection) -> Result<i64, RulesError> {
    Ok(crate::store::counter::read(c, VERSION_KEY)?)
}

pub(super) fn bump_version(c: &mut AnyConnection) -> Result<(), RulesError> {
    Ok(crate::store::counter::bump(c, VERSION_KEY)?)
}

/// Advisory lock key for rule writes ("rules" in ASCII), distinct from the migration lock.
const PG_RULES_LOCK: i64 = 0x72756c6573;

/// Orders rule writers: on SQLite the write lock comes with the transaction (`BEGIN
/// IMMEDIATE`); on PostgreSQL a transaction-scoped advisory lock makes concurrent writers
/// (several instances, several API calls) compute positions one after the other.
pub(super) fn lock(c: &mut AnyConnection) -> Result<(), RulesError> {
    if let AnyConnection::Postgresql(pg) = c {
        diesel::sql_query(format!("SELECT pg_advisory_xact_lock({PG_RULES_LOCK})")).execute(pg)?;
    }
    Ok(())
}

/// Appends the audit entry of a change to rule `key` (or to the list: `key` = None).
pub(super) fn audit(
    c: &mut AnyConnection,
    actor: &Actor,
    action: &str,
    key: Option<&str>,
    before: Option<Value>,
    after: Option<Value>,
) -> Result<(), RulesError> {
    let target = key.map_or_else(|| "rules".to_string(), |k| format!("rule:{k}"));
    let change = audit::Change { action, target: &target, note: None, before, after };
    Ok(audit::record(c, actor.as_str(), change, Utc::now().naive_utc())?)
}

/// A stored rule as its audit state.
pub(super) fn state(rule: &StoredRule) -> Value {
    keyed(serde_json::to_value(rule).unwrap_or(Value::Null))
}

/// A rule (or anything with a rule's `key`) as the audit log keeps it: `key` becomes `rule`,
/// since the audit log blanks every field named `key` as a possible credential.
pub(super) fn keyed(mut v: Value) -> Value {
    if let Value::Object(map) = &mut v
        && let Some(k) = map.remove("key")
    {
        map.insert("rule".into(), k);
    }
    v
}

/// Refuses a rule with any problem, reporting them all.
pub(super) fn check(rule: &Rule) -> Result<(), RulesError> {
    let problems = rule.problems();
    if problems.is_empty() { Ok(()) } else { Err(RulesError::Problems { key: Some(rule.key.clone()), problems }) }
}

/// Writes `order` (all keys) as positions 1..N, updating only rows whose position changed.
pub(super) fn write_order(c: &mut AnyConnection, rows: &[Row], order: &[String]) -> Result<(), RulesError> {
    for (i, key) in order.iter().enumerate() {
        let pos = (i + 1) as i32;
        if rows.iter().any(|r| &r.key == key && r.position != pos) {
            diesel::update(rules::table.find(key)).set(rules::position.eq(pos)).execute(c)?;
        }
    }
    Ok(())
}

/// Seeds the shipped library into an empty rule table (first start); returns how many.
/// Processes starting together on a new database seed it once: on SQLite the write lock is
/// taken before the count, on PostgreSQL a transaction-scoped advisory lock orders them, and
/// the later one then counts the rows the first committed.
pub fn seed_if_empty(c: &mut AnyConnection) -> Result<usize, RulesError> {
    crate::store::transaction(c, |c| {
        lock(c)?;
        let count: i64 = rules::table.count().get_result(c)?;
        if count > 0 {
            return Ok(0);
        }
        let defaults = library::defaults();
        insert_defaults(c, &defaults)?;
        bump_version(c)?;
        Ok(defaults.len())
    })
}

pub(super) fn insert_defaults(c: &mut AnyConnection, defaults: &[Rule]) -> Result<(), RulesError> {
    for (i, r) in defaults.iter().enumerate() {
        let row = Row::new(r, i + 1, Some(library::content_hash(r)));
        diesel::insert_into(rules::table).values(&row).execute(c)?;
    }
    Ok(())
}

/// Where to put a rule.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Placement {
    /// Just above the Global rule.
    #[default]
    Bottom,
    /// At this 1-based position.
    At(usize),
    /// Just above this rule.
    Before(String),
}

pub(super) fn place(order: &mut Vec<String>, key: String, at: &Placement) -> Result<(), RulesError> {
    // Everything but Global may go anywhere above it.
    let movable = order.iter().filter(|k| *k != GLOBAL_KEY).count();
    let index = match at {
        Placement::Bottom => movable,
        Placement::At(n) => {
            if *n == 0 || *n > movable + 1 {
                return Err(RulesError::Position(*n, movable + 1));
            }
            n - 1
        }
        Placement::Before(k) => order.iter().position(|x| x == k).ok_or_else(|| RulesError::NotFound(k.clone()))?,
    };
    order.insert(index.min(movable), key);
    Ok(())
}

/// Adds a custom rule; gives it as stored (with its position).
pub fn add(c: &mut AnyConnection, actor: &Actor, rule: Rule, at: &Placement) -> Result<StoredRule, RulesError> {
    if rule.is_global() {
        return Err(RulesError::Global("already exists; edit its outcome instead"));
    }
    let rule = Rule { origin: Origin::Custom, ..rule };
    check(&rule)?;
    crate::store::transaction(c, |c| {
        lock(c)?;
        let rows = load_rows(c)?;
        if rows.iter().any(|r| r.key == rule.key) {
            return Err(RulesError::Exists(rule.key.clone()));
        }
        let mut order: Vec<String> = rows.iter().map(|r| r.key.clone()).collect();
        place(&mut order, rule.key.clone(), at)?;
        let pos = order.iter().position(|k| *k == rule.key).unwrap_or(0) + 1;
        diesel::insert_into(rules::table).values(&Row::new(&rule, pos, None)).execute(c)?;
        write_order(c, &rows, &order)?;
        let stored = get(c, &rule.key)?;
        audit(c, actor, "rule.create", Some(&rule.key), None, Some(state(&stored)))?;
        bump_version(c)?;
        Ok(stored)
    })
}

/// Replaces a rule's content (name, description, conditions, outcome, reason, enabled),
/// keeping its key, origin, position and hits. The Global rule keeps its (empty) conditions
/// and stays enabled.
pub fn update(c: &mut AnyConnection, actor: &Actor, rule: Rule) -> Result<StoredRule, RulesError> {
    crate::store::transaction(c, |c| {
        lock(c)?;
        let row: Row = rules::table
            .find(&rule.key)
            .select(Row::as_select())
            .first(c)
            .optional()?
            .ok_or_else(|| RulesError::NotFound(rule.key.clone()))?;
        let before = row.to_stored()?;
        let current = &before.rule;
        if rule.is_global() && (!rule.enabled || !rule.when.is_empty()) {
            return Err(RulesError::Global("can only have its name, description, outcome and reason edited"));
        }
        let new = Rule { origin: current.origin, ..rule };
        check(&new)?;
        let mut next = Row::new(&new, row.position as usize, row.shipped_hash.clone());
        next.hit_count = row.hit_count;
        next.last_hit_at = row.last_hit_at;
        diesel::update(rules::table.find(&new.key)).set(&next).execute(c)?;
        let after = get(c, &new.key)?;
        audit(c, actor, "rule.update", Some(&new.key), Some(state(&before)), Some(state(&after)))?;
        bump_version(c)?;
        Ok(after)
    })
}

/// Fetches one rule.
pub fn get(c: &mut AnyConnection, key: &str) -> Result<StoredRule, RulesError> {
    let row: Row = rules::table
        .find(key)
        .select(Row::as_select())
        .first(c)
        .optional()?
        .ok_or_else(|| RulesError::NotFound(key.to_string()))?;
    row.to_stored()
}

/// Enables or disables a rule; gives it as stored. Setting the state it already has
/// changes nothing (no audit entry, no new version).
pub fn set_enabled(c: &mut AnyConnection, actor: &Actor, key: &str, enabled: bool) -> Result<StoredRule, RulesError> {
    if key == GLOBAL_KEY && !enabled {
        return Err(RulesError::Global("cannot be disabled: it decides whatever no other rule does"));
    }
    crate::store::transaction(c, |c| {
        lock(c)?;
        let before = get(c, key)?;
        if before.rule.enabled == enabled {
            return Ok(before);
        }
        diesel::update(rules::table.find(key))
            .set((rules::enabled.eq(i32::from(enabled)), rules::updated_at.eq(Utc::now().naive_utc())))
            .execute(c)?;
        let action = if enabled { "rule.enable" } else { "rule.disable" };
        let after = get(c, key)?;
        audit(c, actor, action, Some(key), Some(state(&before)), Some(state(&after)))?;
        bump_version(c)?;
        Ok(after)
    })
}

/// Deletes a rule; gives it as it was.
pub fn delete(c: &mut AnyConnection, actor: &Actor, key: &str) -> Result<StoredRule, RulesError> {
    if key == GLOBAL_KEY {
        return Err(RulesError::Global("cannot be deleted: it decides whatever no other rule does"));
    }
    crate::store::transaction(c, |c| {
        lock(c)?;
        let before = get(c, key)?;
        diesel::delete(rules::table.find(key)).execute(c)?;
        let rows = load_rows(c)?;
        let order: Vec<String> = rows.iter().map(|r| r.key.clone()).collect();
        write_order(c, &rows, &order)?;
        audit(c, actor, "rule.delete", Some(key), Some(state(&before)), None)?;
        bump_version(c)?;
        Ok(before)
    })
}

/// Moves a rule to a new place (never the Global rule, never below it); gives it as stored.
/// A move that leaves it where it is changes nothing.
pub fn move_to(c: &mut AnyConnection, actor: &Actor, key: &str, at: &Placement) -> Result<StoredRule, RulesError> {
    if key == GLOBAL_KEY {
        return Err(RulesError::Global("cannot be moved: it always stays at the bottom"));
    }
    crate::store::transaction(c, |c| {
        lock(c)?;
        let before = get(c, key)?;
        if matches!(at, Placement::Before(k) if k == key) {
            return Ok(before);
        }
        let rows = load_rows(c)?;
        let mut order: Vec<String> = rows.iter().map(|r| r.key.clone()).collect();
        order.retain(|k| k != key);
        place(&mut order, key.to_string(), at)?;
        let after_pos = order.iter().position(|k| k == key).unwrap_or(0) + 1;
        if after_pos == before.position {
            return Ok(before);
        }
        write_order(c, &rows, &order)?;
        let after = get(c, key)?;
        let pos = |r: &StoredRule| serde_json::json!({ "position": r.position });
        audit(c, actor, "rule.move", Some(key), Some(pos(&before)), Some(pos(&after)))?;
        bump_version(c)?;
        Ok(after)
    })
}

/// Adds the hits of a batch of classifications.
pub fn record_hits(c: &mut AnyConnection, hits: &[(String, i64)], at: NaiveDateTime) -> Result<(), RulesError> {
    for (key, n) in hits {
        diesel::update(rules::table.find(key))
            .set((rules::hit_count.eq(rules::hit_count + *n), rules::last_hit_at.eq(Some(at))))
            .execute(c)?;
    }
    Ok(())
}
