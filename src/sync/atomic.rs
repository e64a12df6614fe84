//! Applying a rendered list so that a node never reads half of one.
//!
//! Every output is first written under a temporary name beside its destination (same
//! directory, so the same filesystem and an atomic rename), flushed and fsynced; an index
//! (postmap, cdb) is built from it, still under a temporary name. Only then are the files
//! renamed into place, index first, and the directory fsynced. The previous files are kept
//! as hard links until `after_command` succeeds; when it fails they are renamed back, so the
//! old list stays in force, and the error is returned. Temporary files never outlive a
//! failed apply.

use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long postmap, cdb or `after_command` may run.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);

/// Why an apply failed; the stage says what to look at.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{stage}: {message}")]
pub struct ApplyError {
    /// `read` (the database), `write`, `build` (postmap/cdb), `install` (rename) or `after_command`.
    pub stage: &'static str,
    pub message: String,
}

impl ApplyError {
    pub fn new(stage: &'static str, message: impl Into<String>) -> Self {
        Self { stage, message: message.into() }
    }
}

fn io_err<'a>(stage: &'static str, path: &'a Path) -> impl Fn(io::Error) -> ApplyError + 'a {
    move |e| ApplyError::new(stage, format!("{}: {e}", path.display()))
}

/// `dir/.NAME.rebound-SUFFIX`: beside `dest`, hidden, never a name an MTA reads.
pub fn beside(dest: &Path, suffix: &str) -> PathBuf {
    let name = dest.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    dest.with_file_name(format!(".{name}.rebound-{suffix}"))
}

/// Writes `path` through `fill`, then flushes and fsyncs it.
pub fn write_file(path: &Path, fill: impl FnOnce(&mut BufWriter<File>) -> io::Result<()>) -> Result<(), ApplyError> {
    let err = io_err("write", path);
    let file = File::create(path).map_err(&err)?;
    let mut w = BufWriter::with_capacity(1 << 20, file);
    fill(&mut w).map_err(&err)?;
    let file = w.into_inner().map_err(|e| err(e.into_error()))?;
    file.sync_all().map_err(&err)
}

/// Runs a command to completion within [`COMMAND_TIMEOUT`]; its stderr (or stdout) is the
/// error when it exits non-zero.
pub fn run(stage: &'static str, cmd: &mut Command) -> Result<(), ApplyError> {
    let shown = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| ApplyError::new(stage, format!("cannot run {shown}: {e}; is it installed and on PATH?")))?;
    // Drain the pipes on threads so a chatty command cannot block on a full pipe.
    let drain = |r: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            if let Some(mut r) = r {
                let _ = r.read_to_string(&mut s);
            }
            s
        })
    };
    let out = drain(child.stdout.take().map(|r| Box::new(r) as Box<dyn Read + Send>));
    let err = drain(child.stderr.take().map(|r| Box::new(r) as Box<dyn Read + Send>));
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if start.elapsed() > COMMAND_TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(ApplyError::new(stage, format!("{shown} ran longer than {COMMAND_TIMEOUT:?}; killed")));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => return Err(ApplyError::new(stage, format!("{shown}: {e}"))),
        }
    };
    let (out, err) = (out.join().unwrap_or_default(), err.join().unwrap_or_default());
    if status.success() {
        return Ok(());
    }
    let said = if err.trim().is_empty() { out } else { err };
    let said: String = said.trim().chars().take(500).collect();
    Err(ApplyError::new(stage, format!("{shown} failed ({status}): {said}")))
}

/// Files written under temporary names, waiting to be renamed over their destinations.
#[derive(Debug, Default)]
pub struct Staged {
    /// (temporary, destination), in the order they are renamed.
    moves: Vec<(PathBuf, PathBuf)>,
    /// Helper files removed whatever happens (an index's source, a build's scratch file).
    scratch: Vec<PathBuf>,
}

impl Staged {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn then_rename(&mut self, tmp: PathBuf, dest: PathBuf) {
        self.moves.push((tmp, dest));
    }

    pub fn scratch(&mut self, path: PathBuf) {
        self.scratch.push(path);
    }

    /// Renames every file into place and runs `after_command` (with `sh -c`, `env` added);
    /// when the command fails, the previous files go back.
    pub fn install(mut self, after_command: Option<&str>, env: &[(&str, &str)]) -> Result<(), ApplyError> {
        let moves = std::mem::take(&mut self.moves);
        let mut kept = Vec::new();
        for (_, dest) in &moves {
            let prev = beside(dest, "prev");
            let _ = fs::remove_file(&prev);
            if dest.exists() {
                fs::hard_link(dest, &prev)
                    .or_else(|_| fs::copy(dest, &prev).map(|_| ()))
                    .map_err(io_err("install", dest))?;
                kept.push((prev, dest.clone()));
            } else {
                kept.push((PathBuf::new(), dest.clone()));
            }
        }
        for (i, (tmp, dest)) in moves.iter().enumerate() {
            if let Err(e) = fs::rename(tmp, dest) {
                restore(&kept[..i]);
                for (tmp, _) in &moves[i..] {
                    let _ = fs::remove_file(tmp);
                }
                return Err(io_err("install", dest)(e));
            }
        }
        for dir in moves.iter().filter_map(|(_, d)| d.parent()) {
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        if let Some(cmd) = after_command {
            let mut c = Command::new("sh");
            c.arg("-c").arg(cmd).envs(env.iter().copied());
            if let Err(e) = run("after_command", &mut c) {
                restore(&kept);
                return Err(e);
            }
        }
        for (prev, _) in kept {
            if !prev.as_os_str().is_empty() {
                let _ = fs::remove_file(prev);
            }
        }
        Ok(())
    }
}

/// Puts the kept previous files back (a destination that did not exist is removed).
fn restore(kept: &[(PathBuf, PathBuf)]) {
    for (prev, dest) in kept {
        if prev.as_os_str().is_empty() {
            let _ = fs::remove_file(dest);
        } else if let Err(e) = fs::rename(prev, dest) {
            tracing::error!(file = %dest.display(), error = %e, "could not put the previous file back");
        }
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        for (tmp, _) in &self.moves {
            let _ = fs::remove_file(tmp);
        }
        for s in &self.scratch {
            let _ = fs::remove_file(s);
        }
    }
}

/// Writes one line; used by every line-oriented renderer.
pub fn line(w: &mut impl Write, parts: &[&str]) -> io::Result<()> {
    for p in parts {
        w.write_all(p.as_bytes())?;
    }
    w.write_all(b"\n")
}
