//! `rebound token …`: the admin API's bearer tokens.

use super::Failure;
use super::output::{Format, opt_time, print, time};
use crate::access::{Role, tokens};
use crate::audit::Actor;
use crate::store::Db;
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token and print it alone on the last line of stdout. It is shown only this
    /// once (rebound keeps a hash): store it where your tools read secrets.
    Create {
        #[arg(long)]
        name: String,
        /// admin (read and write), viewer (read only) or node (the sync routes only, for
        /// `rebound node-agent` on a sending node).
        #[arg(long)]
        role: String,
        /// A node token's node: the token pulls that node's list and no other. Without it a
        /// node token names the node on each call.
        #[arg(long)]
        node: Option<String>,
    },
    /// Every token: name, role, node, created, last used, revoked. Never the token itself.
    List {
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Revoke a live token (refused everywhere within 5 seconds).
    Revoke { name: String },
}

pub fn run(db: &Db, cmd: TokenCommand) -> Result<(), Failure> {
    let mut c = db.conn().map_err(anyhow::Error::from)?;
    let now = chrono::Utc::now().naive_utc();
    match cmd {
        TokenCommand::Create { name, role, node } => {
            let role = Role::parse(&role).map_err(|e| Failure::Usage(e.to_string()))?;
            if node.is_some() && role != Role::Node {
                return Err(Failure::Usage(tokens::TokenError::NodeOfOtherRole.to_string()));
            }
            let (info, token) = tokens::create_bound(&mut c, &Actor::cli(), &name, role, node.as_deref(), now)
                .map_err(anyhow::Error::from)?;
            eprintln!("created {} token `{}`; it is shown once, below:", info.role.as_str(), info.name);
            println!("{token}");
            Ok(())
        }
        TokenCommand::List { format } => {
            let list = tokens::list(&mut c).map_err(anyhow::Error::from)?;
            print(format, &["name", "role", "node", "created", "last_used", "revoked"], &list, |t| {
                vec![
                    t.name.clone(),
                    t.role.as_str().into(),
                    t.node.clone().unwrap_or_default(),
                    time(&t.created_at),
                    opt_time(&t.last_used_at),
                    opt_time(&t.revoked_at),
                ]
            })?;
            Ok(())
        }
        TokenCommand::Revoke { name } => {
            tokens::revoke(&mut c, &Actor::cli(), &name, now).map_err(anyhow::Error::from)?;
            println!("revoked token `{name}`");
            Ok(())
        }
    }
}
