//! Messages from the filesystem: files, directories (walked recursively, so Maildirs too)
//! and mbox files, for `rebound parse` and `rebound import`.
//!
//! Takes paths; gives each message's bytes with a stable name (the path as given joined
//! with the relative path inside a directory) and, inside an mbox, its 1-based position.
//! mbox files are streamed line by line, so a 1 GB mbox needs memory for one message only.
//! It never modifies or deletes the files it reads.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// Receives each message: its name, its position inside an mbox (None for a plain file),
/// and its bytes, to keep (both callers hold messages past the call: handing them over saves
/// a copy of every message).
pub type Each<'a> = dyn FnMut(&str, Option<usize>, Vec<u8>) -> io::Result<()> + 'a;

/// Calls `each(name, position, bytes)` for every message under `paths`, in a stable order.
/// Unreadable entries are reported through `each_error` and skipped, never silently.
pub fn walk(paths: &[PathBuf], each: &mut Each, each_error: &mut dyn FnMut(&str, io::Error)) -> io::Result<()> {
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
            for f in files {
                read_one(&f, each, each_error)?;
            }
        } else {
            read_one(p, each, each_error)?;
        }
    }
    Ok(())
}

/// Every file under `dir`, in path order: each directory's entries sorted by name and walked
/// depth first, which is the order of sorting the whole paths (component by component) at a
/// fraction of its cost (comparing two `Path`s re-splits both into components).
fn collect(dir: &Path, out: &mut Vec<PathBuf>, each_error: &mut dyn FnMut(&str, io::Error)) {
    let mut entries: Vec<std::fs::DirEntry> = match std::fs::read_dir(dir) {
        Ok(e) => e.flatten().collect(),
        Err(e) => return each_error(&dir.display().to_string(), e),
    };
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
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

/// Files up to this size are read whole in one allocation of their own size; larger ones
/// (mbox files) are streamed.
const READ_WHOLE: u64 = 1 << 20;

fn read_one(path: &Path, each: &mut Each, each_error: &mut dyn FnMut(&str, io::Error)) -> io::Result<()> {
    let name = path.display().to_string();
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) => {
            each_error(&name, e);
            return Ok(());
        }
    };
    if let Some(len) = file.metadata().ok().map(|m| m.len()).filter(|&n| n <= READ_WHOLE) {
        // One read into a buffer of the file's size, no 64 KiB reader per file (most of a
        // directory walk's cost was allocating and copying through it).
        let mut raw = Vec::with_capacity(len as usize + 1);
        // Through `Take`, which gives no size hint: `File`'s own `read_to_end` would ask the
        // size and position again (two more system calls per file, known already).
        return match Read::by_ref(&mut file).take(u64::MAX).read_to_end(&mut raw) {
            Ok(_) if is_separator(&raw) => read_mbox(&name, raw.as_slice(), mbox_eol(&raw), each),
            Ok(_) => each(&name, None, raw),
            Err(e) => {
                each_error(&name, e);
                Ok(())
            }
        };
    }
    let mut file = BufReader::with_capacity(64 * 1024, file);
    // An mbox starts with an envelope line; its line ending (LF, CRLF, or CR alone as on old
    // Macs) is the file's.
    let eol = match file.fill_buf() {
        Ok(head) if is_separator(head) => Some(mbox_eol(head)),
        Ok(_) => None,
        Err(e) => {
            each_error(&name, e);
            return Ok(());
        }
    };
    if let Some(eol) = eol {
        return read_mbox(&name, file, eol, each);
    }
    let mut raw = Vec::new();
    match file.read_to_end(&mut raw) {
        Ok(_) => each(&name, None, raw),
        Err(e) => {
            each_error(&name, e);
            Ok(())
        }
    }
}

/// The line end of an mbox whose first line is `head`'s: LF, CRLF, or CR alone.
fn mbox_eol(head: &[u8]) -> u8 {
    match head.iter().position(|&b| b == b'\n' || b == b'\r') {
        Some(i) if head[i] == b'\r' && head.get(i + 1) != Some(&b'\n') => b'\r',
        _ => b'\n',
    }
}

/// Is this line an mbox envelope line: "From SENDER DATE", the date ending in a year?
fn is_separator(line: &[u8]) -> bool {
    let Some(rest) = line.strip_prefix(b"From ") else { return false };
    let end = rest.iter().position(|&b| b == b'\n' || b == b'\r').unwrap_or(rest.len());
    let text = String::from_utf8_lossy(&rest[..end]);
    let words: Vec<&str> = text.split_whitespace().collect();
    // ctime() dates: "Mon Jan  1 00:00:00 2024", sometimes with a zone after the year.
    words.len() >= 5
        && words.iter().skip(1).any(|w| w.len() == 8 && w.as_bytes()[2] == b':' && w.as_bytes()[5] == b':')
        && words.iter().skip(3).any(|w| w.len() == 4 && w.bytes().all(|b| b.is_ascii_digit()))
}

/// Splits an mbox on its "From " separator lines, undoing mboxrd ">From " quoting. A file
/// holding a single message (a saved .eml with its envelope line) keeps its plain name;
/// only a real mbox names its messages `#N`. At most two messages are held at a time.
fn read_mbox(name: &str, mut file: impl BufRead, eol: u8, each: &mut Each) -> io::Result<()> {
    let mut line = Vec::new();
    let mut msg: Vec<u8> = Vec::new();
    let mut first: Option<Vec<u8>> = None;
    let mut n = 0usize;
    let mut started = false;
    let mut after_break = true;
    loop {
        line.clear();
        let read = file.read_until(eol, &mut line)?;
        let text = line.strip_suffix(b"\n").unwrap_or(&line);
        let text = text.strip_suffix(b"\r").unwrap_or(text);
        // A separator looks like "From sender date" and follows a blank line or the closing
        // boundary of a MIME message; a "From " inside a quoted bounce body is not one.
        let separator = after_break && is_separator(&line);
        after_break = text.is_empty() || (text.starts_with(b"--") && text.ends_with(b"--") && text.len() > 4);
        if read == 0 || separator {
            if started {
                // The blank line before a separator belongs to the mbox format, not the message.
                if msg.ends_with(b"\n\n") || msg.ends_with(b"\r\r") {
                    msg.pop();
                } else if msg.ends_with(b"\r\n\r\n") {
                    msg.truncate(msg.len() - 2);
                }
                n += 1;
                match (n, read == 0) {
                    (1, true) => return each(name, None, msg),
                    (1, false) => first = Some(std::mem::take(&mut msg)),
                    _ => {
                        if let Some(f) = first.take() {
                            each(name, Some(1), f)?;
                        }
                        // The next one starts at this one's size: most of an mbox is alike.
                        let next = Vec::with_capacity(msg.len());
                        each(name, Some(n), std::mem::replace(&mut msg, next))?;
                    }
                }
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
            &mut |n, part, b| {
                let name = part.map_or(n.to_string(), |k| format!("{n}#{k}"));
                out.push((name, b));
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
    fn a_single_message_with_an_envelope_line_keeps_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("one.eml");
        std::fs::write(&p, "From MAILER-DAEMON Mon Jan 1 00:00:00 2024\nSubject: one\n\nbody\n").unwrap();
        let got = names_and_bodies(std::slice::from_ref(&p));
        assert_eq!(got, vec![(p.display().to_string(), b"Subject: one\n\nbody\n".to_vec())]);
    }

    #[test]
    fn from_lines_in_bodies_are_not_separators() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bounce.eml");
        let text = "From MAILER-DAEMON Mon Jan  1 00:00:00 2024\nSubject: bounce\n\nquoted:\nFrom someone who wrote\n\nFrom the start\n";
        std::fs::write(&p, text).unwrap();
        let got = names_and_bodies(std::slice::from_ref(&p));
        assert_eq!(got.len(), 1, "{got:?}");
        let cr_only = dir.path().join("mac.mbox");
        std::fs::write(
            &cr_only,
            "From a Mon Jan  1 00:00:00 2024\rSubject: x\r\rbody\r\rFrom b Mon Jan  1 00:00:00 2024\rSubject: y\r\rz\r",
        )
        .unwrap();
        let got = names_and_bodies(std::slice::from_ref(&cr_only));
        assert_eq!(got.len(), 2, "CR-only mbox files split too: {got:?}");
        assert_eq!(got[0].1, b"Subject: x\r\rbody\r");
        // Right after a MIME message's closing boundary, without a blank line.
        let tight = dir.path().join("tight.mbox");
        std::fs::write(&tight, "From a Mon Jan  1 00:00:00 2024\nContent-Type: multipart/mixed; boundary=b\n\n--b\n\nx\n--b--\nFrom c Mon Jan  1 00:00:00 2024\nSubject: two\n\ny\n").unwrap();
        assert_eq!(names_and_bodies(std::slice::from_ref(&tight)).len(), 2);
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
