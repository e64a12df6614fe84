//! Sliding-window counts per group, kept in memory and fed incrementally.
//!
//! Takes each new event once (the evaluator follows the events' primary key) and gives, per
//! group, the numerator and denominator of one criterion over its window. Counts sit in time
//! buckets (1/120 of the window, at least a minute), so an evaluation sums at most 120
//! buckets per group however many events the window holds, and old buckets are dropped as
//! the window slides: a rule over a million events costs what its groups cost, not a scan.
//! Only windows shorter than a day are kept here ([`stored`] says which are not): those of a
//! day or more are summed in the database from the hourly counters ([`super::counts`],
//! [`super::matchers`]) at each evaluation.

use crate::config::alert::{Criterion, Metric, Per};
use crate::record::events::Facts;
use chrono::NaiveDateTime;
use regex::Regex;
use std::collections::{BTreeMap, HashMap};

/// The counts of one rate or count criterion.
pub struct Window {
    span: i64,
    width: i64,
    test: Test,
    groups: HashMap<String, BTreeMap<i64, (u64, u64)>>,
}

enum Test {
    Rate(Metric),
    Count(CountTest),
}

/// A day or more: the criterion is summed from the stored hourly counters, not kept here.
pub fn stored(c: &Criterion) -> bool {
    match c {
        Criterion::Rate { window_minutes, .. } | Criterion::Count { window_minutes, .. } => {
            i64::from(*window_minutes) * 60 >= 86_400
        }
        _ => false,
    }
}

/// The filters of a count criterion, compiled.
pub struct CountTest {
    status: Option<Regex>,
    reason: Option<String>,
    rule: Option<String>,
    text: Option<Regex>,
}

impl CountTest {
    pub fn new(status: Option<&str>, reason: Option<&str>, rule: Option<&str>, text: Option<&str>) -> CountTest {
        CountTest {
            status: status.map(status_regex),
            reason: reason.map(str::to_string),
            rule: rule.map(str::to_string),
            // Checked when the config was read.
            text: text.and_then(|t| Regex::new(t).ok()),
        }
    }

    /// Does an event with these fields match every filter given?
    pub fn hit(&self, status: Option<&str>, reason: &str, rule_key: Option<&str>, diagnostic: Option<&str>) -> bool {
        self.status_ok(status)
            && self.reason.as_ref().is_none_or(|r| r == reason)
            && self.rule.as_ref().is_none_or(|w| rule_key == Some(w.as_str()))
            && self.text.as_ref().is_none_or(|w| diagnostic.is_some_and(|d| w.is_match(d)))
    }

    /// Does an event's enhanced status code (None: it had none) match the pattern? True
    /// without a pattern.
    pub fn status_ok(&self, status: Option<&str>) -> bool {
        self.status.as_ref().is_none_or(|w| status.is_some_and(|s| w.is_match(s)))
    }
}

impl Window {
    /// The window of a rate or count criterion shorter than a day (None for the others).
    pub fn of(c: &Criterion) -> Option<Window> {
        if stored(c) {
            return None;
        }
        let (minutes, test) = match c {
            Criterion::Rate { metric, window_minutes, .. } => (*window_minutes, Test::Rate(*metric)),
            Criterion::Count { window_minutes, status, reason, rule, text, .. } => (
                *window_minutes,
                Test::Count(CountTest::new(status.as_deref(), reason.as_deref(), rule.as_deref(), text.as_deref())),
            ),
            _ => return None,
        };
        let span = i64::from(minutes) * 60;
        Some(Window { span, width: (span / 120).max(60), test, groups: HashMap::new() })
    }

    pub fn span_seconds(&self) -> i64 {
        self.span
    }

    /// Counts one event under its group.
    pub fn add(&mut self, per: Per, e: &Facts) {
        let (num, den) = self.test(
            &e.kind,
            &e.classification,
            e.status.as_deref(),
            &e.reason,
            e.rule_key.as_deref(),
            e.diagnostic.as_deref(),
        );
        self.put(group_of(per, e), e.occurred_at.and_utc().timestamp(), num, den);
    }

    /// (numerator, denominator) of one event.
    fn test(
        &self,
        kind: &str,
        classification: &str,
        status: Option<&str>,
        reason: &str,
        rule_key: Option<&str>,
        diagnostic: Option<&str>,
    ) -> (u64, u64) {
        match &self.test {
            Test::Rate(metric) => {
                let recorded = matches!(kind, "bounce" | "complaint" | "delay" | "delivered");
                let hit = match metric {
                    Metric::HardBounce => kind == "bounce" && classification == "hard",
                    Metric::Bounce => kind == "bounce" && matches!(classification, "hard" | "soft"),
                    Metric::Complaint => kind == "complaint",
                };
                (u64::from(hit), u64::from(recorded))
            }
            Test::Count(t) => (u64::from(t.hit(status, reason, rule_key, diagnostic)), 1),
        }
    }

    fn put(&mut self, group: String, at: i64, num: u64, den: u64) {
        if num == 0 && den == 0 {
            return;
        }
        let slot = self.groups.entry(group).or_default().entry(at.div_euclid(self.width)).or_default();
        slot.0 += num;
        slot.1 += den;
    }

    /// Drops buckets wholly before `now - span`.
    pub fn slide(&mut self, now: NaiveDateTime) {
        let first = (now.and_utc().timestamp() - self.span).div_euclid(self.width);
        self.groups.retain(|_, buckets| {
            *buckets = buckets.split_off(&first);
            !buckets.is_empty()
        });
    }

    /// (numerator, denominator) per group over the window ending `now`.
    pub fn totals(&self, now: NaiveDateTime) -> impl Iterator<Item = (&str, u64, u64)> {
        let first = (now.and_utc().timestamp() - self.span).div_euclid(self.width);
        self.groups.iter().map(move |(g, b)| {
            let (n, d) = b.range(first..).fold((0, 0), |(n, d), (_, (a, b))| (n + a, d + b));
            (g.as_str(), n, d)
        })
    }
}

/// `5.7.*` → `^5\.7\.[0-9]+$`; a plain code matches itself.
fn status_regex(pattern: &str) -> Regex {
    let body: String = pattern
        .split('.')
        .map(|part| if part == "*" { "[0-9]+".to_string() } else { regex::escape(part) })
        .collect::<Vec<_>>()
        .join(r"\.");
    Regex::new(&format!("^{body}$")).expect("digits, dots and [0-9]+ make a regex")
}

/// The group an event counts under.
pub fn group_of(per: Per, e: &Facts) -> String {
    let v = match per {
        Per::All | Per::Mailbox | Per::Node => None,
        Per::Campaign => e.campaign_id.as_deref(),
        Per::SendingDomain => e.sending_domain.as_deref(),
        Per::RecipientDomain => e.recipient_domain.as_deref(),
        Per::RemoteMta => e.remote_mta.as_deref(),
        Per::Source => Some(e.source.as_str()),
    };
    v.unwrap_or("").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_patterns() {
        let r = status_regex("5.7.*");
        assert!(r.is_match("5.7.1") && r.is_match("5.7.26") && !r.is_match("5.1.1") && !r.is_match("4.7.1"));
        assert!(status_regex("5.1.1").is_match("5.1.1") && !status_regex("5.1.1").is_match("5.1.10"));
    }
}
