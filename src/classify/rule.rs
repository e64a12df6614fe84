//! A rule: conditions that must all hold, and the outcome when they do.
//!
//! Rules validate on construction ([`Rule::validate`]): a bad regex, an unknown reason, an
//! oversized pattern or a misplaced status pattern is refused with the rule's key and the
//! fix, so nothing invalid ever reaches the engine or the database.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Longest value (or regex) a condition may carry: keeps compiled automata small.
pub const MAX_PATTERN_LEN: usize = 1024;
/// Most values one condition's list may hold.
pub const MAX_VALUES: usize = 500;
/// Most conditions one rule may hold.
pub const MAX_CONDITIONS: usize = 16;
/// Compiled size cap for one regex (bytes of program).
pub const REGEX_SIZE_LIMIT: usize = 256 * 1024;
/// The catch-all at the bottom of every rule list.
pub const GLOBAL_KEY: &str = "global";

/// What a matched rule decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The address is dead: suppress now.
    Hard,
    /// Counts toward the soft-bounce threshold.
    Soft,
    /// Recorded only (auto-replies, delays, sender-side blocks).
    Ignore,
    /// A spam complaint: suppress as a complaint.
    Complaint,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Hard => "hard",
            Outcome::Soft => "soft",
            Outcome::Ignore => "ignore",
            Outcome::Complaint => "complaint",
        }
    }
}

impl std::str::FromStr for Outcome {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "hard" => Ok(Outcome::Hard),
            "soft" => Ok(Outcome::Soft),
            "ignore" => Ok(Outcome::Ignore),
            "complaint" => Ok(Outcome::Complaint),
            _ => Err(format!("unknown outcome `{s}`: use hard, soft, ignore or complaint")),
        }
    }
}

/// Where a rule came from: the shipped library or the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    Default,
    #[default]
    Custom,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Default => "default",
            Origin::Custom => "custom",
        }
    }
}

/// The record field a condition looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    Status,
    StatusClass,
    ReplyCode,
    Diagnostic,
    Reason,
    Kind,
    FeedbackType,
    RemoteMta,
    ReportingMta,
    Recipient,
    RecipientDomain,
    Sender,
    Subject,
    Dialect,
    Body,
    /// The MTA's own bounce category, where its log gives one (PowerMTA `bounceCat`, KumoMTA
    /// `bounce_classification`); empty for mailed reports.
    MtaCategory,
}

impl Field {
    pub const ALL: [Field; 16] = [
        Field::Status,
        Field::StatusClass,
        Field::ReplyCode,
        Field::Diagnostic,
        Field::Reason,
        Field::Kind,
        Field::FeedbackType,
        Field::RemoteMta,
        Field::ReportingMta,
        Field::Recipient,
        Field::RecipientDomain,
        Field::Sender,
        Field::Subject,
        Field::Dialect,
        Field::Body,
        Field::MtaCategory,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Field::Status => "status",
            Field::StatusClass => "status_class",
            Field::ReplyCode => "reply_code",
            Field::Diagnostic => "diagnostic",
            Field::Reason => "reason",
            Field::Kind => "kind",
            Field::FeedbackType => "feedback_type",
            Field::RemoteMta => "remote_mta",
            Field::ReportingMta => "reporting_mta",
            Field::Recipient => "recipient",
            Field::RecipientDomain => "recipient_domain",
            Field::Sender => "sender",
            Field::Subject => "subject",
            Field::Dialect => "dialect",
            Field::Body => "body",
            Field::MtaCategory => "mta_category",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

impl std::str::FromStr for Field {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Field::ALL.into_iter().find(|f| f.as_str() == s).ok_or_else(|| {
            let names: Vec<_> = Field::ALL.iter().map(|f| f.as_str()).collect();
            format!("unknown field `{s}`: use one of {}", names.join(", "))
        })
    }
}

/// How a condition compares. With several values, positive operators hold when any value
/// does, negative ones when none does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    Is,
    IsNot,
    Contains,
    NotContains,
    StartsWith,
    EndsWith,
    /// Regular expression (Rust `regex` syntax), unanchored.
    Matches,
    /// Equal to one of a list.
    In,
    /// Status code pattern: `5.1.*`, `4.*.*`, `5.7.1`.
    Like,
}

impl Op {
    pub const ALL: [Op; 9] =
        [Op::Is, Op::IsNot, Op::Contains, Op::NotContains, Op::StartsWith, Op::EndsWith, Op::Matches, Op::In, Op::Like];

    pub fn as_str(self) -> &'static str {
        match self {
            Op::Is => "is",
            Op::IsNot => "is_not",
            Op::Contains => "contains",
            Op::NotContains => "not_contains",
            Op::StartsWith => "starts_with",
            Op::EndsWith => "ends_with",
            Op::Matches => "matches",
            Op::In => "in",
            Op::Like => "like",
        }
    }

    /// The positive operator a negative one negates.
    pub fn positive(self) -> (Op, bool) {
        match self {
            Op::IsNot => (Op::Is, true),
            Op::NotContains => (Op::Contains, true),
            other => (other, false),
        }
    }
}

impl std::str::FromStr for Op {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let norm = s.trim().to_ascii_lowercase().replace([' ', '-'], "_");
        let norm = match norm.as_str() {
            "does_not_contain" | "doesnt_contain" => "not_contains".to_string(),
            "in_list" => "in".to_string(),
            "=" | "==" => "is".to_string(),
            "!=" => "is_not".to_string(),
            "~" | "=~" => "matches".to_string(),
            _ => norm,
        };
        Op::ALL.into_iter().find(|o| o.as_str() == norm).ok_or_else(|| {
            let names: Vec<_> = Op::ALL.iter().map(|o| o.as_str()).collect();
            format!("unknown operator `{s}`: use one of {}", names.join(", "))
        })
    }
}

/// `field op value(s)`; case-insensitive unless `case_sensitive`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    pub field: Field,
    pub op: Op,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub case_sensitive: bool,
}

impl Condition {
    /// Parses the condition language of `rules add --when` and the web form: `FIELD OP VALUE`; OP may be several words ("does not contain", "starts with").
    pub fn parse(text: &str, case_sensitive: bool) -> Result<Condition, String> {
        let text = text.trim();
        let (field, rest) = text.split_once(char::is_whitespace).ok_or_else(|| {
            format!("condition `{text}` needs FIELD OP VALUE, e.g. 'diagnostic contains \"over quota\"'")
        })?;
        let field: Field = field.parse()?;
        let words: Vec<&str> = rest.split_whitespace().collect();
        let (op, used) = (1..=3.min(words.len()))
            .rev()
            .find_map(|n| words[..n].join(" ").parse::<Op>().ok().map(|op| (op, n)))
            .ok_or_else(|| {
                format!("condition `{text}`: no operator after `{}`", field.as_str())
                    + "; use is, is not, contains, does not contain, starts with, ends with, matches, in, like"
            })?;
        // The value is everything after the operator words, quotes removed.
        let mut value = rest.trim_start();
        for w in &words[..used] {
            value = value.trim_start().strip_prefix(w).unwrap_or(value);
        }
        let value = value.trim();
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
            .unwrap_or(value);
        let mut c = if op == Op::In {
            let list: Vec<&str> = value.split(',').map(str::trim).filter(|v| !v.is_empty()).collect();
            Condition::any_of(field, op, &list)
        } else {
            Condition::new(field, op, value)
        };
        c.case_sensitive = case_sensitive;
        Ok(c)
    }

    pub fn new(field: Field, op: Op, value: impl Into<String>) -> Self {
        Condition { field, op, value: Some(value.into()), values: Vec::new(), case_sensitive: false }
    }

    pub fn any_of(field: Field, op: Op, values: &[&str]) -> Self {
        Condition {
            field,
            op,
            value: None,
            values: values.iter().map(|v| v.to_string()).collect(),
            case_sensitive: false,
        }
    }

    /// Every value the condition compares against (`value` and `values` together).
    pub fn all_values(&self) -> impl Iterator<Item = &str> {
        self.value.iter().map(String::as_str).chain(self.values.iter().map(String::as_str))
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let vals: Vec<_> = self.all_values().map(|v| format!("{v:?}")).collect();
        write!(f, "{} {} {}", self.field.as_str(), self.op.as_str(), vals.join(", "))?;
        if self.case_sensitive {
            f.write_str(" (case-sensitive)")?;
        }
        Ok(())
    }
}

/// One entry of the ordered rule list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub key: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default)]
    pub origin: Origin,
    #[serde(default)]
    pub when: Vec<Condition>,
    pub outcome: Outcome,
    /// Replaces the parser's reason when this rule decides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

fn yes() -> bool {
    true
}

/// Why a rule was refused: which rule, and what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("rule `{key}`: {message}")]
pub struct RuleError {
    pub key: String,
    pub message: String,
}

impl Rule {
    pub fn is_global(&self) -> bool {
        self.key == GLOBAL_KEY
    }

    /// Checks everything the engine relies on, reason names included; the first problem.
    pub fn validate(&self) -> Result<(), RuleError> {
        match self.problems().into_iter().next() {
            None => Ok(()),
            Some(p) => Err(RuleError { key: self.key.clone(), message: p.message }),
        }
    }

    /// Every mistake in the rule at once, each with the field it is in (`key`, `reason`,
    /// `when[1].value`), in field order. Empty: the engine accepts the rule.
    pub fn problems(&self) -> Vec<RuleProblem> {
        let mut out = Vec::new();
        let mut push = |field: String, message: String| out.push(RuleProblem { field, message });
        let key_ok = !self.key.is_empty()
            && self.key.len() <= 64
            && self.key.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
            && self.key.as_bytes()[0].is_ascii_alphanumeric();
        if !key_ok {
            push(
                "key".into(),
                "key must be 1-64 characters of a-z, 0-9, '.', '_' or '-', starting with a letter or digit".into(),
            );
        } else if RESERVED_KEYS.contains(&self.key.as_str()) {
            push(
                "key".into(),
                format!("`{}` is reserved (it names an action on the rule list); pick another key", self.key),
            );
        }
        if self.name.trim().is_empty() || self.name.len() > 200 {
            push("name".into(), "name must be 1-200 characters".into());
        }
        if self.when.len() > MAX_CONDITIONS {
            push("when".into(), format!("has {} conditions; at most {MAX_CONDITIONS}", self.when.len()));
        }
        if self.is_global() && !self.when.is_empty() {
            push("when".into(), "the Global rule is the catch-all and takes no conditions".into());
        }
        if !self.is_global() && self.when.is_empty() {
            push("when".into(), "needs at least one condition (only the Global rule matches everything)".into());
        }
        if let Some(r) = &self.reason
            && !super::known_reason(r)
        {
            push(
                "reason".into(),
                format!("unknown reason `{r}`: use a name from the reason taxonomy (e.g. userunknown, mailboxfull)"),
            );
        }
        for (i, c) in self.when.iter().enumerate() {
            condition_problems(c, i, &mut push);
        }
        out
    }
}

/// Keys the rules API uses as path segments (`/rules/export`): no rule may take them.
pub const RESERVED_KEYS: &[&str] = &["export", "import", "test", "resync", "reset"];

/// One mistake in a rule: the field it is in and what to fix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RuleProblem {
    pub field: String,
    pub message: String,
}

/// The problems of condition `i` (0-based in the field name, 1-based in the message, as the
/// CLI numbers them).
fn condition_problems(c: &Condition, i: usize, push: &mut impl FnMut(String, String)) {
    let n = i + 1;
    // Where a value sits: `value` alone, or `values[j]` (after `value`, when both are given).
    let offset = usize::from(c.value.is_some());
    let at = |j: usize| {
        if c.value.is_some() && j == 0 {
            format!("when[{i}].value")
        } else {
            format!("when[{i}].values[{}]", j - offset)
        }
    };
    let values: Vec<&str> = c.all_values().collect();
    if values.is_empty() {
        push(format!("when[{i}].value"), format!("condition {n} ({}) has no value", c.field.as_str()));
    }
    if values.len() > MAX_VALUES {
        push(format!("when[{i}].values"), format!("condition {n} lists {} values; at most {MAX_VALUES}", values.len()));
    }
    for (j, v) in values.iter().enumerate() {
        if v.len() > MAX_PATTERN_LEN {
            push(
                at(j),
                format!("condition {n}: value of {} characters exceeds the limit of {MAX_PATTERN_LEN}", v.len()),
            );
            continue;
        }
        match c.op {
            Op::Matches => {
                if let Err(e) = regex::RegexBuilder::new(v).size_limit(REGEX_SIZE_LIMIT).build() {
                    push(at(j), format!("condition {n}: invalid regex `{v}`: {e}"));
                }
            }
            Op::Like if c.field == Field::Status && !valid_status_pattern(v) => push(
                at(j),
                format!("condition {n}: `{v}` is not a status pattern; write three parts of digits or *, e.g. 5.1.*"),
            ),
            _ => {}
        }
    }
    if !c.op.fits(c.field) {
        push(format!("when[{i}].op"), format!("condition {n}: `like` patterns apply to the status field only"));
    }
}

fn valid_status_pattern(p: &str) -> bool {
    let parts: Vec<&str> = p.split('.').collect();
    parts.len() == 3
        && parts.iter().all(|s| *s == "*" || (!s.is_empty() && s.len() <= 3 && s.bytes().all(|b| b.is_ascii_digit())))
}

/// Does `status` (e.g. "5.1.10") match `pattern` (e.g. "5.1.*")?
pub fn status_like(pattern: &str, status: &str) -> bool {
    let mut s = status.split('.');
    let mut n = 0;
    for p in pattern.split('.') {
        let Some(part) = s.next() else { return false };
        if p != "*" && p != part {
            return false;
        }
        n += 1;
    }
    n == 3 && s.next().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(when: Vec<Condition>) -> Rule {
        Rule {
            key: "t".into(),
            name: "t".into(),
            description: None,
            enabled: true,
            origin: Origin::Custom,
            when,
            outcome: Outcome::Soft,
            reason: None,
        }
    }

    #[test]
    fn bad_regex_is_refused_with_rule_key_and_cause() {
        let e = rule(vec![Condition::new(Field::Diagnostic, Op::Matches, "over (quota")]).validate().unwrap_err();
        assert_eq!(e.key, "t");
        assert!(e.to_string().contains("invalid regex") && e.to_string().contains("over (quota"), "{e}");
    }

    #[test]
    fn oversized_patterns_and_regex_programs_are_refused() {
        let long = "a".repeat(MAX_PATTERN_LEN + 1);
        assert!(rule(vec![Condition::new(Field::Diagnostic, Op::Contains, long)]).validate().is_err());
        let huge = r"\w{1000}\w{1000}";
        let e = rule(vec![Condition::new(Field::Diagnostic, Op::Matches, huge)]).validate().unwrap_err();
        assert!(e.message.contains("invalid regex"), "{e}");
    }

    #[test]
    fn status_patterns() {
        assert!(status_like("5.1.*", "5.1.10"));
        assert!(status_like("*.*.*", "4.2.2"));
        assert!(!status_like("5.1.*", "5.2.1"));
        assert!(!status_like("5.1.1", "5.1.10"));
        assert!(!status_like("5.1.*", "5.1"));
        assert!(rule(vec![Condition::new(Field::Status, Op::Like, "5.x.1")]).validate().is_err());
        assert!(rule(vec![Condition::new(Field::Diagnostic, Op::Like, "5.1.*")]).validate().is_err());
    }

    #[test]
    fn operators_parse_from_words() {
        assert_eq!("does not contain".parse::<Op>().unwrap(), Op::NotContains);
        assert_eq!("in list".parse::<Op>().unwrap(), Op::In);
        assert!("near".parse::<Op>().is_err());
    }

    #[test]
    fn unknown_reason_is_refused() {
        let mut r = rule(vec![Condition::new(Field::Status, Op::Is, "5.1.1")]);
        r.reason = Some("deadish".into());
        assert!(r.validate().unwrap_err().message.contains("deadish"));
    }

    #[test]
    fn conditions_parse_from_operator_words() {
        let c = Condition::parse("diagnostic does not contain \"over quota\"", false).unwrap();
        assert_eq!((c.field, c.op, c.value.as_deref()), (Field::Diagnostic, Op::NotContains, Some("over quota")));
        let c = Condition::parse("recipient_domain in gmail.com, googlemail.com", false).unwrap();
        assert_eq!(c.values, vec!["gmail.com", "googlemail.com"]);
        let c = Condition::parse("status like 5.1.*", false).unwrap();
        assert_eq!((c.op, c.value.as_deref()), (Op::Like, Some("5.1.*")));
        let c = Condition::parse("subject starts with 'Undeliverable:'", true).unwrap();
        assert_eq!((c.op, c.value.as_deref(), c.case_sensitive), (Op::StartsWith, Some("Undeliverable:"), true));
        assert!(Condition::parse("diagnostic near x", false).unwrap_err().contains("no operator"));
        assert!(Condition::parse("bodyy contains x", false).unwrap_err().contains("unknown field"));
    }
}
