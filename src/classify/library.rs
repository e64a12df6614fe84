//! The shipped default rules: `default_rules/*.toml`, embedded in the binary.
//!
//! Takes nothing; gives the default rule list in shipped order (files in name order,
//! rules in file order), every rule validated and marked `origin = default`. Also the
//! TOML form used by `rules export` / `rules import`. It never touches the database.

use super::rule::{Origin, Rule, RuleError};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The library files, in shipped order. A test checks every file in `default_rules/` is here.
pub const FILES: &[(&str, &str)] = &[
    ("00-kinds.toml", include_str!("../../default_rules/00-kinds.toml")),
    ("20-reasons.toml", include_str!("../../default_rules/20-reasons.toml")),
    ("25-provider-phrases.toml", include_str!("../../default_rules/25-provider-phrases.toml")),
    ("30-status-codes.toml", include_str!("../../default_rules/30-status-codes.toml")),
    ("40-reply-codes.toml", include_str!("../../default_rules/40-reply-codes.toml")),
    ("99-global.toml", include_str!("../../default_rules/99-global.toml")),
];

/// A rules file: `version` and `[[rule]]` entries (also the export/import format).
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleFile {
    #[serde(default = "one")]
    pub version: u32,
    #[serde(default, rename = "rule")]
    pub rules: Vec<Rule>,
}

fn one() -> u32 {
    1
}

/// Parses a rules file; every rule is validated, and all errors are reported together.
pub fn parse_file(name: &str, text: &str) -> Result<Vec<Rule>, Vec<RuleError>> {
    let file: RuleFile = toml::from_str(text)
        .map_err(|e| vec![RuleError { key: format!("({name})"), message: e.to_string().trim().to_string() }])?;
    let errors: Vec<RuleError> = file.rules.iter().filter_map(|r| r.validate().err()).collect();
    if errors.is_empty() { Ok(file.rules) } else { Err(errors) }
}

/// Renders rules as a rules file (for `rules export`).
pub fn render(rules: &[Rule]) -> String {
    let file = RuleFile { version: 1, rules: rules.to_vec() };
    toml::to_string_pretty(&file).unwrap_or_else(|e| format!("# cannot render rules: {e}\n"))
}

/// The shipped rules in order. Panics only if the embedded library itself is invalid,
/// which the test suite rules out.
pub fn defaults() -> Vec<Rule> {
    let mut all = Vec::new();
    for (name, text) in FILES {
        match parse_file(name, text) {
            Ok(rules) => all.extend(rules.into_iter().map(|r| Rule { origin: Origin::Default, ..r })),
            Err(e) => panic!("embedded default_rules/{name} is invalid: {e:?}"),
        }
    }
    all
}

/// A fingerprint of what a rule does (not its position, hits or origin): re-sync compares
/// it to tell rules the user edited from rules they never touched.
pub fn content_hash(rule: &Rule) -> String {
    let canonical = serde_json::json!({
        "name": rule.name,
        "description": rule.description,
        "enabled": rule.enabled,
        "when": rule.when,
        "outcome": rule.outcome,
        "reason": rule.reason,
    });
    let digest = Sha256::digest(canonical.to_string().as_bytes());
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}
