//! `rebound campaign …`, `rebound review …`, `rebound sent import`: what was recorded.

use super::Failure;
use super::output::{Format, opt, opt_time, print, time};
use crate::ingest::{Pipeline, review};
use crate::record::sent;
use crate::record::views;
use crate::store::Db;
use crate::store::{Cursor, Page};
use clap::{Args, Subcommand, ValueEnum};

fn fail(e: impl Into<anyhow::Error>) -> Failure {
    Failure::Run(e.into())
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum View {
    Bounced,
    Complaints,
}

#[derive(Debug, Args)]
pub struct CampaignArgs {
    /// A campaign id, or `list` for every campaign with counts and rates.
    id: String,
    /// Which view of the campaign (default: bounced).
    view: Option<View>,
    #[arg(long, value_enum, default_value_t)]
    format: Format,
    #[arg(long, default_value_t = 100)]
    limit: i64,
    /// Continue after this cursor (the `next page` line of the previous page).
    #[arg(long)]
    after: Option<String>,
    /// BOUNCED: only `hard` (permanent) or `soft` (temporary) failures.
    #[arg(long = "type", value_parser = ["hard", "soft"])]
    kind: Option<String>,
    /// Only this reason (`user_unknown`, `mailbox_full`, …).
    #[arg(long)]
    reason: Option<String>,
    /// Only events this rule decided (its key).
    #[arg(long)]
    rule: Option<String>,
    /// COMPLAINTS: only this Feedback-Type (`abuse`, `not-spam`, …).
    #[arg(long)]
    feedback_type: Option<String>,
    /// Only recipients at this domain.
    #[arg(long)]
    domain: Option<String>,
    /// From this day or RFC 3339 time on.
    #[arg(long)]
    from: Option<String>,
    /// Up to this day (included) or RFC 3339 time (excluded).
    #[arg(long)]
    to: Option<String>,
}

impl CampaignArgs {
    fn filter(&self) -> Result<views::Filter, Failure> {
        let bound = |t: &Option<String>, end| t.as_deref().map(|t| views::Filter::bound(t, end)).transpose();
        let domain = match &self.domain {
            Some(d) => Some(
                views::Filter::parse_domain(d).ok_or_else(|| Failure::Usage(format!("--domain {d}: not a domain")))?,
            ),
            None => None,
        };
        Ok(views::Filter {
            permanent: self.kind.as_deref().map(|k| k == "hard"),
            reason: self.reason.clone(),
            rule: self.rule.clone(),
            feedback_type: self.feedback_type.clone(),
            domain,
            status: None,
            from: bound(&self.from, false).map_err(|e| Failure::Usage(format!("--from: {e}")))?,
            to: bound(&self.to, true).map_err(|e| Failure::Usage(format!("--to: {e}")))?,
        })
    }
}

/// Tells how to get the next page (on stderr: stdout stays the view, for scripts).
fn next_page(next: Option<Cursor>) {
    if let Some(Cursor(c)) = next {
        eprintln!("next page: --after '{c}'");
    }
}

/// `uncounted`: the soft reasons the policy does not count (`[suppression]`), so the view
/// can say which soft bounces counted toward the threshold.
pub fn campaign(db: &Db, uncounted: &[String], a: CampaignArgs) -> Result<(), Failure> {
    let mut conn = db.conn().map_err(fail)?;
    let page = Page { limit: a.limit, after: a.after.clone().map(Cursor) };
    if a.id == "list" {
        let rows = views::campaigns(&mut conn).map_err(fail)?;
        let pct = |r: Option<f64>| r.map(|v| format!("{:.2}%", v * 100.0)).unwrap_or_default();
        return print(
            a.format,
            &[
                "campaign",
                "hard",
                "soft",
                "complaints",
                "failed permanent",
                "failed temporary",
                "sent",
                "bounce rate",
                "complaint rate",
                "last event",
            ],
            &rows,
            |r| {
                vec![
                    r.id.clone(),
                    r.hard.to_string(),
                    r.soft.to_string(),
                    r.complaints.to_string(),
                    r.failed_permanent.to_string(),
                    r.failed_temporary.to_string(),
                    opt(&r.sent),
                    pct(r.bounce_rate),
                    pct(r.complaint_rate),
                    opt_time(&r.last_event_at),
                ]
            },
        )
        .map_err(fail);
    }
    let filter = a.filter()?;
    match a.view.unwrap_or(View::Bounced) {
        View::Bounced => {
            let paged = views::bounced(&mut conn, &a.id, &filter, &page, uncounted).map_err(fail)?;
            next_page(paged.next);
            let head = ["email", "type", "rebound did", "rule", "reason", "status", "diagnostic", "date"];
            print(a.format, &head, &paged.rows, |r| {
                vec![
                    r.email.clone(),
                    r.kind.clone(),
                    r.action.clone(),
                    opt(&r.rule),
                    r.reason.clone(),
                    opt(&r.status),
                    opt(&r.diagnostic),
                    time(&r.date),
                ]
            })
        }
        View::Complaints => {
            let paged = views::complaints(&mut conn, &a.id, &filter, &page).map_err(fail)?;
            next_page(paged.next);
            print(a.format, &["email", "feedback type", "reporting isp", "mailbox", "timestamp"], &paged.rows, |r| {
                vec![
                    r.email.clone(),
                    opt(&r.feedback_type),
                    opt(&r.reporting_isp),
                    r.mailbox.clone(),
                    time(&r.timestamp),
                ]
            })
        }
    }
    .map_err(fail)
}

#[derive(Debug, Subcommand)]
pub enum ReviewCommand {
    /// Messages waiting for review, with the reason each is there.
    List {
        #[arg(long, value_enum, default_value_t)]
        format: Format,
        #[arg(long, default_value_t = 100)]
        limit: i64,
        /// Continue after this cursor (the `next page` line of the previous page).
        #[arg(long)]
        after: Option<String>,
    },
    /// One item: why it is here, where it was seen, and its raw message.
    Show { id: i64 },
    /// Run items through today's parser and rules again (after an upgrade or a new rule).
    Reprocess {
        id: Option<i64>,
        #[arg(long, conflicts_with = "id")]
        all: bool,
    },
    /// Take an item out of the queue unprocessed (audited; its raw bytes stay until retention).
    Discard {
        id: i64,
        /// Why (kept in the audit log).
        #[arg(long)]
        note: Option<String>,
    },
}

pub fn review(db: &Db, pipeline: &Pipeline, cmd: ReviewCommand) -> Result<(), Failure> {
    let mut conn = db.conn().map_err(fail)?;
    match cmd {
        ReviewCommand::List { format, limit, after } => {
            let paged = review::list(&mut conn, &Page { limit, after: after.map(Cursor) }).map_err(fail)?;
            next_page(paged.next);
            print(format, &["id", "kind", "reason", "subject", "from", "received"], &paged.rows, |r| {
                vec![
                    r.id.to_string(),
                    r.kind.clone(),
                    opt(&r.reason),
                    opt(&r.subject),
                    opt(&r.from),
                    time(&r.received_at),
                ]
            })
            .map_err(fail)
        }
        ReviewCommand::Show { id } => {
            let (item, raw, sources) =
                review::show(&mut conn, id).map_err(fail)?.ok_or_else(|| fail(anyhow::anyhow!("no message {id}")))?;
            println!(
                "message {}: {} ({}), {} bytes, received {}",
                item.id, item.kind, item.dialect, item.size, item.received_at
            );
            println!("reason: {}", item.reason.as_deref().unwrap_or("(not under review)"));
            println!("seen at: {}", sources.join(", "));
            println!("subject: {}\nfrom: {}\n", opt(&item.subject), opt(&item.from));
            match raw {
                Some(raw) => println!("{}", String::from_utf8_lossy(&raw)),
                None => println!("(raw message purged by the retention policy)"),
            }
            Ok(())
        }
        ReviewCommand::Reprocess { id, all } => {
            let ids = match (id, all) {
                (Some(id), _) => vec![id],
                (None, true) => review::all_ids(&mut conn).map_err(fail)?,
                (None, false) => return Err(Failure::Usage("give a review item id or --all".into())),
            };
            let (mut resolved, mut events) = (0, 0);
            let actor = crate::audit::Actor::cli();
            for id in &ids {
                let done = review::reprocess(&mut conn, pipeline, &actor, *id).map_err(fail)?;
                resolved += usize::from(done.state != "review");
                events += done.events;
            }
            println!("reprocessed {}: {resolved} left the queue, {events} new records", ids.len());
            Ok(())
        }
        ReviewCommand::Discard { id, note } => {
            let now = chrono::Utc::now().naive_utc();
            review::discard(&mut conn, pipeline, &crate::audit::Actor::cli(), id, note.as_deref(), now)
                .map_err(fail)?;
            println!("message {id} discarded; its raw bytes stay until the retention purge");
            Ok(())
        }
    }
}

/// `sent import FILE.csv`: columns message_id, campaign_id, [recipient], [sent_at RFC 3339].
pub fn sent_import(db: &Db, file: &std::path::Path) -> Result<(), Failure> {
    let mut conn = db.conn().map_err(fail)?;
    let done = sent::import(&mut conn, file).map_err(fail)?;
    println!("{}: {} sent messages added, {} already known", file.display(), done.added, done.already_known);
    Ok(())
}
