//! The webhook endpoints in the database: config-file mirror and API writes.
//!
//! `webhooks` rows mirror the `[[webhook]]` entries of the config file (source `config`,
//! upserted by name at start, marked deleted when the file drops them; read-only through the
//! API) beside API-managed rows (source `api`). Settings are checked with the config file's
//! own validation, every problem at once; every API write is one transaction with its audit
//! entry. The delivery state (`ok`, `retrying`, `failing`, `gone`) lives beside the settings
//! and survives a settings change, except that enabling an endpoint clears `gone`.

use crate::audit::{self, Actor};
use crate::config::{Problem, WebhookConfig};
use crate::store::schema::{notify_deliveries, webhooks};
use crate::store::{AnyConnection, StoreError};
use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("no webhook named `{0}`; GET /api/v1/webhooks lists them")]
    NotFound(String),
    #[error("a webhook named `{0}` exists; pick another name")]
    Exists(String),
    #[error("webhook `{name}` comes from the config file {file}: change it there and restart")]
    ReadOnly { name: String, file: String },
    #[error("the webhook settings are invalid")]
    Invalid(Vec<Problem>),
    #[error(transparent)]
    BadCursor(#[from] crate::store::BadCursor),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<diesel::result::Error> for WebhookError {
    fn from(e: diesel::result::Error) -> Self {
        WebhookError::Store(StoreError::Query(e))
    }
}

/// Where an endpoint stands: the one mapping of the `webhooks.state` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// The last POST succeeded (or none was made yet).
    Ok,
    /// POSTs fail; retried.
    Retrying,
    /// POSTs have failed for `[notify] failing_after_seconds` without a success.
    Failing,
    /// The receiver answered 410 Gone: disabled until enabled again.
    Gone,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Ok => "ok",
            State::Retrying => "retrying",
            State::Failing => "failing",
            State::Gone => "gone",
        }
    }
}

/// A live endpoint: its id, settings and delivery state.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Webhook {
    pub id: i64,
    /// `config` (read-only here) or `api`.
    pub source: String,
    #[serde(flatten)]
    pub config: WebhookConfig,
    /// `ok`, `retrying`, `failing` or `gone` (a 410 disabled it).
    pub state: String,
    pub failing_since: Option<NaiveDateTime>,
    pub last_success_at: Option<NaiveDateTime>,
    pub last_error: Option<String>,
    pub last_error_at: Option<NaiveDateTime>,
    /// Events waiting to be delivered.
    pub pending: i64,
    pub created_at: NaiveDateTime,
}

type Row = (
    i64,
    String,
    i32,
    String,
    String,
    Option<NaiveDateTime>,
    Option<NaiveDateTime>,
    Option<String>,
    Option<NaiveDateTime>,
    NaiveDateTime,
);

fn columns() -> (
    webhooks::id,
    webhooks::source,
    webhooks::enabled,
    webhooks::settings,
    webhooks::state,
    webhooks::failing_since,
    webhooks::last_success_at,
    webhooks::last_error,
    webhooks::last_error_at,
    webhooks::created_at,
) {
    use webhooks::*;
    (id, source, enabled, settings, state, failing_since, last_success_at, last_error, last_error_at, created_at)
}

fn of_row(r: Row, pending: i64) -> Option<Webhook> {
    let (id, source, enabled, settings, state, failing_since, last_success_at, last_error, last_error_at, created_at) =
        r;
    match serde_json::from_str::<WebhookConfig>(&settings) {
        // The column, not the settings: a 410 or an API disable turns a config endpoint off.
        Ok(config) => Some(Webhook {
            config: WebhookConfig { enabled: enabled != 0, ..config },
            id,
            source,
            state,
            failing_since,
            last_success_at,
            last_error,
            last_error_at,
            pending,
            created_at,
        }),
        Err(e) => {
            tracing::warn!(webhook = id, error = %e, "unreadable webhook settings; skipped");
            None
        }
    }
}

/// Every live endpoint, by name, with its count of pending deliveries.
pub fn list(c: &mut AnyConnection) -> Result<Vec<Webhook>, StoreError> {
    let rows: Vec<Row> =
        webhooks::table.filter(webhooks::deleted_at.is_null()).order(webhooks::name.asc()).select(columns()).load(c)?;
    let pending: Vec<(i64, i64)> = notify_deliveries::table
        .filter(notify_deliveries::state.eq(super::deliver::PENDING))
        .group_by(notify_deliveries::webhook_id)
        .select((notify_deliveries::webhook_id, diesel::dsl::count_star()))
        .load(c)?;
    let pending: std::collections::HashMap<i64, i64> = pending.into_iter().collect();
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            let p = pending.get(&r.0).copied().unwrap_or(0);
            of_row(r, p)
        })
        .collect())
}

/// The live endpoint `name`.
pub fn find(c: &mut AnyConnection, name: &str) -> Result<Option<Webhook>, StoreError> {
    Ok(list(c)?.into_iter().find(|w| w.config.name == name))
}

fn get(c: &mut AnyConnection, name: &str) -> Result<Webhook, WebhookError> {
    find(c, name)?.ok_or_else(|| WebhookError::NotFound(name.to_string()))
}

fn settings(w: &WebhookConfig) -> String {
    serde_json::to_string(w).unwrap_or_default()
}

fn insert(
    c: &mut AnyConnection,
    w: &WebhookConfig,
    source: &str,
    file: Option<&str>,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::insert_into(webhooks::table)
        .values((
            webhooks::name.eq(&w.name),
            webhooks::source.eq(source),
            webhooks::config_file.eq(file),
            webhooks::settings.eq(settings(w)),
            webhooks::events.eq(w.events_column()),
            webhooks::enabled.eq(i32::from(w.enabled)),
            webhooks::state.eq(State::Ok.as_str()),
            webhooks::created_at.eq(now),
            webhooks::updated_at.eq(now),
        ))
        .execute(c)
}

fn write(c: &mut AnyConnection, id: i64, w: &WebhookConfig, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(webhooks::table.find(id))
        .set((
            webhooks::name.eq(&w.name),
            webhooks::settings.eq(settings(w)),
            webhooks::events.eq(w.events_column()),
            webhooks::updated_at.eq(now),
        ))
        .execute(c)?;
    // `enabled` follows the settings, except that a 410 keeps it off until enabled again.
    diesel::update(webhooks::table.find(id).filter(webhooks::state.ne(State::Gone.as_str())))
        .set(webhooks::enabled.eq(i32::from(w.enabled)))
        .execute(c)
}

/// Mirrors the config file's endpoints into `webhooks` (new names added, changed ones
/// updated, dropped ones marked deleted).
pub fn sync_config(
    c: &mut AnyConnection,
    entries: &[WebhookConfig],
    file: Option<&str>,
    now: NaiveDateTime,
) -> Result<(), StoreError> {
    crate::store::transaction(c, |c| {
        let live: Vec<(i64, String, String, String)> = webhooks::table
            .filter(webhooks::deleted_at.is_null())
            .select((webhooks::id, webhooks::name, webhooks::source, webhooks::settings))
            .load(c)?;
        for w in entries {
            match live.iter().find(|(_, name, ..)| name == &w.name) {
                Some((id, _, source, old)) if source == "config" => {
                    if *old != settings(w) {
                        write(c, *id, w, now)?;
                    }
                }
                Some((id, ..)) => {
                    diesel::update(webhooks::table.find(id)).set(webhooks::deleted_at.eq(now)).execute(c)?;
                    insert(c, w, "config", file, now)?;
                }
                None => {
                    insert(c, w, "config", file, now)?;
                }
            }
        }
        for (id, name, source, _) in &live {
            if source == "config" && !entries.iter().any(|w| &w.name == name) {
                diesel::update(webhooks::table.find(id)).set(webhooks::deleted_at.eq(now)).execute(c)?;
            }
        }
        Ok(())
    })
}

fn writable(c: &mut AnyConnection, name: &str) -> Result<Webhook, WebhookError> {
    let w = get(c, name)?;
    if w.source == "config" {
        let file: Option<String> = webhooks::table.find(w.id).select(webhooks::config_file).first(c)?;
        return Err(WebhookError::ReadOnly { name: name.into(), file: file.unwrap_or_else(|| "(unknown)".into()) });
    }
    Ok(w)
}

fn record(
    c: &mut AnyConnection,
    by: &Actor,
    action: &str,
    name: &str,
    before: Option<&WebhookConfig>,
    after: Option<&WebhookConfig>,
) -> Result<(), StoreError> {
    let state = |w: Option<&WebhookConfig>| w.and_then(|w| serde_json::to_value(w).ok());
    let target = format!("webhook:{name}");
    let change = audit::Change { action, target: &target, note: None, before: state(before), after: state(after) };
    audit::record(c, by.as_str(), change, Utc::now().naive_utc())
}

fn check(settings: toml::Table) -> Result<WebhookConfig, WebhookError> {
    crate::config::webhook::resolve_table(settings).map_err(WebhookError::Invalid)
}

/// Creates an API-managed endpoint; it takes events committed from now on.
pub fn create(c: &mut AnyConnection, by: &Actor, settings: toml::Table) -> Result<Webhook, WebhookError> {
    let w = check(settings)?;
    crate::store::transaction(c, |c| {
        if find(c, &w.name)?.is_some() {
            return Err(WebhookError::Exists(w.name.clone()));
        }
        insert(c, &w, "api", None, Utc::now().naive_utc())?;
        record(c, by, "webhook.create", &w.name, None, Some(&w))?;
        get(c, &w.name)
    })
}

/// Replaces an API endpoint's settings with a full entry.
pub fn update(c: &mut AnyConnection, by: &Actor, name: &str, settings: toml::Table) -> Result<Webhook, WebhookError> {
    let w = check(settings)?;
    crate::store::transaction(c, |c| {
        let current = writable(c, name)?;
        if w.name != name && find(c, &w.name)?.is_some() {
            return Err(WebhookError::Exists(w.name.clone()));
        }
        if current.config == w {
            return Ok(current);
        }
        write(c, current.id, &w, Utc::now().naive_utc())?;
        record(c, by, "webhook.update", name, Some(&current.config), Some(&w))?;
        get(c, &w.name)
    })
}

/// Deletes an API endpoint: its pending deliveries are never made.
pub fn delete(c: &mut AnyConnection, by: &Actor, name: &str) -> Result<Webhook, WebhookError> {
    crate::store::transaction(c, |c| {
        let current = writable(c, name)?;
        let now = Utc::now().naive_utc();
        diesel::update(webhooks::table.find(current.id))
            .set((webhooks::deleted_at.eq(now), webhooks::enabled.eq(0)))
            .execute(c)?;
        super::deliver::abandon(c, current.id, now)?;
        record(c, by, "webhook.delete", name, Some(&current.config), None)?;
        Ok(current)
    })
}

/// Enables or disables an endpoint (config-file ones too: it is state, like a 410's).
/// Enabling clears `gone`; a disabled endpoint takes no new events.
pub fn set_enabled(c: &mut AnyConnection, by: &Actor, name: &str, enabled: bool) -> Result<Webhook, WebhookError> {
    crate::store::transaction(c, |c| {
        let current = get(c, name)?;
        let now = Utc::now().naive_utc();
        diesel::update(webhooks::table.find(current.id))
            .set((webhooks::enabled.eq(i32::from(enabled)), webhooks::updated_at.eq(now)))
            .execute(c)?;
        if enabled && current.state == State::Gone.as_str() {
            diesel::update(webhooks::table.find(current.id))
                .set((webhooks::state.eq(State::Ok.as_str()), webhooks::failing_since.eq(None::<NaiveDateTime>)))
                .execute(c)?;
        }
        let after = WebhookConfig { enabled, ..current.config.clone() };
        let action = if enabled { "webhook.enable" } else { "webhook.disable" };
        record(c, by, action, name, Some(&current.config), Some(&after))?;
        get(c, name)
    })
}

/// Sends a `webhook.test` event to endpoint `name` alone (disabled or not, it goes out at
/// the worker's next round); gives the event.
pub fn send_test(c: &mut AnyConnection, by: &Actor, name: &str) -> Result<super::Event, WebhookError> {
    let w = get(c, name)?;
    let now = Utc::now().naive_utc();
    let data = super::event::TestData {
        webhook: w.config.name.clone(),
        message: format!("a test event sent by {}", by.as_str()),
    };
    let out = super::Outgoing::new("webhook.test", now, super::EventData::Test(data));
    super::deliver::send_only_to(c, &w, out.clone(), now)?;
    Ok(out.event)
}

/// Endpoint `name`'s attempts, newest first.
pub fn attempts(
    c: &mut AnyConnection,
    name: &str,
    page: &crate::store::Page,
) -> Result<crate::store::Paged<super::deliver::Attempt>, WebhookError> {
    let w = get(c, name)?;
    super::deliver::attempts(c, w.id, page).map_err(|e| match e {
        crate::store::PageError::Store(s) => WebhookError::Store(s),
        crate::store::PageError::Cursor(b) => WebhookError::BadCursor(b),
    })
}

/// The endpoints at a glance, as [`crate::mailbox::listing::Health`] is for mailboxes: how
/// many in each state (`disabled` for those switched off), and the failing ones with why.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct WebhookHealth {
    pub total: usize,
    pub by_state: std::collections::BTreeMap<String, usize>,
    /// Endpoints whose POSTs have failed for `[notify] failing_after_seconds`, or that a 410
    /// disabled (`gone`).
    pub failing: Vec<FailingWebhook>,
}

#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct FailingWebhook {
    pub name: String,
    /// `failing` or `gone`.
    pub state: String,
    pub failing_since: Option<NaiveDateTime>,
    pub last_success_at: Option<NaiveDateTime>,
    /// The last attempt's error (the receiver's status and words, or why it was not reached).
    pub last_error: Option<String>,
    pub last_error_at: Option<NaiveDateTime>,
}

/// [`WebhookHealth`] of every live endpoint (one read of the small `webhooks` table).
pub fn health(c: &mut AnyConnection) -> Result<WebhookHealth, StoreError> {
    let rows: Vec<Row> =
        webhooks::table.filter(webhooks::deleted_at.is_null()).order(webhooks::name.asc()).select(columns()).load(c)?;
    let mut out = WebhookHealth { total: 0, by_state: Default::default(), failing: Vec::new() };
    for w in rows.into_iter().filter_map(|r| of_row(r, 0)) {
        out.total += 1;
        let failing = w.state == State::Failing.as_str() || w.state == State::Gone.as_str();
        let state = if !w.config.enabled && w.state != State::Gone.as_str() { "disabled" } else { w.state.as_str() };
        *out.by_state.entry(state.to_string()).or_default() += 1;
        if failing {
            out.failing.push(FailingWebhook {
                name: w.config.name,
                state: w.state,
                failing_since: w.failing_since,
                last_success_at: w.last_success_at,
                last_error: w.last_error,
                last_error_at: w.last_error_at,
            });
        }
    }
    Ok(out)
}
