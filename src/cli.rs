//! The command line (clap): one subcommand per operator task.
//!
//! Takes argv; gives an exit code: 0 ok, 1 failure, 2 usage or configuration error. Each
//! command loads the config the same way (file + `REBOUND__*` overrides) and reports every
//! config problem at once. It never prints a secret.

use crate::app::{self, App};
use crate::cli_verify::{self, VerifyArgs};
use crate::config::{self, Config, ConfigError};
use crate::store::Db;
use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

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
    /// Check a mailbox's connection stage by stage (DNS, TCP, TLS certificate, greeting,
    /// capabilities, login, folders, delete/move) without changing it. Exit 0 when every
    /// stage passes, 1 when one fails (the report names it, with the server's words).
    Verify(Box<VerifyArgs>),
}

/// What went wrong, and so which exit code.
#[derive(Debug)]
enum Failure {
    Config(ConfigError),
    Run(anyhow::Error),
    /// A failure already reported on stdout (e.g. a verify report): exit 1, print nothing more.
    Reported,
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Run(e)
    }
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Config(e)) => {
            eprint!("error: invalid configuration {e}");
            ExitCode::from(2)
        }
        Err(Failure::Run(e)) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
        Err(Failure::Reported) => ExitCode::from(1),
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
        Command::Verify(args) => verify(*args, &cli.config),
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

fn verify(args: VerifyArgs, config: &Path) -> Result<(), Failure> {
    let (mailbox, key) = match &args.name {
        Some(name) => {
            let cfg = load(config)?;
            crate::telemetry::init(&cfg.log);
            let Some(i) = cfg.mailbox.iter().position(|m| &m.name == name) else {
                let known: Vec<&str> = cfg.mailbox.iter().map(|m| m.name.as_str()).collect();
                return Err(Failure::Config(ConfigError {
                    source_name: config.display().to_string(),
                    problems: vec![config::Problem::new(
                        "mailbox",
                        format!("no [[mailbox]] named `{name}`; configured: {}", list_or_none(&known)),
                    )],
                }));
            };
            (cfg.mailbox[i].clone(), format!("mailbox[{i}]"))
        }
        None => {
            crate::telemetry::init(&config::LogConfig::default());
            (args.adhoc_mailbox().map_err(Failure::Config)?, "verify".to_string())
        }
    };
    let secret = cli_verify::password(&mailbox, &key).map_err(Failure::Config)?;
    let ok = runtime()?.block_on(cli_verify::run(&mailbox, &secret, args.json));
    if ok { Ok(()) } else { Err(Failure::Reported) }
}

fn list_or_none(names: &[&str]) -> String {
    if names.is_empty() { "none".into() } else { names.join(", ") }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().enable_all().build()?)
}
