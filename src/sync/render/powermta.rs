//! PowerMTA: the file of an `<address-list>`'s `address-file`, one `local@domain` a line,
//! named by `suppression-lists`; then `after_command` (typically `pmta reload`).
//!
//! A line without `@` is a bare local part to PowerMTA and matches that name at every
//! domain, so this writer checks each line once more before it writes it (beyond
//! [`crate::sync::key::classify`]): only `local@domain` with both parts non-empty ever
//! reaches the file. Domain-wide entries go to `domain_path` (one domain a line, for the
//! user to include as `domain` lines of the list) and are skipped when it is not set.

use super::{ApplyError, Input, Staged};
use crate::config::NodeConfig;
use crate::sync::atomic::{self, beside};
use crate::sync::key::Key;
use std::path::{Path, PathBuf};

/// Only `local@domain`, nothing else: the last guard before the file.
fn address_line(a: &str) -> Option<&str> {
    match a.split_once('@') {
        Some((l, d)) if !l.is_empty() && !d.is_empty() && !d.contains('@') && !a.contains(char::is_whitespace) => {
            Some(a)
        }
        _ => None,
    }
}

pub fn stage(node: &NodeConfig, path: &Path, input: &mut Input) -> Result<Staged, ApplyError> {
    let tmp = beside(path, "tmp");
    let domains_tmp = node.domain_path.as_ref().map(|d| beside(Path::new(d), "tmp"));
    let mut staged = Staged::new();
    staged.scratch(tmp.clone());
    let mut domains = Vec::new();
    atomic::write_file(&tmp, |w| {
        while let Some(key) = input.next_key() {
            match key {
                Key::Address(a) => match address_line(&a) {
                    Some(line) => {
                        atomic::line(w, &[line])?;
                        input.written += 1;
                    }
                    None => input.skipped += 1,
                },
                Key::Domain(d) if domains_tmp.is_some() => domains.push(d),
                Key::Domain(_) => input.skipped += 1,
            }
        }
        Ok(())
    })?;
    staged.then_rename(tmp, path.to_path_buf());
    if let (Some(dtmp), Some(dest)) = (domains_tmp, &node.domain_path) {
        staged.scratch(dtmp.clone());
        atomic::write_file(&dtmp, |w| {
            for d in &domains {
                atomic::line(w, &[d])?;
            }
            Ok(())
        })?;
        input.written += domains.len() as u64;
        staged.then_rename(dtmp, PathBuf::from(dest));
    }
    Ok(staged)
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_local_at_domain_passes() {
        assert_eq!(super::address_line("a@x.org"), Some("a@x.org"));
        for bad in ["a", "@x.org", "a@", "a@b@c", "a b@x.org"] {
            assert_eq!(super::address_line(bad), None, "{bad}");
        }
    }
}
