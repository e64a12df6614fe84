//! `rebound suppression import FILE…`: a list brought from another platform, with a
//! progress bar on a terminal and a summary at the end.

use super::Failure;
use crate::config::Config;
use crate::store::{AnyConnection, Db};
use crate::suppress::import::{self, Format, Options, Report};
use crate::suppress::{Allowlist, GLOBAL, Source};
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, ValueEnum, Default)]
pub enum ImportSource {
    /// Recorded as `import` (the default).
    #[default]
    Import,
    /// Recorded as a manual suppression.
    Manual,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Files to import: one address per line, or CSV exports (`-` reads standard input).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// `auto` reads a CSV when the first line has an address column (email, address, …).
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
    /// The CSV column holding the address, when its header is not a known name.
    #[arg(long)]
    pub column: Option<String>,
    #[arg(long, value_enum, default_value_t)]
    pub source: ImportSource,
    /// Reason recorded for rows whose file gives none.
    #[arg(long)]
    pub reason: Option<String>,
    /// `global`, or the sending domain the entries apply to (for rows without a scope column).
    #[arg(long, default_value = GLOBAL)]
    pub scope: String,
    /// Read and check everything, write nothing: what the import would do.
    #[arg(long)]
    pub dry_run: bool,
}

pub fn run(cfg: &Config, db: &Db, c: &mut AnyConnection, args: ImportArgs) -> Result<(), Failure> {
    let fail = |e: import::ImportError| match e {
        import::ImportError::Rows(e) => Failure::Usage(e.to_string()),
        e => Failure::Run(e.into()),
    };
    let allowlist = Allowlist::load(c, &cfg.suppression.allowlist).map_err(|e| Failure::Run(e.into()))?;
    let now = chrono::Utc::now().naive_utc();
    let mut total = Report { dry_run: args.dry_run, ..Report::default() };
    for path in &args.files {
        let label = path.display().to_string();
        let opts = Options {
            format: args.format,
            column: args.column.clone(),
            source: match args.source {
                ImportSource::Import => Source::Import,
                ImportSource::Manual => Source::Manual,
            },
            reason: args.reason.clone(),
            scope: args.scope.trim().to_lowercase(),
            dry_run: args.dry_run,
            label: label.clone(),
        };
        let (input, size): (Box<dyn std::io::Read + Send>, u64) = if label == "-" {
            (Box::new(std::io::stdin()), 0)
        } else {
            let f = std::fs::File::open(path)
                .map_err(|e| Failure::Usage(format!("cannot open {label}: {e}; check the path")))?;
            let size = f.metadata().map(|m| m.len()).unwrap_or(0);
            (Box::new(f), size)
        };
        let bar = bar(size);
        let mut progress = |r: &Report| bar.set_message(format!("{} added, {} invalid", r.added, r.invalid));
        let report = import::run(
            db,
            &crate::suppress::manual::Actor::cli(),
            bar.wrap_read(input),
            &opts,
            &allowlist,
            now,
            &mut progress,
        )
        .map_err(fail)?;
        bar.finish_and_clear();
        print_report(&label, &report);
        total.add(&report);
    }
    if args.files.len() > 1 {
        print_report("all files", &total);
    }
    Ok(())
}

fn bar(size: u64) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let b = ProgressBar::new(size);
    let style = ProgressStyle::with_template("{bar:30} {bytes}/{total_bytes} {bytes_per_sec} {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    b.set_style(style);
    b
}

fn print_report(label: &str, r: &Report) {
    let verb = if r.dry_run { "would add" } else { "added" };
    println!(
        "{label}: {} rows; {verb} {}, already suppressed {}, repeated in the file {}, allowlisted {}, invalid {}",
        r.rows, r.added, r.already_present, r.duplicates, r.allowlisted, r.invalid
    );
    if r.dates_unread > 0 {
        println!("  {} created-at values could not be read; those entries are dated now", r.dates_unread);
    }
    for bad in &r.invalid_rows {
        println!("  invalid line {}: {:?}: {}", bad.line, bad.value, bad.why);
    }
    if r.invalid > r.invalid_rows.len() as u64 {
        println!("  … and {} more invalid lines", r.invalid - r.invalid_rows.len() as u64);
    }
    for a in &r.allowlisted_addresses {
        println!("  allowlisted, not imported: {a}");
    }
}
