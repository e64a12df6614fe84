//! Suppression changes people make: suppress or release an address, allow or disallow an
//! address or domain — each with its audit entry, in one transaction.
//!
//! Takes an [`Actor`] (a CLI user, an API token, or rebound itself) and the change; gives
//! what happened, or a typed error an interface can show as it is (the CLI prints it, the
//! admin API maps it to 404 / 422). Every add and remove also goes to the change log, so the
//! sending nodes learn of it at their next sync. It never writes outside its transaction.

use super::list::{self, GLOBAL, Source, Suppression};
use crate::store::schema::allowlist;
use crate::store::{AnyConnection, StoreError};
use chrono::NaiveDateTime;
use diesel::prelude::*;

pub use crate::audit::Actor;

#[derive(Debug, thiserror::Error)]
pub enum ManualError {
    #[error("`{0}` is not an email address (user@domain)")]
    NotAnAddress(String),
    #[error("`{0}` is neither an email address nor a domain")]
    NotAnEntry(String),
    #[error("{address} is not suppressed in scope {scope}")]
    NotSuppressed { address: String, scope: String },
    #[error("{0} is not on the allowlist")]
    NotAllowlisted(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<diesel::result::Error> for ManualError {
    fn from(e: diesel::result::Error) -> Self {
        ManualError::Store(StoreError::Query(e))
    }
}

/// Suppresses `address` in `scope` (a sending domain, or [`GLOBAL`]). Gives whether it was
/// added (false: it already was) and the entry in force. The address is normalised; a value
/// that is not an address is refused.
pub fn suppress(
    c: &mut AnyConnection,
    actor: &Actor,
    address: &str,
    scope: &str,
    note: Option<&str>,
    now: NaiveDateTime,
) -> Result<(bool, Suppression), ManualError> {
    let address = valid_address(address)?;
    let scope = scope_of(scope);
    crate::store::transaction(c, |c| {
        let entry = Suppression {
            address: address.clone(),
            scope: scope.clone(),
            source: Source::Manual.as_str().into(),
            event_id: None,
            reason: None,
            note: note.map(str::to_string),
            created_at: now,
            expires_at: None,
        };
        // A lapsed entry the expiry job has not removed yet is renewed: it is the "before".
        let before = list::get(c, &address, &scope)?;
        if !list::add(c, &entry, Some(actor.as_str()))? {
            return Ok((false, before.unwrap_or(entry)));
        }
        list::audit(c, actor.as_str(), "suppress", note, before.as_ref(), Some(&entry), now)?;
        Ok((true, entry))
    })
}

/// Releases `address` in `scope`: the nodes may mail it again after their next sync. Gives
/// the entry as it was.
pub fn release(
    c: &mut AnyConnection,
    actor: &Actor,
    address: &str,
    scope: &str,
    note: Option<&str>,
    now: NaiveDateTime,
) -> Result<Suppression, ManualError> {
    let address = super::normalize(address);
    let scope = scope_of(scope);
    crate::store::transaction(c, |c| {
        let before = list::get(c, &address, &scope)?;
        let Some(before) = before else {
            return Err(ManualError::NotSuppressed { address: address.clone(), scope: scope.clone() });
        };
        list::remove(c, &address, &scope, Source::Manual.as_str(), now, Some(actor.as_str()))?;
        list::audit(c, actor.as_str(), "release", note, Some(&before), None, now)?;
        Ok(before)
    })
}

/// Puts an address or a domain (`example.com` or `@example.com`) on the allowlist (a note
/// replaces an earlier one), and releases the suppressions it now covers (the address, or
/// every address at the domain and its subdomains, in every scope): each release is
/// audited and goes to the change log (source `allowlist`), so the sending nodes stop
/// refusing them at their next sync. Gives the entry and what it released.
pub fn allow(
    c: &mut AnyConnection,
    actor: &Actor,
    entry: &str,
    note: Option<&str>,
    now: NaiveDateTime,
) -> Result<(Allowed, Vec<Suppression>), ManualError> {
    let entry = allow_entry(entry)?;
    crate::store::transaction(c, |c| {
        let before = allowed(c, &entry)?;
        diesel::delete(allowlist::table.find(&entry)).execute(c)?;
        diesel::insert_into(allowlist::table)
            .values((allowlist::entry.eq(&entry), allowlist::note.eq(note), allowlist::created_at.eq(now)))
            .execute(c)?;
        let after = Allowed { entry: entry.clone(), note: note.map(str::to_string), created_at: now };
        audit_allow(c, actor, "allow", note, before.as_ref(), Some(&after), now)?;
        let released = release_covered(c, actor, &entry, now)?;
        Ok((after, released))
    })
}

/// Releases every suppression `entry` (an allowlist entry) covers; gives them as they were.
fn release_covered(
    c: &mut AnyConnection,
    actor: &Actor,
    entry: &str,
    now: NaiveDateTime,
) -> Result<Vec<Suppression>, ManualError> {
    use crate::store::schema::suppressions;
    let covers = super::Allowlist::from_entries([entry.to_string()]);
    // LIKE narrows to candidates (the address itself, or addresses ending in the domain);
    // the allowlist's own rule decides, so a `_` in the entry cannot widen the match.
    let candidates: Vec<Suppression> = if entry.contains('@') {
        suppressions::table.filter(suppressions::address.eq(entry)).select(Suppression::as_select()).load(c)?
    } else {
        suppressions::table
            .filter(
                suppressions::address.like(format!("%@{entry}")).or(suppressions::address.like(format!("%.{entry}"))),
            )
            .select(Suppression::as_select())
            .load(c)?
    };
    let mut released = Vec::new();
    for e in candidates.into_iter().filter(|e| covers.allows(&e.address)) {
        if list::remove(c, &e.address, &e.scope, "allowlist", now, Some(actor.as_str()))? {
            list::audit(c, actor.as_str(), "release", Some("allowlisted"), Some(&e), None, now)?;
            released.push(e);
        }
    }
    Ok(released)
}

/// Takes an address or domain off the allowlist.
pub fn disallow(
    c: &mut AnyConnection,
    actor: &Actor,
    entry: &str,
    note: Option<&str>,
    now: NaiveDateTime,
) -> Result<Allowed, ManualError> {
    let entry = allow_entry(entry)?;
    crate::store::transaction(c, |c| {
        let Some(before) = allowed(c, &entry)? else {
            return Err(ManualError::NotAllowlisted(entry.clone()));
        };
        diesel::delete(allowlist::table.find(&entry)).execute(c)?;
        audit_allow(c, actor, "disallow", note, Some(&before), None, now)?;
        Ok(before)
    })
}

/// An allowlist entry of the database (the config file's `[suppression] allowlist` is not
/// stored: it is read with the config).
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, serde::Serialize, utoipa::ToSchema)]
#[diesel(table_name = allowlist)]
pub struct Allowed {
    pub entry: String,
    pub note: Option<String>,
    pub created_at: NaiveDateTime,
}

fn allowed(c: &mut AnyConnection, entry: &str) -> Result<Option<Allowed>, StoreError> {
    Ok(allowlist::table.find(entry).select(Allowed::as_select()).first(c).optional()?)
}

/// The database's allowlist, in entry order.
pub fn allowlist(c: &mut AnyConnection) -> Result<Vec<Allowed>, StoreError> {
    Ok(allowlist::table.order(allowlist::entry.asc()).select(Allowed::as_select()).load(c)?)
}

fn audit_allow(
    c: &mut AnyConnection,
    actor: &Actor,
    action: &str,
    note: Option<&str>,
    before: Option<&Allowed>,
    after: Option<&Allowed>,
    at: NaiveDateTime,
) -> Result<(), StoreError> {
    let target = format!("allowlist:{}", before.or(after).map(|a| a.entry.as_str()).unwrap_or_default());
    let state = |a: Option<&Allowed>| a.and_then(|a| serde_json::to_value(a).ok());
    let change = crate::audit::Change { action, target: &target, note, before: state(before), after: state(after) };
    crate::audit::record(c, actor.as_str(), change, at)
}

/// The normalised address, if it is one (the same check a bulk import makes).
fn valid_address(address: &str) -> Result<String, ManualError> {
    super::import::checked_address(address).map_err(|_| ManualError::NotAnAddress(address.to_string()))
}

fn allow_entry(entry: &str) -> Result<String, ManualError> {
    let e = entry.trim().trim_start_matches('@').to_lowercase();
    if e.is_empty() || e.contains(char::is_whitespace) || !e.contains('.') {
        return Err(ManualError::NotAnEntry(entry.to_string()));
    }
    Ok(e)
}

fn scope_of(scope: &str) -> String {
    let s = scope.trim().to_lowercase();
    if s.is_empty() { GLOBAL.to_string() } else { s }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_entries_are_checked() {
        assert_eq!(valid_address(" <Jane@Example.org> ").unwrap(), "jane@example.org");
        assert!(matches!(valid_address("jane"), Err(ManualError::NotAnAddress(_))));
        assert!(matches!(valid_address("@example.org"), Err(ManualError::NotAnAddress(_))));
        assert_eq!(allow_entry("@Partner.Example").unwrap(), "partner.example");
        assert!(matches!(allow_entry("not a domain"), Err(ManualError::NotAnEntry(_))));
    }
}
