//! Evidence → one transaction: the ledger entry, events, campaign counters, statistics,
//! suppression and its change log, all or nothing.
//!
//! Takes [`Evidence`] (already parsed, attributed and classified) with the item it came from;
//! gives what each item became. A fixed number of statements per batch on PostgreSQL
//! (multi-row inserts in chunks, set lookups), whatever the batch holds. It never parses,
//! never classifies, and never touches a mailbox.

use super::attribute::{Attribution, Method};
use super::mail::{Classified, Evidence, recipient_of, review_reason};
use super::{Disposition, IngestError, Item, Pipeline, Stats};
use crate::parse::Kind;
use crate::record::{events, evidence, ledger, sent};
use crate::store::AnyConnection;
use crate::suppress::{Allowlist, Candidate};
use chrono::{NaiveDateTime, Utc};
use std::collections::{BTreeMap, HashMap, HashSet};

impl Pipeline {
    pub(super) fn write(
        &self,
        c: &mut AnyConnection,
        items: &[Item],
        evidence: &[Evidence],
    ) -> Result<(Vec<Disposition>, Stats), IngestError> {
        let mut hits = HashMap::new();
        let written = crate::store::transaction(c, |c| -> Result<_, IngestError> {
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
            let digests: Vec<&str> = evidence.iter().map(|p| p.digest.as_str()).collect();
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
            for (n, (item, p)) in items.iter().zip(evidence).enumerate() {
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
                        state: ledger::MessageState::of(review.is_some()).as_str(),
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
            crate::notify::emit(c, |wanted| {
                if !wanted.wants(REVIEW_ADDED) {
                    return Vec::new();
                }
                let source = |k: usize| items.iter().zip(&plans).find(|(_, p)| matches!(p, Plan::New(n) if *n == k));
                new_rows
                    .iter()
                    .zip(&ids)
                    .enumerate()
                    .filter_map(|(k, (row, id))| {
                        let reason = row.review_reason?;
                        let data = crate::notify::event::ReviewData {
                            message_id: *id,
                            reason: reason.to_string(),
                            kind: row.kind.to_string(),
                            subject: row.subject.map(str::to_string),
                            from: row.from_addr.map(str::to_string),
                            source: source(k).map(|(i, _)| i.source.to_string()).unwrap_or_default(),
                        };
                        Some(crate::notify::Outgoing::new(REVIEW_ADDED, now, crate::notify::EventData::Review(data)))
                    })
                    .collect()
            })?;
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
                .zip(evidence)
                .filter_map(|((i, plan), p)| match plan {
                    Plan::New(k) => Some(Entry::mail(ids[*k], i.source, p, &[])),
                    _ => None,
                })
                .collect();
            let written = self.write_events(c, &entries, now, &mut stats, &mut hits)?.counts;
            let mut written = written.into_iter();
            let mut out = Vec::with_capacity(items.len());
            for (plan, p) in plans.iter().zip(evidence) {
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
            Ok((out, stats))
        })?;
        // Counted only once committed; written later, outside this transaction.
        self.count_hits(hits);
        Ok(written)
    }

    /// Writes the events of each entry (skipping record indexes in its `skip`), counts
    /// them toward their campaigns and applies the suppression policy, in a fixed number
    /// of statements. A record the other input recorded already ([`super::same`]) is kept
    /// as evidence of that event instead. Returns how many events each entry got, the new
    /// events' ids in entry order, and the records kept as evidence.
    pub(super) fn write_events(
        &self,
        c: &mut AnyConnection,
        entries: &[Entry],
        now: NaiveDateTime,
        stats: &mut Stats,
        hits: &mut HashMap<String, i64>,
    ) -> Result<Written, IngestError> {
        let allow = Allowlist::load(c, &self.allow_cfg)?;
        // Step 3 of attribution, for every entry the earlier steps left unattributed.
        let wanted: Vec<&str> = entries
            .iter()
            .filter(|e| e.evidence.attribution.method == Method::None && e.evidence.attribution.refused.is_none())
            .filter_map(|e| e.evidence.report.original.as_ref()?.message_id.as_deref())
            .map(sent::bare)
            .collect();
        let sent =
            if self.attributor.use_sent_map && !wanted.is_empty() { sent::lookup(c, &wanted)? } else { HashMap::new() };
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
                let report = &e.evidence.report;
                let mut attribution = e.evidence.attribution.clone();
                if let Some((campaign, recipient)) = report
                    .original
                    .as_ref()
                    .and_then(|o| o.message_id.as_deref())
                    .filter(|_| attribution.method == Method::None && attribution.refused.is_none())
                    .and_then(|m| sent.get(sent::bare(m)))
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
        let mut vias = Vec::new();
        let mut classes: Vec<&Classified> = Vec::new();
        let mut owners: Vec<usize> = Vec::new();
        let mut counts = vec![0usize; entries.len()];
        for (n, (e, o)) in entries.iter().zip(&owned).enumerate() {
            // A forged bounce proves nothing about the address: it waits for review.
            if o.attribution.refused.is_some() {
                continue;
            }
            let report = &e.evidence.report;
            for (i, ((rec, cls), recipient)) in
                report.records.iter().zip(&e.evidence.classified).zip(&o.recipients).enumerate()
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
                    occurred_at: e.evidence.occurred_at,
                    ingested_at: now,
                    origin: e.origin,
                    origin_ref: e.origin_ref,
                    permanent: Some(i32::from(rec.permanent)),
                });
                classes.push(cls);
                vias.push(e.via);
                owners.push(n);
            }
        }
        // A sighting of an event the other input recorded already is evidence of it, not
        // an event: nothing below (counters, alerts, webhooks, suppression) sees it.
        let same = super::same::matches(c, &rows, self.same_window)?;
        let mut merged = Vec::new();
        let mut sightings = Vec::new();
        let (mut kept, mut kept_classes) = (Vec::with_capacity(rows.len()), Vec::with_capacity(rows.len()));
        let mut kept_vias = Vec::with_capacity(rows.len());
        for ((((row, cls), via), owner), same) in rows.into_iter().zip(classes).zip(vias).zip(owners).zip(same) {
            match same {
                Some(event_id) => {
                    sightings.push(evidence::NewEvidence {
                        event_id,
                        origin: row.origin,
                        source: row.source,
                        message_id: row.message_id,
                        idx: row.idx,
                        origin_ref: row.origin_ref,
                        status: row.status,
                        diagnostic: row.diagnostic,
                        occurred_at: row.occurred_at,
                        recorded_at: now,
                    });
                    merged.push((owner, event_id));
                }
                None => {
                    counts[owner] += 1;
                    kept.push(row);
                    kept_classes.push(cls);
                    kept_vias.push(via);
                }
            }
        }
        evidence::add(c, &sightings)?;
        stats.corroborated += sightings.len();
        let (rows, classes, vias) = (kept, kept_classes, kept_vias);
        // Before any id is drawn: a new alert matcher's id bound waits for this transaction.
        crate::notify::alert::matchers::writing(c)?;
        let ids = events::insert_many(c, &rows)?;
        crate::notify::alert::counts::record(c, &rows)?;
        // The hot events of this statement and the suppressions they cause: one outbox row.
        let mut bundle = crate::notify::bundle::Bundle::open(c)?;
        bundle.extend(recorded(&bundle, &rows, &ids, now));

        // Campaign rows are locked in key order, so two instances never wait on each other
        // in a cycle.
        let mut tallies: BTreeMap<&str, events::Tally> = BTreeMap::new();
        for r in &rows {
            if let Some(campaign) = r.campaign_id {
                let permanent = (r.kind == Kind::Bounce.as_str()).then_some(r.permanent.is_some_and(|p| p != 0));
                tallies.entry(campaign).or_default().add(r.classification, permanent, r.occurred_at);
            }
        }
        for (campaign, t) in &tallies {
            events::count(c, campaign, t)?;
        }
        crate::record::counters::add(c, &rows)?;
        crate::record::stats::add(c, &rows, &vias)?;
        let facts: Vec<Candidate> = rows
            .iter()
            .zip(&ids)
            .zip(&classes)
            .map(|((r, id), cls)| Candidate {
                event_id: *id,
                recipient: r.recipient.unwrap_or_default(),
                outcome: cls.outcome,
                reason: &cls.reason,
                sending_domain: r.sending_domain,
                occurred_at: r.occurred_at,
                now,
            })
            .collect();
        let suppressed = self.policy.on_events(c, &allow, &events::History, &facts, &mut bundle)?;
        bundle.close(c)?;
        stats.suppressed += suppressed.iter().filter(|s| s.is_some()).count();
        for cls in &classes {
            *hits.entry(cls.rule_key.clone()).or_default() += 1;
            *stats.by_classification.entry(cls.outcome.as_str().to_string()).or_default() += 1;
        }
        stats.events += rows.len();
        Ok(Written { counts, ids, merged })
    }
}

const REVIEW_ADDED: &str = "review.added";

/// The `*.recorded` / `delivery.*` events of just-stored event rows, of the types wanted:
/// what rebuilds each payload at delivery (`notify::rebuild`), nothing encoded now.
fn recorded(
    wanted: &crate::notify::bundle::Bundle,
    rows: &[events::NewEvent],
    ids: &[i64],
    now: NaiveDateTime,
) -> Vec<crate::notify::bundle::Hot> {
    use crate::notify::event::{Recorded, record_type};
    rows.iter()
        .zip(ids)
        .filter_map(|(r, id)| {
            let kind = record_type(r.kind).filter(|k| wanted.wants(k))?;
            Some(crate::notify::bundle::Hot {
                kind,
                at: now,
                campaign_id: r.campaign_id.map(str::to_string),
                sending_domain: r.sending_domain.map(str::to_string),
                record: Recorded {
                    event_id: *id,
                    classification: r.classification.to_string(),
                    rule_key: r.rule_key.map(str::to_string),
                    reason: r.reason.to_string(),
                },
            })
        })
        .collect()
}

/// What [`Pipeline::write_events`] wrote.
pub(super) struct Written {
    /// Events written per entry.
    pub counts: Vec<usize>,
    /// The new events' ids, in entry order.
    pub ids: Vec<i64>,
    /// (entry, event) for each record kept as evidence of an event recorded before.
    pub merged: Vec<(usize, i64)>,
}

/// Evidence whose records are to be written: a stored message, or a line of an MTA's log.
pub(super) struct Entry<'a> {
    /// The ledger row; `None` for a log line.
    pub message: Option<i64>,
    pub source: &'a str,
    pub evidence: &'a Evidence,
    /// Record indexes that already have events (reprocessing).
    pub skip: &'a [i32],
    /// `mail` or `log`.
    pub origin: &'static str,
    /// What identifies a log line's evidence (there is no message row).
    pub origin_ref: Option<&'a str>,
    /// What the log line said beyond the event's columns, for the statistics.
    pub via: crate::record::stats::Via<'a>,
}

impl<'a> Entry<'a> {
    pub fn mail(message: i64, source: &'a str, evidence: &'a Evidence, skip: &'a [i32]) -> Self {
        Entry {
            message: Some(message),
            source,
            evidence,
            skip,
            origin: "mail",
            origin_ref: None,
            via: Default::default(),
        }
    }
}
