//! Rules as people and programs send them: API bodies and imported documents (JSON or TOML).
//!
//! Takes a loosely typed rule ([`RuleInput`]) or list ([`RulesDocument`]); gives a [`Rule`]
//! or every mistake at once, each by field (`outcome`, `when[1].op`, `rules[2].when[0].value`).
//! Shape mistakes (an unknown operator, a missing name) are found here; what the engine needs
//! is checked by [`Rule::problems`], the same check the CLI and the database layer apply, so
//! every face accepts exactly the same rules. It never touches the database.

use super::rule::{Condition, Field, Op, Origin, Outcome, Rule, RuleProblem};
use super::sync::document_problems;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// Fields of a fetched rule that are not part of its content: accepted and ignored, so a
/// rule read with GET can be sent back with PUT.
const READ_ONLY: &[&str] = &["position", "hit_count", "last_hit_at", "edited"];

/// A rule as sent: every field optional so that all mistakes are reported together.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct RuleInput {
    /// a-z, 0-9, '.', '_' or '-'; on update the key in the path (a rule cannot be renamed).
    pub key: Option<String>,
    pub name: Option<String>,
    pub description: Option<String>,
    /// Default true, as in a rules file.
    pub enabled: Option<bool>,
    /// `default` or `custom`: read by import only (a rule created through the API is custom).
    pub origin: Option<String>,
    /// All must hold. Each is an object `{"field", "op", "value" | "values", "case_sensitive"}`
    /// or text in the CLI's language: `"status like 5.1.*"`, `"diagnostic contains \"quota\""`.
    #[schema(value_type = Vec<Object>)]
    pub when: Option<Vec<Value>>,
    /// `hard`, `soft`, `ignore` or `complaint`.
    pub outcome: Option<String>,
    /// A reason of the taxonomy recorded instead of the parser's.
    pub reason: Option<String>,
    #[serde(flatten)]
    #[schema(ignore)]
    pub other: BTreeMap<String, Value>,
}

/// A whole rule list: what `GET /rules/export` gives and import takes. In TOML (the format of
/// `rebound rules export` and `default_rules/`) the list is `[[rule]]` entries.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct RulesDocument {
    /// The document format: 1.
    pub version: Option<u32>,
    #[serde(default, alias = "rule")]
    pub rules: Vec<RuleInput>,
}

fn problem(field: impl Into<String>, message: impl Into<String>) -> RuleProblem {
    RuleProblem { field: field.into(), message: message.into() }
}

impl RuleInput {
    /// The rule, or every problem: shape and engine checks together. `path_key` is the key
    /// of the rule being updated (the body's key, if any, must match it).
    pub fn into_rule(self, path_key: Option<&str>) -> Result<Rule, Vec<RuleProblem>> {
        let (rule, mut problems) = self.parse(path_key);
        problems.extend(rule.problems());
        if problems.is_empty() { Ok(rule) } else { Err(problems) }
    }

    /// The rule with harmless placeholders where a field is wrong, and the shape problems.
    fn parse(self, path_key: Option<&str>) -> (Rule, Vec<RuleProblem>) {
        let mut out = Vec::new();
        let key = match (path_key, self.key) {
            (Some(p), Some(k)) if k != p => {
                out.push(problem("key", format!("is `{k}` but the path names `{p}`: a rule cannot be renamed; create one under the new key and delete this one")));
                p.to_string()
            }
            (Some(p), _) => p.to_string(),
            (None, Some(k)) => k,
            (None, None) => {
                out.push(problem("key", "required: a-z, 0-9, '.', '_' or '-'"));
                "x".into()
            }
        };
        let name = self.name.unwrap_or_else(|| {
            out.push(problem("name", "required"));
            "x".into()
        });
        let outcome = match self.outcome.as_deref().map(str::parse::<Outcome>) {
            Some(Ok(o)) => o,
            Some(Err(e)) => {
                out.push(problem("outcome", e));
                Outcome::Soft
            }
            None => {
                out.push(problem("outcome", "required: hard, soft, ignore or complaint"));
                Outcome::Soft
            }
        };
        let origin = match self.origin.as_deref() {
            None | Some("custom") => Origin::Custom,
            Some("default") => Origin::Default,
            Some(o) => {
                out.push(problem("origin", format!("unknown origin `{o}`: use default or custom")));
                Origin::Custom
            }
        };
        for k in self.other.keys().filter(|k| !READ_ONLY.contains(&k.as_str())) {
            out.push(problem(
                k.clone(),
                "is not a rule field; use key, name, description, enabled, when, outcome, reason",
            ));
        }
        let when = self
            .when
            .unwrap_or_default()
            .iter()
            .enumerate()
            .map(|(i, v)| condition(v, i, &mut out).unwrap_or_else(|| Condition::new(Field::Body, Op::Contains, "x")))
            .collect();
        let rule = Rule {
            key,
            name,
            description: self.description.filter(|d| !d.is_empty()),
            enabled: self.enabled.unwrap_or(true),
            origin,
            when,
            outcome,
            reason: self.reason.filter(|r| !r.is_empty()),
        };
        (rule, out)
    }
}

/// One condition from its object or text form, or None with its problems pushed.
fn condition(v: &Value, i: usize, out: &mut Vec<RuleProblem>) -> Option<Condition> {
    let at = |f: &str| if f.is_empty() { format!("when[{i}]") } else { format!("when[{i}].{f}") };
    let obj = match v {
        Value::String(text) => {
            return Condition::parse(text, false).map_err(|e| out.push(problem(at(""), e))).ok();
        }
        Value::Object(obj) => obj,
        _ => {
            out.push(problem(at(""), "a condition is an object {field, op, value} or text like \"status like 5.1.*\""));
            return None;
        }
    };
    let before = out.len();
    let text = |name: &str, out: &mut Vec<RuleProblem>| match obj.get(name) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(_) => {
            out.push(problem(at(name), "must be text"));
            None
        }
    };
    let field = text("field", out).and_then(|f| f.parse::<Field>().map_err(|e| out.push(problem(at("field"), e))).ok());
    let op = text("op", out).and_then(|o| o.parse::<Op>().map_err(|e| out.push(problem(at("op"), e))).ok());
    if !obj.contains_key("field") {
        out.push(problem(at("field"), "required"));
    }
    if !obj.contains_key("op") {
        out.push(problem(at("op"), "required"));
    }
    let value = text("value", out);
    let values = match obj.get("values") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .filter_map(|(j, v)| match v {
                Value::String(s) => Some(s.clone()),
                _ => {
                    out.push(problem(at(&format!("values[{j}]")), "must be text"));
                    None
                }
            })
            .collect(),
        Some(_) => {
            out.push(problem(at("values"), "must be a list of text"));
            Vec::new()
        }
    };
    let case_sensitive = match obj.get("case_sensitive") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            out.push(problem(at("case_sensitive"), "must be true or false"));
            false
        }
    };
    for k in obj.keys().filter(|k| !["field", "op", "value", "values", "case_sensitive"].contains(&k.as_str())) {
        out.push(problem(at(k), "is not a condition field; use field, op, value, values, case_sensitive"));
    }
    if out.len() > before {
        return None;
    }
    Some(Condition { field: field?, op: op?, value, values, case_sensitive })
}

impl RulesDocument {
    /// A TOML rules file (`rebound rules export`), or the one problem that stops it parsing.
    pub fn from_toml(text: &str) -> Result<RulesDocument, RuleProblem> {
        toml::from_str(text).map_err(|e| problem("(document)", e.to_string().trim().to_string()))
    }

    /// The rules in document order, or every problem of the whole document at once.
    pub fn into_rules(self) -> Result<Vec<Rule>, Vec<RuleProblem>> {
        let mut out = Vec::new();
        if let Some(v) = self.version.filter(|v| *v != 1) {
            out.push(problem("version", format!("format version {v} is not known; this rebound reads version 1")));
        }
        let mut rules = Vec::with_capacity(self.rules.len());
        for (i, input) in self.rules.into_iter().enumerate() {
            let (rule, problems) = input.parse(None);
            out.extend(problems.into_iter().map(|p| RuleProblem { field: format!("rules[{i}].{}", p.field), ..p }));
            rules.push(rule);
        }
        out.extend(document_problems(&rules));
        if rules.is_empty() {
            out.push(problem("rules", "the document has no rules"));
        }
        if out.is_empty() { Ok(rules) } else { Err(out) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_mistake_is_reported_at_once_by_field() {
        let input: RuleInput = serde_json::from_value(json!({
            "key": "Bad Key", "outcome": "harsh", "reason": "deadish", "colour": "red",
            "when": [{"field": "diagnostic", "op": "matches", "value": "over (quota"},
                     {"field": "nope", "op": "near", "value": "x"},
                     "status like 5.x.1"]
        }))
        .unwrap();
        let problems = input.into_rule(None).unwrap_err();
        let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
        for want in [
            "key",
            "name",
            "outcome",
            "reason",
            "colour",
            "when[0].value",
            "when[1].field",
            "when[1].op",
            "when[2].value",
        ] {
            assert!(fields.contains(&want), "{want} in {fields:?}");
        }
        let re = problems.iter().find(|p| p.field == "when[0].value").unwrap();
        assert!(re.message.contains("over (quota"), "the regex is named: {}", re.message);
    }

    #[test]
    fn text_and_object_conditions_give_the_same_rule() {
        let a: RuleInput = serde_json::from_value(json!({"key": "k", "name": "n", "outcome": "hard",
            "when": ["status like 5.1.*"]}))
        .unwrap();
        let b: RuleInput = serde_json::from_value(json!({"key": "k", "name": "n", "outcome": "hard",
            "when": [{"field": "status", "op": "like", "value": "5.1.*"}], "position": 3}))
        .unwrap();
        assert_eq!(a.into_rule(None).unwrap(), b.into_rule(Some("k")).unwrap());
    }

    #[test]
    fn documents_name_the_rule_of_each_problem() {
        let doc: RulesDocument = serde_json::from_value(json!({"rules": [
            {"key": "a", "name": "a", "outcome": "hard", "when": ["status is 5.1.1"]},
            {"key": "a", "name": "b", "outcome": "soft", "when": [{"field": "diagnostic", "op": "matches", "value": "("}]},
            {"key": "global", "name": "g", "outcome": "soft"},
            {"key": "c", "name": "c", "outcome": "soft", "when": ["subject contains x"]}
        ]}))
        .unwrap();
        let fields: Vec<String> = doc.into_rules().unwrap_err().into_iter().map(|p| p.field).collect();
        for want in ["rules[1].when[0].value", "rules[1].key", "rules[2].key"] {
            assert!(fields.iter().any(|f| f == want), "{want} in {fields:?}");
        }
    }
}
