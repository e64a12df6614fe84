//! Why a message would be classified as it is: `rules test` in the CLI and the API.
//!
//! Takes raw bytes, the pipeline and its current engine (the one ingest uses); gives an
//! [`Explanation`]: the parsed fields of every record, every rule that matches it in order
//! (disabled ones too) with the values that made each condition hold, and the decision with
//! its suppression effect. It writes nothing: no event, no hit count, no suppression.

use super::mail::{facts, recipient_of};
use super::{IngestError, Pipeline};
use crate::classify::{Engine, Facts, Field};
use crate::store::AnyConnection;
use crate::suppress::{Allowlist, Effect};
use serde::Serialize;

/// Longest field value quoted back (a body or a long diagnostic is cut here).
const QUOTE_MAX: usize = 300;

/// A message explained.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Explanation {
    /// The rules version the engine was built from.
    pub rules_version: i64,
    /// `bounce`, `complaint`, `autoreply`, `delay`, `unknown`…
    pub kind: String,
    /// Which parser dialect read it (`rfc3464`, `arf`, `exchange`…).
    pub dialect: String,
    pub subject: Option<String>,
    /// Why nothing could be classified, when nothing could.
    pub unknown_reason: Option<String>,
    pub campaign: Option<String>,
    /// How the campaign was found (`verp`, `header`, `none`…).
    pub attribution: String,
    /// Why this message would also go to the review queue.
    pub review: Option<String>,
    pub records: Vec<RecordExplanation>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RecordExplanation {
    pub fields: RecordFields,
    /// Every rule whose conditions all hold, in evaluation order.
    pub matches: Vec<RuleMatch>,
    /// The first enabled match; absent only for a list without its Global rule.
    pub decision: Option<RuleDecision>,
}

/// A record's fields as the rules see them.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RecordFields {
    pub recipient: Option<String>,
    pub kind: String,
    pub status: Option<String>,
    pub reply_code: Option<u16>,
    pub diagnostic: Option<String>,
    /// The parser's reason (a rule may record another).
    pub reason: String,
    pub action: Option<String>,
    pub remote_mta: Option<String>,
    pub reporting_mta: Option<String>,
    pub feedback_type: Option<String>,
    /// The MTA gave up (5.x.x, 5xx) rather than will retry.
    pub mta_permanent: bool,
    pub dialect: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RuleMatch {
    /// 1-based place in the list.
    pub position: usize,
    pub key: String,
    pub name: String,
    pub enabled: bool,
    pub outcome: String,
    /// This is the rule that decides.
    pub decides: bool,
    /// Each condition with the value that made it hold (empty for the Global rule).
    pub why: Vec<Why>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Why {
    pub condition: String,
    pub field: String,
    pub value: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RuleDecision {
    pub rule: String,
    pub rule_name: String,
    /// `hard`, `soft`, `ignore` or `complaint`.
    pub outcome: String,
    /// The reason recorded: the rule's override, else the parser's.
    pub reason: String,
    pub effect: Effect,
}

fn quote(s: &str) -> String {
    if s.chars().count() <= QUOTE_MAX { s.to_string() } else { s.chars().take(QUOTE_MAX).collect::<String>() + "…" }
}

/// Explains `raw` with the current rules. Reads the rules version and the allowlist.
pub fn explain(c: &mut AnyConnection, pipeline: &Pipeline, raw: &[u8]) -> Result<Explanation, IngestError> {
    let engine = pipeline.engine(c)?;
    let rules_version = crate::classify::repo::version(c)?;
    let allow = Allowlist::load(c, pipeline.allowlist())?;
    Ok(explain_with(&engine, pipeline, &allow, raw, rules_version))
}

fn explain_with(
    engine: &Engine,
    pipeline: &Pipeline,
    allow: &Allowlist,
    raw: &[u8],
    rules_version: i64,
) -> Explanation {
    let p = pipeline.preview(engine, raw);
    let body = engine.uses_body().then(|| String::from_utf8_lossy(raw));
    let r = &p.report;
    let records = r
        .records
        .iter()
        .zip(&p.classified)
        .map(|(rec, decided)| {
            let recipient = recipient_of(rec, &p.attribution);
            let f = facts(r, rec, p.attribution.recipient.as_deref(), body.as_deref());
            let matches = engine
                .trace(&f)
                .into_iter()
                .map(|(rule, enabled)| RuleMatch {
                    position: engine.rules().position(|x| x.key == rule.key).map_or(0, |i| i + 1),
                    key: rule.key.clone(),
                    name: rule.name.clone(),
                    enabled,
                    outcome: rule.outcome.as_str().into(),
                    decides: rule.key == decided.rule_key,
                    why: rule.when.iter().map(|c| why(&f, c)).collect(),
                })
                .collect();
            let decision = engine.rules().find(|x| x.key == decided.rule_key).map(|rule| {
                let allowlisted = recipient.as_deref().is_some_and(|a| allow.allows(a));
                RuleDecision {
                    rule: rule.key.clone(),
                    rule_name: rule.name.clone(),
                    outcome: decided.outcome.as_str().into(),
                    reason: decided.reason.clone(),
                    effect: pipeline.policy().effect(decided.outcome, &decided.reason, allowlisted),
                }
            });
            let fields = RecordFields {
                recipient,
                kind: rec.kind.as_str().into(),
                status: rec.status.clone(),
                reply_code: rec.reply_code,
                diagnostic: rec.diagnostic.clone(),
                reason: rec.reason.as_str().into(),
                action: rec.action.clone(),
                remote_mta: rec.remote_mta.clone(),
                reporting_mta: rec.reporting_mta.clone().or_else(|| r.reporting_mta.clone()),
                feedback_type: rec.feedback_type.clone(),
                mta_permanent: rec.permanent,
                dialect: rec.dialect.into(),
            };
            RecordExplanation { fields, matches, decision }
        })
        .collect();
    Explanation {
        rules_version,
        kind: r.kind.as_str().into(),
        dialect: r.dialect.into(),
        subject: r.subject.clone(),
        unknown_reason: r.unknown_reason.clone(),
        campaign: p.attribution.campaign.clone(),
        attribution: p.attribution.method.as_str().into(),
        review: super::mail::review_reason(&p),
        records,
    }
}

fn why(f: &Facts, c: &crate::classify::Condition) -> Why {
    let mut buf = String::new();
    let field: Field = c.field;
    Why { condition: c.to_string(), field: field.as_str().into(), value: quote(f.get(field, &mut buf)) }
}
