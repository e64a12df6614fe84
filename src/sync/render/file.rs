//! The generic `file` target, for anything else: `plain` (one address a line; a domain-wide
//! entry as `@domain`), `csv` (`address,scope` with a header, one row per pair) or `json`
//! (an array of `{"address", "scope"}` objects).

use super::{ApplyError, Input, Staged};
use crate::config::NodeConfig;
use crate::sync::atomic::{self, beside};
use crate::sync::key::Key;
use std::io::Write;
use std::path::Path;

fn text(key: &Key) -> String {
    match key {
        Key::Address(a) => a.clone(),
        Key::Domain(d) => format!("@{d}"),
    }
}

pub fn stage(node: &NodeConfig, path: &Path, input: &mut Input) -> Result<Staged, ApplyError> {
    let tmp = beside(path, "tmp");
    let mut staged = Staged::new();
    staged.scratch(tmp.clone());
    atomic::write_file(&tmp, |w| match node.format.as_str() {
        "csv" => {
            atomic::line(w, &["address,scope"])?;
            let mut csv = csv::Writer::from_writer(w);
            while let Some(e) = input.next_entry() {
                csv.write_record([text(&e.key), e.scope]).map_err(std::io::Error::other)?;
                input.written += 1;
            }
            csv.flush()
        }
        "json" => {
            w.write_all(b"[")?;
            let mut n = 0u64;
            while let Some(e) = input.next_entry() {
                if n > 0 {
                    w.write_all(b",")?;
                }
                let obj = serde_json::json!({"address": text(&e.key), "scope": e.scope});
                serde_json::to_writer(&mut *w, &obj)?;
                w.write_all(b"\n")?;
                n += 1;
            }
            input.written = n;
            w.write_all(b"]\n")
        }
        _ => {
            while let Some(key) = input.next_key() {
                atomic::line(w, &[&text(&key)])?;
                input.written += 1;
            }
            Ok(())
        }
    })?;
    staged.then_rename(tmp, path.to_path_buf());
    Ok(staged)
}
