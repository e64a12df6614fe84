//! `rebound rules …`: list, edit, reorder, re-sync, reset, export and import the rule list.

use super::Failure;
use crate::audit::Actor;
use crate::classify::input::RulesDocument;
use crate::classify::repo::{self, ImportMode, Placement, StoredRule, SyncSummary};
use crate::classify::{Condition, Origin, Outcome, Rule, library};
use crate::store::{AnyConnection, Db};
use clap::{Args, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Show the rules in evaluation order, with hits and edited/disabled state.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Add a custom rule (above the Global rule unless --at/--before say otherwise).
    Add {
        #[command(flatten)]
        spec: RuleSpec,
        #[command(flatten)]
        place: PlaceArgs,
    },
    /// Change a rule; options not given keep their value. --when replaces all conditions.
    Edit {
        key: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        description: Option<String>,
        /// FIELD OP VALUE, e.g. 'diagnostic contains "over quota"' (repeatable: all must hold)
        #[arg(long = "when")]
        when: Vec<String>,
        #[arg(long)]
        outcome: Option<Outcome>,
        /// Reason to record instead of the parser's ("" removes the override).
        #[arg(long)]
        reason: Option<String>,
    },
    /// Move a rule: --to N (1 = first) or --before KEY.
    Move {
        key: String,
        #[command(flatten)]
        place: PlaceArgs,
    },
    /// Enable a rule.
    Enable { key: String },
    /// Disable a rule (it stays in place and shows in traces).
    Disable { key: String },
    /// Delete a rule.
    Delete { key: String },
    /// Bring the default rules up to this version's library: adds new rules, updates rules
    /// you never edited, keeps your edited or disabled copies (reported as conflicts), and
    /// never touches your custom rules.
    Resync {
        #[arg(long)]
        json: bool,
    },
    /// Delete every custom rule and restore every default rule in shipped order and state.
    Reset {
        /// Required: this discards your rules.
        #[arg(long)]
        yes: bool,
    },
    /// Print the rule list as TOML (the format `import` reads and default_rules/ uses).
    Export,
    /// Import rules from a TOML file: new keys are added above the Global rule, existing
    /// keys are replaced in place. With --replace the list becomes the file, in its order.
    Import {
        file: PathBuf,
        /// Delete every rule the file does not name (the Global rule stays last).
        #[arg(long)]
        replace: bool,
    },
    /// Parse a message and show its fields and which rule decides each record.
    Test {
        file: PathBuf,
        /// Show every rule that matches, not just the one that decides.
        #[arg(long)]
        all: bool,
    },
}

#[derive(Debug, Args)]
pub struct RuleSpec {
    /// Stable key: a-z, 0-9, '.', '_' or '-'.
    #[arg(long)]
    key: String,
    #[arg(long)]
    name: String,
    #[arg(long)]
    description: Option<String>,
    /// FIELD OP VALUE, e.g. 'diagnostic contains "over quota"', 'status like 5.1.*',
    /// 'recipient_domain in gmail.com,googlemail.com' (repeatable: all must hold)
    #[arg(long = "when", required = true)]
    when: Vec<String>,
    #[arg(long)]
    outcome: Outcome,
    /// Reason to record instead of the parser's (e.g. userunknown).
    #[arg(long)]
    reason: Option<String>,
    /// Compare case-sensitively (default: case-insensitive).
    #[arg(long)]
    case_sensitive: bool,
}

#[derive(Debug, Args, Default)]
pub struct PlaceArgs {
    /// 1-based position.
    #[arg(long, conflicts_with = "before")]
    to: Option<usize>,
    /// Put it just above this rule.
    #[arg(long)]
    before: Option<String>,
}

impl PlaceArgs {
    fn placement(&self) -> Placement {
        match (&self.to, &self.before) {
            (Some(n), _) => Placement::At(*n),
            (None, Some(k)) => Placement::Before(k.clone()),
            (None, None) => Placement::Bottom,
        }
    }
}

impl clap::ValueEnum for Outcome {
    fn value_variants<'a>() -> &'a [Self] {
        &[Outcome::Hard, Outcome::Soft, Outcome::Ignore, Outcome::Complaint]
    }
    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(clap::builder::PossibleValue::new(self.as_str()))
    }
}

fn conditions(when: &[String], case_sensitive: bool) -> Result<Vec<Condition>, Failure> {
    when.iter()
        .map(|w| Condition::parse(w, case_sensitive))
        .collect::<Result<_, _>>()
        .map_err(|e| Failure::Run(anyhow::anyhow!(e)))
}

fn fail(e: impl Into<anyhow::Error>) -> Failure {
    Failure::Run(e.into())
}

fn print_list(rules: &[StoredRule]) {
    println!("{:>4}  {:<34} {:<9} {:>7}  CONDITIONS", "POS", "KEY", "OUTCOME", "HITS");
    for r in rules {
        let mut flags = String::new();
        if !r.rule.enabled {
            flags.push_str(" [disabled]");
        }
        if r.edited {
            flags.push_str(" [edited]");
        }
        if r.rule.origin == Origin::Custom {
            flags.push_str(" [custom]");
        }
        let when: Vec<String> = r.rule.when.iter().map(|c| c.to_string()).collect();
        let when = if when.is_empty() { "(everything else)".to_string() } else { when.join(" AND ") };
        let when =
            if when.chars().count() > 90 { format!("{}…", when.chars().take(89).collect::<String>()) } else { when };
        println!(
            "{:>4}  {:<34} {:<9} {:>7}  {when}{flags}",
            r.position,
            r.rule.key,
            r.rule.outcome.as_str(),
            r.hit_count
        );
    }
}

fn print_summary(s: &SyncSummary) {
    println!(
        "added {}, updated {}, conflicts {}, retired {}, unchanged {}, custom removed {}",
        s.added.len(),
        s.updated.len(),
        s.conflicts.len(),
        s.retired.len(),
        s.unchanged,
        s.removed_custom
    );
    for (label, keys) in [("added", &s.added), ("updated", &s.updated), ("retired", &s.retired)] {
        if !keys.is_empty() && keys.len() <= 50 {
            println!("  {label}: {}", keys.join(", "));
        }
    }
    if !s.conflicts.is_empty() {
        println!(
            "  conflicts (kept as you left them; `rebound rules reset` restores the library): {}",
            s.conflicts.join(", ")
        );
    }
}

fn test(cfg: &crate::config::Config, c: &mut AnyConnection, file: &std::path::Path, all: bool) -> Result<(), Failure> {
    let raw = std::fs::read(file).map_err(|e| fail(anyhow::anyhow!("cannot read {}: {e}", file.display())))?;
    let pipeline = crate::ingest::Pipeline::new(cfg).map_err(fail)?;
    let x = crate::ingest::explain::explain(c, &pipeline, &raw).map_err(fail)?;
    println!("{}: {} (dialect {})", file.display(), x.kind, x.dialect);
    if let Some(why) = &x.unknown_reason {
        println!("  nothing to classify: {why}");
    }
    for (i, rec) in x.records.iter().enumerate() {
        println!("record {}:", i + 1);
        let f = &rec.fields;
        let fields = [
            ("recipient", f.recipient.clone()),
            ("kind", Some(f.kind.clone())),
            ("status", f.status.clone()),
            ("reply_code", f.reply_code.map(|c| c.to_string())),
            ("reason", Some(f.reason.clone())),
            ("diagnostic", f.diagnostic.clone()),
            ("feedback_type", f.feedback_type.clone()),
            ("remote_mta", f.remote_mta.clone()),
            ("dialect", Some(f.dialect.clone())),
        ];
        for (k, v) in fields {
            if let Some(v) = v {
                println!("  {k:<14} {v}");
            }
        }
        if let Some(d) = &rec.decision {
            println!("  => {} (reason {}) by rule {}: {}", d.outcome, d.reason, d.rule, d.effect.description);
        }
        if all {
            for m in &rec.matches {
                let mark = if m.decides { "*" } else { " " };
                let off = if m.enabled { "" } else { " [disabled]" };
                println!("   {mark} {:<32} {:<9} {}{off}", m.key, m.outcome, m.name);
            }
        }
    }
    if let Some(c) = &x.campaign {
        println!("campaign {c} (attributed by {})", x.attribution);
    }
    Ok(())
}

pub fn run(cfg: &crate::config::Config, db: &Db, cmd: RulesCommand) -> Result<(), Failure> {
    let mut conn = db.conn().map_err(fail)?;
    let c: &mut AnyConnection = &mut conn;
    let me = Actor::cli();
    repo::seed_if_empty(c).map_err(fail)?;
    match cmd {
        RulesCommand::List { json } => {
            let rules = repo::list(c).map_err(fail)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&rules).map_err(fail)?);
            } else {
                print_list(&rules);
            }
        }
        RulesCommand::Add { spec, place } => {
            let rule = Rule {
                key: spec.key.clone(),
                name: spec.name,
                description: spec.description,
                enabled: true,
                origin: Origin::Custom,
                when: conditions(&spec.when, spec.case_sensitive)?,
                outcome: spec.outcome,
                reason: spec.reason,
            };
            let pos = repo::add(c, &me, rule, &place.placement()).map_err(fail)?.position;
            println!("added rule {} at position {pos}", spec.key);
        }
        RulesCommand::Edit { key, name, description, when, outcome, reason } => {
            let mut rule = repo::get(c, &key).map_err(fail)?.rule;
            if let Some(n) = name {
                rule.name = n;
            }
            if let Some(d) = description {
                rule.description = Some(d).filter(|d| !d.is_empty());
            }
            if !when.is_empty() {
                rule.when = conditions(&when, false)?;
            }
            if let Some(o) = outcome {
                rule.outcome = o;
            }
            if let Some(r) = reason {
                rule.reason = Some(r).filter(|r| !r.is_empty());
            }
            repo::update(c, &me, rule).map_err(fail)?;
            println!("updated rule {key}");
        }
        RulesCommand::Move { key, place } => {
            let moved = repo::move_to(c, &me, &key, &place.placement()).map_err(fail)?;
            println!("moved rule {key} to position {}", moved.position);
        }
        RulesCommand::Enable { key } => {
            repo::set_enabled(c, &me, &key, true).map_err(fail)?;
            println!("enabled rule {key}");
        }
        RulesCommand::Disable { key } => {
            repo::set_enabled(c, &me, &key, false).map_err(fail)?;
            println!("disabled rule {key}");
        }
        RulesCommand::Delete { key } => {
            repo::delete(c, &me, &key).map_err(fail)?;
            println!("deleted rule {key}");
        }
        RulesCommand::Resync { json } => {
            let s = repo::resync(c, &me).map_err(fail)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&s).map_err(fail)?);
            } else {
                print_summary(&s);
            }
        }
        RulesCommand::Reset { yes } => {
            if !yes {
                return Err(Failure::Usage(
                    "reset deletes every custom rule and every change to the defaults; run again with --yes".into(),
                ));
            }
            print_summary(&repo::reset(c, &me).map_err(fail)?);
        }
        RulesCommand::Export => {
            let rules: Vec<Rule> = repo::list(c).map_err(fail)?.into_iter().map(|r| r.rule).collect();
            print!("{}", library::render(&rules));
        }
        RulesCommand::Test { file, all } => test(cfg, c, &file, all)?,
        RulesCommand::Import { file, replace } => {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| fail(anyhow::anyhow!("cannot read {}: {e}", file.display())))?;
            let invalid = |problems: Vec<crate::classify::RuleProblem>| {
                let lines: Vec<String> = problems.iter().map(|p| format!("  - {}: {}", p.field, p.message)).collect();
                fail(anyhow::anyhow!(
                    "{} has {} problem(s), nothing imported:\n{}",
                    file.display(),
                    problems.len(),
                    lines.join("\n")
                ))
            };
            let rules = RulesDocument::from_toml(&text).map_err(|p| invalid(vec![p]))?.into_rules().map_err(invalid)?;
            let mode = if replace { ImportMode::Replace } else { ImportMode::Merge };
            let s = repo::import(c, &me, rules, mode).map_err(fail)?;
            println!(
                "imported {}: {} added, {} replaced, {} removed",
                file.display(),
                s.added.len(),
                s.replaced.len(),
                s.removed.len()
            );
        }
    }
    Ok(())
}
