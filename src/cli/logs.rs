//! `rebound import-log`, `rebound ingest-log` and `rebound log list`: the MTAs' own logs
//! through the same pipeline as mail.
//!
//! Takes the format, the files (or `-`) and optionally a `[[mta_log]]` name; gives a progress
//! bar on a terminal and a summary. Every pass goes through [`Pipeline::log_pass`] /
//! [`Pipeline::log_stream`], which commit each chunk with its checkpoint, so a second run
//! changes nothing and a killed run goes on where it stopped.

use super::Failure;
use super::output;
use crate::config::{CampaignFrom, Config, MtaLogConfig};
use crate::ingest::Pipeline;
use crate::ingest::log::{LogContext, LogStats};
use crate::ingest::log_read::LogSource;
use crate::logs::{Format, Options};
use crate::store::Db;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct LogArgs {
    /// powermta, postfix, exim or kumomta (default: the --source entry's format).
    #[arg(long)]
    pub format: Option<String>,
    /// The [[mta_log]] entry the lines belong to (its node, utc_offset and campaign_from
    /// apply, and its checkpoints are shared with `serve`); default: `import:FORMAT`.
    #[arg(long)]
    pub source: Option<String>,
    /// The sending node's name, for formats that do not log it (PowerMTA, Exim).
    #[arg(long)]
    pub node: Option<String>,
}

/// The source the arguments name.
fn source_of(cfg: &Config, args: &LogArgs) -> Result<LogSource, Failure> {
    let entry: Option<&MtaLogConfig> = match &args.source {
        Some(name) => Some(cfg.mta_log.iter().find(|l| &l.name == name).ok_or_else(|| {
            let names: Vec<&str> = cfg.mta_log.iter().map(|l| l.name.as_str()).collect();
            Failure::Usage(format!(
                "--source {name}: no [[mta_log]] entry has that name (there are: {})",
                super::list_or_none(&names)
            ))
        })?),
        None => None,
    };
    let format: Format = match (&args.format, entry) {
        (Some(f), _) => f.parse().map_err(Failure::Usage)?,
        (None, Some(e)) => e.format,
        (None, None) => return Err(Failure::Usage("--format is required (powermta, postfix, exim or kumomta)".into())),
    };
    let mut src = match entry {
        Some(e) => crate::ingest::log_follow::source_of(e),
        None => LogSource {
            source: format!("import:{}", format.as_str()),
            format,
            options: Options::default(),
            context: LogContext { node: None, campaign_from: CampaignFrom::None },
        },
    };
    src.format = format;
    if let Some(n) = &args.node {
        src.options.node = Some(n.clone());
        src.context.node = Some(n.clone());
    }
    Ok(src)
}

fn bar(total: u64) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let b = ProgressBar::new(total);
    b.set_style(
        ProgressStyle::with_template("{bar:30} {bytes}/{total_bytes} {bytes_per_sec} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    b
}

/// `rebound import-log`: each file from its checkpoint to its end.
pub fn import(
    cfg: &Config,
    db: &Db,
    pipeline: &Pipeline,
    args: &LogArgs,
    files: &[PathBuf],
) -> Result<LogStats, Failure> {
    let src = source_of(cfg, args)?;
    let total_bytes: u64 = files.iter().filter_map(|f| std::fs::metadata(f).ok()).map(|m| m.len()).sum();
    let bar = bar(total_bytes);
    let mut conn = db.conn().map_err(|e| Failure::Run(e.into()))?;
    let mut total = LogStats::default();
    for f in files {
        let mut shown = LogStats::default();
        let done = pipeline.log_pass(&mut conn, &src, f, &mut |bytes, so_far| {
            bar.inc(bytes);
            shown = so_far.clone();
            bar.set_message(format!(
                "{} records, {} unreadable",
                total.records + so_far.records,
                total.unreadable + so_far.unreadable
            ));
        });
        match done {
            Ok(s) => total.add(&s),
            Err(e) => {
                total.add(&shown);
                bar.finish_and_clear();
                print_summary(&total);
                return Err(Failure::Run(anyhow::anyhow!("import-log stopped at {}: {e}", f.display())));
            }
        }
    }
    bar.finish_and_clear();
    Ok(total)
}

/// `rebound ingest-log -`: standard input to its end.
pub fn ingest(cfg: &Config, db: &Db, pipeline: &Pipeline, args: &LogArgs) -> Result<LogStats, Failure> {
    let src = source_of(cfg, args)?;
    let mut conn = db.conn().map_err(|e| Failure::Run(e.into()))?;
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    pipeline
        .log_stream(&mut conn, &src, &mut input, &mut |_, _| {})
        .map_err(|e| Failure::Run(anyhow::anyhow!("ingest-log stopped: {e}")))
}

pub fn print_summary(s: &LogStats) {
    println!("{} new records ({} recorded before)", s.records, s.recorded_before);
    let kinds: Vec<String> = s.by_kind.iter().map(|(k, v)| format!("{k} {v}")).collect();
    println!("  by kind: {}", if kinds.is_empty() { "-".into() } else { kinds.join(", ") });
    let classes: Vec<String> = s.by_classification.iter().map(|(k, v)| format!("{k} {v}")).collect();
    println!("  classified: {}", if classes.is_empty() { "-".into() } else { classes.join(", ") });
    println!(
        "  {} suppressions added, {} refusals of the MTA's own suppression list, {} unreadable lines in the review queue",
        s.suppressed, s.suppressed_by_mta, s.unreadable
    );
}

/// `rebound log list`.
pub fn list(cfg: &Config, db: &Db, format: output::Format) -> Result<(), Failure> {
    let mut c = db.conn().map_err(|e| Failure::Run(e.into()))?;
    let rows = crate::ingest::log_status::all(&mut c, &cfg.mta_log).map_err(|e| Failure::Run(e.into()))?;
    output::print(
        format,
        &["name", "format", "enabled", "files", "records", "unreadable", "lag_bytes", "last_read", "error"],
        &rows,
        |s| {
            vec![
                s.name.clone(),
                s.format.clone(),
                s.enabled.to_string(),
                s.files.len().to_string(),
                s.records.to_string(),
                s.unreadable.to_string(),
                s.lag_bytes.to_string(),
                s.last_read_at.map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string()).unwrap_or_else(|| "-".into()),
                s.error.clone().unwrap_or_default(),
            ]
        },
    )
    .map_err(Failure::Run)
}
