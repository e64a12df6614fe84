//! `rebound stats`: delivery statistics (counts and rates of delivered, deferred, bounced
//! and complained) for a range and optionally one campaign, in total or grouped by time or
//! one dimension; a table, or `--json` (the same document as `GET /api/v1/stats`).
//!
//! Takes the options as typed; the reading and its validation are `record::stats_query`'s.

use super::Failure;
use crate::record::stats_query::{self, Asked, Figures, Stats};
use crate::store::Db;
use std::io::Write;

#[derive(Debug, clap::Args)]
pub struct StatsArgs {
    /// From this day (2026-11-01, in the --offset's time) or RFC 3339 time (default: 30 days
    /// before --to).
    #[arg(long)]
    pub from: Option<String>,
    /// Up to this day (included) or RFC 3339 time (excluded); default: the current hour's end.
    #[arg(long)]
    pub to: Option<String>,
    /// Only this campaign's events.
    #[arg(long)]
    pub campaign: Option<String>,
    /// total, month, day, day_of_month, day_of_week, hour, domain, provider (the mailbox
    /// provider: Microsoft for hotmail.com, outlook.fr…), remote_host, sender,
    /// node, vmta, source_ip, status, reason or why (bounces by status × domain × node × IP).
    #[arg(long, default_value = "total")]
    pub by: String,
    /// Whole hours east of UTC for dates and time groupings (default 0: UTC).
    #[arg(long, allow_hyphen_values = true)]
    pub offset: Option<String>,
    /// Most groups of a dimension, largest first (1–1000).
    #[arg(long, default_value_t = 50)]
    pub top: i64,
    /// The JSON document of GET /api/v1/stats.
    #[arg(long)]
    pub json: bool,
}

pub fn run(db: &Db, args: &StatsArgs) -> Result<(), Failure> {
    let asked = Asked {
        from: args.from.as_deref(),
        to: args.to.as_deref(),
        campaign: args.campaign.as_deref(),
        by: Some(&args.by),
        offset: args.offset.as_deref(),
        top: Some(args.top),
    };
    let query = asked.query(chrono::Utc::now().naive_utc()).map_err(|problems| {
        let lines: Vec<String> = problems.into_iter().map(|(f, m)| format!("--{f}: {m}")).collect();
        Failure::Usage(lines.join("\n"))
    })?;
    let mut conn = db.conn().map_err(|e| Failure::Run(e.into()))?;
    let stats = stats_query::query(&mut conn, &query).map_err(|e| Failure::Run(e.into()))?;
    print(&stats, args.json).map_err(Failure::Run)
}

fn rate(r: Option<f64>) -> String {
    r.map_or("-".into(), |r| format!("{:.2}%", r * 100.0))
}

fn cells(key: &str, f: &Figures) -> Vec<String> {
    let mut v = vec![key.to_string()];
    v.extend([f.delivered, f.deferred, f.bounced, f.expired, f.hard, f.soft, f.complained].map(|n| n.to_string()));
    v.extend([f.delivery_rate, f.bounce_rate, f.deferral_rate, f.complaint_rate].map(rate));
    v
}

fn print(s: &Stats, json: bool) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, s)?;
        writeln!(out)?;
        return Ok(());
    }
    let campaign = s.campaign.as_deref().map_or("every campaign".to_string(), |c| format!("campaign {c}"));
    writeln!(out, "{} to {} UTC (offset {:+} h), {campaign}, by {}", s.from, s.to, s.offset_hours, s.by.as_str())?;
    let headers = [
        "",
        "delivered",
        "deferred",
        "bounced",
        "expired",
        "hard",
        "soft",
        "complained",
        "delivery",
        "bounce",
        "deferral",
        "complaint",
    ];
    let mut rows: Vec<Vec<String>> =
        s.groups.iter().map(|g| cells(if g.key.is_empty() { "(none)" } else { &g.key }, &g.figures)).collect();
    rows.push(cells("total", &s.total));
    let head: Vec<String> = headers.iter().map(|h| h.to_uppercase()).collect();
    let mut widths: Vec<usize> = head.iter().map(String::len).collect();
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    for r in std::iter::once(&head).chain(&rows) {
        let line: Vec<String> = r
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (c, w))| if i == 0 { format!("{c:<w$}") } else { format!("{c:>w$}") })
            .collect();
        writeln!(out, "{}", line.join("  "))?;
    }
    if s.omitted > 0 {
        writeln!(out, "({} more groups left out; --top to see more)", s.omitted)?;
    }
    Ok(())
}
