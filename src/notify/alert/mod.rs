//! Alert rules: criteria over what was recorded and over mailbox and node state, evaluated
//! on a schedule and after each batch; episodes that fire once and resolve when the
//! condition clears.
//!
//! Takes the `[[alert]]` rules; gives episodes ([`episodes`]) and their notifications
//! ([`channels`], plus `alert.*` events for the webhooks). A rate or count criterion over a
//! day or more is summed by the database at each evaluation from hourly counters the write
//! path keeps in the events' transaction: [`counts`] per scope, and [`matchers`] for counts
//! testing the server's words (back-filled once when a rule first needs one). At most 168
//! hours per group are read, the minimum volume applied in SQL, and reclassifications move
//! the counts in their own transaction, so every instance reads the same figures. Shorter
//! windows are kept in memory ([`window`]): each evaluation reads only the events committed
//! since the last one ([`follow`], in commit order), and taking the evaluator's lease (one
//! instance of those sharing a database holds it at a time) fills them from the events of
//! their span (by `ingested_at`, indexed).

pub mod channels;
pub mod counts;
pub mod episodes;
pub mod follow;
pub mod matchers;
pub mod rules;
mod run;
pub mod window;

pub use run::{episode_url, round, start};

use crate::config::AlertConfig;
use crate::config::alert::{Criterion, Per};
use crate::store::{AnyConnection, StoreError};
use chrono::{Duration, NaiveDateTime};
use follow::Cursor;
use std::collections::BTreeMap;
use window::{CountTest, Window};

/// Events read per query while catching up.
const READ: i64 = 20_000;

/// One rule: per criterion its in-memory window (shorter than a day; None for the others)
/// and its matcher (a count of a day or more testing the words: spec, id once made).
struct Rule {
    cfg: AlertConfig,
    windows: Vec<Option<Window>>,
    matchers: Vec<Option<(String, Option<i64>)>>,
}

impl Rule {
    fn of(cfg: &AlertConfig) -> Rule {
        Rule {
            cfg: cfg.clone(),
            windows: cfg.criteria.iter().map(Window::of).collect(),
            matchers: cfg.criteria.iter().map(|c| matchers::spec(cfg.per, c).map(|s| (s, None))).collect(),
        }
    }
}

/// The evaluator of one instance.
pub struct Evaluator {
    rules: Vec<Rule>,
    cursor: Option<Cursor>,
    /// Follows the `alert_rules` table ([`rules::live`]) instead of a fixed list.
    follow: bool,
    /// When the matchers were last tidied ([`matchers::tidy`]).
    tidied: Option<NaiveDateTime>,
}

impl Evaluator {
    /// An evaluator of these rules (the enabled ones) only.
    pub fn new(rules: &[AlertConfig]) -> Evaluator {
        let rules = rules.iter().filter(|r| r.enabled).map(Rule::of).collect();
        Evaluator { rules, cursor: None, follow: false, tidied: None }
    }

    /// An evaluator of the enabled rules of `alert_rules` (config file and admin API), read
    /// at each round: when they changed, the in-memory windows are rebuilt (from the events
    /// of their span; those of a day or more need nothing rebuilt).
    pub fn following() -> Evaluator {
        Evaluator { rules: Vec::new(), cursor: None, follow: true, tidied: None }
    }

    /// Takes the table's rules when they differ from those evaluated.
    fn refresh(&mut self, c: &mut AnyConnection) -> Result<(), StoreError> {
        if !self.follow {
            return Ok(());
        }
        let live = rules::live(c)?;
        if !live.iter().eq(self.rules.iter().map(|r| &r.cfg)) {
            *self = Evaluator { follow: true, tidied: self.tidied, ..Evaluator::new(&live) };
        }
        Ok(())
    }

    /// Forgets the in-memory counts (another instance evaluated meanwhile): the next
    /// evaluation rebuilds them.
    pub fn reset(&mut self) {
        self.cursor = None;
        for r in &mut self.rules {
            r.windows = r.cfg.criteria.iter().map(Window::of).collect();
        }
    }

    fn longest(&self) -> i64 {
        self.rules.iter().flat_map(|r| r.windows.iter().flatten()).map(Window::span_seconds).max().unwrap_or(0)
    }

    /// Makes the matchers the rules need and back-fills those not done yet (once per
    /// matcher, in chunks; a rule waits for its matchers). Gives the events back-filled.
    pub fn prepare(&mut self, c: &mut AnyConnection, now: NaiveDateTime) -> Result<usize, StoreError> {
        let mut n = 0;
        let mut used = Vec::new();
        for (spec, id) in self.rules.iter_mut().flat_map(|r| r.matchers.iter_mut().flatten()) {
            let m = match *id {
                Some(m) => m,
                None => matchers::ensure(c, spec, now)?,
            };
            if id.is_none() && !matchers::ready(c, m)? {
                n += matchers::backfill(c, m)?;
            }
            *id = Some(m);
            used.push(m);
        }
        if self.tidied.is_none_or(|t| now - t >= Duration::hours(1)) {
            matchers::tidy(c, &used, now)?;
            self.tidied = Some(now);
        }
        Ok(n)
    }

    /// Reads the events committed since the last call into the in-memory windows (the first
    /// call fills them: [`Evaluator::start`]).
    pub fn feed(&mut self, c: &mut AnyConnection, now: NaiveDateTime) -> Result<usize, StoreError> {
        if self.longest() == 0 {
            return Ok(0);
        }
        let Some(cursor) = &self.cursor else { return self.start(c, now) };
        let (batch, next) = follow::read(c, cursor, READ)?;
        self.add(&batch);
        self.cursor = Some(next);
        Ok(batch.len())
    }

    /// Fills the in-memory windows from the events of their span as of one snapshot of the
    /// database, then follows the events from where that snapshot ends, so nothing is
    /// counted twice or missed. Gives the rows read.
    fn start(&mut self, c: &mut AnyConnection, now: NaiveDateTime) -> Result<usize, StoreError> {
        let from = now - Duration::seconds(self.longest());
        diesel::Connection::transaction::<_, StoreError, _>(c, |c| {
            if let AnyConnection::Postgresql(_) = c {
                use diesel::RunQueryDsl;
                diesel::sql_query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY").execute(c)?;
            }
            let head = follow::head(c)?;
            let (mut after, mut n) = (0, 0);
            loop {
                let batch = follow::span(c, &head, after, from, READ)?;
                self.add(&batch);
                n += batch.len();
                match batch.last() {
                    Some(last) if batch.len() as i64 == READ => after = last.id,
                    _ => break,
                }
            }
            self.cursor = Some(head);
            Ok(n)
        })
    }

    fn add(&mut self, batch: &[crate::record::events::Facts]) {
        for e in batch {
            for r in &mut self.rules {
                for w in r.windows.iter_mut().flatten() {
                    w.add(r.cfg.per, e);
                }
            }
        }
    }

    /// Evaluates every rule at `now`: gives per rule the groups whose criteria hold, each with
    /// a summary of what was measured. Call [`Evaluator::prepare`] first when a rule counts
    /// the server's words over a day or more.
    pub fn holding(
        &mut self,
        c: &mut AnyConnection,
        now: NaiveDateTime,
    ) -> Result<Vec<BTreeMap<String, String>>, StoreError> {
        if self.rules.is_empty() {
            return Ok(Vec::new());
        }
        let mailboxes = mailbox_failures(c)?;
        let nodes = node_lag(c, now)?;
        let mut out = Vec::with_capacity(self.rules.len());
        for r in &mut self.rules {
            // Per criterion: the groups it holds for, with words; `""` holds for every group.
            let mut each: Vec<BTreeMap<String, String>> = Vec::new();
            let scope = counts::scope_of(r.cfg.per);
            for ((crit, w), m) in r.cfg.criteria.iter().zip(r.windows.iter_mut()).zip(&r.matchers) {
                let mut held = BTreeMap::new();
                let first =
                    |minutes: &u32| (now.and_utc().timestamp() - i64::from(*minutes) * 60).div_euclid(counts::HOUR);
                match crit {
                    Criterion::Rate { metric, min_volume, at_least, window_minutes } => {
                        let groups: Vec<(String, u64, u64)> = match w {
                            Some(w) => {
                                w.slide(now);
                                w.totals(now).map(|(g, n, d)| (g.to_string(), n, d)).collect()
                            }
                            None => counts::rates(c, scope, first(window_minutes), *metric, *min_volume)?,
                        };
                        for (g, num, den) in groups {
                            let rate = if den == 0 { 0.0 } else { num as f64 / den as f64 };
                            if den >= *min_volume && rate >= *at_least {
                                let m = serde_json::to_value(metric).ok().and_then(|v| v.as_str().map(str::to_string));
                                held.insert(g, format!(
                                    "{} rate {:.2}% ({num} of {den} in {window_minutes} min; fires at {:.2}% with {min_volume}+)",
                                    m.unwrap_or_default(), rate * 100.0, at_least * 100.0));
                            }
                        }
                    }
                    Criterion::Count { at_least, window_minutes, status, reason, rule, .. } => {
                        let groups: Vec<(String, u64)> = match (w, m) {
                            (Some(w), _) => {
                                w.slide(now);
                                w.totals(now).map(|(g, n, _)| (g.to_string(), n)).collect()
                            }
                            (None, Some((spec, id))) => {
                                let id =
                                    id.ok_or_else(|| StoreError::Task(format!("alert matcher {spec} not prepared")))?;
                                matchers::totals(c, id, first(window_minutes), *at_least)?
                            }
                            (None, None) => {
                                let test = CountTest::new(status.as_deref(), None, None, None);
                                let filters = (reason.as_deref(), rule.as_deref());
                                counts::matching(c, scope, first(window_minutes), &test, filters, *at_least)?
                            }
                        };
                        for (g, num) in groups.into_iter().filter(|(_, n)| n >= at_least) {
                            held.insert(
                                g,
                                format!("{num} matching events in {window_minutes} min (fires at {at_least})"),
                            );
                        }
                    }
                    Criterion::MailboxFailing { polls } => {
                        for (name, n, error) in mailboxes.iter().filter(|m| m.1 >= *polls as i32) {
                            let g = if r.cfg.per == Per::Mailbox { name.clone() } else { String::new() };
                            held.insert(g, format!("mailbox {name} failed {n} polls in a row: {error}"));
                        }
                    }
                    Criterion::NodeLagging { minutes } => {
                        for (name, behind) in nodes.iter().filter(|n| n.1 >= i64::from(*minutes)) {
                            let g = if r.cfg.per == Per::Node { name.clone() } else { String::new() };
                            held.insert(g, format!("node {name} has not synced for {behind} min"));
                        }
                    }
                }
                each.push(held);
            }
            out.push(combine(&r.cfg.combine, &each));
        }
        Ok(out)
    }

    pub fn rules(&self) -> impl Iterator<Item = &AlertConfig> {
        self.rules.iter().map(|r| &r.cfg)
    }
}

/// ALL: the groups every criterion holds for (a criterion holding for `""` holds for all);
/// ANY: the groups one holds for.
fn combine(how: &str, each: &[BTreeMap<String, String>]) -> BTreeMap<String, String> {
    let mut groups: Vec<&String> = each.iter().flat_map(|m| m.keys()).collect();
    groups.sort();
    groups.dedup();
    let mut out = BTreeMap::new();
    for g in groups {
        let words: Vec<&String> = each.iter().filter_map(|m| m.get(g).or_else(|| m.get(""))).collect();
        let holds = if how == "any" { !words.is_empty() } else { words.len() == each.len() };
        if holds {
            let words: Vec<&str> = words.iter().map(|s| s.as_str()).collect();
            out.insert(g.clone(), words.join("; "));
        }
    }
    // Under ALL, an everything-group ("") criterion with group-specific ones names only those.
    if how != "any" && out.len() > 1 {
        out.remove("");
    }
    out
}

/// (mailbox name, consecutive failures, last error) of every failing mailbox.
fn mailbox_failures(c: &mut AnyConnection) -> Result<Vec<(String, i32, String)>, StoreError> {
    let names = crate::mailbox::repo::names(c)?;
    Ok(crate::mailbox::state::all(c)?
        .into_iter()
        .filter(|s| s.consecutive_failures > 0)
        .map(|s| {
            let name = names.get(&s.mailbox_id).cloned().unwrap_or_else(|| s.mailbox_id.to_string());
            (name, s.consecutive_failures, s.last_error.unwrap_or_default())
        })
        .collect())
}

/// (node name, minutes since its last success) of every live node behind the change log.
fn node_lag(c: &mut AnyConnection, now: NaiveDateTime) -> Result<Vec<(String, i64)>, StoreError> {
    let head = crate::suppress::changes::feed(c, i64::MAX, 0)?.head;
    let mut out = Vec::new();
    for n in crate::sync::status::list(c)?.into_iter().filter(|n| n.config.enabled) {
        let s = crate::sync::status::get(c, n.id)?.unwrap_or_default();
        if s.applied_seq.unwrap_or(0) >= head {
            continue;
        }
        let since = s.last_success_at.unwrap_or_else(epoch);
        out.push((n.config.name, (now - since).num_minutes()));
    }
    Ok(out)
}

/// 1970-01-01: a lower bound every backend stores (PostgreSQL refuses chrono's MIN).
fn epoch() -> NaiveDateTime {
    chrono::DateTime::UNIX_EPOCH.naive_utc()
}
