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
use verify::VerifyArgs;

mod agent;
mod import;
mod logs;
mod mailbox;
mod node;
mod ordered;
mod output;
mod parse;
mod records;
mod rules;
mod secrets;
mod stats;
mod suppression;
mod suppression_import;
mod token;
mod user;
mod verify;

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
    /// Run the service: the admin HTTP server (/healthz, /api/v1) and the scheduled jobs, until
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
    /// Parse messages (files, directories, mbox) and print what rebound makes of them,
    /// without storing anything. Classifies with the database's rules when the config
    /// file exists, else with the shipped defaults.
    Parse {
        /// One JSON object per record (keys: file, index, kind, recipient, status,
        /// reply_code, diagnostic, action, remote_mta, reason, classification, permanent,
        /// rule, feedback_type, dialect, original_message_id, campaign_id).
        #[arg(long)]
        json: bool,
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Ingest files, directories, Maildirs and mbox files through the pipeline: events,
    /// campaign records, suppression, review queue. Running it again changes nothing.
    Import {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Read MTA log files (PowerMTA accounting, Postfix, Exim, KumoMTA; plain, gzip or zstd)
    /// through the pipeline: one event per recipient attempt, bounces classified, attributed
    /// and suppressed as mailed ones are; unreadable lines go to the review queue. Each file
    /// goes on from its checkpoint, so running it again changes nothing.
    ImportLog {
        #[command(flatten)]
        args: logs::LogArgs,
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Read an MTA log from standard input (`-`) to its end, e.g. as PowerMTA's
    /// `acct-file |rebound ingest-log --format powermta -`.
    IngestLog {
        #[command(flatten)]
        args: logs::LogArgs,
        /// `-`: standard input.
        input: String,
    },
    /// The MTA log sources ([[mta_log]] and what import-log read): files, checkpoints, lag.
    #[command(subcommand)]
    Log(LogCommand),
    /// Check a mailbox's connection stage by stage (DNS, TCP, TLS certificate, greeting,
    /// capabilities, login, folders, delete/move) without changing it. Exit 0 when every
    /// stage passes, 1 when one fails (the report names it, with the server's words).
    Verify(Box<VerifyArgs>),
    /// Poll mailboxes now: the named one, or every enabled one. Drains each mailbox unless
    /// --once (one poll of at most max_messages_per_poll messages).
    Poll {
        name: Option<String>,
        #[arg(long)]
        once: bool,
    },
    /// Render the suppression list for the named [[node]], or every enabled one with a path,
    /// now; exit 0 once each is current, 1 when one failed (its previous list stays in force).
    Sync { node: Option<String> },
    /// Run on a sending node: pull this node's suppression list from a central rebound
    /// (snapshot, then changes, long-polled) and install it in the MTA's format, atomically;
    /// the cursor is saved only after each install and every apply is reported.
    NodeAgent(Box<agent::AgentArgs>),
    /// The sending nodes and where each stands: last apply, applied change-log seq, changes
    /// behind, entries, checksum, last error.
    #[command(subcommand)]
    Node(NodeCommand),
    /// The configured mailboxes and their status: last poll, last success, last error with
    /// its stage, consecutive failures, messages processed.
    #[command(subcommand)]
    Mailbox(MailboxCommand),
    /// A campaign's BOUNCED or COMPLAINTS records, or `campaign list` for all campaigns.
    Campaign(records::CampaignArgs),
    /// Delivery statistics: counts and rates of delivered, deferred, bounced and complained
    /// for a range (and optionally one campaign), in total or by month, day, day of month,
    /// day of week, hour, recipient domain, remote host, sender, node, vmta, source IP,
    /// status code, reason, or "why" (bounces by status × domain × node × IP).
    Stats(stats::StatsArgs),
    /// The suppression list and the allowlist.
    #[command(subcommand)]
    Suppression(suppression::SuppressionCommand),
    /// The review queue: messages nothing could be made of, kept with their raw bytes.
    #[command(subcommand)]
    Review(records::ReviewCommand),
    /// The sent-message map used to attribute bounces by their original Message-ID.
    #[command(subcommand)]
    Sent(SentCommand),
    /// Manage the ordered classification rules (first enabled match wins).
    #[command(subcommand)]
    Rules(rules::RulesCommand),
    /// Bearer tokens for the admin API (`Authorization: Bearer TOKEN`).
    #[command(subcommand)]
    Token(token::TokenCommand),
    /// People who sign in to the web admin (at `/` of the [server] listen address) with a
    /// name and password (argon2-hashed).
    #[command(subcommand)]
    User(user::UserCommand),
    /// The [secrets] key sealing the passwords of mailboxes created through the admin API.
    #[command(subcommand)]
    Secrets(secrets::SecretsCommand),
    /// Re-run the rules over stored records after the rules changed, and bring campaign
    /// counts and suppression in line (an address suppressed only by a record that is no
    /// longer hard is released, audited).
    Reclassify {
        /// Records that occurred on or after this date (YYYY-MM-DD or RFC 3339).
        #[arg(long)]
        since: String,
        /// List what would change, change nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum MailboxCommand {
    /// Every configured mailbox with its status.
    List {
        #[arg(long, value_enum, default_value_t)]
        format: output::Format,
    },
}

#[derive(Debug, Subcommand)]
pub enum LogCommand {
    /// Every log source with its files, records, unreadable lines and lag.
    List {
        #[arg(long, value_enum, default_value_t)]
        format: output::Format,
    },
}

#[derive(Debug, Subcommand)]
pub enum NodeCommand {
    /// Every node with its status.
    List {
        #[arg(long, value_enum, default_value_t)]
        format: output::Format,
    },
}

#[derive(Debug, Subcommand)]
pub enum SentCommand {
    /// Load a CSV of message_id,campaign_id[,recipient[,sent_at]] (header row optional).
    Import { file: PathBuf },
}

/// What went wrong, and so which exit code.
#[derive(Debug)]
enum Failure {
    Config(ConfigError),
    Usage(String),
    Run(anyhow::Error),
    /// A failure already reported on stdout (e.g. a verify report): exit 1, print nothing more.
    Reported,
}

impl From<diesel::result::Error> for Failure {
    fn from(e: diesel::result::Error) -> Self {
        Failure::Run(anyhow::anyhow!("database: {e}"))
    }
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
    let outcome = run(cli);
    // Connections the pool is still opening must finish before the C libraries' exit
    // handlers run (see store::quiesce); 10 s covers a connect on a slow network.
    crate::store::quiesce(std::time::Duration::from_secs(10));
    match outcome {
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
            println!("# {}: configuration is valid", path.display());
            for m in &cfg.mailbox {
                for e in m.exposures() {
                    println!("# warning: mailbox {}: {e}", m.name);
                }
            }
            println!();
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
        Command::Parse { json, paths } => {
            let started = parse::start();
            // Parse stores nothing and changes no database: the rules of an existing, seeded
            // database when the config names one, else the shipped library.
            let cfg = if cli.config.exists() { load(&cli.config)? } else { Config::default() };
            let stored = cli
                .config
                .exists()
                .then(|| Db::connect_existing(&cfg.database).ok())
                .flatten()
                .and_then(|db| db.conn().ok())
                .and_then(|mut c| {
                    let c: &mut crate::store::AnyConnection = &mut c;
                    let seeded = crate::classify::repo::version(c).is_ok_and(|v| v > 0);
                    seeded.then(|| crate::classify::repo::list(c).ok()).flatten()
                });
            let rules = match stored {
                Some(rules) => rules.into_iter().map(|r| r.rule).collect(),
                None => crate::classify::library::defaults(),
            };
            let engine = std::sync::Arc::new(crate::classify::Engine::new(rules).map_err(anyhow::Error::from)?);
            parse::run(&cfg, &engine, &paths, json, started)
        }
        Command::Import { paths } => {
            let cfg = load(&cli.config)?;
            crate::telemetry::init(&cfg.log);
            let db = Db::connect(&cfg.database).map_err(anyhow::Error::from)?;
            let pipeline = crate::ingest::Pipeline::new(&cfg).map_err(anyhow::Error::from)?;
            let stats = import::run(&db, &pipeline, &paths)?;
            import::print_summary(&stats);
            Ok(())
        }
        Command::ImportLog { args, files } => {
            let (cfg, db) = connect(&cli.config)?;
            let pipeline = crate::ingest::Pipeline::new(&cfg).map_err(anyhow::Error::from)?;
            let stats = logs::import(&cfg, &db, &pipeline, &args, &files)?;
            logs::print_summary(&stats);
            Ok(())
        }
        Command::IngestLog { args, input } => {
            if input != "-" {
                return Err(Failure::Usage(format!(
                    "ingest-log reads standard input (`-`), not `{input}`; for files use import-log"
                )));
            }
            let (cfg, db) = connect(&cli.config)?;
            let pipeline = crate::ingest::Pipeline::new(&cfg).map_err(anyhow::Error::from)?;
            let stats = logs::ingest(&cfg, &db, &pipeline, &args)?;
            logs::print_summary(&stats);
            Ok(())
        }
        Command::Stats(args) => {
            let (_, db) = connect(&cli.config)?;
            stats::run(&db, &args)
        }
        Command::Log(LogCommand::List { format }) => {
            let (cfg, db) = connect(&cli.config)?;
            logs::list(&cfg, &db, format)
        }
        Command::Poll { name, once } => {
            let (cfg, db) = connect(&cli.config)?;
            mailbox::poll(&cfg, &cli.config, &db, name.as_deref(), once)
        }
        Command::Sync { node } => {
            let (cfg, db) = connect(&cli.config)?;
            node::sync_now(&cfg, &cli.config, &db, node.as_deref())
        }
        Command::NodeAgent(args) => agent::run(*args),
        Command::Node(NodeCommand::List { format }) => {
            let (cfg, db) = connect(&cli.config)?;
            node::list(&cfg, &cli.config, &db, format)
        }
        Command::Mailbox(MailboxCommand::List { format }) => {
            let (cfg, db) = connect(&cli.config)?;
            mailbox::list(&cfg, &cli.config, &db, format)
        }
        Command::Campaign(args) => {
            let (cfg, db) = connect(&cli.config)?;
            records::campaign(&db, &cfg.suppression.soft_uncounted_reasons, args)
        }
        Command::Suppression(cmd) => {
            let (cfg, db) = connect(&cli.config)?;
            suppression::run(&cfg, &db, cmd)
        }
        Command::Token(cmd) => token::run(&connect(&cli.config)?.1, cmd),
        Command::User(cmd) => user::run(&connect(&cli.config)?.1, cmd),
        Command::Secrets(cmd @ secrets::SecretsCommand::GenerateKey) => secrets::run(&Config::default(), None, cmd),
        Command::Secrets(cmd) => {
            let (cfg, db) = connect(&cli.config)?;
            secrets::run(&cfg, Some(&db), cmd)
        }
        Command::Review(cmd) => {
            let (cfg, db) = connect(&cli.config)?;
            let pipeline = crate::ingest::Pipeline::new(&cfg).map_err(anyhow::Error::from)?;
            records::review(&db, &pipeline, cmd)
        }
        Command::Sent(SentCommand::Import { file }) => records::sent_import(&connect(&cli.config)?.1, &file),
        Command::Reclassify { since, dry_run } => {
            let since = chrono::DateTime::parse_from_rfc3339(&since)
                .map(|d| d.naive_utc())
                .or_else(|_| {
                    chrono::NaiveDate::parse_from_str(&since, "%Y-%m-%d").map(|d| d.and_time(chrono::NaiveTime::MIN))
                })
                .map_err(|_| Failure::Usage(format!("--since `{since}`: write a date as YYYY-MM-DD or RFC 3339")))?;
            let (cfg, db) = connect(&cli.config)?;
            let pipeline = crate::ingest::Pipeline::new(&cfg).map_err(anyhow::Error::from)?;
            let mut conn = db.conn().map_err(anyhow::Error::from)?;
            let changes =
                crate::ingest::reclassify::run(&mut conn, &pipeline, since, dry_run).map_err(anyhow::Error::from)?;
            output::print(
                output::Format::Table,
                &["event", "recipient", "from", "to", "rule", "suppression"],
                &changes,
                |c| {
                    vec![
                        c.event_id.to_string(),
                        c.recipient.clone(),
                        c.from.clone(),
                        c.to.clone(),
                        c.new_rule.clone(),
                        c.suppression.clone(),
                    ]
                },
            )?;
            println!(
                "{} record(s) {}",
                changes.len(),
                if dry_run { "would change (dry run: nothing written)" } else { "changed" }
            );
            Ok(())
        }
        Command::Rules(cmd) => {
            let cfg = load(&cli.config)?;
            let db = Db::connect(&cfg.database).map_err(anyhow::Error::from)?;
            rules::run(&cfg, &db, cmd)
        }
        Command::Verify(args) => run_verify(*args, &cli.config),
        Command::Serve => {
            let cfg = load(&cli.config)?;
            crate::telemetry::init(&cfg.log);
            runtime()?.block_on(async {
                let app = App::build_from(cfg, Some(&cli.config)).await?;
                app.run(app::shutdown_signal()).await
            })?;
            Ok(())
        }
    }
}

fn run_verify(args: VerifyArgs, config: &Path) -> Result<(), Failure> {
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
    let login = verify::credentials(&mailbox, &key).map_err(Failure::Config)?;
    let ok = runtime()?.block_on(verify::run(&mailbox, &login, args.json));
    if ok { Ok(()) } else { Err(Failure::Reported) }
}

fn list_or_none(names: &[&str]) -> String {
    if names.is_empty() { "none".into() } else { names.join(", ") }
}

/// Loads the config and opens the database (migrating it).
fn connect(path: &Path) -> Result<(Config, Db), Failure> {
    let cfg = load(path)?;
    crate::telemetry::init(&cfg.log);
    let db = Db::connect(&cfg.database).map_err(anyhow::Error::from)?;
    Ok((cfg, db))
}

pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
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
