//! A raw email → input-neutral evidence: its records (parsed), attribution hints, when it
//! happened, its rule decisions and a dedup key.
//!
//! Takes the bytes of one message; gives [`Evidence`], which holds nothing that needs the
//! raw email any more — a line of an MTA's log will become the same type. Pure CPU: it never
//! touches the database.

use super::attribute::Attribution;
use super::{Item, Pipeline};
use crate::classify::{Engine, Facts, Outcome};
use crate::parse::{self, Kind, Record, Report};
use crate::record::ledger;
use crate::suppress;
use chrono::{NaiveDateTime, Utc};

/// A record's decision, made before the transaction.
#[derive(Debug, Clone)]
pub struct Classified {
    pub outcome: Outcome,
    pub rule_key: String,
    pub reason: String,
}

/// One message parsed, attributed and classified, ready to write.
#[derive(Debug)]
pub struct Evidence {
    pub digest: String,
    pub report: Report,
    pub attribution: Attribution,
    pub classified: Vec<Classified>,
    pub occurred_at: NaiveDateTime,
}

impl Pipeline {
    /// Parses, attributes (VERP, headers) and classifies one message. Pure CPU.
    pub fn prepare(&self, engine: &Engine, raw: &[u8]) -> Evidence {
        Evidence { digest: ledger::digest(raw), ..self.preview(engine, raw) }
    }

    /// [`Pipeline::prepare`] for output that is never stored (`rebound parse`, a rule test):
    /// the digest, which only the ledger needs, is left empty (hashing every byte was a
    /// tenth of `rebound parse`).
    pub fn preview(&self, engine: &Engine, raw: &[u8]) -> Evidence {
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
        Evidence { digest: String::new(), report, attribution, classified, occurred_at }
    }

    /// Parses a batch on all cores (parsing is pure CPU and the larger part of the work).
    pub(super) fn prepare_all(&self, engine: &Engine, items: &[Item]) -> Vec<Evidence> {
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
pub(super) fn recipient_of(rec: &Record, a: &Attribution) -> Option<String> {
    rec.recipient.as_deref().or(a.recipient.as_deref()).map(suppress::normalize).filter(|r| r.contains('@'))
}

/// Why a message also goes to the review queue, if it does.
pub(super) fn review_reason(p: &Evidence) -> Option<String> {
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

/// The `extra` key of a record holding the MTA's own bounce category (a log's).
pub(crate) const MTA_CATEGORY: &str = "mta_category";

/// Runs the rules over one record.
pub fn classify(
    engine: &Engine,
    report: &Report,
    rec: &Record,
    recipient: Option<&str>,
    body: Option<&str>,
) -> Classified {
    let mut out = match engine.classify(&facts(report, rec, recipient, body)) {
        Some(d) => Classified {
            outcome: d.outcome,
            rule_key: d.rule_key.to_string(),
            reason: d.reason.unwrap_or(rec.reason.as_str()).to_string(),
        },
        // Only a rule list without its Global rule gets here; soft is the safe default.
        None => Classified { outcome: Outcome::Soft, rule_key: String::new(), reason: rec.reason.as_str().to_string() },
    };
    out.outcome = lifecycle_outcome(rec.kind.as_str(), out.outcome);
    out
}

/// A delivery or a delay notice is the message's lifecycle, never a failure of the address:
/// whatever a rule says, it neither suppresses nor counts toward the soft threshold.
pub(crate) fn lifecycle_outcome(kind: &str, outcome: Outcome) -> Outcome {
    if kind == Kind::Delivered.as_str() || kind == Kind::Delay.as_str() { Outcome::Ignore } else { outcome }
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
        mta_category: rec.extra.iter().find(|(k, _)| k == MTA_CATEGORY).map(|(_, v)| v.as_str()),
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
