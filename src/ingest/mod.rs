//! Ingest: the one place the order lives — evidence (parse → attribute → classify) then one
//! transaction per batch (ledger → events and campaign counters → suppression).
//!
//! Takes raw messages with their source identity ([`Item`]); gives what each became
//! ([`Disposition`]) and counts ([`Stats`]). Parsing and classification (`mail`) run before
//! the transaction, on all cores; the ledger entry, events, campaign counters, suppression
//! changes and rule hits (`write`) are written together, so a crash leaves either all of a
//! batch or none of it. Beside it: `attribute` (the campaign chain), `review` (the queue of
//! what nothing could be made of) and `reclassify` (new rules over stored events). It never
//! deletes anything from a mailbox: the caller does that, for the items this returns as
//! committed, after it returns.

pub mod attribute;
pub mod explain;
pub mod log;
pub mod log_follow;
pub mod log_read;
mod log_reprocess;
mod log_review;
pub mod log_sources;
pub mod log_status;
mod mail;
pub mod reclassify;
pub mod review;
mod same;
mod write;

pub use mail::{Classified, Evidence, classify, facts};

use crate::classify::{Engine, repo};
use crate::config::Config;
use crate::parse::ParseOptions;
use crate::record::ledger;
use crate::store::{AnyConnection, StoreError};
use crate::suppress::Policy;
use attribute::Attributor;
use chrono::{Duration, NaiveDateTime, Utc};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

/// Why a batch could not be ingested, by kind: an interface maps each to its own answer.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The stored rules cannot be loaded or compiled.
    #[error("rules: {0}")]
    Rules(#[from] repo::RulesError),
    /// A configuration value the pipeline needs is unusable (a secret that cannot be read,
    /// a pattern that does not compile).
    #[error("configuration: {key}: {message}")]
    Config { key: &'static str, message: String },
    /// No review item with this id still holds its raw message.
    #[error("review item {0} does not exist or has no raw message left; the review queue lists what is there")]
    ReviewNotFound(i64),
    #[error(transparent)]
    Cursor(#[from] crate::store::BadCursor),
    /// A review operation on a message that is not in the queue (processed, or discarded).
    #[error("message {id} is not in the review queue (it is {state})")]
    NotInReview { id: i64, state: String },
}

impl From<diesel::result::Error> for IngestError {
    fn from(e: diesel::result::Error) -> Self {
        IngestError::Store(StoreError::Query(e))
    }
}

/// One message to ingest and where it came from.
#[derive(Debug, Clone, Copy)]
pub struct Item<'a> {
    /// Mailbox name, or `file` for imports.
    pub source: &'a str,
    /// UIDVALIDITY:UID, UIDL, or the file path (+ index inside an mbox).
    pub source_id: &'a str,
    pub raw: &'a [u8],
}

/// What became of one item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disposition {
    /// Newly recorded; `review` says why it also waits for a person.
    New { message: i64, events: usize, review: Option<String> },
    /// This source identity was committed before: nothing to do (safe to delete).
    Seen,
    /// The same bytes were ingested before from elsewhere: recorded as another sighting.
    Duplicate { message: i64 },
}

/// Counts for a batch or a whole import.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Stats {
    pub messages: usize,
    pub seen: usize,
    pub duplicates: usize,
    pub events: usize,
    pub by_kind: BTreeMap<String, usize>,
    pub by_classification: BTreeMap<String, usize>,
    pub suppressed: usize,
    pub review: usize,
    /// Records another input recorded already (a logged bounce that came back as a DSN):
    /// kept as evidence of that event, counted nothing.
    pub corroborated: usize,
}

impl Stats {
    pub fn add(&mut self, other: &Stats) {
        self.messages += other.messages;
        self.seen += other.seen;
        self.duplicates += other.duplicates;
        self.events += other.events;
        self.suppressed += other.suppressed;
        self.review += other.review;
        self.corroborated += other.corroborated;
        for (k, v) in &other.by_kind {
            *self.by_kind.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &other.by_classification {
            *self.by_classification.entry(k.clone()).or_default() += v;
        }
    }
}

pub struct Pipeline {
    parse: ParseOptions,
    attributor: Attributor,
    policy: Policy,
    allow_cfg: Vec<String>,
    raw_days: u32,
    /// How far apart a log's and a mailbox's sightings of one event may be ([`same`]).
    same_window: Option<Duration>,
    /// The compiled rules and the `rules_version` they were built from.
    engine: Mutex<Option<(i64, Arc<Engine>)>>,
    /// Rule hits of committed batches not written yet. Kept out of the ingest transaction so
    /// instances sharing one PostgreSQL never queue on the same `rules` rows while they hold
    /// a batch open.
    hits: Mutex<HashMap<String, i64>>,
}

impl Pipeline {
    pub fn new(cfg: &Config) -> Result<Pipeline, IngestError> {
        let key = cfg
            .attribution
            .secret()
            .resolve("attribution")
            .map_err(|message| IngestError::Config { key: "attribution.verp_secret_env", message })?;
        let attributor = Attributor::new(&cfg.attribution, key)
            .map_err(|e| IngestError::Config { key: "attribution.verp_pattern", message: e.to_string() })?;
        Ok(Pipeline {
            parse: ParseOptions { max_size: cfg.parse.max_message_bytes },
            attributor,
            policy: Policy::new(cfg.suppression.clone()),
            allow_cfg: cfg.suppression.allowlist.clone(),
            raw_days: cfg.retention.raw_message_days,
            same_window: (cfg.attribution.same_event_window_hours > 0)
                .then(|| Duration::hours(i64::from(cfg.attribution.same_event_window_hours))),
            engine: Mutex::new(None),
            hits: Mutex::new(HashMap::new()),
        })
    }

    pub(super) fn policy(&self) -> &Policy {
        &self.policy
    }

    pub(super) fn allowlist(&self) -> &[String] {
        &self.allow_cfg
    }

    /// When a processed message's raw bytes are due for purging (None: not kept at all).
    pub(super) fn purge_after(&self, now: NaiveDateTime) -> Option<NaiveDateTime> {
        (self.raw_days > 0).then(|| now + Duration::days(i64::from(self.raw_days)))
    }

    /// The rules version this pipeline's engine was last built from (None before its first use).
    pub fn loaded_rules_version(&self) -> Option<i64> {
        self.engine.lock().unwrap_or_else(|p| p.into_inner()).as_ref().map(|(v, _)| *v)
    }

    /// The engine for the database's current rules, rebuilt when they changed.
    pub fn engine(&self, c: &mut AnyConnection) -> Result<Arc<Engine>, IngestError> {
        let mut version = repo::version(c)?;
        // Version 0: never seeded (start-up seeds, but a bare `import` may come first).
        if version == 0 {
            repo::seed_if_empty(c)?;
            version = repo::version(c)?;
        }
        let mut cached = self.engine.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((v, e)) = cached.as_ref()
            && *v == version
        {
            return Ok(e.clone());
        }
        let rules = repo::list(c)?.into_iter().map(|r| r.rule).collect();
        let engine = Arc::new(Engine::new(rules).map_err(repo::RulesError::from)?);
        *cached = Some((version, engine.clone()));
        Ok(engine)
    }

    /// Ingests a batch in one transaction, with a fixed number of statements per batch on
    /// PostgreSQL (multi-row inserts, set lookups) rather than several per message.
    ///
    /// A batch the database refuses for something in its data (not for a lost connection, a
    /// lock or a full disk) is retried message by message, and a message that still cannot be
    /// committed on its own is put in the review queue with the database's words, so one odd
    /// message never holds up the rest of its batch or its mailbox.
    pub fn ingest(&self, c: &mut AnyConnection, items: &[Item]) -> Result<(Vec<Disposition>, Stats), IngestError> {
        let engine = self.engine(c)?;
        let evidence = self.prepare_all(&engine, items);
        let result = self.write_all(c, items, &evidence);
        self.flush_hits(c);
        if let Ok((_, stats)) = &result {
            crate::observe::ingested(stats);
        }
        result
    }

    /// The batch in one transaction, else message by message (see [`Pipeline::ingest`]).
    fn write_all(
        &self,
        c: &mut AnyConnection,
        items: &[Item],
        evidence: &[Evidence],
    ) -> Result<(Vec<Disposition>, Stats), IngestError> {
        match self.write_retrying(c, items, evidence) {
            Err(IngestError::Store(e)) if !e.is_transient() => {
                tracing::warn!(error = %e, messages = items.len(), "a batch could not be committed; committing its messages one by one");
                let mut out = Vec::with_capacity(items.len());
                let mut stats = Stats::default();
                for (item, p) in items.iter().zip(evidence) {
                    let (d, s) = match self.write_retrying(c, std::slice::from_ref(item), std::slice::from_ref(p)) {
                        Err(IngestError::Store(e)) if !e.is_transient() => self.quarantine(c, item, p, &e)?,
                        other => other?,
                    };
                    out.extend(d);
                    stats.add(&s);
                }
                Ok((out, stats))
            }
            other => other,
        }
    }

    /// Adds a committed batch's rule hits to those waiting to be written.
    pub(super) fn count_hits(&self, hits: HashMap<String, i64>) {
        let mut pending = self.hits.lock().unwrap_or_else(|p| p.into_inner());
        for (rule, n) in hits {
            *pending.entry(rule).or_default() += n;
        }
    }

    /// Writes the waiting rule hits in a short transaction of their own. Best effort: hit
    /// counts are statistics, so a failure keeps them for the next flush instead of failing
    /// the ingest that already committed.
    pub fn flush_hits(&self, c: &mut AnyConnection) {
        let hits: Vec<(String, i64)> =
            std::mem::take(&mut *self.hits.lock().unwrap_or_else(|p| p.into_inner())).into_iter().collect();
        if hits.is_empty() {
            return;
        }
        if let Err(e) = repo::record_hits(c, &hits, Utc::now().naive_utc()) {
            tracing::debug!(error = %e, "rule hit counts not written yet; kept for the next batch");
            self.count_hits(hits.into_iter().collect());
        }
    }

    /// One write, and once more when a concurrent commit refused it.
    fn write_retrying(
        &self,
        c: &mut AnyConnection,
        items: &[Item],
        evidence: &[Evidence],
    ) -> Result<(Vec<Disposition>, Stats), IngestError> {
        match self.write(c, items, evidence) {
            // Another instance committed one of these messages between our lookups and our
            // inserts (same mail in two mailboxes, or an import racing a poll): the unique
            // constraints refused it and nothing was written. Once more, it is a duplicate.
            Err(IngestError::Store(StoreError::Query(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            )))) => self.write(c, items, evidence),
            other => other,
        }
    }

    /// Stores a message the database refused on its own as a review item: its raw bytes, its
    /// header facts and why, and its source identity, so the mailbox can move on and a person
    /// (or `review reprocess`, once the cause is fixed) takes it from there.
    fn quarantine(
        &self,
        c: &mut AnyConnection,
        item: &Item,
        p: &Evidence,
        error: &StoreError,
    ) -> Result<(Vec<Disposition>, Stats), IngestError> {
        let why = bounded(format!("could not be committed: {error}"), 500);
        tracing::warn!(source = item.source, id = item.source_id, reason = %why, "message put in the review queue");
        crate::store::transaction(c, |c| {
            let now = Utc::now().naive_utc();
            let mut stats = Stats::default();
            let disposition = if let Some(&message) = ledger::by_digests(c, &[&p.digest])?.get(&p.digest) {
                stats.duplicates += 1;
                Disposition::Duplicate { message }
            } else {
                let row = ledger::NewMessage {
                    digest: &p.digest,
                    kind: p.report.kind.as_str(),
                    dialect: p.report.dialect,
                    state: ledger::MessageState::Review.as_str(),
                    review_reason: Some(&why),
                    subject: p.report.subject.as_deref(),
                    from_addr: p.report.from.as_deref(),
                    message_id: p.report.message_id.as_deref(),
                    size: item.raw.len() as i64,
                    raw: Some(item.raw),
                    records: p.report.records.len() as i32,
                    received_at: now,
                    purge_after: None,
                };
                let message = ledger::insert_many(c, &[row])?[0];
                stats.messages += 1;
                stats.review += 1;
                *stats.by_kind.entry(p.report.kind.as_str().to_string()).or_default() += 1;
                Disposition::New { message, events: 0, review: Some(why.clone()) }
            };
            let message = match disposition {
                Disposition::New { message, .. } | Disposition::Duplicate { message } => message,
                Disposition::Seen => unreachable!("only New or Duplicate are built above"),
            };
            ledger::add_sources(c, &[(item.source, item.source_id, message)], now)?;
            Ok((vec![disposition], stats))
        })
    }
}

/// At most `max` characters of `s`: a database error may quote a whole statement.
fn bounded(mut s: String, max: usize) -> String {
    if let Some((cut, _)) = s.char_indices().nth(max) {
        s.truncate(cut);
        s.push('…');
    }
    s
}
