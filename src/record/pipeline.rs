//! The one place the ingest order lives: parse → attribute → classify → record → suppress,
//! committed in one transaction per batch.
//!
//! Takes raw messages with their source identity; gives what each became. Parsing and
//! classification run before the transaction (pure CPU); the ledger entry, events,
//! campaign counters, suppression changes and rule hits are written together, so a crash
//! leaves either all of a batch or none of it. It never deletes anything from a mailbox:
//! the caller does that, for the items this returns as committed, after it returns.

use super::attribute::{Attribution, Attributor, Method};
use super::{events, ledger};
use crate::classify::{Engine, Facts, Outcome, known_reason, repo};
use crate::config::Config;
use crate::parse::{self, Kind, ParseOptions, Record, Report};
use crate::store::schema::sent_messages;
use crate::store::{AnyConnection, StoreError};
use crate::suppress::{self, Allowlist, EventFacts, Policy};
use chrono::{Duration, NaiveDateTime, Utc};
use diesel::prelude::*;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("rules: {0}")]
    Rules(String),
    #[error("configuration: {0}")]
    Config(String),
}

impl From<diesel::result::Error> for PipelineError {
    fn from(e: diesel::result::Error) -> Self {
        PipelineError::Store(StoreError::Query(e))
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
}

impl Stats {
    pub fn add(&mut self, other: &Stats) {
        self.messages += other.messages;
        self.seen += other.seen;
        self.duplicates += other.duplicates;
        self.events += other.events;
        self.suppressed += other.suppressed;
        self.review += other.review;
        for (k, v) in &other.by_kind {
            *self.by_kind.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &other.by_classification {
            *self.by_classification.entry(k.clone()).or_default() += v;
        }
    }
}

/// A record's decision, made before the transaction.
#[derive(Debug, Clone)]
pub struct Classified {
    pub outcome: Outcome,
    pub rule_key: String,
    pub reason: String,
}

/// One message parsed, attributed and classified, ready to write.
#[derive(Debug)]
pub struct Prepared {
    pub digest: String,
    pub report: Report,
    pub attribution: Attribution,
    pub classified: Vec<Classified>,
    pub occurred_at: NaiveDateTime,
}

pub struct Pipeline {
    parse: ParseOptions,
    attributor: Attributor,
    policy: Policy,
    allow_cfg: Vec<String>,
    raw_days: u32,
    /// The compiled rules and the `rules_version` they were built from.
    engine: Mutex<Option<(i64, Arc<Engine>)>>,
}

impl Pipeline {
    pub fn new(cfg: &Config) -> Result<Pipeline, PipelineError> {
        let key = cfg.attribution.secret().resolve("attribution").map_err(PipelineError::Config)?;
        let attributor = Attributor::new(&cfg.attribution, key).map_err(|e| PipelineError::Config(e.to_string()))?;
        Ok(Pipeline {
            parse: ParseOptions { max_size: cfg.parse.max_message_bytes },
            attributor,
            policy: Policy::new(cfg.suppression.clone()),
            allow_cfg: cfg.suppression.allowlist.clone(),
            raw_days: cfg.retention.raw_message_days,
            engine: Mutex::new(None),
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

    /// The engine for the database's current rules, rebuilt when they changed.
    pub fn engine(&self, c: &mut AnyConnection) -> Result<Arc<Engine>, PipelineError> {
        let rules_err = |e: repo::RulesError| PipelineError::Rules(e.to_string());
        let mut version = repo::version(c).map_err(rules_err)?;
        // Version 0: never seeded (start-up seeds, but a bare `import` may come first).
        if version == 0 {
            repo::seed_if_empty(c, &known_reason).map_err(rules_err)?;
            version = repo::version(c).map_err(rules_err)?;
        }
        let mut cached = self.engine.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((v, e)) = cached.as_ref()
            && *v == version
        {
            return Ok(e.clone());
        }
        let rules = repo::list(c).map_err(rules_err)?.into_iter().map(|r| r.rule).collect();
        let engine = Arc::new(Engine::new(rules).map_err(|e| PipelineError::Rules(e.to_string()))?);
        *cached = Some((version, engine.clone()));
        Ok(engine)
    }

    /// Parses, attributes (VERP, headers) and classifies one message. Pure CPU.
    pub fn prepare(&self, engine: &Engine, raw: &[u8]) -> Prepared {
        let mut report = parse::parse(raw, &self.parse);
        strip_nuls(&mut report);
        let attribution = self.attributor.attribute(&report);
        let body = engine.uses_body().then(|| String::from_utf8_lossy(raw));
        let classified = report
            .records
            .iter()
            .map(|r| classify(engine, &report, r, attribution.recipient.as_deref(), body.as_deref()))
            .collect();
        let occurred_at = occurred_at(&report);
        Prepared { digest: ledger::digest(raw), report, attribution, classified, occurred_at }
    }

    /// Parses a batch on all cores (parsing is pure CPU and the larger part of the work).
    fn prepare_all(&self, engine: &Engine, items: &[Item]) -> Vec<Prepared> {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(8);
        if threads < 2 || items.len() < 32 {
            return items.iter().map(|i| self.prepare(engine, i.raw)).collect();
        }
        let per = items.len().div_ceil(threads);
        std::thread::scope(|s| {
            let handles: Vec<_> = items
                .chunks(per)
                .map(|chunk| s.spawn(move || chunk.iter().map(|i| self.prepare(engine, i.raw)).collect::<Vec<_>>()))
                .collect();
            handles.into_iter().flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))).collect()
        })
    }

    /// Ingests a batch in one transaction, with a fixed number of statements per batch on
    /// PostgreSQL (multi-row inserts, set lookups) rather than several per message.
    ///
    /// A batch the database refuses for something in its data (not for a lost connection, a
    /// lock or a full disk) is retried message by message, and a message that still cannot be
    /// committed on its own is put in the review queue with the database's words, so one odd
    /// message never holds up the rest of its batch or its mailbox.
    pub fn ingest(&self, c: &mut AnyConnection, items: &[Item]) -> Result<(Vec<Disposition>, Stats), PipelineError> {
        let engine = self.engine(c)?;
        let prepared = self.prepare_all(&engine, items);
        match self.write_retrying(c, items, &prepared) {
            Err(PipelineError::Store(e)) if !e.is_transient() => {
                tracing::warn!(error = %e, messages = items.len(), "a batch could not be committed; committing its messages one by one");
                let mut out = Vec::with_capacity(items.len());
                let mut stats = Stats::default();
                for (item, p) in items.iter().zip(&prepared) {
                    let (d, s) = match self.write_retrying(c, std::slice::from_ref(item), std::slice::from_ref(p)) {
                        Err(PipelineError::Store(e)) if !e.is_transient() => self.quarantine(c, item, p, &e)?,
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

    /// One write, and once more when a concurrent commit refused it.
    fn write_retrying(
        &self,
        c: &mut AnyConnection,
        items: &[Item],
        prepared: &[Prepared],
    ) -> Result<(Vec<Disposition>, Stats), PipelineError> {
        match self.write(c, items, prepared) {
            // Another instance committed one of these messages between our lookups and our
            // inserts (same mail in two mailboxes, or an import racing a poll): the unique
            // constraints refused it and nothing was written. Once more, it is a duplicate.
            Err(PipelineError::Store(StoreError::Query(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            )))) => self.write(c, items, prepared),
            other => other,
        }
    }

    fn write(
        &self,
        c: &mut AnyConnection,
        items: &[Item],
        prepared: &[Prepared],
    ) -> Result<(Vec<Disposition>, Stats), PipelineError> {
        crate::store::transaction(c, |c| {
            let now = Utc::now().naive_utc();
            let mut stats = Stats::default();
            // Which identities were committed before (one query per source in the batch).
            let mut seen: HashSet<(&str, &str)> = HashSet::new();
            let mut sources: Vec<&str> = items.iter().map(|i| i.source).collect();
            sources.sort_unstable();
            sources.dedup();
            for src in sources {
                let ids: Vec<&str> = items.iter().filter(|i| i.source == src).map(|i| i.source_id).collect();
                let found = ledger::seen_ids(c, src, &ids)?;
                seen.extend(
                    items
                        .iter()
                        .filter(|i| i.source == src && found.contains(i.source_id))
                        .map(|i| (i.source, i.source_id)),
                );
            }
            let digests: Vec<&str> = prepared.iter().map(|p| p.digest.as_str()).collect();
            let known = ledger::by_digests(c, &digests)?;

            // Decide each item: seen, duplicate (of an old message or of one earlier in the
            // batch), or new.
            enum Plan {
                Seen,
                DuplicateOf(i64),
                DuplicateInBatch(usize),
                New(usize),
            }
            let mut plans = Vec::with_capacity(items.len());
            let mut first_in_batch: HashMap<&str, usize> = HashMap::new();
            let mut new_rows = Vec::new();
            let mut reviews: Vec<Option<String>> = Vec::new();
            for (n, (item, p)) in items.iter().zip(prepared).enumerate() {
                // Committed before, or met earlier in this batch.
                if !seen.insert((item.source, item.source_id)) {
                    plans.push(Plan::Seen);
                } else if let Some(id) = known.get(&p.digest) {
                    plans.push(Plan::DuplicateOf(*id));
                } else if let Some(&first) = first_in_batch.get(p.digest.as_str()) {
                    plans.push(Plan::DuplicateInBatch(first));
                } else {
                    first_in_batch.insert(&p.digest, n);
                    plans.push(Plan::New(new_rows.len()));
                    reviews.push(review_reason(p));
                    let review = reviews.last().and_then(|r| r.as_deref());
                    new_rows.push(ledger::NewMessage {
                        digest: &p.digest,
                        kind: p.report.kind.as_str(),
                        dialect: p.report.dialect,
                        state: if review.is_some() { "review" } else { "processed" },
                        review_reason: None,
                        subject: p.report.subject.as_deref(),
                        from_addr: p.report.from.as_deref(),
                        message_id: p.report.message_id.as_deref(),
                        size: item.raw.len() as i64,
                        raw: (review.is_some() || self.raw_days > 0).then_some(item.raw),
                        records: p.report.records.len() as i32,
                        received_at: now,
                        purge_after: if review.is_none() { self.purge_after(now) } else { None },
                    });
                }
            }
            for (row, review) in new_rows.iter_mut().zip(&reviews) {
                row.review_reason = review.as_deref();
            }
            let ids = ledger::insert_many(c, &new_rows)?;
            let message_of = |plan: &Plan| -> Option<i64> {
                match plan {
                    Plan::Seen => None,
                    Plan::DuplicateOf(id) => Some(*id),
                    Plan::DuplicateInBatch(first) => match &plans[*first] {
                        Plan::New(k) => Some(ids[*k]),
                        _ => None,
                    },
                    Plan::New(k) => Some(ids[*k]),
                }
            };
            let sightings: Vec<(&str, &str, i64)> = items
                .iter()
                .zip(&plans)
                .filter_map(|(i, plan)| message_of(plan).map(|m| (i.source, i.source_id, m)))
                .collect();
            ledger::add_sources(c, &sightings, now)?;

            let entries: Vec<Entry> = items
                .iter()
                .zip(&plans)
                .zip(prepared)
                .filter_map(|((i, plan), p)| match plan {
                    Plan::New(k) => Some(Entry { message: ids[*k], source: i.source, prepared: p, skip: &[] }),
                    _ => None,
                })
                .collect();
            let mut hits = HashMap::new();
            let written = self.write_events(c, &entries, now, &mut stats, &mut hits)?;
            let mut written = written.into_iter();
            let mut out = Vec::with_capacity(items.len());
            for (plan, p) in plans.iter().zip(prepared) {
                out.push(match plan {
                    Plan::Seen => {
                        stats.seen += 1;
                        Disposition::Seen
                    }
                    Plan::DuplicateOf(_) | Plan::DuplicateInBatch(_) => {
                        stats.duplicates += 1;
                        Disposition::Duplicate { message: message_of(plan).unwrap_or_default() }
                    }
                    Plan::New(k) => {
                        stats.messages += 1;
                        *stats.by_kind.entry(p.report.kind.as_str().to_string()).or_default() += 1;
                        let review = reviews[*k].clone();
                        stats.review += usize::from(review.is_some());
                        Disposition::New { message: ids[*k], events: written.next().unwrap_or(0), review }
                    }
                });
            }
            let hits: Vec<(String, i64)> = hits.into_iter().collect();
            repo::record_hits(c, &hits, now).map_err(|e| PipelineError::Rules(e.to_string()))?;
            Ok((out, stats))
        })
    }

    /// Stores a message the database refused on its own as a review item: its raw bytes, its
    /// header facts and why, and its source identity, so the mailbox can move on and a person
    /// (or `review reprocess`, once the cause is fixed) takes it from there.
    fn quarantine(
        &self,
        c: &mut AnyConnection,
        item: &Item,
        p: &Prepared,
        error: &StoreError,
    ) -> Result<(Vec<Disposition>, Stats), PipelineError> {
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
                    state: "review",
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

    /// Writes the events of each entry (skipping record indexes in its `skip`), counts
    /// them toward their campaigns and applies the suppression policy, in a fixed number
    /// of statements. Returns how many events each entry got.
    pub(super) fn write_events(
        &self,
        c: &mut AnyConnection,
        entries: &[Entry],
        now: NaiveDateTime,
        stats: &mut Stats,
        hits: &mut HashMap<String, i64>,
    ) -> Result<Vec<usize>, PipelineError> {
        let allow = Allowlist::load(c, &self.allow_cfg)?;
        // Step 3 of attribution, for every entry the earlier steps left unattributed.
        let wanted: Vec<&str> = entries
            .iter()
            .filter(|e| e.prepared.attribution.method == Method::None && e.prepared.attribution.refused.is_none())
            .filter_map(|e| e.prepared.report.original.as_ref()?.message_id.as_deref())
            .map(bare_message_id)
            .collect();
        let mut sent: HashMap<String, (String, Option<String>)> = HashMap::new();
        if self.attributor.use_sent_map && !wanted.is_empty() {
            for chunk in wanted.chunks(ledger::CHUNK) {
                let rows: Vec<(String, String, Option<String>)> = sent_messages::table
                    .filter(sent_messages::message_id.eq_any(chunk))
                    .select((sent_messages::message_id, sent_messages::campaign_id, sent_messages::recipient))
                    .load(c)?;
                sent.extend(rows.into_iter().map(|(m, camp, r)| (m, (camp, r))));
            }
        }
        // Owned per-entry facts first, so the event rows can borrow them.
        struct Owned {
            attribution: Attribution,
            sending_domain: Option<String>,
            reporting_isp: Option<String>,
            recipients: Vec<Option<String>>,
        }
        let owned: Vec<Owned> = entries
            .iter()
            .map(|e| {
                let report = &e.prepared.report;
                let mut attribution = e.prepared.attribution.clone();
                if let Some((campaign, recipient)) = report
                    .original
                    .as_ref()
                    .and_then(|o| o.message_id.as_deref())
                    .filter(|_| attribution.method == Method::None && attribution.refused.is_none())
                    .and_then(|m| sent.get(bare_message_id(m)))
                {
                    attribution.campaign = Some(campaign.clone());
                    attribution.recipient = attribution.recipient.or_else(|| recipient.clone());
                    attribution.method = Method::MessageId;
                }
                let sending_domain = report
                    .original
                    .as_ref()
                    .and_then(|o| o.from.as_deref())
                    .and_then(|f| f.rsplit_once('@'))
                    .map(|(_, d)| d.trim_end_matches('>').trim().to_lowercase());
                let reporting_isp = report.feedback.as_ref().and_then(|f| f.reporting_mta.clone()).or_else(|| {
                    report
                        .from
                        .as_deref()
                        .and_then(|f| f.rsplit_once('@'))
                        .map(|(_, d)| d.trim_end_matches('>').to_lowercase())
                });
                let recipients = report.records.iter().map(|r| recipient_of(r, &attribution)).collect();
                Owned { attribution, sending_domain, reporting_isp, recipients }
            })
            .collect();

        let mut rows = Vec::new();
        let mut classes: Vec<&Classified> = Vec::new();
        let mut counts = vec![0usize; entries.len()];
        for (n, (e, o)) in entries.iter().zip(&owned).enumerate() {
            // A forged bounce proves nothing about the address: it waits for review.
            if o.attribution.refused.is_some() {
                continue;
            }
            let report = &e.prepared.report;
            for (i, ((rec, cls), recipient)) in
                report.records.iter().zip(&e.prepared.classified).zip(&o.recipients).enumerate()
            {
                let idx = (i + 1) as i32;
                let Some(recipient) = recipient else { continue };
                if e.skip.contains(&idx) {
                    continue;
                }
                rows.push(events::NewEvent {
                    message_id: e.message,
                    idx,
                    recipient: Some(recipient),
                    kind: rec.kind.as_str(),
                    classification: cls.outcome.as_str(),
                    reason: &cls.reason,
                    parsed_reason: rec.reason.as_str(),
                    status: rec.status.as_deref(),
                    reply_code: rec.reply_code.map(i32::from),
                    diagnostic: rec.diagnostic.as_deref(),
                    remote_mta: rec.remote_mta.as_deref(),
                    reporting_mta: rec.reporting_mta.as_deref().or(report.reporting_mta.as_deref()),
                    rule_key: Some(&cls.rule_key),
                    feedback_type: rec.feedback_type.as_deref(),
                    reporting_isp: if rec.kind == Kind::Complaint { o.reporting_isp.as_deref() } else { None },
                    campaign_id: o.attribution.campaign.as_deref(),
                    attribution: o.attribution.method.as_str(),
                    sending_domain: o.sending_domain.as_deref(),
                    source: e.source,
                    dialect: rec.dialect,
                    occurred_at: e.prepared.occurred_at,
                    ingested_at: now,
                });
                classes.push(cls);
                counts[n] += 1;
            }
        }
        let ids = events::insert_many(c, &rows)?;

        // Campaign rows are locked in key order, so two instances never wait on each other
        // in a cycle.
        let mut tallies: BTreeMap<&str, events::Tally> = BTreeMap::new();
        for r in &rows {
            if let Some(campaign) = r.campaign_id {
                tallies.entry(campaign).or_default().add(r.classification, r.occurred_at);
            }
        }
        for (campaign, t) in &tallies {
            events::count(c, campaign, t)?;
        }
        let facts: Vec<EventFacts> = rows
            .iter()
            .zip(&ids)
            .zip(&classes)
            .map(|((r, id), cls)| EventFacts {
                event_id: *id,
                recipient: r.recipient.unwrap_or_default(),
                outcome: cls.outcome,
                reason: &cls.reason,
                sending_domain: r.sending_domain,
                occurred_at: r.occurred_at,
                now,
            })
            .collect();
        let suppressed = self.policy.on_events(c, &allow, &facts)?;
        stats.suppressed += suppressed.iter().filter(|s| s.is_some()).count();
        for cls in &classes {
            *hits.entry(cls.rule_key.clone()).or_default() += 1;
            *stats.by_classification.entry(cls.outcome.as_str().to_string()).or_default() += 1;
        }
        stats.events += rows.len();
        Ok(counts)
    }
}

/// A stored message whose records are to be written.
pub(super) struct Entry<'a> {
    pub message: i64,
    pub source: &'a str,
    pub prepared: &'a Prepared,
    /// Record indexes that already have events (reprocessing).
    pub skip: &'a [i32],
}

/// At most `max` characters of `s`: a database error may quote a whole statement.
fn bounded(mut s: String, max: usize) -> String {
    if let Some((cut, _)) = s.char_indices().nth(max) {
        s.truncate(cut);
        s.push('…');
    }
    s
}

/// Message-IDs are compared without their angle brackets.
fn bare_message_id(m: &str) -> &str {
    m.trim().trim_start_matches('<').trim_end_matches('>')
}

/// PostgreSQL text cannot hold NUL characters (and no server meant one): drop them from
/// everything that is stored, so one odd byte cannot fail a whole batch.
fn strip_nuls(report: &mut Report) {
    fn fix(s: &mut Option<String>) {
        if let Some(v) = s
            && v.contains('\0')
        {
            v.retain(|c| c != '\0');
        }
    }
    for f in [
        &mut report.subject,
        &mut report.from,
        &mut report.message_id,
        &mut report.reporting_mta,
        &mut report.unknown_reason,
    ] {
        fix(f);
    }
    for r in &mut report.records {
        for f in [
            &mut r.recipient,
            &mut r.status,
            &mut r.diagnostic,
            &mut r.action,
            &mut r.remote_mta,
            &mut r.reporting_mta,
            &mut r.last_attempt,
            &mut r.feedback_type,
        ] {
            fix(f);
        }
    }
    if let Some(o) = &mut report.original {
        for f in [&mut o.message_id, &mut o.from, &mut o.return_path] {
            fix(f);
        }
    }
    if let Some(f) = &mut report.feedback {
        fix(&mut f.reporting_mta);
        fix(&mut f.arrival_date);
    }
}

/// The normalised recipient of a record: the parsed one, else the one attribution found.
fn recipient_of(rec: &Record, a: &Attribution) -> Option<String> {
    rec.recipient.as_deref().or(a.recipient.as_deref()).map(suppress::normalize).filter(|r| r.contains('@'))
}

/// Why a message also goes to the review queue, if it does.
pub(super) fn review_reason(p: &Prepared) -> Option<String> {
    if let Some(why) = &p.attribution.refused {
        return Some(why.clone());
    }
    if p.report.kind == Kind::Unknown {
        return Some(p.report.unknown_reason.clone().unwrap_or_else(|| "nothing could be parsed".into()));
    }
    let missing: Vec<String> = p
        .report
        .records
        .iter()
        .enumerate()
        .filter(|(_, r)| matches!(r.kind, Kind::Bounce | Kind::Complaint) && recipient_of(r, &p.attribution).is_none())
        .map(|(i, _)| (i + 1).to_string())
        .collect();
    (!missing.is_empty()).then(|| format!("no recipient found for record {}", missing.join(", ")))
}

/// Runs the rules over one record.
pub fn classify(
    engine: &Engine,
    report: &Report,
    rec: &Record,
    recipient: Option<&str>,
    body: Option<&str>,
) -> Classified {
    match engine.classify(&facts(report, rec, recipient, body)) {
        Some(d) => Classified {
            outcome: d.outcome,
            rule_key: d.rule_key.to_string(),
            reason: d.reason.unwrap_or(rec.reason.as_str()).to_string(),
        },
        // Only a rule list without its Global rule gets here; soft is the safe default.
        None => Classified { outcome: Outcome::Soft, rule_key: String::new(), reason: rec.reason.as_str().to_string() },
    }
}

/// The fields of one record as the rules see them.
pub fn facts<'a>(report: &'a Report, rec: &'a Record, recipient: Option<&'a str>, body: Option<&'a str>) -> Facts<'a> {
    Facts {
        status: rec.status.as_deref(),
        reply_code: rec.reply_code,
        diagnostic: rec.diagnostic.as_deref(),
        reason: Some(rec.reason.as_str()),
        kind: Some(rec.kind.as_str()),
        feedback_type: rec.feedback_type.as_deref(),
        remote_mta: rec.remote_mta.as_deref(),
        reporting_mta: rec.reporting_mta.as_deref().or(report.reporting_mta.as_deref()),
        recipient: rec.recipient.as_deref().or(recipient),
        sender: report.original.as_ref().and_then(|o| o.from.as_deref()),
        subject: report.subject.as_deref(),
        dialect: Some(rec.dialect),
        body,
    }
}

/// When the bounce happened: the report's own dates, else now.
fn occurred_at(report: &Report) -> NaiveDateTime {
    let candidates = report
        .records
        .iter()
        .filter_map(|r| r.last_attempt.as_deref())
        .chain(report.arrival_date.as_deref())
        .chain(report.feedback.as_ref().and_then(|f| f.arrival_date.as_deref()));
    for d in candidates {
        if let Some(t) = parse_date(d) {
            return t;
        }
    }
    Utc::now().naive_utc()
}

/// RFC 5322 dates as MTAs write them: trailing comments like "(PST)" and the day name
/// (often wrong, and redundant) are dropped before parsing.
fn parse_date(s: &str) -> Option<NaiveDateTime> {
    let s = s.split('(').next().unwrap_or(s).trim();
    let s = s.split_once(',').map_or(s, |(_, rest)| rest.trim());
    chrono::DateTime::parse_from_rfc2822(s).ok().map(|d| d.naive_utc())
}

#[cfg(test)]
mod tests {
    #[test]
    fn dates_with_wrong_day_names_and_comments() {
        let want = chrono::NaiveDate::from_ymd_opt(2026, 11, 10).unwrap().and_hms_opt(18, 0, 0).unwrap();
        assert_eq!(super::parse_date("Sun, 10 Nov 2026 10:00:00 -0800 (PST)"), Some(want));
        assert_eq!(super::parse_date("10 Nov 2026 18:00:00 +0000"), Some(want));
        assert_eq!(super::parse_date("yesterday"), None);
    }
}
