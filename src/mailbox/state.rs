//! What the database keeps per mailbox: status for operators, checkpoints, and the lease.
//!
//! Every row is keyed by the mailbox's stable id (`mailboxes.id`), never its name, so a
//! renamed mailbox keeps all of it.

use crate::fetch::FolderCheckpoint;
use crate::store::schema::{mailbox_checkpoints, mailbox_status};
use crate::store::{AnyConnection, StoreError};
use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use serde::Serialize;

/// Where a mailbox stands for operators: the one mapping of the `mailbox_status.state` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailboxState {
    /// Registered, never polled.
    New,
    /// The last poll succeeded.
    Ok,
    /// The last poll failed (its stage and error are beside it).
    Failing,
    /// Not polled: `enabled = false`.
    Disabled,
}

impl MailboxState {
    pub fn as_str(self) -> &'static str {
        match self {
            MailboxState::New => "new",
            MailboxState::Ok => "ok",
            MailboxState::Failing => "failing",
            MailboxState::Disabled => "disabled",
        }
    }
}

/// A mailbox's status row (the "Error column" of the mailbox list).
#[derive(Debug, Clone, Queryable, Selectable, Serialize, PartialEq, Eq, utoipa::ToSchema)]
#[diesel(table_name = mailbox_status)]
#[schema(as = MailboxStatus)]
pub struct Status {
    pub mailbox_id: i64,
    pub state: String,
    pub last_poll_at: Option<NaiveDateTime>,
    pub last_success_at: Option<NaiveDateTime>,
    pub last_error: Option<String>,
    pub last_error_stage: Option<String>,
    pub consecutive_failures: i32,
    pub messages_processed: i64,
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<NaiveDateTime>,
}

fn ensure_row(c: &mut AnyConnection, id: i64) -> Result<(), StoreError> {
    let exists: i64 = mailbox_status::table.find(id).count().get_result(c)?;
    if exists == 0 {
        let inserted = diesel::insert_into(mailbox_status::table)
            .values((mailbox_status::mailbox_id.eq(id), mailbox_status::state.eq(MailboxState::New.as_str())))
            .execute(c);
        // Another instance may have created it between the check and the insert.
        if let Err(e) = inserted {
            let again: i64 = mailbox_status::table.find(id).count().get_result(c)?;
            if again == 0 {
                return Err(e.into());
            }
        }
    }
    Ok(())
}

pub fn get(c: &mut AnyConnection, id: i64) -> Result<Option<Status>, StoreError> {
    Ok(mailbox_status::table.find(id).select(Status::as_select()).first(c).optional()?)
}

pub fn all(c: &mut AnyConnection) -> Result<Vec<Status>, StoreError> {
    Ok(mailbox_status::table.order(mailbox_status::mailbox_id.asc()).select(Status::as_select()).load(c)?)
}

/// Takes (or renews) the lease on mailbox `id` for `owner` until `now + ttl`, unless another
/// live instance holds it. One conditional UPDATE: atomic on both backends.
pub fn acquire_lease(
    c: &mut AnyConnection,
    id: i64,
    owner: &str,
    now: NaiveDateTime,
    ttl: Duration,
) -> Result<bool, StoreError> {
    ensure_row(c, id)?;
    Ok(crate::take_lease!(c, mailbox_status, id, owner, now, ttl)?)
}

/// Who holds the lease on mailbox `id` and until when, if it is held at `now`.
pub fn lease_holder(
    c: &mut AnyConnection,
    id: i64,
    now: NaiveDateTime,
) -> Result<Option<(String, NaiveDateTime)>, StoreError> {
    let row: Option<(Option<String>, Option<NaiveDateTime>)> = mailbox_status::table
        .find(id)
        .select((mailbox_status::lease_owner, mailbox_status::lease_expires_at))
        .first(c)
        .optional()?;
    Ok(match row {
        Some((Some(owner), Some(until))) if until >= now => Some((owner, until)),
        _ => None,
    })
}

pub fn release_lease(c: &mut AnyConnection, id: i64, owner: &str) -> Result<(), StoreError> {
    Ok(crate::drop_lease!(c, mailbox_status, id, owner)?)
}

/// Records a successful poll that processed `n` messages.
pub fn record_success(c: &mut AnyConnection, id: i64, n: i64, now: NaiveDateTime) -> Result<(), StoreError> {
    ensure_row(c, id)?;
    crate::store::transaction(c, |c| {
        let was = state_of(c, id)?;
        mark_success(c, id, n, now)?;
        if was == MailboxState::Failing.as_str() {
            announce(c, id, "mailbox.recovered", now)?;
        }
        Ok(())
    })
}

fn state_of(c: &mut AnyConnection, id: i64) -> Result<String, StoreError> {
    Ok(mailbox_status::table.find(id).select(mailbox_status::state).first(c)?)
}

/// Enqueues `kind` (`mailbox.failing` / `mailbox.recovered`) with the status as it is now.
fn announce(c: &mut AnyConnection, id: i64, kind: &str, now: NaiveDateTime) -> Result<(), StoreError> {
    if !crate::notify::Wanted::load(c)?.wants(kind) {
        return Ok(());
    }
    let name: String = crate::store::schema::mailboxes::table
        .find(id)
        .select(crate::store::schema::mailboxes::name)
        .first(c)
        .optional()?
        .unwrap_or_else(|| id.to_string());
    let Some(s) = get(c, id)? else { return Ok(()) };
    {
        let failing = s.state == MailboxState::Failing.as_str();
        let data = crate::notify::event::MailboxData {
            mailbox_id: id,
            name,
            state: s.state,
            stage: s.last_error_stage.filter(|_| failing),
            error: s.last_error.filter(|_| failing),
            consecutive_failures: s.consecutive_failures,
        };
        let event = crate::notify::Outgoing::new(kind, now, crate::notify::EventData::Mailbox(data));
        crate::notify::outbox::enqueue(c, &[event])
    }
}

fn mark_success(c: &mut AnyConnection, id: i64, n: i64, now: NaiveDateTime) -> Result<(), StoreError> {
    diesel::update(mailbox_status::table.find(id))
        .set((
            mailbox_status::state.eq(MailboxState::Ok.as_str()),
            mailbox_status::last_poll_at.eq(Some(now)),
            mailbox_status::last_success_at.eq(Some(now)),
            mailbox_status::consecutive_failures.eq(0),
            mailbox_status::messages_processed.eq(mailbox_status::messages_processed + n),
        ))
        .execute(c)?;
    Ok(())
}

/// The longest `last_error` kept, in characters: it is shown in `mailbox list` and the admin
/// API, and one error once brought 331,160 characters of mail text with it.
pub const LAST_ERROR_MAX: usize = 1000;

/// Records `failures` failed polls (more than one when some could not be written at the
/// time): the last stage and error (cut to [`LAST_ERROR_MAX`]), and that many more
/// consecutive failures.
pub fn record_failure(
    c: &mut AnyConnection,
    id: i64,
    stage: &str,
    error: &str,
    failures: i32,
    n: i64,
    now: NaiveDateTime,
) -> Result<(), StoreError> {
    ensure_row(c, id)?;
    let error = crate::fetch::error::clip(error, LAST_ERROR_MAX);
    crate::store::transaction(c, |c| {
        let was = state_of(c, id)?;
        mark_failure(c, id, stage, &error, failures, n, now)?;
        if was != MailboxState::Failing.as_str() {
            announce(c, id, "mailbox.failing", now)?;
        }
        Ok(())
    })
}

fn mark_failure(
    c: &mut AnyConnection,
    id: i64,
    stage: &str,
    error: &str,
    failures: i32,
    n: i64,
    now: NaiveDateTime,
) -> Result<(), StoreError> {
    diesel::update(mailbox_status::table.find(id))
        .set((
            mailbox_status::state.eq(MailboxState::Failing.as_str()),
            mailbox_status::last_poll_at.eq(Some(now)),
            mailbox_status::last_error.eq(Some(error)),
            mailbox_status::last_error_stage.eq(Some(stage)),
            mailbox_status::consecutive_failures.eq(mailbox_status::consecutive_failures + failures),
            mailbox_status::messages_processed.eq(mailbox_status::messages_processed + n),
        ))
        .execute(c)?;
    Ok(())
}

pub fn mark_disabled(c: &mut AnyConnection, id: i64) -> Result<(), StoreError> {
    ensure_row(c, id)?;
    diesel::update(mailbox_status::table.find(id))
        .set(mailbox_status::state.eq(MailboxState::Disabled.as_str()))
        .execute(c)?;
    Ok(())
}

pub fn checkpoints(c: &mut AnyConnection, mailbox: i64) -> Result<Vec<FolderCheckpoint>, StoreError> {
    let rows: Vec<(String, i64, i64)> = mailbox_checkpoints::table
        .filter(mailbox_checkpoints::mailbox_id.eq(mailbox))
        .select((mailbox_checkpoints::folder, mailbox_checkpoints::uidvalidity, mailbox_checkpoints::last_uid))
        .load(c)?;
    Ok(rows
        .into_iter()
        .map(|(folder, v, u)| FolderCheckpoint {
            folder,
            uidvalidity: u32::try_from(v).unwrap_or(0),
            last_uid: u32::try_from(u).unwrap_or(0),
        })
        .collect())
}

/// Moves a folder's checkpoint forward (or resets it for a new UIDVALIDITY).
pub fn advance(c: &mut AnyConnection, mailbox: i64, cp: &FolderCheckpoint) -> Result<(), StoreError> {
    let key = (mailbox, cp.folder.as_str());
    let current: Option<(i64, i64)> = mailbox_checkpoints::table
        .find(key)
        .select((mailbox_checkpoints::uidvalidity, mailbox_checkpoints::last_uid))
        .first(c)
        .optional()?;
    let (v, u) = (i64::from(cp.uidvalidity), i64::from(cp.last_uid));
    match current {
        None => {
            diesel::insert_into(mailbox_checkpoints::table)
                .values((
                    mailbox_checkpoints::mailbox_id.eq(mailbox),
                    mailbox_checkpoints::folder.eq(&cp.folder),
                    mailbox_checkpoints::uidvalidity.eq(v),
                    mailbox_checkpoints::last_uid.eq(u),
                ))
                .execute(c)?;
        }
        Some((cv, cu)) if cv != v || u > cu => {
            diesel::update(mailbox_checkpoints::table.find(key))
                .set((mailbox_checkpoints::uidvalidity.eq(v), mailbox_checkpoints::last_uid.eq(u)))
                .execute(c)?;
        }
        Some(_) => {}
    }
    Ok(())
}
