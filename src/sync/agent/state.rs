//! The agent's state file: the cursor and the exact set of the list it last installed.
//!
//! Written only after the list's rename, through a temporary file, fsync and rename of its
//! own, so after a kill at any moment the file describes a list that was installed: either
//! the one in place, or the one before it (when the kill fell between the two renames). On
//! resume the agent reads the changes after that cursor and installs again, which gives the
//! right list in both cases (applying a change twice is harmless: the last operation on
//! each entry wins). Format: a JSON header line `{"version", "server", "node", "out", "seq",
//! "count", "checksum"}`, then one `["address","scope"]` line per entry. A file that does
//! not match its header, or was written for another server, node or output, is ignored (the
//! agent takes a fresh snapshot).

use crate::sync::atomic::{self, ApplyError};
use crate::sync::checksum::Checksum;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::io::{BufRead, Write};
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    pub version: u32,
    pub server: String,
    pub node: Option<String>,
    pub out: String,
    pub seq: i64,
    pub count: u64,
    pub checksum: String,
}

/// What the agent holds: the set, current to `seq`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Held {
    pub seq: i64,
    pub set: BTreeSet<(String, String)>,
}

impl Held {
    pub fn checksum(&self) -> Checksum {
        Checksum::of(self.set.iter().map(|(a, s)| (a.as_str(), s.as_str())))
    }
}

/// Whom the state belongs to: a file for another server, node or output is not ours.
pub struct Owner<'a> {
    pub server: &'a str,
    pub node: Option<&'a str>,
    pub out: &'a str,
}

/// The held set, or None (with the reason logged) when there is no usable state.
pub fn load(path: &Path, owner: &Owner) -> Option<Held> {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => {
            tracing::warn!(state = %path.display(), error = %e, "cannot read the state file; taking a fresh snapshot");
            return None;
        }
    };
    let mut lines = std::io::BufReader::new(file).lines();
    let read = || -> Result<Held, String> {
        let first = lines.next().ok_or("empty")?.map_err(|e| e.to_string())?;
        let h: Header = serde_json::from_str(&first).map_err(|e| format!("header: {e}"))?;
        if h.version != 1 || h.server != owner.server || h.node.as_deref() != owner.node || h.out != owner.out {
            return Err("it was written for another server, node or output".into());
        }
        let mut held = Held { seq: h.seq, set: BTreeSet::new() };
        for line in lines {
            let line = line.map_err(|e| e.to_string())?;
            let pair: (String, String) = serde_json::from_str(&line).map_err(|e| format!("an entry: {e}"))?;
            held.set.insert(pair);
        }
        let sum = held.checksum();
        if sum.count() != h.count || sum.hex() != h.checksum {
            return Err("its entries do not match its header (a damaged file)".into());
        }
        Ok(held)
    };
    match read() {
        Ok(h) => Some(h),
        Err(why) => {
            tracing::warn!(state = %path.display(), why, "ignoring the state file; taking a fresh snapshot");
            None
        }
    }
}

/// Replaces the state file with `held`, atomically.
pub fn save(path: &Path, owner: &Owner, held: &Held) -> Result<(), ApplyError> {
    let sum = held.checksum();
    let header = Header {
        version: 1,
        server: owner.server.to_string(),
        node: owner.node.map(str::to_string),
        out: owner.out.to_string(),
        seq: held.seq,
        count: sum.count(),
        checksum: sum.hex(),
    };
    let tmp = atomic::beside(path, "tmp");
    atomic::write_file(&tmp, |w| {
        serde_json::to_writer(&mut *w, &header)?;
        w.write_all(b"\n")?;
        for pair in &held.set {
            serde_json::to_writer(&mut *w, pair)?;
            w.write_all(b"\n")?;
        }
        Ok(())
    })?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        ApplyError::new("state", format!("{}: {e}", path.display()))
    })?;
    if let Some(dir) = path.parent()
        && let Ok(d) = std::fs::File::open(dir)
    {
        let _ = d.sync_all();
    }
    Ok(())
}
