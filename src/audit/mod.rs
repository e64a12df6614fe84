//! The audit log: who changed what, when, and how it looked before and after.
//!
//! Takes an [`Actor`] and a change, inside the caller's transaction (an audited change and its
//! entry commit together or not at all); gives the log back as keyset pages, newest first.
//! It never stores a secret: `before` and `after` pass through [`mask`] first, which blanks
//! every field named like a credential, wherever it sits in the document.

use crate::store::schema::audit_log;
use crate::store::{AnyConnection, Cursor, Page, PageError, Paged, StoreError};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;
use serde_json::Value;

/// Who made a change, as the audit log names them: `cli:alice`, `token:ops-bot`, `reclassify`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor(String);

impl Actor {
    /// The person running the CLI (`$USER`).
    pub fn cli() -> Actor {
        Actor(std::env::var("USER").map(|u| format!("cli:{u}")).unwrap_or_else(|_| "cli".into()))
    }

    /// An admin API token, by its name.
    pub fn token(name: &str) -> Actor {
        Actor(format!("token:{name}"))
    }

    /// A person signed in to the web admin with a name and password (`rebound user create`).
    pub fn user(name: &str) -> Actor {
        Actor(format!("user:{name}"))
    }

    /// rebound itself, doing `what` (e.g. `reclassify`).
    pub fn system(what: &str) -> Actor {
        Actor(what.to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What replaces a secret in the audit log (and in every API response).
pub const MASK: &str = "********";

/// Field names whose values are credentials. Matched on the whole name, lower-cased, so a
/// `password_env` (the *name* of a variable) stays readable while `password` is blanked.
const SECRET_FIELDS: &[&str] =
    &["password", "secret", "token", "client_secret", "refresh_token", "access_token", "api_key", "secret_key"];

/// `v` with every credential field replaced by [`MASK`], at any depth.
pub fn mask(v: &Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let secret = SECRET_FIELDS.contains(&k.to_ascii_lowercase().as_str()) && !v.is_null();
                    (k.clone(), if secret { Value::String(MASK.into()) } else { mask(v) })
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(mask).collect()),
        other => other.clone(),
    }
}

/// One change to append: `action` on `target` (`mailbox:ops`, `rule:user-unknown`,
/// `suppression:a@b.example/global`), with an optional note and states.
#[derive(Debug, Clone, Default)]
pub struct Change<'a> {
    pub action: &'a str,
    pub target: &'a str,
    pub note: Option<&'a str>,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

/// Appends `change` by `actor` at `at`, in the caller's transaction.
pub fn record(c: &mut AnyConnection, actor: &str, change: Change<'_>, at: NaiveDateTime) -> Result<(), StoreError> {
    let text = |v: Option<Value>| v.map(|v| mask(&v).to_string());
    diesel::insert_into(audit_log::table)
        .values((
            audit_log::at.eq(at),
            audit_log::actor.eq(actor),
            audit_log::action.eq(change.action),
            audit_log::subject.eq(change.target),
            audit_log::detail.eq(change.note),
            audit_log::before_state.eq(text(change.before)),
            audit_log::after_state.eq(text(change.after)),
        ))
        .execute(c)?;
    Ok(())
}

/// An audit entry as read back.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Entry {
    pub id: i64,
    pub at: NaiveDateTime,
    /// `token:NAME`, `cli:USER`, or rebound itself (`reclassify`, `expiry`).
    pub actor: String,
    pub action: String,
    pub target: String,
    pub note: Option<String>,
    /// The state before the change, secrets masked (absent for a creation).
    pub before: Option<Value>,
    /// The state after the change, secrets masked (absent for a deletion).
    pub after: Option<Value>,
}

/// Narrows the log: by actor, by action, by target prefix (`mailbox:`).
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub target_prefix: Option<String>,
}

type Row = (i64, NaiveDateTime, String, String, String, Option<String>, Option<String>, Option<String>);

/// The log, newest first, `page.limit` entries after the cursor.
pub fn list(c: &mut AnyConnection, filter: &Filter, page: &Page) -> Result<Paged<Entry>, PageError> {
    let mut q = audit_log::table
        .select((
            audit_log::id,
            audit_log::at,
            audit_log::actor,
            audit_log::action,
            audit_log::subject,
            audit_log::detail,
            audit_log::before_state,
            audit_log::after_state,
        ))
        .order(audit_log::id.desc())
        .limit(page.limit + 1)
        .into_boxed();
    if let Some(after) = &page.after {
        q = q.filter(audit_log::id.lt(after.to_id()?));
    }
    if let Some(a) = &filter.actor {
        q = q.filter(audit_log::actor.eq(a.clone()));
    }
    if let Some(a) = &filter.action {
        q = q.filter(audit_log::action.eq(a.clone()));
    }
    if let Some(p) = &filter.target_prefix {
        q = q.filter(audit_log::subject.like(format!("{}%", like_escape(p))).escape('\\'));
    }
    let rows: Vec<Row> = q.load(c)?;
    let parse = |s: Option<String>| s.map(|s| serde_json::from_str(&s).unwrap_or(Value::String(s)));
    let entries = rows
        .into_iter()
        .map(|(id, at, actor, action, target, note, before, after)| Entry {
            id,
            at,
            actor,
            action,
            target,
            note,
            before: parse(before),
            after: parse(after),
        })
        .collect();
    Ok(Paged::of(entries, page, |e| Cursor::id(e.id)))
}

/// `s` with LIKE's wildcards escaped (`\` is the escape character).
pub fn like_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn credentials_are_masked_at_any_depth_and_references_are_kept() {
        let v = json!({"name": "ops", "password": "hunter2", "password_env": "OPS_PW",
                       "oauth": {"client_secret": "s3", "Token": "t"}, "list": [{"secret": "x"}],
                       "api_key": null, "key": "user-unknown"});
        let m = mask(&v);
        assert_eq!(m["password"], MASK);
        assert_eq!(m["password_env"], "OPS_PW");
        assert_eq!(m["oauth"]["client_secret"], MASK);
        assert_eq!(m["oauth"]["Token"], MASK);
        assert_eq!(m["list"][0]["secret"], MASK);
        assert_eq!(m["api_key"], Value::Null, "an unset secret stays visibly unset");
        assert_eq!(m["key"], "user-unknown", "a rule's key is a name, not a credential");
        assert!(!m.to_string().contains("hunter2"));
    }

    #[test]
    fn like_wildcards_are_escaped() {
        assert_eq!(like_escape("a_b%c\\"), "a\\_b\\%c\\\\");
    }
}
