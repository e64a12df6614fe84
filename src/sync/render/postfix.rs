//! Postfix: an access(5) table for `check_recipient_access`, compiled by postmap.
//!
//! Each key gets `REJECT 5.1.1 <reject_text>` (Postfix answers with
//! `access_map_reject_code`, 554 by default, and that enhanced status): an address as
//! `user@domain`, a domain-wide entry as `domain` (which, with Postfix's default
//! `parent_domain_matches_subdomains`, also covers its subdomains). The source is written
//! under a temporary name, `postmap [-c DIR] TYPE:TMP` builds TMP's index beside it, and the
//! index is renamed over PATH's, then the source over PATH. Postfix daemons notice a
//! changed table and reopen it; no reload. One rename per apply, never one per address.
//!
//! The default type is `cdb`: rebound always rewrites the whole table, which is what cdb is
//! made for (built in one pass, the fastest of postmap's types to build and to read, no
//! locking, no growth or map-size limit like lmdb's), and Postfix reads a replaced cdb file
//! at the next lookup. Debian ships it as the `postfix-cdb` package; `lmdb` (`postfix-lmdb`)
//! and `hash` (Berkeley DB, deprecated upstream) work too.
//!
//! For cdb, unless `postmap_command` is set, rebound writes the index itself in the same
//! pass as the source (the `cdb2` crate: standard cdb, which is what Postfix's cdb map reads),
//! because postmap takes about 70 s for a million keys. It writes what postmap writes: the
//! lowercased key and the value, neither with a trailing NUL (a test compares the two).

use super::{ApplyError, Input, Staged};
use crate::config::NodeConfig;
use crate::sync::atomic::{self, beside};
use crate::sync::key::Key;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The file postmap makes of `source` for `table_type`.
pub fn index_of(source: &Path, table_type: &str) -> PathBuf {
    let suffix = match table_type {
        "cdb" => "cdb",
        "lmdb" => "lmdb",
        _ => "db",
    };
    let mut p = source.as_os_str().to_owned();
    p.push(format!(".{suffix}"));
    PathBuf::from(p)
}

pub fn stage(node: &NodeConfig, path: &Path, input: &mut Input) -> Result<Staged, ApplyError> {
    let tmp = beside(path, "tmp");
    let mut staged = Staged::new();
    let value = format!("REJECT 5.1.1 {}", node.reject_text);
    let action = format!(" {value}");
    // Registered before writing, so a failure at any step removes what was written.
    staged.scratch(tmp.clone());
    let tmp_index = index_of(&tmp, &node.table_type);
    staged.scratch(tmp_index.clone());
    let mut index = if node.builtin_cdb { Some(CdbIndex::create(&tmp_index)?) } else { None };
    atomic::write_file(&tmp, |w| {
        atomic::line(w, &["# Written by rebound: the suppression list. Do not edit; it is replaced whole."])?;
        while let Some(key) = input.next_key() {
            let k = match &key {
                Key::Address(a) => a,
                Key::Domain(d) => d,
            };
            atomic::line(w, &[k, &action])?;
            if let Some(cdb) = index.as_mut() {
                cdb.make.add(k.as_bytes(), value.as_bytes())?;
            }
            input.written += 1;
        }
        Ok(())
    })?;
    if let Some(cdb) = index {
        cdb.finish(&tmp_index)?;
        staged.then_rename(tmp_index, index_of(path, &node.table_type));
        staged.then_rename(tmp, path.to_path_buf());
        return Ok(staged);
    }
    let mut cmd = Command::new(&node.postmap_command);
    if let Some(dir) = &node.config_dir {
        cmd.arg("-c").arg(dir);
    }
    cmd.arg(format!("{}:{}", node.table_type, tmp.display()));
    atomic::run("build", &mut cmd).map_err(|e| {
        let hint = if e.message.contains("unsupported dictionary type") {
            format!(
                "; install Postfix's {} support (Debian: postfix-{}) or set table_type",
                node.table_type, node.table_type
            )
        } else {
            String::new()
        };
        ApplyError::new("build", format!("{}{hint}", e.message))
    })?;
    staged.then_rename(tmp_index, index_of(path, &node.table_type));
    staged.then_rename(tmp, path.to_path_buf());
    Ok(staged)
}

/// A cdb index being written, with a handle kept to fsync it once finished.
struct CdbIndex {
    make: cdb2::CDBMake,
    file: std::fs::File,
}

impl CdbIndex {
    fn create(path: &Path) -> Result<CdbIndex, ApplyError> {
        let err = |e: std::io::Error| ApplyError::new("build", format!("{}: {e}", path.display()));
        let file = std::fs::File::create(path).map_err(err)?;
        let make = cdb2::CDBMake::new(file.try_clone().map_err(err)?).map_err(err)?;
        Ok(CdbIndex { make, file })
    }

    fn finish(self, path: &Path) -> Result<(), ApplyError> {
        let err = |e: std::io::Error| ApplyError::new("build", format!("{}: {e}", path.display()));
        self.make.finish().map_err(err)?;
        self.file.sync_all().map_err(err)
    }
}
