//! Alert rules: criteria over what was recorded and over mailbox and node state, evaluated
//! on a schedule and after each batch; episodes that fire once and resolve when the
//! condition clears.
//!
//! Takes the `[[alert]]` rules; gives episodes ([`episodes`]) and their notifications
//! ([`channels`], plus `alert.*` events for the webhooks). Rate and count criteria follow the
//! events' primary key and keep sliding-window counts in memory ([`window`]): each
//! evaluation reads only the events committed since the last one (an index range), so a
//! rule costs what its groups cost, not a scan of its window. When this instance takes the
//! evaluator's lease (one instance of those sharing a database holds it at a time), windows
//! of a day or more are rebuilt from the hourly counters ([`counts`]), kept by the write path
//! in the events' transaction; shorter ones, and those testing the server's words, from the
//! events of their span (by `ingested_at`, indexed).

pub mod channels;
pub mod counts;
pub mod episodes;
pub mod rules;
pub mod window;

use crate::config::alert::{Criterion, Per};
use crate::config::{AlertConfig, AlertsConfig};
use crate::store::{AnyConnection, Db, StoreError};
use chrono::{Duration, NaiveDateTime, Utc};
use std::collections::BTreeMap;
use window::Window;

/// Events read per query while catching up.
const READ: i64 = 20_000;

/// One rule and the windows of its rate/count criteria (None for the others).
struct Rule {
    cfg: AlertConfig,
    windows: Vec<Option<Window>>,
}

/// The evaluator of one instance.
pub struct Evaluator {
    rules: Vec<Rule>,
    cursor: Option<i64>,
    /// Follows the `alert_rules` table ([`rules::live`]) instead of a fixed list.
    follow: bool,
}

impl Evaluator {
    /// An evaluator of these rules (the enabled ones) only.
    pub fn new(rules: &[AlertConfig]) -> Evaluator {
        let rules = rules
            .iter()
            .filter(|r| r.enabled)
            .map(|r| Rule { cfg: r.clone(), windows: r.criteria.iter().map(Window::of).collect() })
            .collect();
        Evaluator { rules, cursor: None, follow: false }
    }

    /// An evaluator of the enabled rules of `alert_rules` (config file and admin API), read
    /// at each round: when they changed, the windows are rebuilt (from the counters, so a
    /// new rule over a week costs what a restart does).
    pub fn following() -> Evaluator {
        Evaluator { rules: Vec::new(), cursor: None, follow: true }
    }

    /// Takes the table's rules when they differ from those evaluated.
    fn refresh(&mut self, c: &mut AnyConnection) -> Result<(), StoreError> {
        if !self.follow {
            return Ok(());
        }
        let live = rules::live(c)?;
        if !live.iter().eq(self.rules.iter().map(|r| &r.cfg)) {
            *self = Evaluator { follow: true, ..Evaluator::new(&live) };
        }
        Ok(())
    }

    /// Forgets the counts (another instance evaluated meanwhile): the next evaluation
    /// rebuilds them.
    pub fn reset(&mut self) {
        self.cursor = None;
        for r in &mut self.rules {
            r.windows = r.cfg.criteria.iter().map(Window::of).collect();
        }
    }

    fn longest(&self) -> i64 {
        self.rules.iter().flat_map(|r| r.windows.iter().flatten()).map(Window::span_seconds).max().unwrap_or(0)
    }

    /// Reads the events committed since the last call into the windows (the first call
    /// fills them: [`Evaluator::start`]).
    pub fn feed(&mut self, c: &mut AnyConnection, now: NaiveDateTime) -> Result<usize, StoreError> {
        if self.longest() == 0 {
            return Ok(0);
        }
        let Some(after) = self.cursor else { return self.start(c, now) };
        let (n, last) = self.read(c, after, epoch(), i64::MAX, |_| true)?;
        self.cursor = Some(last);
        Ok(n)
    }

    /// Fills every window as of one snapshot of the database: those of a day or more from
    /// the hourly counters (a range of their key per rule), the others from the events of
    /// their span (by `ingested_at`, indexed); then follows the events from the newest one
    /// the snapshot holds, so nothing is counted twice or missed. Gives the rows read.
    fn start(&mut self, c: &mut AnyConnection, now: NaiveDateTime) -> Result<usize, StoreError> {
        use crate::store::schema::events;
        use diesel::prelude::*;
        diesel::Connection::transaction::<_, StoreError, _>(c, |c| {
            if let AnyConnection::Postgresql(_) = c {
                diesel::sql_query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY").execute(c)?;
            }
            let head: i64 = events::table.select(diesel::dsl::max(events::id)).first::<Option<i64>>(c)?.unwrap_or(0);
            let mut n = 0;
            for r in &mut self.rules {
                let scope = counts::scope_of(r.cfg.per);
                for w in r.windows.iter_mut().flatten().filter(|w| w.from_counts()) {
                    let first = (now.and_utc().timestamp() - w.span_seconds()).div_euclid(counts::HOUR);
                    let rows = counts::load(c, scope, first)?;
                    n += rows.len();
                    rows.iter().for_each(|row| w.add_count(row));
                }
            }
            let rest = self.rules.iter().flat_map(|r| r.windows.iter().flatten());
            let short = rest.filter(|w| !w.from_counts()).map(Window::span_seconds).max().unwrap_or(0);
            if short > 0 {
                n += self.read(c, 0, now - Duration::seconds(short), head, |w| !w.from_counts())?.0;
            }
            self.cursor = Some(head);
            Ok(n)
        })
    }

    /// Feeds the windows `which` picks with the events after id `after` up to id `upto`
    /// (ingested at or after `from`); gives how many were read and the last id.
    fn read(
        &mut self,
        c: &mut AnyConnection,
        mut after: i64,
        from: NaiveDateTime,
        upto: i64,
        which: impl Fn(&Window) -> bool,
    ) -> Result<(usize, i64), StoreError> {
        let mut n = 0;
        loop {
            let mut batch = crate::record::events::facts_after(c, after, from, READ)?;
            let full = batch.len() as i64 == READ;
            batch.retain(|e| e.id <= upto);
            for e in &batch {
                for r in &mut self.rules {
                    for w in r.windows.iter_mut().flatten().filter(|w| which(w)) {
                        w.add(r.cfg.per, e);
                    }
                }
            }
            n += batch.len();
            match batch.last() {
                Some(last) => after = last.id,
                None => break,
            }
            if !full {
                break;
            }
        }
        Ok((n, after))
    }

    /// Evaluates every rule at `now`: gives per rule the groups whose criteria hold, each with
    /// a summary of what was measured.
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
            for (crit, w) in r.cfg.criteria.iter().zip(r.windows.iter_mut()) {
                let mut held = BTreeMap::new();
                match (crit, w) {
                    (Criterion::Rate { metric, min_volume, at_least, window_minutes }, Some(w)) => {
                        w.slide(now);
                        for (g, num, den) in w.totals(now) {
                            let rate = if den == 0 { 0.0 } else { num as f64 / den as f64 };
                            if den >= *min_volume && rate >= *at_least {
                                let m = serde_json::to_value(metric).ok().and_then(|v| v.as_str().map(str::to_string));
                                held.insert(g.to_string(), format!(
                                    "{} rate {:.2}% ({num} of {den} in {window_minutes} min; fires at {:.2}% with {min_volume}+)",
                                    m.unwrap_or_default(), rate * 100.0, at_least * 100.0));
                            }
                        }
                    }
                    (Criterion::Count { at_least, window_minutes, .. }, Some(w)) => {
                        w.slide(now);
                        for (g, num, _) in w.totals(now) {
                            if num >= *at_least {
                                held.insert(
                                    g.to_string(),
                                    format!("{num} matching events in {window_minutes} min (fires at {at_least})"),
                                );
                            }
                        }
                    }
                    (Criterion::MailboxFailing { polls }, _) => {
                        for (name, n, error) in mailboxes.iter().filter(|m| m.1 >= *polls as i32) {
                            let g = if r.cfg.per == Per::Mailbox { name.clone() } else { String::new() };
                            held.insert(g, format!("mailbox {name} failed {n} polls in a row: {error}"));
                        }
                    }
                    (Criterion::NodeLagging { minutes }, _) => {
                        for (name, behind) in nodes.iter().filter(|n| n.1 >= i64::from(*minutes)) {
                            let g = if r.cfg.per == Per::Node { name.clone() } else { String::new() };
                            held.insert(g, format!("node {name} has not synced for {behind} min"));
                        }
                    }
                    _ => {}
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

/// Where the web admin shows episode `id` (its row on the alerts page).
pub fn episode_url(base: &str, id: i64) -> String {
    format!("{}/alerts#episode-{id}", base.trim_end_matches('/'))
}

/// 1970-01-01: a lower bound every backend stores (PostgreSQL refuses chrono's MIN).
fn epoch() -> NaiveDateTime {
    chrono::DateTime::UNIX_EPOCH.naive_utc()
}

/// Runs the evaluator in `serve`: every `[alerts] evaluate_every_seconds` and soon after
/// each committed batch, while this instance holds the evaluator's lease.
/// The rules are those of `alert_rules`, followed as they change.
pub fn start(
    db: &Db,
    cfg: &AlertsConfig,
    owner: &str,
    tracker: &tokio_util::task::TaskTracker,
    stop: &tokio_util::sync::CancellationToken,
) {
    let (db, cfg, owner, stop) = (db.clone(), cfg.clone(), owner.to_string(), stop.clone());
    let mut ev = Evaluator::following();
    tracker.spawn(async move {
        let every = std::time::Duration::from_secs(cfg.evaluate_every_seconds);
        let mut due = tokio::time::Instant::now() + every;
        loop {
            let wake = crate::store::COMMITTED.notified();
            if let Err(e) = round(&db, &mut ev, &cfg, &owner).await {
                tracing::warn!(error = %e, "alert evaluation failed; will retry");
            }
            tokio::select! {
                // After a batch, at most once a second; the schedule otherwise.
                _ = wake => tokio::time::sleep(std::time::Duration::from_secs(1)).await,
                _ = tokio::time::sleep_until(due) => due = tokio::time::Instant::now() + every,
                _ = stop.cancelled() => return,
            }
        }
    });
}

/// One evaluation with its notifications; gives what fired and what resolved.
pub async fn round(
    db: &Db,
    ev: &mut Evaluator,
    cfg: &AlertsConfig,
    owner: &str,
) -> Result<Vec<episodes::Episode>, StoreError> {
    let owned = std::mem::replace(ev, Evaluator::following());
    let owner_s = owner.to_string();
    let (back, changed) = db
        .run(move |c| {
            let mut ev = owned;
            let now = Utc::now().naive_utc();
            let ttl = Duration::seconds(120);
            use diesel::prelude::*;
            // No rule, no lease: nothing is written while there is nothing to evaluate.
            ev.refresh(c)?;
            if ev.rules.is_empty() {
                return Ok::<_, StoreError>((ev, Vec::new()));
            }
            let held = crate::take_lease!(c, notify_leases, "alerts", &owner_s, now, ttl).map_err(StoreError::Query)?;
            if !held {
                ev.reset();
                return Ok::<_, StoreError>((ev, Vec::new()));
            }
            ev.feed(c, now)?;
            let holding = ev.holding(c, now)?;
            let mut changed = Vec::new();
            for (rule, h) in ev.rules().cloned().collect::<Vec<_>>().iter().zip(&holding) {
                let (fired, resolved) = episodes::apply(c, rule, h, now)?;
                changed.extend(fired.into_iter().chain(resolved).map(|e| (rule.clone(), e)));
            }
            Ok((ev, changed))
        })
        .await?;
    *ev = back;
    let mut out = Vec::new();
    for (rule, e) in changed {
        let what = if e.resolved_at.is_some() { "resolved" } else { "FIRING" };
        let title = format!("rebound alert {what}: {}", e.rule);
        let text = episodes::title(&e);
        tracing::warn!(rule = %e.rule, group = %e.group_key, state = what, summary = %e.summary, "alert");
        let mut notes = Vec::new();
        for ch in &rule.channels {
            let sent = match ch.as_str() {
                "pushover" => match &cfg.pushover {
                    Some(p) => {
                        let url = cfg.web_url.as_deref().map(|base| episode_url(base, e.id));
                        let link = url.as_deref().map(|url| channels::Link { url, title: "Open in rebound" });
                        Some(channels::pushover(p, &title, &text, link).await)
                    }
                    None => None,
                },
                "email" => match &cfg.email {
                    Some(m) => Some(channels::email(m, &title, &text).await),
                    None => None,
                },
                _ => None,
            };
            if let Some(r) = sent {
                if let Err(err) = &r {
                    tracing::warn!(rule = %e.rule, channel = %ch, error = %err, "alert notification failed");
                }
                notes.push(format!("{ch}: {}", r.err().unwrap_or_else(|| "ok".into())));
            }
        }
        if !notes.is_empty() {
            let (id, note) = (e.id, notes.join("; "));
            db.run(move |c| episodes::noted(c, id, &note)).await?;
        }
        out.push(e);
    }
    Ok(out)
}
