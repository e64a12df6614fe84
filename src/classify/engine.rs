//! The compiled rule list: first enabled match in position order wins.
//!
//! Takes rules in position order (the Global catch-all last); gives a [`Decision`] per
//! record and, for `rules test --all`, every rule that would match. Built once per rule
//! change. Cost per record does not grow with the number of rules the way a naive scan
//! does: all `contains`/`starts_with`/`ends_with` needles on a field share one Aho-Corasick
//! automaton, the literal prefixes of all its regexes another (so only regexes whose prefix
//! occurs are run), and `is`/`in` values one hash map, so each field is scanned about once;
//! then rules are checked in order against a bitset of the conditions that hold. It never mutates rules or touches the database.

use super::facts::Facts;
use super::rule::{Field, GLOBAL_KEY, Op, Outcome, REGEX_SIZE_LIMIT, Rule, status_like};
use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use regex::{Regex, RegexBuilder};
use regex_syntax::hir::literal::{ExtractKind, Extractor};
use std::collections::HashMap;

/// What the rules decided for one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision<'e> {
    pub outcome: Outcome,
    pub rule_key: &'e str,
    pub rule_name: &'e str,
    /// The rule's reason override, if any.
    pub reason: Option<&'e str>,
}

#[derive(Debug)]
struct CompiledRule {
    rule: Rule,
    /// (atom, negated) per condition.
    conds: Vec<(usize, bool)>,
}

/// Per field: the shared matchers and which atoms each of their patterns satisfies.
#[derive(Debug, Default)]
struct FieldIndex {
    /// Needles (lower-cased unless case-sensitive) → (atom, op, case_sensitive).
    needles: Vec<String>,
    needle_atoms: Vec<(usize, Op, bool)>,
    ac_ci: Option<AhoCorasick>,
    ac_ci_ids: Vec<usize>,
    ac_cs: Option<AhoCorasick>,
    ac_cs_ids: Vec<usize>,
    /// Regexes on this field with the atom each satisfies.
    regexes: Vec<(Regex, usize)>,
    /// Regexes with no literal prefix to filter on: always run.
    regex_always: Vec<usize>,
    /// Lower-cased literal prefixes of the other regexes, and the regex each belongs to.
    regex_prefilter: Option<AhoCorasick>,
    regex_prefix_owner: Vec<usize>,
    /// Exact values, lower-cased (case-insensitive) → atoms.
    eq_ci: HashMap<String, Vec<usize>>,
    eq_cs: HashMap<String, Vec<usize>>,
    used: bool,
}

#[derive(Debug)]
pub struct Engine {
    rules: Vec<CompiledRule>,
    fields: Vec<FieldIndex>,
    /// Status patterns (`5.1.*`) → atoms; a status is looked up under its 8 wildcard forms.
    like: HashMap<String, Vec<usize>>,
    words: usize,
    /// Rules each atom appears in as a positive condition: only rules with at least one
    /// holding atom can match, so evaluation looks at those (and `unconditional`) only.
    atom_rules: Vec<Vec<u32>>,
    /// Rules without a positive condition (the Global rule, negations only): always checked.
    unconditional: Vec<u32>,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot compile rule `{key}`: {message}")]
pub struct CompileError {
    pub key: String,
    pub message: String,
}

impl Engine {
    /// Compiles enabled and disabled rules alike (a trace shows both); disabled ones are
    /// skipped at evaluation. Rules must already be validated and ordered by position.
    pub fn new(rules: Vec<Rule>) -> Result<Engine, CompileError> {
        let mut atoms = 0usize;
        let mut like: HashMap<String, Vec<usize>> = HashMap::new();
        let mut fields: Vec<FieldIndex> = (0..Field::ALL.len()).map(|_| FieldIndex::default()).collect();
        let mut compiled = Vec::with_capacity(rules.len());
        let compile_err = |key: &str, e: String| CompileError { key: key.to_string(), message: e };

        for rule in rules {
            let mut conds = Vec::with_capacity(rule.when.len());
            for c in &rule.when {
                let (op, negated) = c.op.positive();
                let atom = atoms;
                atoms += 1;
                let fx = &mut fields[c.field.index()];
                fx.used = true;
                match op {
                    Op::Is | Op::In => {
                        for v in c.all_values() {
                            let map = if c.case_sensitive { &mut fx.eq_cs } else { &mut fx.eq_ci };
                            let key = if c.case_sensitive { v.to_string() } else { v.to_lowercase() };
                            map.entry(key).or_default().push(atom);
                        }
                    }
                    Op::Contains | Op::StartsWith | Op::EndsWith => {
                        for v in c.all_values() {
                            fx.needles.push(if c.case_sensitive { v.to_string() } else { v.to_lowercase() });
                            fx.needle_atoms.push((atom, op, c.case_sensitive));
                        }
                    }
                    Op::Matches => {
                        for v in c.all_values() {
                            let src = if c.case_sensitive { v.to_string() } else { format!("(?i:{v})") };
                            let re = RegexBuilder::new(&src)
                                .size_limit(REGEX_SIZE_LIMIT)
                                .build()
                                .map_err(|e| compile_err(&rule.key, e.to_string()))?;
                            fx.regexes.push((re, atom));
                        }
                    }
                    Op::Like => {
                        for v in c.all_values() {
                            like.entry(v.to_string()).or_default().push(atom);
                        }
                    }
                    Op::IsNot | Op::NotContains => unreachable!("positive() maps negative operators"),
                }
                conds.push((atom, negated));
            }
            compiled.push(CompiledRule { rule, conds });
        }

        for (i, fx) in fields.iter_mut().enumerate() {
            let build = |pats: &[&String]| {
                AhoCorasick::builder()
                    .match_kind(MatchKind::Standard)
                    .kind(Some(AhoCorasickKind::DFA))
                    .build(pats)
                    .map_err(|e| CompileError { key: "(engine)".into(), message: e.to_string() })
            };
            let (ci, cs): (Vec<usize>, Vec<usize>) = (0..fx.needles.len()).partition(|&n| !fx.needle_atoms[n].2);
            if !ci.is_empty() {
                fx.ac_ci = Some(build(&ci.iter().map(|&n| &fx.needles[n]).collect::<Vec<_>>())?);
                fx.ac_ci_ids = ci;
            }
            if !cs.is_empty() {
                fx.ac_cs = Some(build(&cs.iter().map(|&n| &fx.needles[n]).collect::<Vec<_>>())?);
                fx.ac_cs_ids = cs;
            }
            let _ = i;
            let mut prefixes = Vec::new();
            for (n, (re, _)) in fx.regexes.iter().enumerate() {
                match literal_prefixes(re.as_str()) {
                    Some(lits) => prefixes.extend(lits.into_iter().map(|l| (l, n))),
                    None => fx.regex_always.push(n),
                }
            }
            if !prefixes.is_empty() {
                let ac = AhoCorasick::builder()
                    .ascii_case_insensitive(true)
                    .build(prefixes.iter().map(|(l, _)| l.as_bytes()))
                    .map_err(|e| compile_err("(engine)", e.to_string()))?;
                fx.regex_prefilter = Some(ac);
                fx.regex_prefix_owner = prefixes.into_iter().map(|(_, n)| n).collect();
            }
        }
        let words = atoms.div_ceil(64);
        let mut atom_rules = vec![Vec::new(); atoms];
        let mut unconditional = Vec::new();
        for (i, r) in compiled.iter().enumerate() {
            let mut positive = false;
            for &(a, neg) in &r.conds {
                if !neg {
                    atom_rules[a].push(i as u32);
                    positive = true;
                }
            }
            if !positive {
                unconditional.push(i as u32);
            }
        }
        Ok(Engine { rules: compiled, fields, like, words, atom_rules, unconditional })
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The rules in evaluation order.
    pub fn rules(&self) -> impl Iterator<Item = &Rule> {
        self.rules.iter().map(|r| &r.rule)
    }

    /// Which atoms hold for these facts.
    fn scan(&self, facts: &Facts) -> Vec<u64> {
        let mut bits = vec![0u64; self.words];
        let set = |bits: &mut Vec<u64>, a: usize| bits[a / 64] |= 1 << (a % 64);
        let mut buf = String::new();
        let mut lower = String::new();
        for field in Field::ALL {
            let fx = &self.fields[field.index()];
            if !fx.used {
                continue;
            }
            let text = facts.get(field, &mut buf);
            let needs_lower = fx.ac_ci.is_some() || !fx.eq_ci.is_empty();
            let low: &str = if needs_lower && text.bytes().any(|b| b.is_ascii_uppercase() || b >= 0x80) {
                lower.clear();
                lower.push_str(&text.to_lowercase());
                &lower
            } else {
                text
            };
            if let Some(atoms) = fx.eq_ci.get(low) {
                atoms.iter().for_each(|&a| set(&mut bits, a));
            }
            if let Some(atoms) = fx.eq_cs.get(text) {
                atoms.iter().for_each(|&a| set(&mut bits, a));
            }
            for (ac, ids, hay) in [(&fx.ac_ci, &fx.ac_ci_ids, low), (&fx.ac_cs, &fx.ac_cs_ids, text)] {
                let Some(ac) = ac else { continue };
                for m in ac.find_overlapping_iter(hay) {
                    let (atom, op, _) = fx.needle_atoms[ids[m.pattern().as_usize()]];
                    let hit = match op {
                        Op::StartsWith => m.start() == 0,
                        Op::EndsWith => m.end() == hay.len(),
                        _ => true,
                    };
                    if hit {
                        set(&mut bits, atom);
                    }
                }
            }
            if !fx.regexes.is_empty() {
                let mut run = vec![false; fx.regexes.len()];
                for &n in &fx.regex_always {
                    run[n] = true;
                }
                if let Some(ac) = &fx.regex_prefilter {
                    for m in ac.find_overlapping_iter(text) {
                        run[fx.regex_prefix_owner[m.pattern().as_usize()]] = true;
                    }
                }
                for (n, (re, atom)) in fx.regexes.iter().enumerate() {
                    if run[n] && re.is_match(text) {
                        set(&mut bits, *atom);
                    }
                }
            }
        }
        if !self.like.is_empty() {
            let status = facts.get(Field::Status, &mut buf);
            let parts: Vec<&str> = status.split('.').collect();
            if parts.len() == 3 {
                let mut pattern = String::with_capacity(status.len() + 4);
                for mask in 0..8 {
                    pattern.clear();
                    for (i, part) in parts.iter().enumerate() {
                        if i > 0 {
                            pattern.push('.');
                        }
                        pattern.push_str(if mask & (1 << i) != 0 { "*" } else { part });
                    }
                    if let Some(atoms) = self.like.get(&pattern) {
                        debug_assert!(status_like(&pattern, status));
                        atoms.iter().for_each(|&a| set(&mut bits, a));
                    }
                }
            }
        }
        bits
    }

    fn holds(bits: &[u64], r: &CompiledRule) -> bool {
        r.conds.iter().all(|&(a, neg)| ((bits[a / 64] >> (a % 64)) & 1 == 1) != neg)
    }

    /// Indexes of the rules that could match given the atoms that hold, in position order.
    fn candidates(&self, bits: &[u64]) -> Vec<u32> {
        let mut out = self.unconditional.clone();
        for (w, &word) in bits.iter().enumerate() {
            let mut word = word;
            while word != 0 {
                let a = w * 64 + word.trailing_zeros() as usize;
                word &= word - 1;
                out.extend_from_slice(&self.atom_rules[a]);
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// The first enabled rule that matches. `None` only when the list has no Global rule.
    pub fn classify(&self, facts: &Facts) -> Option<Decision<'_>> {
        let bits = self.scan(facts);
        self.candidates(&bits)
            .into_iter()
            .map(|i| &self.rules[i as usize])
            .find(|r| r.rule.enabled && Self::holds(&bits, r))
            .map(decision)
    }

    /// Every rule that matches, in order, with whether it is enabled (for `rules test --all`).
    pub fn trace(&self, facts: &Facts) -> Vec<(&Rule, bool)> {
        let bits = self.scan(facts);
        self.rules.iter().filter(|r| Self::holds(&bits, r)).map(|r| (&r.rule, r.rule.enabled)).collect()
    }

    /// Does any rule look at the whole body (so callers know to provide it)?
    pub fn uses_body(&self) -> bool {
        self.fields[Field::Body.index()].used
    }

    pub fn has_global(&self) -> bool {
        self.rules.last().is_some_and(|r| r.rule.key == GLOBAL_KEY)
    }
}

/// Literals every match of `pattern` starts with (lower-cased), or None when there is no
/// finite, non-empty set of them (the regex must then always run).
fn literal_prefixes(pattern: &str) -> Option<Vec<String>> {
    let hir = regex_syntax::Parser::new().parse(pattern).ok()?;
    let mut ex = Extractor::new();
    ex.kind(ExtractKind::Prefix);
    let seq = ex.extract(&hir);
    let lits = seq.literals()?;
    if lits.is_empty() || lits.iter().any(|l| l.as_bytes().is_empty()) {
        return None;
    }
    let mut out: Vec<String> =
        lits.iter().map(|l| String::from_utf8_lossy(l.as_bytes()).to_ascii_lowercase()).collect();
    out.sort();
    out.dedup();
    Some(out)
}

fn decision(r: &CompiledRule) -> Decision<'_> {
    Decision {
        outcome: r.rule.outcome,
        rule_key: &r.rule.key,
        rule_name: &r.rule.name,
        reason: r.rule.reason.as_deref(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::rule::{Condition, Origin};

    fn rule(key: &str, outcome: Outcome, when: Vec<Condition>) -> Rule {
        Rule {
            key: key.into(),
            name: key.into(),
            description: None,
            enabled: true,
            origin: Origin::Custom,
            when,
            outcome,
            reason: None,
        }
    }

    fn global() -> Rule {
        rule(GLOBAL_KEY, Outcome::Soft, vec![])
    }

    fn facts<'a>(status: &'a str, diag: &'a str) -> Facts<'a> {
        Facts { status: Some(status), diagnostic: Some(diag), recipient: Some("a@Example.com"), ..Default::default() }
    }

    #[test]
    fn first_enabled_match_wins_and_order_matters() {
        let full = rule("full", Outcome::Soft, vec![Condition::new(Field::Diagnostic, Op::Contains, "MAILBOX FULL")]);
        let code = rule("code", Outcome::Hard, vec![Condition::new(Field::Status, Op::Like, "5.*.*")]);
        let f = facts("5.2.2", "552 5.2.2 Mailbox full");
        let e = Engine::new(vec![full.clone(), code.clone(), global()]).unwrap();
        assert_eq!(e.classify(&f).unwrap().rule_key, "full");
        let e = Engine::new(vec![code.clone(), full.clone(), global()]).unwrap();
        assert_eq!(e.classify(&f).unwrap().rule_key, "code");
        let mut off = code;
        off.enabled = false;
        let e = Engine::new(vec![off, full, global()]).unwrap();
        assert_eq!(e.classify(&f).unwrap().rule_key, "full");
    }

    #[test]
    fn every_operator() {
        let f = facts("5.1.1", "550 5.1.1 <a@example.com>: Recipient address rejected: User unknown");
        let cases = [
            (Condition::new(Field::Status, Op::Is, "5.1.1"), true),
            (Condition::new(Field::Status, Op::IsNot, "5.1.1"), false),
            (Condition::new(Field::StatusClass, Op::Is, "5"), true),
            (Condition::new(Field::Diagnostic, Op::Contains, "user UNKNOWN"), true),
            (Condition::new(Field::Diagnostic, Op::NotContains, "quota"), true),
            (Condition::new(Field::Diagnostic, Op::StartsWith, "550 "), true),
            (Condition::new(Field::Diagnostic, Op::StartsWith, "5.1.1"), false),
            (Condition::new(Field::Diagnostic, Op::EndsWith, "unknown"), true),
            (Condition::new(Field::Diagnostic, Op::Matches, r"recipient\s+address\s+rejected"), true),
            (Condition::any_of(Field::RecipientDomain, Op::In, &["gmail.com", "example.com"]), true),
            (Condition::new(Field::Status, Op::Like, "5.1.*"), true),
            (Condition::new(Field::ReplyCode, Op::Is, ""), true),
            (
                Condition { case_sensitive: true, ..Condition::new(Field::Diagnostic, Op::Contains, "user unknown") },
                false,
            ),
        ];
        for (c, want) in cases {
            let shown = c.to_string();
            let e = Engine::new(vec![rule("r", Outcome::Hard, vec![c]), global()]).unwrap();
            assert_eq!(e.classify(&f).unwrap().rule_key == "r", want, "{shown}");
        }
    }

    #[test]
    fn regexes_behind_the_literal_prefilter_still_match() {
        let cases = [
            (r"quota\s+exceeded", "452 4.2.2 QUOTA   Exceeded for user", true),
            (r"(spamhaus|spamcop)\.org", "blocked using zen.SpamHaus.org", true),
            (r"\d{3} 5\.7\.\d+", "host said: 554 5.7.26 unauthenticated", true),
            (r"ärger\b", "Zu viel ÄRGER heute", true),
            (r"quota\s+exceeded", "mailbox full", false),
        ];
        for (re, text, want) in cases {
            let r = rule("r", Outcome::Soft, vec![Condition::new(Field::Diagnostic, Op::Matches, re)]);
            let e = Engine::new(vec![r, global()]).unwrap();
            let got = e.classify(&facts("5.0.0", text)).unwrap().rule_key == "r";
            assert_eq!(got, want, "{re} on {text}");
        }
    }

    #[test]
    fn all_conditions_must_hold() {
        let r = rule(
            "both",
            Outcome::Hard,
            vec![
                Condition::new(Field::Status, Op::Is, "5.7.1"),
                Condition::new(Field::Diagnostic, Op::Contains, "spam"),
            ],
        );
        let e = Engine::new(vec![r, global()]).unwrap();
        assert_eq!(e.classify(&facts("5.7.1", "rejected as spam")).unwrap().rule_key, "both");
        assert_eq!(e.classify(&facts("5.7.1", "relay denied")).unwrap().rule_key, GLOBAL_KEY);
    }

    #[test]
    fn trace_lists_every_match_including_disabled() {
        let mut a = rule("a", Outcome::Hard, vec![Condition::new(Field::Status, Op::Like, "5.*.*")]);
        a.enabled = false;
        let b = rule("b", Outcome::Soft, vec![Condition::new(Field::Diagnostic, Op::Contains, "full")]);
        let e = Engine::new(vec![a, b, global()]).unwrap();
        let keys: Vec<_> = e.trace(&facts("5.2.2", "box full")).iter().map(|(r, on)| (r.key.clone(), *on)).collect();
        assert_eq!(keys, vec![("a".into(), false), ("b".into(), true), (GLOBAL_KEY.into(), true)]);
    }
}
