//! A review-queue item as an older rebound left it: a message its parser could not read,
//! stored with its raw bytes, which today's parser reads.

use rebound::record::ledger::{self, NewMessage};
use rebound::store::AnyConnection;

/// Stores `raw` in the review queue the way the ledger stores one (source `file`); gives
/// its message id.
pub fn legacy_item(c: &mut AnyConnection, raw: &[u8]) -> i64 {
    let digest = ledger::digest(raw);
    let now = chrono::Utc::now().naive_utc();
    let row = NewMessage {
        digest: &digest,
        kind: "unknown",
        dialect: "none",
        state: "review",
        review_reason: Some("nothing could be parsed"),
        subject: None,
        from_addr: None,
        message_id: None,
        size: raw.len() as i64,
        raw: Some(raw),
        records: 0,
        received_at: now,
        purge_after: None,
    };
    let id = ledger::insert_many(c, &[row]).unwrap()[0];
    ledger::add_sources(c, &[("file", &format!("legacy-{digest}.eml"), id)], now).unwrap();
    id
}
