//! Messages from the filesystem: files, directories (walked recursively, so Maildirs too)
//! and mbox files, for `rebound parse` and `rebound import`.
//!
//! Takes paths; gives each message's bytes with a stable name (the path as given joined
//! with the relative path inside a directory, `#N` for the N-th message of an mbox).
//! mbox files are streamed line by line, so a 1 GB mbox needs memory for one message only.
//! It never modifies or deletes the files it reads.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// Calls `each(name, bytes)` for every message under `paths`, in a stable order.
/// Unreadable entries are reported through `each_error` and skipped, never silently.
pub fn walk(
    paths: &[PathBuf],
    each: &mut dyn FnMut(&str, &[u8]) -> io::Result<()>,
    each_error: &mut dyn FnMut(&str, io::Error),
) -> io::Result<()> {
    for p in paths {
        let meta = match std::fs::metadata(p) {
            Ok(m) => m,
            Err(e) => {
                each_error(&p.display().to_string(), e);
                continue;
            }
        };
        if meta.is_dir() {
            let mut files = Vec::new();
            collect(p, &mut files, each_error);
            files.sort();
            for f in files {
                read_one(&f, each, each_error)?;
            }
        } else {
            read_one(p, each, each_error)?;
        }
    }
    Ok(())
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>, each_error: &mut dyn FnMut(&str, io::Error)) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => return each_error(&dir.display().to_string(), e),
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        // Hidden files (Dovecot index files, editor droppings) and licences are not mail.
        if name.starts_with('.') {
            continue;
        }
        match entry.file_type() {
            Ok(t) if t.is_dir() => collect(&path, out, each_error),
            Ok(t) if t.is_file() && !matches!(name.as_ref(), "LICENSE" | "README" | "README.md") => out.push(path),
            _ => {}
        }
    }
}

fn read_one(
    path: &Path,
    each: &mut dyn FnMut(&str, &[u8]) -> io::Result<()>,
    each_error: &mut dyn FnMut(&str, io::Error),
) -> io::Result<()> {
    let name = path.display().to_string();
    let mut file = match File::open(path) {
        Ok(f) => BufReader::with_capacity(64 * 1024, f),
        Err(e) => {
            each_error(&name, e);
            return Ok(());
        }
    };
    let is_mbox = match file.fill_buf() {
        Ok(head) => head.starts_with(b"From ") && !head.starts_with(b"From: "),
        Err(e) => {
            each_error(&name, e);
            return Ok(());
        }
    };
    if is_mbox {
        return read_mbox(&name, file, each);
    }
    let mut raw = Vec::new();
    match file.read_to_end(&mut raw) {
        Ok(_) => each(&name, &raw),
        Err(e) => {
            each_error(&name, e);
            Ok(())
        }
    }
}

/// Splits an mbox on its "From " separator lines, undoing mboxrd ">From " quoting.
fn read_mbox(
    name: &str,
    mut file: impl BufRead,
    each: &mut dyn FnMut(&str, &[u8]) -> io::Result<()>,
) -> io::Result<()> {
    let mut line = Vec::new();
    let mut msg: Vec<u8> = Vec::new();
    let mut n = 0usize;
    let mut started = false;
    loop {
        line.clear();
        let read = file.read_until(b'\n', &mut line)?;
        if read == 0 || line.starts_with(b"From ") {
            if started {
                // The blank line before a separator belongs to the mbox format, not the message.
                if msg.ends_with(b"\n\n") {
                    msg.pop();
                } else if msg.ends_with(b"\r\n\r\n") {
                    msg.truncate(msg.len() - 2);
                }
                n += 1;
                each(&format!("{name}#{n}"), &msg)?;
                msg.clear();
            }
            if read == 0 {
                return Ok(());
            }
            started = true;
            continue;
        }
        let unquoted = line.iter().position(|&b| b != b'>').is_some_and(|i| i > 0 && line[i..].starts_with(b"From "));
        msg.extend_from_slice(if unquoted { &line[1..] } else { &line });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names_and_bodies(paths: &[PathBuf]) -> Vec<(String, Vec<u8>)> {
        let mut out = Vec::new();
        walk(
            paths,
            &mut |n, b| {
                out.push((n.to_string(), b.to_vec()));
                Ok(())
            },
            &mut |n, e| panic!("{n}: {e}"),
        )
        .unwrap();
        out
    }

    #[test]
    fn mbox_is_split_and_unquoted() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("box");
        std::fs::write(&p, "From a@b Mon Jan 1 00:00:00 2024\nSubject: one\n\n>From the start\nbody\n\nFrom c@d Mon Jan 1 00:00:00 2024\nSubject: two\n\nx\n").unwrap();
        let got = names_and_bodies(std::slice::from_ref(&p));
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].0, format!("{}#1", p.display()));
        assert_eq!(got[0].1, b"Subject: one\n\nFrom the start\nbody\n");
        assert_eq!(got[1].1, b"Subject: two\n\nx\n");
    }

    #[test]
    fn directories_walk_sorted_and_skip_hidden() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("cur")).unwrap();
        std::fs::write(dir.path().join("cur/b.eml"), "Subject: b\n\n").unwrap();
        std::fs::write(dir.path().join("a.eml"), "Subject: a\n\n").unwrap();
        std::fs::write(dir.path().join(".index"), "x").unwrap();
        let names: Vec<_> = names_and_bodies(&[dir.path().to_path_buf()]).into_iter().map(|(n, _)| n).collect();
        assert_eq!(names.len(), 2);
        assert!(names[0].ends_with("a.eml") && names[1].ends_with("cur/b.eml"), "{names:?}");
    }
}
