//! `rebound suppression …`: the list the sending nodes honour, and the allowlist.

use super::Failure;
use super::output::{Format, print};
use crate::record::events::History;
use crate::store::{Cursor, Db, Page};
use crate::suppress::export::{self, Export, HEADERS, cells};
use crate::suppress::manual::{self, Actor, ManualError};
use crate::suppress::search::{self, Order, Search};
use crate::suppress::{self, GLOBAL};
use chrono::Utc;
use clap::{Subcommand, ValueEnum};
use std::io::Write;

fn fail(e: impl Into<anyhow::Error>) -> Failure {
    Failure::Run(e.into())
}

#[derive(Debug, Clone, Copy, ValueEnum, Default)]
pub enum ExportFormat {
    /// One address per line.
    #[default]
    Plain,
    Csv,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum SuppressionCommand {
    /// Suppressed addresses, newest first.
    List {
        /// Only addresses starting with this.
        #[arg(long)]
        prefix: Option<String>,
        #[arg(long, value_enum, default_value_t)]
        format: Format,
        #[arg(long, default_value_t = 100)]
        limit: i64,
        /// Continue after this cursor (the `next page` line of the previous page).
        #[arg(long)]
        after: Option<String>,
    },
    /// Why an address is (or is not) suppressed.
    Show { address: String },
    /// Suppress an address by hand (audited).
    Add {
        address: String,
        /// A sending domain, or global.
        #[arg(long, default_value = GLOBAL)]
        scope: String,
        #[arg(long)]
        note: Option<String>,
    },
    /// Import a list you already have (plain, or a gateway's CSV export): validated, allowlist
    /// respected, present entries kept as they are, additions synced to the nodes; running it
    /// again changes nothing.
    Import(super::suppression_import::ImportArgs),
    /// Release an address (audited; the sending nodes learn of it at the next sync).
    Remove {
        address: String,
        #[arg(long, default_value = GLOBAL)]
        scope: String,
        #[arg(long)]
        note: Option<String>,
    },
    /// Every suppressed address, for the sending nodes or a spreadsheet.
    Export {
        #[arg(long, value_enum, default_value_t)]
        format: ExportFormat,
    },
    /// Never suppress this address or domain (audited); releases the suppressions it covers.
    Allow {
        entry: String,
        #[arg(long)]
        note: Option<String>,
    },
    /// Take an address or domain off the allowlist (audited).
    Disallow {
        entry: String,
        #[arg(long)]
        note: Option<String>,
    },
}

pub fn run(cfg: &crate::config::Config, db: &Db, cmd: SuppressionCommand) -> Result<(), Failure> {
    let mut conn = db.conn().map_err(fail)?;
    let c = &mut *conn;
    let now = Utc::now().naive_utc();
    match cmd {
        SuppressionCommand::List { prefix, format, limit, after } => {
            let filter = Search { prefix, order: Order::Newest, ..Default::default() };
            let paged = search::search(c, &filter, &Page { limit, after: after.map(Cursor) }).map_err(fail)?;
            if let Some(Cursor(next)) = &paged.next {
                eprintln!("next page: --after '{next}'");
            }
            print(format, HEADERS, &paged.rows, cells).map_err(fail)
        }
        SuppressionCommand::Show { address } => {
            let held = search::entries_of(c, &History, &address, now).map_err(fail)?;
            if held.is_empty() {
                println!("{} is not suppressed", suppress::normalize(&address));
            }
            for h in held {
                let r = &h.entry;
                println!(
                    "{} suppressed ({}) since {} by {}{}{}{}{}",
                    r.address,
                    r.scope,
                    r.created_at,
                    r.source,
                    r.reason.as_ref().map(|x| format!(", reason {x}")).unwrap_or_default(),
                    r.event_id.map(|e| format!(", evidence event {e}")).unwrap_or_default(),
                    h.evidence
                        .as_ref()
                        .and_then(|e| e.diagnostic.as_ref())
                        .map(|d| format!(" (\"{d}\")"))
                        .unwrap_or_default(),
                    if h.active { String::new() } else { " — lapsed, removed at the next expiry run".into() }
                );
            }
            Ok(())
        }
        SuppressionCommand::Add { address, scope, note } => {
            match manual::suppress(c, &Actor::cli(), &address, &scope, note.as_deref(), now) {
                Ok((true, e)) => println!("suppressed {} ({})", e.address, e.scope),
                Ok((false, e)) => println!("{} was already suppressed ({})", e.address, e.scope),
                Err(e @ ManualError::NotAnAddress(_)) => return Err(Failure::Usage(e.to_string())),
                Err(e) => return Err(fail(e)),
            }
            Ok(())
        }
        SuppressionCommand::Import(args) => super::suppression_import::run(cfg, db, c, args),
        SuppressionCommand::Remove { address, scope, note } => {
            let e = manual::release(c, &Actor::cli(), &address, &scope, note.as_deref(), now).map_err(fail)?;
            println!("released {} ({})", e.address, e.scope);
            Ok(())
        }
        SuppressionCommand::Export { format } => {
            // Page by page: memory stays flat however long the list; lapsed entries are not listed.
            let format = match format {
                ExportFormat::Plain => export::Format::Plain,
                ExportFormat::Csv => export::Format::Csv,
                ExportFormat::Json => export::Format::Json,
            };
            let mut export = Export::new(format, now);
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            while let Some(chunk) = export.next_chunk(c).map_err(fail)? {
                out.write_all(&chunk).map_err(fail)?;
            }
            out.flush().map_err(fail)
        }
        SuppressionCommand::Allow { entry, note } => {
            let (allowed, released) =
                manual::allow(c, &Actor::cli(), &entry, note.as_deref(), now).map_err(|e| match e {
                    ManualError::NotAnEntry(_) => Failure::Usage(e.to_string()),
                    e => fail(e),
                })?;
            println!("{} is never suppressed from now on", allowed.entry);
            for e in &released {
                println!("released {} ({}): the nodes drop it at their next sync", e.address, e.scope);
            }
            Ok(())
        }
        SuppressionCommand::Disallow { entry, note } => {
            let gone = manual::disallow(c, &Actor::cli(), &entry, note.as_deref(), now).map_err(fail)?;
            println!("{} removed from the allowlist", gone.entry);
            Ok(())
        }
    }
}
