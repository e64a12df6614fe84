//! Haraka: `config/rcpt_to.access.blacklist` of the rcpt_to.access (or access) plugin, one
//! address a line; Haraka re-reads a changed config file by itself. The list matches whole
//! addresses only, so domain-wide entries are skipped (counted).

use super::{ApplyError, Input, Staged};
use crate::sync::atomic::{self, beside};
use crate::sync::key::Key;
use std::path::Path;

pub fn stage(path: &Path, input: &mut Input) -> Result<Staged, ApplyError> {
    let tmp = beside(path, "tmp");
    let mut staged = Staged::new();
    staged.scratch(tmp.clone());
    atomic::write_file(&tmp, |w| {
        while let Some(key) = input.next_key() {
            match key {
                Key::Address(a) => {
                    atomic::line(w, &[&a])?;
                    input.written += 1;
                }
                Key::Domain(_) => input.skipped += 1,
            }
        }
        Ok(())
    })?;
    staged.then_rename(tmp, path.to_path_buf());
    Ok(staged)
}
