//! `rebound node-agent`: the options of the agent on a sending node, turned into the
//! target's settings (validated exactly as a `[[node]]` entry is) and handed to
//! [`crate::sync::agent`]. No config file and no database: the agent talks to the server only.

use super::Failure;
use crate::sync::agent::{Agent, Options};
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct AgentArgs {
    /// The central rebound's base URL, e.g. https://rebound.example:8025.
    #[arg(long, env = "REBOUND_AGENT_SERVER")]
    server: String,
    /// A node token (`rebound token create --role node --node NAME`). Prefer the
    /// REBOUND_AGENT_TOKEN variable: a command line is visible to every local user.
    #[arg(long, env = "REBOUND_AGENT_TOKEN", hide_env_values = true)]
    token: String,
    /// The node's name on the server (needed only when the token is not bound to one).
    #[arg(long)]
    node: Option<String>,
    /// postfix, exim, powermta, kumomta, haraka or file.
    #[arg(long)]
    target: String,
    /// The file to write (absolute): for postfix the access table source, its index beside it.
    #[arg(long)]
    out: PathBuf,
    /// file: plain, csv or json; kumomta: sqlite or text.
    #[arg(long)]
    format: Option<String>,
    /// Run with `sh -c` after each install (e.g. `pmta reload`); a failure puts the previous list back.
    #[arg(long)]
    after_command: Option<String>,
    /// Where the cursor and the installed set are kept [default: .OUT.rebound-agent-state beside OUT].
    #[arg(long)]
    state: Option<PathBuf>,
    /// Bring the list up to date once, then exit (0 when current, 1 on failure).
    #[arg(long)]
    once: bool,
    /// Long-poll this many seconds for changes (0-300); a change reaches the node within about a second.
    #[arg(long, default_value_t = 60)]
    wait: u64,
    /// postfix: the postmap table type (cdb, lmdb, hash, btree).
    #[arg(long)]
    table_type: Option<String>,
    /// postfix: the Postfix config directory postmap reads (-c DIR).
    #[arg(long)]
    config_dir: Option<String>,
    /// postfix: the postmap program.
    #[arg(long)]
    postmap_command: Option<String>,
    /// postfix: the text after REJECT 5.1.1.
    #[arg(long)]
    reject_text: Option<String>,
    /// exim: the tinycdb program.
    #[arg(long)]
    cdb_command: Option<String>,
    /// powermta: the file of domain-wide entries (`domain` lines).
    #[arg(long)]
    domain_out: Option<String>,
}

pub fn run(args: AgentArgs) -> Result<(), Failure> {
    crate::telemetry::init(&crate::config::LogConfig::default());
    if args.wait > crate::sync::agent::MAX_WAIT {
        return Err(Failure::Usage(format!("--wait must be between 0 and {}", crate::sync::agent::MAX_WAIT)));
    }
    let out = args.out.to_string_lossy().into_owned();
    let mut t = toml::Table::new();
    let name = args.node.clone().unwrap_or_else(|| "agent".into());
    t.insert("name".into(), name.into());
    t.insert("target".into(), args.target.clone().into());
    t.insert("path".into(), out.clone().into());
    let optional = [
        ("format", args.format),
        ("after_command", args.after_command),
        ("table_type", args.table_type),
        ("config_dir", args.config_dir),
        ("postmap_command", args.postmap_command),
        ("reject_text", args.reject_text),
        ("cdb_command", args.cdb_command),
        ("domain_path", args.domain_out),
    ];
    for (k, v) in optional {
        if let Some(v) = v {
            t.insert(k.into(), v.into());
        }
    }
    let render = crate::config::node::resolve_table(t).map_err(|problems| {
        let lines: Vec<String> = problems
            .iter()
            .map(|p| {
                let key = p.key.strip_prefix("node.").unwrap_or(&p.key).replace('_', "-");
                let key = if key == "path" {
                    "out".into()
                } else if key == "domain-path" {
                    "domain-out".into()
                } else {
                    key
                };
                format!("--{key}: {}", p.message)
            })
            .collect();
        Failure::Usage(lines.join("\n       "))
    })?;
    let state = args.state.unwrap_or_else(|| crate::sync::atomic::beside(&args.out, "agent-state"));
    let opts = Options {
        server: args.server,
        token: args.token,
        node: args.node,
        render,
        state,
        once: args.once,
        wait: args.wait,
    };
    super::runtime()?.block_on(async move {
        let agent = Agent::new(opts).map_err(|e| Failure::Run(e.into()))?;
        let stop = tokio_util::sync::CancellationToken::new();
        let on_signal = stop.clone();
        tokio::spawn(async move {
            crate::app::shutdown_signal().await;
            on_signal.cancel();
        });
        agent.run(stop).await.map_err(|e| Failure::Run(e.into()))
    })
}
