//! The rule list in the database (both backends): ordering, edits, re-sync and reset.
//!
//! Takes a connection and rule operations; gives the ordered list with hit counts and
//! each default rule's edited/pristine state. Every operation is one transaction, keeps
//! positions dense (1..N) with the Global rule last, and bumps `rules_version` so every
//! instance rebuilds its engine. It never lets the Global rule be moved, disabled or
//! deleted, and re-sync never touches custom rules.

use super::library;
use super::rule::{GLOBAL_KEY, Origin, Outcome, Rule, RuleError};
use crate::store::{AnyConnection, StoreError, schema::rules};
use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

const VERSION_KEY: &str = "rules_version";

#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    #[error(transparent)]
    Invalid(#[from] RuleError),
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

impl From<diesel::result::Error> for RulesError {
    fn from(e: diesel::result::Error) -> Self {
        RulesError::Store(StoreError::Query(e))
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = rules)]
#[diesel(treat_none_as_null = true)]
struct Row {
    key: String,
    name: String,
    description: Option<String>,
    position: i32,
    enabled: i32,
    origin: String,
    conditions: String,
    outcome: String,
    reason: Option<String>,
    shipped_hash: Option<String>,
    hit_count: i64,
    last_hit_at: Option<NaiveDateTime>,
    updated_at: NaiveDateTime,
}

/// A stored rule with its bookkeeping.
#[derive(Debug, Clone, Serialize)]
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
    fn new(rule: &Rule, position: usize, shipped_hash: Option<String>) -> Row {
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

    fn to_stored(&self) -> Result<StoredRule, RulesError> {
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

fn load_rows(c: &mut AnyConnection) -> Result<Vec<Row>, RulesError> {
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

fn bump_version(c: &mut AnyConnection) -> Result<(), RulesError> {
    Ok(crate::store::counter::bump(c, VERSION_KEY)?)
}

/// Writes `order` (all keys) as positions 1..N, updating only rows whose position changed.
fn write_order(c: &mut AnyConnection, rows: &[Row], order: &[String]) -> Result<(), RulesError> {
    for (i, key) in order.iter().enumerate() {
        let pos = (i + 1) as i32;
        if rows.iter().any(|r| &r.key == key && r.position != pos) {
            diesel::update(rules::table.find(key)).set(rules::position.eq(pos)).execute(c)?;
        }
    }
    Ok(())
}

/// Advisory lock key for seeding ("rules" in ASCII), distinct from the migration lock.
const PG_SEED_LOCK: i64 = 0x72756c6573;

/// Seeds the shipped library into an empty rule table (first start); returns how many.
/// Processes starting together on a new database seed it once: on SQLite the write lock is
/// taken before the count, on PostgreSQL a transaction-scoped advisory lock orders them, and
/// the later one then counts the rows the first committed.
pub fn seed_if_empty(c: &mut AnyConnection) -> Result<usize, RulesError> {
    crate::store::transaction(c, |c| {
        if let AnyConnection::Postgresql(pg) = c {
            diesel::sql_query(format!("SELECT pg_advisory_xact_lock({PG_SEED_LOCK})")).execute(pg)?;
        }
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

fn insert_defaults(c: &mut AnyConnection, defaults: &[Rule]) -> Result<(), RulesError> {
    for (i, r) in defaults.iter().enumerate() {
        let row = Row::new(r, i + 1, Some(library::content_hash(r)));
        diesel::insert_into(rules::table).values(&row).execute(c)?;
    }
    Ok(())
}

/// Imports rules (from a rules file): a rule whose key exists replaces it, a new one goes
/// above the Global rule. One transaction: a failure part-way leaves the list as it was.
/// Returns (added, replaced).
pub fn import(c: &mut AnyConnection, rules: Vec<Rule>) -> Result<(usize, usize), RulesError> {
    crate::store::transaction(c, |c| {
        let (mut added, mut replaced) = (0, 0);
        for rule in rules {
            if get(c, &rule.key).is_ok() {
                update(c, rule)?;
                replaced += 1;
            } else {
                add(c, rule, &Placement::Bottom)?;
                added += 1;
            }
        }
        Ok((added, replaced))
    })
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

fn place(order: &mut Vec<String>, key: String, at: &Placement) -> Result<(), RulesError> {
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

/// Adds a custom rule.
pub fn add(c: &mut AnyConnection, rule: Rule, at: &Placement) -> Result<(), RulesError> {
    if rule.is_global() {
        return Err(RulesError::Global("already exists; edit its outcome instead"));
    }
    let rule = Rule { origin: Origin::Custom, ..rule };
    rule.validate()?;
    crate::store::transaction(c, |c| {
        let rows = load_rows(c)?;
        if rows.iter().any(|r| r.key == rule.key) {
            return Err(RulesError::Exists(rule.key.clone()));
        }
        let mut order: Vec<String> = rows.iter().map(|r| r.key.clone()).collect();
        place(&mut order, rule.key.clone(), at)?;
        let pos = order.iter().position(|k| *k == rule.key).unwrap_or(0) + 1;
        diesel::insert_into(rules::table).values(&Row::new(&rule, pos, None)).execute(c)?;
        write_order(c, &rows, &order)?;
        bump_version(c)
    })
}

/// Replaces a rule's content (name, description, conditions, outcome, reason, enabled),
/// keeping its key, origin, position and hits. The Global rule keeps its (empty) conditions
/// and stays enabled.
pub fn update(c: &mut AnyConnection, rule: Rule) -> Result<(), RulesError> {
    crate::store::transaction(c, |c| {
        let row: Row = rules::table
            .find(&rule.key)
            .select(Row::as_select())
            .first(c)
            .optional()?
            .ok_or_else(|| RulesError::NotFound(rule.key.clone()))?;
        let current = row.to_stored()?.rule;
        if rule.is_global() && (!rule.enabled || !rule.when.is_empty()) {
            return Err(RulesError::Global("can only have its name, description, outcome and reason edited"));
        }
        let new = Rule { origin: current.origin, ..rule };
        new.validate()?;
        let mut next = Row::new(&new, row.position as usize, row.shipped_hash.clone());
        next.hit_count = row.hit_count;
        next.last_hit_at = row.last_hit_at;
        diesel::update(rules::table.find(&new.key)).set(&next).execute(c)?;
        bump_version(c)
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

pub fn set_enabled(c: &mut AnyConnection, key: &str, enabled: bool) -> Result<(), RulesError> {
    if key == GLOBAL_KEY && !enabled {
        return Err(RulesError::Global("cannot be disabled: it decides whatever no other rule does"));
    }
    crate::store::transaction(c, |c| {
        let n = diesel::update(rules::table.find(key))
            .set((rules::enabled.eq(i32::from(enabled)), rules::updated_at.eq(Utc::now().naive_utc())))
            .execute(c)?;
        if n == 0 {
            return Err(RulesError::NotFound(key.to_string()));
        }
        bump_version(c)
    })
}

pub fn delete(c: &mut AnyConnection, key: &str) -> Result<(), RulesError> {
    if key == GLOBAL_KEY {
        return Err(RulesError::Global("cannot be deleted: it decides whatever no other rule does"));
    }
    crate::store::transaction(c, |c| {
        if diesel::delete(rules::table.find(key)).execute(c)? == 0 {
            return Err(RulesError::NotFound(key.to_string()));
        }
        let rows = load_rows(c)?;
        let order: Vec<String> = rows.iter().map(|r| r.key.clone()).collect();
        write_order(c, &rows, &order)?;
        bump_version(c)
    })
}

/// Moves a rule to a new place (never the Global rule, never below it).
pub fn move_to(c: &mut AnyConnection, key: &str, at: &Placement) -> Result<(), RulesError> {
    if key == GLOBAL_KEY {
        return Err(RulesError::Global("cannot be moved: it always stays at the bottom"));
    }
    if matches!(at, Placement::Before(k) if k == key) {
        return Ok(());
    }
    crate::store::transaction(c, |c| {
        let rows = load_rows(c)?;
        let mut order: Vec<String> = rows.iter().map(|r| r.key.clone()).collect();
        let from = order.iter().position(|k| k == key).ok_or_else(|| RulesError::NotFound(key.to_string()))?;
        order.remove(from);
        place(&mut order, key.to_string(), at)?;
        write_order(c, &rows, &order)?;
        bump_version(c)
    })
}

/// What a re-sync or reset changed.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct SyncSummary {
    pub added: Vec<String>,
    pub updated: Vec<String>,
    /// Default rules the user edited or disabled while the library changed them: kept as
    /// the user left them.
    pub conflicts: Vec<String>,
    /// Default rules no longer shipped and never edited: removed.
    pub retired: Vec<String>,
    pub unchanged: usize,
    pub removed_custom: usize,
}

/// Brings the default rules up to the shipped library without losing the user's work.
pub fn resync(c: &mut AnyConnection) -> Result<SyncSummary, RulesError> {
    let shipped = library::defaults();
    crate::store::transaction(c, |c| {
        let rows = load_rows(c)?;
        let mut summary = SyncSummary::default();
        let mut order: Vec<String> = rows.iter().map(|r| r.key.clone()).collect();
        let mut previous_shipped: Option<String> = None;
        for s in &shipped {
            let hash = library::content_hash(s);
            match rows.iter().find(|r| r.key == s.key) {
                None => {
                    // A new rule goes right after the shipped rule before it, so the library's
                    // order holds and custom rules stay where the user put them.
                    let index = match &previous_shipped {
                        Some(p) => order.iter().position(|k| k == p).map_or(0, |i| i + 1),
                        None => 0,
                    };
                    let index = index.min(order.iter().filter(|k| *k != GLOBAL_KEY).count());
                    order.insert(index, s.key.clone());
                    diesel::insert_into(rules::table).values(&Row::new(s, index + 1, Some(hash))).execute(c)?;
                    summary.added.push(s.key.clone());
                }
                Some(row) => {
                    let stored = row.to_stored()?;
                    if row.shipped_hash.as_deref() == Some(hash.as_str()) {
                        summary.unchanged += 1;
                    } else if stored.rule.origin == Origin::Default && !stored.edited {
                        let mut next = Row::new(s, row.position as usize, Some(hash));
                        next.hit_count = row.hit_count;
                        next.last_hit_at = row.last_hit_at;
                        diesel::update(rules::table.find(&s.key)).set(&next).execute(c)?;
                        summary.updated.push(s.key.clone());
                    } else {
                        summary.conflicts.push(s.key.clone());
                    }
                }
            }
            previous_shipped = Some(s.key.clone());
        }
        for row in &rows {
            let gone = row.origin == "default" && !shipped.iter().any(|s| s.key == row.key);
            if gone && !row.to_stored()?.edited && row.key != GLOBAL_KEY {
                diesel::delete(rules::table.find(&row.key)).execute(c)?;
                order.retain(|k| *k != row.key);
                summary.retired.push(row.key.clone());
            }
        }
        let rows = load_rows(c)?;
        write_order(c, &rows, &order)?;
        if !(summary.added.is_empty() && summary.updated.is_empty() && summary.retired.is_empty()) {
            bump_version(c)?;
        }
        Ok(summary)
    })
}

/// Deletes every custom rule and restores every default in shipped order and state.
pub fn reset(c: &mut AnyConnection) -> Result<SyncSummary, RulesError> {
    let shipped = library::defaults();
    crate::store::transaction(c, |c| {
        let removed_custom = diesel::delete(rules::table.filter(rules::origin.eq("custom"))).execute(c)?;
        diesel::delete(rules::table).execute(c)?;
        insert_defaults(c, &shipped)?;
        bump_version(c)?;
        Ok(SyncSummary { added: shipped.iter().map(|r| r.key.clone()).collect(), removed_custom, ..Default::default() })
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
