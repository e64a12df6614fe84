//! `rebound suppression …`: the list the sending nodes honour, and the allowlist.

use super::Failure;
use super::output::{Format, opt, opt_time, print, time};
use crate::store::{Cursor, Db, Page};
use crate::suppress::manual::{self, Actor, ManualError};
use crate::suppress::{self, GLOBAL, Suppression, list};
use chrono::Utc;
use clap::{Subcommand, ValueEnum};

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
    /// Never suppress this address or domain (audited).
    Allow {
        entry: String,
        #[arg(long)]
        note: Option<String>,
    },
    /// Take an address or domain off the allowlist (audited).
    Disallow { entry: String },
}

const HEADERS: &[&str] = &["address", "scope", "source", "reason", "created", "expires"];

fn cells(r: &Suppression) -> Vec<String> {
    vec![
        r.address.clone(),
        r.scope.clone(),
        r.source.clone(),
        opt(&r.reason),
        time(&r.created_at),
        opt_time(&r.expires_at),
    ]
}

pub fn run(db: &Db, cmd: SuppressionCommand) -> Result<(), Failure> {
    let mut conn = db.conn().map_err(fail)?;
    let c = &mut *conn;
    let now = Utc::now().naive_utc();
    match cmd {
        SuppressionCommand::List { prefix, format, limit, after } => {
            let paged = list::list(c, prefix.as_deref(), &Page { limit, after: after.map(Cursor) }).map_err(fail)?;
            if let Some(Cursor(next)) = &paged.next {
                eprintln!("next page: --after '{next}'");
            }
            print(format, HEADERS, &paged.rows, cells).map_err(fail)
        }
        SuppressionCommand::Show { address } => {
            let address = suppress::normalize(&address);
            let rows: Vec<Suppression> = list::list(c, Some(&address), &Page::first(100))
                .map_err(fail)?
                .rows
                .into_iter()
                .filter(|r| r.address == address)
                .collect();
            if rows.is_empty() {
                println!("{address} is not suppressed");
            }
            for r in rows {
                println!(
                    "{} suppressed ({}) since {} by {}{}{}",
                    r.address,
                    r.scope,
                    r.created_at,
                    r.source,
                    r.reason.map(|x| format!(", reason {x}")).unwrap_or_default(),
                    r.event_id.map(|e| format!(", evidence event {e}")).unwrap_or_default()
                );
            }
            Ok(())
        }
        SuppressionCommand::Add { address, scope, note } => {
            match manual::suppress(c, &Actor::cli(), &address, &scope, note.as_deref(), now) {
                Ok(true) => println!("suppressed {} ({scope})", suppress::normalize(&address)),
                Ok(false) => println!("{} was already suppressed ({scope})", suppress::normalize(&address)),
                Err(e @ ManualError::NotAnAddress(_)) => return Err(Failure::Usage(e.to_string())),
                Err(e) => return Err(fail(e)),
            }
            Ok(())
        }
        SuppressionCommand::Remove { address, scope, note } => {
            manual::release(c, &Actor::cli(), &address, &scope, note.as_deref(), now).map_err(fail)?;
            println!("released {} ({scope})", suppress::normalize(&address));
            Ok(())
        }
        SuppressionCommand::Export { format } => {
            // Keyset pages of entries in force: lapsed entries are not listed.
            let mut all: Vec<Suppression> = Vec::new();
            loop {
                let after = all.last().map(|r| (r.address.clone(), r.scope.clone()));
                let page = list::in_force(c, after.as_ref().map(|(a, s)| (a.as_str(), s.as_str())), 10_000, now)
                    .map_err(fail)?;
                let done = page.len() < 10_000;
                all.extend(page);
                if done {
                    break;
                }
            }
            match format {
                ExportFormat::Plain => {
                    for r in &all {
                        println!("{}", r.address);
                    }
                    Ok(())
                }
                ExportFormat::Csv => print(Format::Csv, HEADERS, &all, cells).map_err(fail),
                ExportFormat::Json => print(Format::Json, &[], &all, |_| vec![]).map_err(fail),
            }
        }
        SuppressionCommand::Allow { entry, note } => {
            let entry = manual::allow(c, &Actor::cli(), &entry, note.as_deref(), now).map_err(|e| match e {
                ManualError::NotAnEntry(_) => Failure::Usage(e.to_string()),
                e => fail(e),
            })?;
            println!(
                "{entry} is never suppressed from now on (existing suppressions stay: `suppression remove` releases them)"
            );
            Ok(())
        }
        SuppressionCommand::Disallow { entry } => {
            manual::disallow(c, &Actor::cli(), &entry, now).map_err(fail)?;
            println!("{} removed from the allowlist", entry.trim().trim_start_matches('@').to_lowercase());
            Ok(())
        }
    }
}
