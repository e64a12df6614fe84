//! `rebound user …`: the people who sign in to the web admin with a name and password.

use super::Failure;
use super::output::{Format, opt_time, print, time};
use crate::access::{Role, users};
use crate::audit::Actor;
use crate::store::Db;
use clap::Subcommand;
use std::io::{BufRead, IsTerminal};

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user. The password is asked for twice on a terminal (not echoed), or read as
    /// the first line of stdin otherwise (`printf '%s\n' "$PW" | rebound user create …`).
    Create {
        name: String,
        /// admin (read and write) or viewer (read only).
        #[arg(long, default_value = "admin")]
        role: String,
    },
    /// Every user: name, role, created, last sign-in. Never a password.
    List {
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Delete a user; their sessions end at once.
    Delete { name: String },
}

/// The new password: from the terminal (twice, not echoed) or stdin's first line.
fn read_password() -> Result<String, Failure> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("password: ").map_err(anyhow::Error::from)?;
        let again = rpassword::prompt_password("again: ").map_err(anyhow::Error::from)?;
        if first != again {
            return Err(Failure::Usage("the two passwords differ; run the command again".into()));
        }
        return Ok(first);
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).map_err(anyhow::Error::from)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

pub fn run(db: &Db, cmd: UserCommand) -> Result<(), Failure> {
    let mut c = db.conn().map_err(anyhow::Error::from)?;
    let now = chrono::Utc::now().naive_utc();
    match cmd {
        UserCommand::Create { name, role } => {
            let role = match Role::parse(&role) {
                Ok(r @ (Role::Admin | Role::Viewer)) => r,
                _ => return Err(Failure::Usage(users::UserError::BadRole(role).to_string())),
            };
            let password = read_password()?;
            let info = users::create(&mut c, &Actor::cli(), &name, role, &password, now).map_err(|e| match e {
                users::UserError::Store(s) => Failure::Run(s.into()),
                other => Failure::Usage(other.to_string()),
            })?;
            println!(
                "created {} user `{}`: sign in at the web admin (the [server] listen address, /)",
                info.role.as_str(),
                info.name
            );
            Ok(())
        }
        UserCommand::List { format } => {
            let list = users::list(&mut c).map_err(anyhow::Error::from)?;
            print(format, &["name", "role", "created", "last_login"], &list, |u| {
                vec![u.name.clone(), u.role.as_str().into(), time(&u.created_at), opt_time(&u.last_login_at)]
            })?;
            Ok(())
        }
        UserCommand::Delete { name } => {
            users::delete(&mut c, &Actor::cli(), &name, now).map_err(anyhow::Error::from)?;
            println!("deleted user `{name}`");
            Ok(())
        }
    }
}
