//! Classification: what a parsed bounce *means*, decided by an ordered rule list.
//!
//! Takes a parsed record's fields ([`Facts`]) and the rules in position order; gives a
//! [`Decision`]: hard, soft, ignore or complaint, the rule that decided, and an optional
//! reason override. First enabled match wins; the Global catch-all sits at the bottom.
//! The shipped library lives in `default_rules/` and is embedded in the binary. This stage
//! never parses mail and never writes events or suppression.

pub mod engine;
pub mod facts;
pub mod input;
pub mod library;
pub mod repo;
pub mod rule;
pub mod sync;
pub mod vocabulary;

pub use engine::{CompileError, Decision, Engine};
pub use facts::Facts;
pub use rule::{Condition, Field, GLOBAL_KEY, Op, Origin, Outcome, Rule, RuleError, RuleProblem};

/// Is `s` a reason name of the taxonomy (rules may set it)?
pub fn known_reason(s: &str) -> bool {
    s.parse::<crate::parse::Reason>().is_ok()
}
