//! `rebound secrets …`: the key sealing the passwords of API-managed mailboxes.
//!
//! Only a face: the key is [`crate::secrets`], re-sealing is [`crate::mailbox::write::rotate`].
//! It prints a new key only when asked to generate one, and never prints a password.

use super::Failure;
use crate::audit::Actor;
use crate::config::{Config, SecretRef};
use crate::secrets::SealKey;
use crate::store::Db;
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum SecretsCommand {
    /// Print a new random key (base64 of 32 bytes) alone on stdout. Put it in the variable
    /// named by [secrets] key_env (or the file of key_file) of every instance.
    GenerateKey,
    /// Re-seal every stored mailbox password with a new key, in one transaction (all or
    /// nothing). The current key is [secrets]'s; the new one comes from --new-key-env or
    /// --new-key-file. Then point [secrets] at the new key and restart every instance.
    /// Running it again skips what is already sealed with the new key.
    Rotate {
        /// Environment variable holding the new key.
        #[arg(long, conflicts_with = "new_key_file", required_unless_present = "new_key_file")]
        new_key_env: Option<String>,
        /// File whose first line is the new key.
        #[arg(long)]
        new_key_file: Option<String>,
    },
}

pub fn run(cfg: &Config, db: Option<&Db>, cmd: SecretsCommand) -> Result<(), Failure> {
    match cmd {
        SecretsCommand::GenerateKey => {
            let key = SealKey::generate().map_err(anyhow::Error::from)?;
            eprintln!("a new [secrets] key; store it where your instances read secrets (it is not saved anywhere):");
            println!("{key}");
            Ok(())
        }
        SecretsCommand::Rotate { new_key_env, new_key_file } => {
            let old = cfg.secrets.load().map_err(|(k, m)| Failure::Usage(format!("{k}: {m}")))?.ok_or_else(|| {
                Failure::Usage(
                    "no [secrets] key is configured: there is nothing to rotate from; set key_env or key_file".into(),
                )
            })?;
            let new = new_key(new_key_env, new_key_file)?;
            if new.fingerprint() == old.fingerprint() {
                return Err(Failure::Usage("the new key is the configured key; generate another one".into()));
            }
            let db = db.ok_or_else(|| Failure::Usage("no database".into()))?;
            let mut c = db.conn().map_err(anyhow::Error::from)?;
            let done = crate::mailbox::write::rotate(&mut c, &Actor::cli(), &old, &new).map_err(anyhow::Error::from)?;
            println!(
                "re-sealed {} secret(s) with key {} ({} already were); now set [secrets] to the new key and restart \
                 every instance",
                done.resealed, done.new_key, done.already
            );
            Ok(())
        }
    }
}

/// The new key from its variable or file, read as [secrets] reads its own.
fn new_key(env: Option<String>, file: Option<String>) -> Result<SealKey, Failure> {
    let src = SecretRef { password_env: env, password_file: file };
    let text = src
        .resolve("--new-key")
        .map_err(|e| Failure::Usage(e.replace("password_env", "env").replace("password_file", "file")))?
        .ok_or_else(|| Failure::Usage("give --new-key-env VAR or --new-key-file PATH".into()))?;
    SealKey::parse(text.expose()).map_err(|e| Failure::Usage(format!("the new key {e}")))
}
