//! The sent-message map: which campaign (and recipient) each Message-ID the platform sent
//! belongs to — step 3 of attribution. The one owner of `sent_messages`.
//!
//! Takes a CSV export of the sending platform (`message_id,campaign_id,[recipient],[sent_at]`)
//! or a batch's original Message-IDs; gives the rows added, or the campaigns the IDs belong
//! to. Message-IDs are compared without their angle brackets. An import is one transaction:
//! a bad line stops it with nothing written, and running it again adds nothing. Each
//! campaign's message count (`campaign_sent`) moves in the same transaction, so views read it
//! instead of counting the map.

use crate::store::schema::{campaign_sent, sent_messages};
use crate::store::{AnyConnection, StoreError};
use diesel::prelude::*;
use std::collections::HashMap;
use std::path::Path;

/// IDs per lookup statement: well under every backend's bind-parameter limit.
const CHUNK: usize = 500;

/// A Message-ID as the map keys it: no angle brackets, no surrounding space.
pub fn bare(message_id: &str) -> &str {
    message_id.trim().trim_start_matches('<').trim_end_matches('>')
}

/// Campaign and recipient of each of these (bare) Message-IDs the map knows.
pub fn lookup(c: &mut AnyConnection, ids: &[&str]) -> Result<HashMap<String, (String, Option<String>)>, StoreError> {
    let mut out = HashMap::new();
    for chunk in ids.chunks(CHUNK) {
        let rows: Vec<(String, String, Option<String>)> = sent_messages::table
            .filter(sent_messages::message_id.eq_any(chunk))
            .select((sent_messages::message_id, sent_messages::campaign_id, sent_messages::recipient))
            .load(c)?;
        out.extend(rows.into_iter().map(|(m, camp, r)| (m, (camp, r))));
    }
    Ok(out)
}

#[derive(Debug, thiserror::Error)]
pub enum SentImportError {
    #[error("cannot read {file}: {message}")]
    Read { file: String, message: String },
    #[error("{file} line {line}: needs message_id,campaign_id[,recipient[,sent_at]]")]
    Line { file: String, line: usize },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<diesel::result::Error> for SentImportError {
    fn from(e: diesel::result::Error) -> Self {
        SentImportError::Store(StoreError::Query(e))
    }
}

/// What an import did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Imported {
    pub added: usize,
    pub already_known: usize,
}

/// Imports a CSV file (a `message_id` header row is recognised and skipped), in one
/// transaction.
pub fn import(c: &mut AnyConnection, file: &Path) -> Result<Imported, SentImportError> {
    let name = file.display().to_string();
    let read = |message: String| SentImportError::Read { file: name.clone(), message };
    let mut rdr =
        csv::ReaderBuilder::new().has_headers(false).flexible(true).from_path(file).map_err(|e| read(e.to_string()))?;
    crate::store::transaction(c, |c| {
        let mut done = Imported::default();
        let mut per_campaign: HashMap<String, i64> = HashMap::new();
        for (n, rec) in rdr.records().enumerate() {
            let rec = rec.map_err(|e| read(format!("line {}: {e}", n + 1)))?;
            let mid = bare(rec.get(0).unwrap_or(""));
            let campaign = rec.get(1).unwrap_or("").trim();
            if n == 0 && mid.eq_ignore_ascii_case("message_id") {
                continue;
            }
            if mid.is_empty() || campaign.is_empty() {
                return Err(SentImportError::Line { file: name.clone(), line: n + 1 });
            }
            let recipient = rec.get(2).map(str::trim).filter(|s| !s.is_empty()).map(crate::suppress::normalize);
            let sent_at =
                rec.get(3).and_then(|s| chrono::DateTime::parse_from_rfc3339(s.trim()).ok()).map(|d| d.naive_utc());
            let exists: i64 = sent_messages::table.find(mid).count().get_result(c)?;
            if exists > 0 {
                done.already_known += 1;
                continue;
            }
            diesel::insert_into(sent_messages::table)
                .values((
                    sent_messages::message_id.eq(mid),
                    sent_messages::campaign_id.eq(campaign),
                    sent_messages::recipient.eq(recipient),
                    sent_messages::sent_at.eq(sent_at),
                ))
                .execute(c)?;
            done.added += 1;
            *per_campaign.entry(campaign.to_string()).or_default() += 1;
        }
        for (campaign, n) in per_campaign {
            let row = (campaign_sent::campaign_id.eq(&campaign), campaign_sent::sent.eq(n));
            let add = campaign_sent::sent.eq(campaign_sent::sent + n);
            // `AnyConnection` has no ON CONFLICT of its own: each backend's builder does.
            match c {
                AnyConnection::Postgresql(pg) => diesel::insert_into(campaign_sent::table)
                    .values(row)
                    .on_conflict(campaign_sent::campaign_id)
                    .do_update()
                    .set(add)
                    .execute(pg)?,
                AnyConnection::Sqlite(lite) => diesel::insert_into(campaign_sent::table)
                    .values(row)
                    .on_conflict(campaign_sent::campaign_id)
                    .do_update()
                    .set(add)
                    .execute(lite)?,
            };
        }
        Ok(done)
    })
}

/// Messages the map holds per campaign (campaigns it holds none of are absent).
pub fn counts(c: &mut AnyConnection) -> Result<HashMap<String, i64>, StoreError> {
    Ok(campaign_sent::table
        .select((campaign_sent::campaign_id, campaign_sent::sent))
        .load::<(String, i64)>(c)?
        .into_iter()
        .collect())
}

/// Messages the map holds for one campaign.
pub fn count(c: &mut AnyConnection, campaign: &str) -> Result<i64, StoreError> {
    Ok(campaign_sent::table.find(campaign).select(campaign_sent::sent).first(c).optional()?.unwrap_or(0))
}
