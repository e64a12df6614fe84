//! Whole-list operations on the stored rules: re-sync with the shipped library, reset, import.
//!
//! Takes a connection, the [`Actor`] and a list (the library, or an imported document); gives
//! what changed. Each operation is one transaction under the rules write lock, with one audit
//! entry for the whole change and one `rules_version` bump. Re-sync never touches custom
//! rules nor a default rule the user edited or disabled (those are the conflicts, reported with
//! both versions); an import is checked whole before anything is written, every mistake named
//! by its place in the document (`rules[2].when[0].value`).

use super::library;
use super::repo::{
    Row, RulesError, StoredRule, audit, bump_version, insert_defaults, keyed, list, load_rows, lock, state, write_order,
};
use super::rule::{GLOBAL_KEY, Origin, Rule, RuleProblem};
use crate::audit::Actor;
use crate::store::{AnyConnection, schema::rules};
use diesel::prelude::*;
use serde::Serialize;
use serde_json::json;

/// What a re-sync or reset changed.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct SyncSummary {
    pub added: Vec<String>,
    pub updated: Vec<String>,
    /// Default rules the user edited or disabled while the library changed them: kept as
    /// the user left them.
    pub conflicts: Vec<String>,
    /// Each conflict with the stored rule and the one this version ships, to compare.
    pub conflict_detail: Vec<Conflict>,
    /// Default rules no longer shipped and never edited: removed.
    pub retired: Vec<String>,
    pub unchanged: usize,
    pub removed_custom: usize,
}

/// A default rule the library changed after the user changed it too.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Conflict {
    pub key: String,
    /// The rule as stored (the user's version, kept).
    pub yours: Rule,
    /// The rule as this version of the library ships it (`rules reset` would restore it).
    pub shipped: Rule,
}

/// Brings the default rules up to the shipped library without losing the user's work.
pub fn resync(c: &mut AnyConnection, actor: &Actor) -> Result<SyncSummary, RulesError> {
    let shipped = library::defaults();
    crate::store::transaction(c, |c| {
        lock(c)?;
        let rows = load_rows(c)?;
        let mut summary = SyncSummary::default();
        let mut before = Vec::new();
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
                        before.push(state(&stored));
                        summary.updated.push(s.key.clone());
                    } else {
                        summary.conflicts.push(s.key.clone());
                        summary.conflict_detail.push(Conflict {
                            key: s.key.clone(),
                            yours: stored.rule,
                            shipped: s.clone(),
                        });
                    }
                }
            }
            previous_shipped = Some(s.key.clone());
        }
        for row in &rows {
            let gone = row.origin == "default" && !shipped.iter().any(|s| s.key == row.key);
            let stored = row.to_stored()?;
            if gone && !stored.edited && row.key != GLOBAL_KEY {
                diesel::delete(rules::table.find(&row.key)).execute(c)?;
                order.retain(|k| *k != row.key);
                before.push(state(&stored));
                summary.retired.push(row.key.clone());
            }
        }
        let rows = load_rows(c)?;
        write_order(c, &rows, &order)?;
        if !(summary.added.is_empty() && summary.updated.is_empty() && summary.retired.is_empty()) {
            let after = json!({ "added": summary.added, "updated": summary.updated, "retired": summary.retired,
                "conflicts": summary.conflicts });
            audit(c, actor, "rules.resync", None, Some(json!({ "rules": before })), Some(after))?;
            bump_version(c)?;
        }
        Ok(summary)
    })
}

/// Deletes every custom rule and restores every default in shipped order and state. The
/// audit entry keeps the whole list as it was, so nothing reset is lost for good.
pub fn reset(c: &mut AnyConnection, actor: &Actor) -> Result<SyncSummary, RulesError> {
    let shipped = library::defaults();
    crate::store::transaction(c, |c| {
        lock(c)?;
        let was = list(c)?;
        let removed_custom = was.iter().filter(|r| r.rule.origin == Origin::Custom).count();
        diesel::delete(rules::table).execute(c)?;
        insert_defaults(c, &shipped)?;
        let summary = SyncSummary {
            added: shipped.iter().map(|r| r.key.clone()).collect(),
            removed_custom,
            ..Default::default()
        };
        let before = json!({ "rules": was.iter().map(state).collect::<Vec<_>>() });
        let after = json!({ "rules": shipped.len(), "removed_custom": removed_custom });
        audit(c, actor, "rules.reset", None, Some(before), Some(after))?;
        bump_version(c)?;
        Ok(summary)
    })
}

/// How an imported list meets the stored one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ImportMode {
    /// A rule whose key exists replaces it in place; a new one goes above the Global rule;
    /// rules the document does not name stay.
    #[default]
    Merge,
    /// The list becomes the document, in its order: rules it does not name are deleted
    /// (the Global rule stays last either way).
    Replace,
}

/// What an import changed.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct ImportSummary {
    pub mode: ImportMode,
    pub added: Vec<String>,
    pub replaced: Vec<String>,
    /// Deleted because the document did not name them (replace only).
    pub removed: Vec<String>,
}

/// Every problem of a whole document, fields prefixed `rules[i].`; duplicate keys and a
/// Global rule anywhere but last included.
pub fn document_problems(rules: &[Rule]) -> Vec<RuleProblem> {
    let mut out = Vec::new();
    for (i, r) in rules.iter().enumerate() {
        let at = |f: &str| format!("rules[{i}].{f}");
        out.extend(r.problems().into_iter().map(|p| RuleProblem { field: at(&p.field), ..p }));
        if let Some(j) = rules[..i].iter().position(|o| o.key == r.key) {
            out.push(RuleProblem {
                field: at("key"),
                message: format!("key `{}` is already used by rules[{j}]", r.key),
            });
        }
        if r.is_global() && i + 1 != rules.len() {
            out.push(RuleProblem { field: at("key"), message: "the Global rule must come last".into() });
        }
        if r.is_global() && !r.enabled {
            out.push(RuleProblem {
                field: at("enabled"),
                message: "the Global rule cannot be disabled: it decides whatever no other rule does".into(),
            });
        }
    }
    out
}

/// Imports a list (a rules file, or the API's export document). Checked whole first: with any
/// problem nothing is written. Hits and positions of kept rules stay (merge) or follow the
/// document (replace).
pub fn import(
    c: &mut AnyConnection,
    actor: &Actor,
    rules: Vec<Rule>,
    mode: ImportMode,
) -> Result<ImportSummary, RulesError> {
    let problems = document_problems(&rules);
    if !problems.is_empty() {
        return Err(RulesError::Problems { key: None, problems });
    }
    crate::store::transaction(c, |c| {
        lock(c)?;
        let rows = load_rows(c)?;
        let shipped = library::defaults();
        let mut summary = ImportSummary { mode, ..Default::default() };
        let mut before: Vec<StoredRule> = Vec::new();
        let mut order: Vec<String> = match mode {
            ImportMode::Merge => rows.iter().map(|r| r.key.clone()).collect(),
            ImportMode::Replace => Vec::new(),
        };
        for rule in &rules {
            match rows.iter().find(|r| r.key == rule.key) {
                Some(row) => {
                    let stored = row.to_stored()?;
                    let kept = Rule { origin: stored.rule.origin, ..rule.clone() };
                    let mut next = Row::new(&kept, row.position as usize, row.shipped_hash.clone());
                    next.hit_count = row.hit_count;
                    next.last_hit_at = row.last_hit_at;
                    diesel::update(rules::table.find(&rule.key)).set(&next).execute(c)?;
                    before.push(stored);
                    summary.replaced.push(rule.key.clone());
                }
                None => {
                    // A default rule comes back as a default (its edits then show) only where
                    // this library ships it; anything else is the user's.
                    let from_library = shipped.iter().find(|s| s.key == rule.key);
                    let (origin, hash) = match (rule.origin, from_library) {
                        (Origin::Default, Some(s)) => (Origin::Default, Some(library::content_hash(s))),
                        _ => (Origin::Custom, None),
                    };
                    let new = Rule { origin, ..rule.clone() };
                    diesel::insert_into(rules::table).values(&Row::new(&new, 0, hash)).execute(c)?;
                    summary.added.push(rule.key.clone());
                }
            }
            if mode == ImportMode::Replace || !order.contains(&rule.key) {
                let movable = order.iter().filter(|k| *k != GLOBAL_KEY).count();
                order.insert(if rule.is_global() { order.len() } else { movable }, rule.key.clone());
            }
        }
        if mode == ImportMode::Replace {
            for row in &rows {
                if !order.contains(&row.key) && row.key != GLOBAL_KEY {
                    diesel::delete(rules::table.find(&row.key)).execute(c)?;
                    before.push(row.to_stored()?);
                    summary.removed.push(row.key.clone());
                } else if row.key == GLOBAL_KEY && !order.contains(&row.key) {
                    order.push(row.key.clone());
                }
            }
        }
        let now = load_rows(c)?;
        write_order(c, &now, &order)?;
        let before = json!({ "rules": before.iter().map(state).collect::<Vec<_>>() });
        let after = json!({ "mode": mode, "added": summary.added, "replaced": summary.replaced,
            "removed": summary.removed,
            "rules": rules.iter().map(|r| keyed(serde_json::to_value(r).unwrap_or_default())).collect::<Vec<_>>() });
        audit(c, actor, "rules.import", None, Some(before), Some(after))?;
        bump_version(c)?;
        Ok(summary)
    })
}

/// What [`resync`] would change now, changing nothing: it runs in a transaction that is
/// rolled back (so the answer is exactly what a resync would do at this moment).
pub fn preview_resync(c: &mut AnyConnection) -> Result<SyncSummary, RulesError> {
    undone(c, |c| resync(c, &Actor::system("preview")))
}

/// What [`reset`] would change now (custom rules removed, defaults restored), changing nothing.
pub fn preview_reset(c: &mut AnyConnection) -> Result<SyncSummary, RulesError> {
    undone(c, |c| reset(c, &Actor::system("preview")))
}

/// Runs `f` and rolls its writes back, giving its answer.
fn undone(
    c: &mut AnyConnection,
    f: impl FnOnce(&mut AnyConnection) -> Result<SyncSummary, RulesError>,
) -> Result<SyncSummary, RulesError> {
    enum Undo {
        Done(Box<SyncSummary>),
        Failed(RulesError),
    }
    impl From<diesel::result::Error> for Undo {
        fn from(e: diesel::result::Error) -> Undo {
            Undo::Failed(e.into())
        }
    }
    let outcome = crate::store::transaction(c, |c| -> Result<(), Undo> {
        Err(match f(c) {
            Ok(s) => Undo::Done(Box::new(s)),
            Err(e) => Undo::Failed(e),
        })
    });
    match outcome {
        Err(Undo::Done(s)) => Ok(*s),
        Err(Undo::Failed(e)) => Err(e),
        Ok(()) => unreachable!("the preview always rolls back"),
    }
}
