//! `rebound suppression …`: the list the sending nodes honour, and the allowlist.

use super::Failure;
use super::output::{Format, opt, opt_time, print, time};
use crate::store::Db;
use crate::store::schema::allowlist;
use crate::suppress::{self, GLOBAL, Source, Suppression, list};
use chrono::Utc;
use clap::{Subcommand, ValueEnum};
use diesel::prelude::*;

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
        #[arg(long, default_value_t = 0)]
        offset: i64,
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

fn actor() -> String {
    std::env::var("USER").map(|u| format!("cli:{u}")).unwrap_or_else(|_| "cli".into())
}

pub fn run(db: &Db, cmd: SuppressionCommand) -> Result<(), Failure> {
    let mut conn = db.conn().map_err(fail)?;
    let c = &mut *conn;
    let now = Utc::now().naive_utc();
    match cmd {
        SuppressionCommand::List { prefix, format, limit, offset } => {
            let rows = list::list(c, prefix.as_deref(), limit, offset).map_err(fail)?;
            print(format, HEADERS, &rows, cells).map_err(fail)
        }
        SuppressionCommand::Show { address } => {
            let address = suppress::normalize(&address);
            let rows: Vec<Suppression> = list::list(c, Some(&address), 100, 0)
                .map_err(fail)?
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
            let address = suppress::normalize(&address);
            if !address.contains('@') {
                return Err(Failure::Usage(format!("`{address}` is not an email address")));
            }
            c.transaction::<_, Failure, _>(|c| {
                let entry = Suppression {
                    address: address.clone(),
                    scope: scope.clone(),
                    source: Source::Manual.as_str().into(),
                    event_id: None,
                    reason: None,
                    note: note.clone(),
                    created_at: now,
                    expires_at: None,
                };
                if list::add(c, &entry).map_err(fail)? {
                    list::audit(c, &actor(), "suppress", &address, note.as_deref(), now).map_err(fail)?;
                    println!("suppressed {address} ({scope})");
                } else {
                    println!("{address} was already suppressed ({scope})");
                }
                Ok(())
            })
        }
        SuppressionCommand::Remove { address, scope, note } => {
            let address = suppress::normalize(&address);
            c.transaction::<_, Failure, _>(|c| {
                if list::remove(c, &address, &scope, Source::Manual.as_str(), now).map_err(fail)? {
                    list::audit(c, &actor(), "release", &address, note.as_deref(), now).map_err(fail)?;
                    println!("released {address} ({scope})");
                    Ok(())
                } else {
                    Err(fail(anyhow::anyhow!("{address} is not suppressed in scope {scope}")))
                }
            })
        }
        SuppressionCommand::Export { format } => {
            let mut offset = 0;
            let mut all = Vec::new();
            loop {
                let page = list::list(c, None, 10_000, offset).map_err(fail)?;
                offset += page.len() as i64;
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
            let entry = entry.trim().trim_start_matches('@').to_lowercase();
            c.transaction::<_, Failure, _>(|c| {
                diesel::delete(allowlist::table.find(&entry)).execute(c).map_err(fail)?;
                diesel::insert_into(allowlist::table)
                    .values((allowlist::entry.eq(&entry), allowlist::note.eq(&note), allowlist::created_at.eq(now)))
                    .execute(c)
                    .map_err(fail)?;
                list::audit(c, &actor(), "allow", &entry, note.as_deref(), now).map_err(fail)?;
                Ok(())
            })?;
            println!(
                "{entry} is never suppressed from now on (existing suppressions stay: `suppression remove` releases them)"
            );
            Ok(())
        }
        SuppressionCommand::Disallow { entry } => {
            let entry = entry.trim().trim_start_matches('@').to_lowercase();
            c.transaction::<_, Failure, _>(|c| {
                if diesel::delete(allowlist::table.find(&entry)).execute(c).map_err(fail)? == 0 {
                    return Err(fail(anyhow::anyhow!("{entry} is not on the allowlist")));
                }
                list::audit(c, &actor(), "disallow", &entry, None, now).map_err(fail)
            })?;
            println!("{entry} removed from the allowlist");
            Ok(())
        }
    }
}
