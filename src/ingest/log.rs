//! MTA log records into the same pipeline as mail: each logged recipient attempt becomes
//! evidence of the same shape as a parsed DSN record, attributed, classified by the same
//! rules and written by the same write path (events, campaign counters, suppression,
//! webhook outbox), with its provenance beside it.
//!
//! Takes a [`LogBatch`] (records read from one file, each with its origin ref, the lines
//! that could not be read, and the reader's checkpoint after them); gives [`LogStats`]. One
//! transaction per batch holds the events, the review items of unreadable lines and the
//! file's checkpoint, so a crash leaves a batch either all written or not at all. A line
//! recorded before (its origin ref is known: the same file read again under another name,
//! from a compressed copy, or by an import after serve read it) is skipped. It never reads
//! a file; [`crate::logs`] does.

use super::attribute::Method;
use super::mail::{Classified, Evidence, MTA_CATEGORY, classify};
use super::write::Entry;
use super::{IngestError, Pipeline, Stats};
use crate::classify::{Engine, Outcome};
use crate::config::CampaignFrom;
use crate::logs::{self, Format, Kind as LogKind, LogRecord, Unreadable};
use crate::parse::{self, Kind, OriginalMessage, Reason, Record, Report};
use crate::record::{ledger, logged};
use crate::store::AnyConnection;
use chrono::Utc;
use std::collections::{BTreeMap, HashMap};

/// What the log's own source says that the records do not.
#[derive(Debug, Clone, Default)]
pub struct LogContext {
    pub node: Option<String>,
    pub campaign_from: CampaignFrom,
}

/// Records read from one file, and where the reader stands after them.
#[derive(Debug)]
pub struct LogBatch<'a> {
    /// `log:NAME` of the `[[mta_log]]` entry, or `import:FORMAT` for `rebound import-log`.
    pub source: &'a str,
    pub file_key: &'a str,
    pub path: &'a str,
    /// The file's length now (for the lag its status shows); -1 for a compressed segment
    /// not read to its end yet.
    pub size: i64,
    /// Each record with its origin ref ([`origin_ref`] of the line that gave it).
    pub records: Vec<(LogRecord, String)>,
    pub unreadable: Vec<Unreadable>,
    pub checkpoint: logs::Checkpoint,
    /// [`tail_digest`] of the bytes before the checkpoint's offset (empty when not checked).
    pub tail: String,
}

/// Counts of one batch or a whole run.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct LogStats {
    /// Records read and written now.
    pub records: usize,
    /// Records whose line was recorded before (nothing written).
    pub recorded_before: usize,
    /// By the MTA's kind: delivered, deferred, bounced, expired, complained.
    pub by_kind: BTreeMap<String, usize>,
    pub by_classification: BTreeMap<String, usize>,
    pub suppressed: usize,
    /// Refusals of the MTA's own suppression list (never a new bounce).
    pub suppressed_by_mta: usize,
    /// Records a mailbox recorded already (the DSN came first): kept as evidence of that
    /// event, counted nothing.
    pub corroborated: usize,
    /// Lines that could not be read, now in the review queue.
    pub unreadable: usize,
}

impl LogStats {
    pub fn add(&mut self, o: &LogStats) {
        self.records += o.records;
        self.recorded_before += o.recorded_before;
        self.suppressed += o.suppressed;
        self.suppressed_by_mta += o.suppressed_by_mta;
        self.corroborated += o.corroborated;
        self.unreadable += o.unreadable;
        for (k, v) in &o.by_kind {
            *self.by_kind.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &o.by_classification {
            *self.by_classification.entry(k.clone()).or_default() += v;
        }
    }
}

/// The origin ref of a log line: its format and a digest of its bytes. The same line read
/// again (renamed, compressed, imported after serve read it) has the same ref, so it is
/// recorded once whatever file it is found in.
pub fn origin_ref(format: Format, line: &[u8]) -> String {
    let d = ledger::digest(line);
    format!("{}:{}", format.as_str(), &d[..32])
}

/// How many bytes before a checkpoint [`tail_digest`] covers: the whole last line or more
/// (its time and recipient; the last columns alone are often the same from line to line).
pub const TAIL: usize = 1024;

/// The digest a checkpoint keeps of the bytes before its offset.
pub fn tail_digest(bytes: &[u8]) -> String {
    ledger::digest(&bytes[bytes.len().saturating_sub(TAIL)..])[..32].to_string()
}

/// The rule key recorded for an MTA's own suppression-list refusal.
pub const MTA_SUPPRESSION_RULE: &str = "mta-suppression-list";

fn dialect(format: Format) -> &'static str {
    match format {
        Format::PowerMta => "powermta-log",
        Format::Postfix => "postfix-log",
        Format::Exim => "exim-log",
        Format::KumoMta => "kumomta-log",
    }
}

impl Pipeline {
    /// One log record as evidence: a one-record report, attributed and classified.
    pub fn log_evidence(&self, engine: &Engine, format: Format, rec: &LogRecord, ctx: &LogContext) -> Evidence {
        let kind = match rec.kind {
            LogKind::Delivered => Kind::Delivered,
            LogKind::Deferred => Kind::Delay,
            LogKind::Bounced | LogKind::Expired => Kind::Bounce,
            LogKind::Complained => Kind::Complaint,
        };
        let text = rec.reply_text.as_deref().unwrap_or("");
        let reason = match kind {
            Kind::Delivered => Reason::Delivered,
            Kind::Complaint => Reason::Feedback,
            _ => {
                let facts = parse::reason::Facts {
                    status: rec.status.as_deref(),
                    reply_code: rec.reply_code,
                    diagnostic: text,
                    action: None,
                    command: None,
                    diagnostic_type: Some("smtp"),
                };
                parse::reason::classify_with(&facts, (rec.kind == LogKind::Expired).then_some(Reason::Expired))
            }
        };
        // The MTA gave up: final, whatever the last (often temporary) answer was.
        let permanent = rec.kind == LogKind::Expired
            || parse::reason::permanent(kind, rec.status.as_deref(), rec.reply_code, &[text], reason);
        let mut extra: Vec<(String, String)> = rec.facts.clone();
        if let Some(cat) = rec.fact("bounceCat").or(rec.fact("bounce_classification")) {
            extra.push((MTA_CATEGORY.into(), cat.to_string()));
        }
        let node = rec.provenance.node.clone().or_else(|| ctx.node.clone());
        let record = Record {
            kind,
            recipient: Some(rec.recipient.clone()),
            original_recipient: rec.original_recipient.clone(),
            status: rec.status.clone(),
            reply_code: rec.reply_code,
            diagnostic: rec.reply_text.clone(),
            diagnostic_type: Some("smtp".into()),
            action: None,
            remote_mta: rec.remote_host.clone().or_else(|| rec.remote_ip.clone()),
            reporting_mta: node.clone(),
            last_attempt: None,
            command: None,
            reason,
            permanent: permanent && kind == Kind::Bounce,
            feedback_type: rec.fact("feedbackType").map(str::to_string),
            dialect: dialect(format),
            extra,
        };
        // The envelope sender carries VERP; header columns carry the campaign headers.
        let from = rec.header("From").map(str::to_string).or_else(|| rec.sender.clone());
        let original = OriginalMessage {
            message_id: rec.provenance.message_id.clone(),
            from,
            return_path: rec.sender.clone().filter(|s| !s.is_empty()),
            headers: rec.headers.clone(),
            ..Default::default()
        };
        let mut report = Report::unknown("");
        report.kind = kind;
        report.unknown_reason = None;
        report.dialect = dialect(format);
        report.reporting_mta = node;
        report.to = rec.sender.iter().filter(|s| !s.is_empty()).cloned().collect();
        report.original = Some(original);
        report.records = vec![record];
        let mut attribution = self.attributor.attribute(&report);
        if attribution.method == Method::None && attribution.refused.is_none() {
            let id = match ctx.campaign_from {
                CampaignFrom::None => None,
                CampaignFrom::EnvelopeId => rec.provenance.envelope_id.clone().map(|id| (id, Method::EnvelopeId)),
                CampaignFrom::JobId => rec.provenance.job_id.clone().map(|id| (id, Method::JobId)),
            };
            if let Some((id, method)) = id {
                attribution.campaign = Some(id);
                attribution.method = method;
            }
        }
        let classified = if rec.suppressed_by_mta {
            // Refused by the MTA because the address is on its suppression list already:
            // evidence of the refusal, never a new bounce.
            vec![Classified {
                outcome: Outcome::Ignore,
                rule_key: MTA_SUPPRESSION_RULE.into(),
                reason: "already on the MTA's suppression list".into(),
            }]
        } else {
            let body = None;
            vec![classify(engine, &report, &report.records[0], attribution.recipient.as_deref(), body)]
        };
        Evidence { digest: String::new(), report, attribution, classified, occurred_at: rec.time.naive_utc() }
    }

    /// Writes one batch of a log file in one transaction: its events (with provenance), its
    /// unreadable lines as review items, and the file's checkpoint.
    pub fn ingest_log(
        &self,
        c: &mut AnyConnection,
        format: Format,
        ctx: &LogContext,
        batch: &LogBatch,
    ) -> Result<LogStats, IngestError> {
        let engine = self.engine(c)?;
        let evidence: Vec<Evidence> =
            batch.records.iter().map(|(r, _)| self.log_evidence(&engine, format, r, ctx)).collect();
        let mut hits = HashMap::new();
        let out = crate::store::transaction(c, |c| -> Result<LogStats, IngestError> {
            let now = Utc::now().naive_utc();
            let out = self.write_log(c, batch, &evidence, now, &mut hits)?;
            let cp = &batch.checkpoint;
            logged::put(
                c,
                &logged::Checkpoint {
                    source: batch.source.to_string(),
                    file_key: batch.file_key.to_string(),
                    path: batch.path.to_string(),
                    format: format.as_str().to_string(),
                    read_offset: cp.offset as i64,
                    line_no: cp.line as i64,
                    join_state: serde_json::to_string(&cp.state).unwrap_or_else(|_| "{}".into()),
                    tail: batch.tail.clone(),
                    size: batch.size,
                    records: out.records as i64,
                    unreadable: batch.unreadable.len() as i64,
                    updated_at: now,
                },
            )?;
            Ok(out)
        })?;
        self.count_hits(hits);
        self.flush_hits(c);
        Ok(out)
    }

    /// The records and unreadable lines of a batch, inside the caller's transaction: events
    /// with provenance (or evidence of an event the mailbox recorded first), review items.
    pub(super) fn write_log(
        &self,
        c: &mut AnyConnection,
        batch: &LogBatch,
        evidence: &[Evidence],
        now: chrono::NaiveDateTime,
        hits: &mut HashMap<String, i64>,
    ) -> Result<LogStats, IngestError> {
        let mut out = LogStats::default();
        let refs: Vec<&str> = batch.records.iter().map(|(_, r)| r.as_str()).collect();
        let known = logged::recorded(c, &refs)?;
        let mut fresh = Vec::new();
        let mut seen_now = std::collections::HashSet::new();
        for ((rec, r), e) in batch.records.iter().zip(evidence) {
            // A line twice in one batch (a rotated copy read with its original) counts once.
            if known.contains(r) || !seen_now.insert(r.as_str()) {
                out.recorded_before += 1;
                continue;
            }
            fresh.push((rec, r.as_str(), e));
        }
        let entries: Vec<Entry> = fresh
            .iter()
            .map(|(rec, r, e)| Entry {
                message: None,
                source: batch.source,
                evidence: e,
                skip: &[],
                origin: "log",
                origin_ref: Some(r),
                via: crate::record::stats::Via {
                    expired: rec.kind == LogKind::Expired,
                    node: e.report.reporting_mta.as_deref(),
                    vmta: rec.provenance.vmta.as_deref(),
                    source_ip: rec.provenance.source_ip.as_deref(),
                },
            })
            .collect();
        let mut stats = Stats::default();
        let written = self.write_events(c, &entries, now, &mut stats, hits)?;
        let mut ids = written.ids.into_iter();
        // A line that is a further sighting of a mailed bounce gives that event the
        // provenance it lacked (a mailed event has none of its own).
        let merged: HashMap<usize, i64> = written.merged.into_iter().collect();
        let merged_ids: Vec<i64> = merged.values().copied().collect();
        let mut has_provenance = logged::with_provenance(c, &merged_ids)?;
        let mut provenance = Vec::with_capacity(fresh.len());
        for (k, ((rec, _, e), n)) in fresh.iter().zip(&written.counts).enumerate() {
            out.records += 1;
            *out.by_kind.entry(rec.kind.as_str().to_string()).or_default() += 1;
            out.suppressed_by_mta += usize::from(rec.suppressed_by_mta);
            let id = match merged.get(&k) {
                Some(&id) if has_provenance.insert(id) => Some(id),
                Some(_) => None,
                None => (*n > 0).then(|| ids.next()).flatten(),
            };
            let Some(id) = id else { continue };
            let p = &rec.provenance;
            provenance.push(logged::NewProvenance {
                event_id: id,
                log_kind: rec.kind.as_str(),
                mta_category: e.report.records[0]
                    .extra
                    .iter()
                    .find(|(k, _)| k == MTA_CATEGORY)
                    .map(|(_, v)| v.as_str()),
                node: e.report.reporting_mta.as_deref(),
                vmta: p.vmta.as_deref(),
                vmta_pool: p.vmta_pool.as_deref(),
                source_ip: p.source_ip.as_deref(),
                remote_host: rec.remote_host.as_deref(),
                remote_ip: rec.remote_ip.as_deref(),
                queue_id: p.queue_id.as_deref().or(p.queue.as_deref()),
                job_id: p.job_id.as_deref(),
                envelope_id: p.envelope_id.as_deref(),
                message_id: p.message_id.as_deref(),
                sender: rec.sender.as_deref(),
                file_key: batch.file_key,
                line_no: rec.position.line as i64,
                byte_offset: rec.position.offset as i64,
            });
        }
        logged::add_provenance(c, &provenance)?;
        out.by_classification = stats.by_classification;
        out.suppressed = stats.suppressed;
        out.corroborated = stats.corroborated;
        out.unreadable = super::log_review::queue(c, batch, now)?;
        Ok(out)
    }
}
