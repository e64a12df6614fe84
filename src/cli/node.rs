//! `rebound sync [NODE]` and `rebound node list`: render the nodes' lists now, and see
//! where each node stands. Only a face: the work and the status are [`crate::sync`]'s.

use super::Failure;
use super::output::{Format, opt, opt_time, print};
use crate::config::Config;
use crate::store::Db;
use crate::sync::{self, SyncError};
use chrono::Utc;
use std::path::Path;
use std::time::{Duration, Instant};

/// How long `rebound sync` waits for another instance's render of a node to finish.
const BUSY_WAIT: Duration = Duration::from_secs(120);

fn fail(e: impl Into<anyhow::Error>) -> Failure {
    Failure::Run(e.into())
}

/// Registers the config file's nodes and returns the live ones.
fn nodes(cfg: &Config, file: &Path, db: &Db) -> Result<Vec<sync::Node>, Failure> {
    let mut c = db.conn().map_err(fail)?;
    let file = file.display().to_string();
    sync::status::sync_config(&mut c, &cfg.node, Some(&file), Utc::now().naive_utc()).map_err(fail)?;
    sync::status::list(&mut c).map_err(fail)
}

/// Renders the named node, or every enabled node with a path, now; exits once each is
/// current, non-zero when one failed (its old list stays in force).
pub fn sync_now(cfg: &Config, file: &Path, db: &Db, name: Option<&str>) -> Result<(), Failure> {
    let all = nodes(cfg, file, db)?;
    let chosen: Vec<_> = match name {
        Some(n) => {
            let found: Vec<_> = all.iter().filter(|x| x.config.name == n).cloned().collect();
            if found.is_empty() {
                let known: Vec<&str> = all.iter().map(|x| x.config.name.as_str()).collect();
                return Err(Failure::Usage(format!(
                    "no node named `{n}`; configured: {}",
                    super::list_or_none(&known)
                )));
            }
            found
        }
        None => all.into_iter().filter(|x| x.config.enabled && x.config.path.is_some()).collect(),
    };
    if chosen.is_empty() {
        return Err(Failure::Usage("no enabled [[node]] with a path in the config file".into()));
    }
    let owner = crate::instance::poller_name();
    let mut c = db.conn().map_err(fail)?;
    let mut failed = 0;
    for node in &chosen {
        let started = Instant::now();
        let result = loop {
            match sync::sync_node(&mut c, node, &owner, Utc::now().naive_utc()) {
                Err(SyncError::Busy { .. }) if started.elapsed() < BUSY_WAIT => {
                    std::thread::sleep(Duration::from_millis(500))
                }
                other => break other,
            }
        };
        match result {
            Ok(a) => println!(
                "{}: applied seq {} ({} entries, {} written, {} skipped), checksum {} in {:.2}s",
                node.config.name,
                a.seq,
                a.checksum.count(),
                a.written,
                a.skipped,
                a.checksum,
                started.elapsed().as_secs_f64()
            ),
            Err(e) => {
                failed += 1;
                eprintln!("{}: NOT applied, the previous list stays in force: {e}", node.config.name);
            }
        }
    }
    if failed > 0 { Err(Failure::Run(anyhow::anyhow!("{failed} node(s) failed"))) } else { Ok(()) }
}

pub fn list(cfg: &Config, file: &Path, db: &Db, format: Format) -> Result<(), Failure> {
    nodes(cfg, file, db)?;
    let mut c = db.conn().map_err(fail)?;
    let views = sync::view::all(&mut c, Utc::now().naive_utc()).map_err(fail)?;
    print(
        format,
        &["name", "target", "last_apply", "applied_seq", "behind", "entries", "checksum", "verified", "last_error"],
        &views,
        |v| {
            vec![
                v.name.clone(),
                v.target.clone(),
                opt_time(&v.last_success_at),
                opt(&v.applied_seq),
                if v.changes_behind > 0 { format!("{} ({}s)", v.changes_behind, v.seconds_behind) } else { "0".into() },
                opt(&v.entries),
                opt(&v.checksum),
                opt(&v.verified),
                opt(&v.last_error),
            ]
        },
    )
    .map_err(fail)
}
