//! The command line (clap): one subcommand per operator task.
//!
//! Takes argv; gives an exit code: 0 ok, 1 failure, 2 usage or configuration error. Each
//! command loads the config the same way (file + `REBOUND__*` overrides) and reports every
//! config problem at once. It never prints a secret.

use crate::app::{self, App};
use crate::config::{self, Config, ConfigError};
use crate::store::Db;
use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

mod rules;

#[derive(Debug, Parser)]
#[command(
    name = "rebound",
    version,
    about = "Turns bounce and feedback-loop mail into suppression",
    long_about = "rebound polls bounce-return and feedback-loop mailboxes (POP3/IMAP), parses every \
non-delivery report and ARF complaint, classifies each through an ordered rule list, records \
per-campaign BOUNCED and COMPLAINTS entries, and keeps a suppression list for the sending nodes.\n\n\
Every config key can be overridden by an environment variable REBOUND__SECTION__KEY \
(e.g. REBOUND__DATABASE__URL=postgres://rebound@127.0.0.1/rebound).\n\n\
Exit codes: 0 ok, 1 failure, 2 usage or configuration error."
)]
pub struct Cli {
    /// Config file (TOML); see config.example.toml for every key.
    #[arg(long, short = 'c', global = true, env = "REBOUND_CONFIG", default_value = "rebound.toml")]
    pub config: PathBuf,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the service: the admin HTTP server (/healthz) and the scheduled jobs, until
    /// SIGINT or SIGTERM; in-flight work then finishes before exit.
    Serve,
    /// Create or upgrade the database schema (also done automatically at start), then exit.
    Migrate,
    /// Validate a config file and print the effective configuration, secrets masked.
    /// Reports every problem at once, each with its key and the fix.
    CheckConfig {
        /// The file to check (default: the --config file).
        path: Option<PathBuf>,
    },
    /// Manage the ordered classification rules (first enabled match wins).
    #[command(subcommand)]
    Rules(rules::RulesCommand),
}

/// What went wrong, and so which exit code.
#[derive(Debug)]
enum Failure {
    Config(ConfigError),
    Usage(String),
    Run(anyhow::Error),
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Run(e)
    }
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Serve) {
        restore_sigpipe();
    }
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Config(e)) => {
            eprint!("error: invalid configuration {e}");
            ExitCode::from(2)
        }
        Err(Failure::Usage(msg)) => {
            eprintln!("error: {msg}");
            ExitCode::from(2)
        }
        Err(Failure::Run(e)) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn load(path: &Path) -> Result<Config, Failure> {
    config::load(path).map_err(Failure::Config)
}

fn run(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Command::CheckConfig { path } => {
            let path = path.unwrap_or(cli.config);
            let cfg = load(&path)?;
            println!("# {}: configuration is valid\n", path.display());
            print!("{}", cfg.to_masked_toml());
            Ok(())
        }
        Command::Migrate => {
            let cfg = load(&cli.config)?;
            crate::telemetry::init(&cfg.log);
            let (db, applied) = Db::connect_and_migrate(&cfg.database).map_err(anyhow::Error::from)?;
            if applied.is_empty() {
                println!("{}: schema is up to date", db.describe());
            } else {
                println!("{}: applied {} migration(s): {}", db.describe(), applied.len(), applied.join(", "));
            }
            Ok(())
        }
        Command::Rules(cmd) => {
            let cfg = load(&cli.config)?;
            let db = Db::connect(&cfg.database).map_err(anyhow::Error::from)?;
            rules::run(&db, cmd)
        }
        Command::Serve => {
            let cfg = load(&cli.config)?;
            crate::telemetry::init(&cfg.log);
            runtime()?.block_on(async {
                let app = App::build(cfg).await?;
                app.run(app::shutdown_signal()).await
            })?;
            Ok(())
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().enable_all().build()?)
}

/// Lets `rebound rules list | head` end quietly: Rust ignores SIGPIPE, so printing to a
/// closed pipe would panic. Only for one-shot commands: the server must survive a peer
/// closing a socket.
fn restore_sigpipe() {
    #[cfg(unix)]
    // SAFETY: called at start-up before any thread is spawned; SIG_DFL is a valid handler.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
