//! KumoMTA: no list of its own, so rebound writes one the user's Lua policy looks
//! recipients up in (the README has the snippet): `sqlite` (default), a database with one
//! table `suppressed(address TEXT PRIMARY KEY)`, or `text`, one entry a line. A domain-wide
//! entry is stored as `@domain`, so the policy looks up both the address and `'@' .. domain`.
//! The database is built complete under a temporary name and renamed over PATH: a policy
//! that opens PATH sees the old list or the new one, never a half-written one.

use super::{ApplyError, Input, Staged};
use crate::config::NodeConfig;
use crate::sync::atomic::{self, beside};
use crate::sync::key::Key;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::Text;
use std::path::Path;

fn text(key: Key) -> String {
    match key {
        Key::Address(a) => a,
        Key::Domain(d) => format!("@{d}"),
    }
}

/// Rows per INSERT: well below SQLite's bind limit.
const ROWS: usize = 500;

pub fn stage(node: &NodeConfig, path: &Path, input: &mut Input) -> Result<Staged, ApplyError> {
    let tmp = beside(path, "tmp");
    let mut staged = Staged::new();
    staged.scratch(tmp.clone());
    if node.format == "text" {
        atomic::write_file(&tmp, |w| {
            while let Some(key) = input.next_key() {
                atomic::line(w, &[&text(key)])?;
                input.written += 1;
            }
            Ok(())
        })?;
    } else {
        let _ = std::fs::remove_file(&tmp);
        let db_err = |e: &dyn std::fmt::Display| ApplyError::new("write", format!("{}: {e}", tmp.display()));
        let mut c = SqliteConnection::establish(&tmp.display().to_string()).map_err(|e| db_err(&e))?;
        c.batch_execute(
            "PRAGMA journal_mode = DELETE; PRAGMA synchronous = FULL; \
             CREATE TABLE suppressed (address TEXT PRIMARY KEY NOT NULL) WITHOUT ROWID; BEGIN;",
        )
        .map_err(|e| db_err(&e))?;
        let mut batch: Vec<String> = Vec::with_capacity(ROWS);
        let flush = |c: &mut SqliteConnection, batch: &mut Vec<String>| -> Result<(), ApplyError> {
            if batch.is_empty() {
                return Ok(());
            }
            let sql =
                format!("INSERT OR IGNORE INTO suppressed (address) VALUES {}", vec!["(?)"; batch.len()].join(","));
            let mut q = diesel::sql_query(sql).into_boxed();
            for a in batch.drain(..) {
                q = q.bind::<Text, _>(a);
            }
            q.execute(c).map(|_| ()).map_err(|e| db_err(&e))
        };
        while let Some(key) = input.next_key() {
            batch.push(text(key));
            input.written += 1;
            if batch.len() == ROWS {
                flush(&mut c, &mut batch)?;
            }
        }
        flush(&mut c, &mut batch)?;
        c.batch_execute("COMMIT;").map_err(|e| db_err(&e))?;
        drop(c);
        std::fs::File::open(&tmp).and_then(|f| f.sync_all()).map_err(|e| db_err(&e))?;
    }
    staged.then_rename(tmp, path.to_path_buf());
    Ok(staged)
}
