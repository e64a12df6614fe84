//! Exim: a cdb file keyed by the full lowercased address, for `recipients = cdb;PATH` in an
//! ACL (`deny recipients = cdb;/etc/exim4/suppressed.cdb`).
//!
//! The input is written in cdbmake's format (`+KLEN,DLEN:KEY->DATA`, one record a line, an
//! empty line at the end), then tinycdb builds it (`cdb -c -t SCRATCH OUT IN`) and OUT is
//! renamed over PATH. Domain-wide entries are keyed `*@domain`, which Exim looks up after
//! the full address when the list says `cdb*@;PATH`. The value is the entry's scope.

use super::{ApplyError, Input, Staged};
use crate::config::NodeConfig;
use crate::sync::atomic::{self, beside};
use crate::sync::key::Key;
use std::io::Write;
use std::path::Path;
use std::process::Command;

pub fn stage(node: &NodeConfig, path: &Path, input: &mut Input) -> Result<Staged, ApplyError> {
    let (src, out, scratch) = (beside(path, "src"), beside(path, "tmp"), beside(path, "build"));
    let mut staged = Staged::new();
    for p in [&src, &out, &scratch] {
        staged.scratch(p.clone());
    }
    atomic::write_file(&src, |w| {
        while let Some(e) = input.next_entry() {
            if !e.first {
                continue;
            }
            let key = match &e.key {
                Key::Address(a) => a.clone(),
                Key::Domain(d) => format!("*@{d}"),
            };
            writeln!(w, "+{},{}:{}->{}", key.len(), e.scope.len(), key, e.scope)?;
            input.written += 1;
        }
        w.write_all(b"\n")
    })?;
    let mut cmd = Command::new(&node.cdb_command);
    cmd.arg("-c").arg("-t").arg(&scratch).arg(&out).arg(&src);
    atomic::run("build", &mut cmd)?;
    staged.then_rename(out, path.to_path_buf());
    Ok(staged)
}
