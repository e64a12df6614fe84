//! libFuzzer target: the file/mbox splitter of `rebound::fetch::files::walk` on arbitrary
//! file contents. It only reads from paths, so each input is written to one scratch file,
//! unlinked at once and read back through /proc/self/fd/N (Linux), so that nothing is left
//! behind when libFuzzer exits. Oracles: no panic, no error, mbox positions 1, 2, 3... in
//! order, and never more message bytes out than file bytes in.
#![no_main]

use std::fs::File;
use std::io::{Seek, Write};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::sync::{LazyLock, Mutex};

use libfuzzer_sys::fuzz_target;
use rebound::fetch::files::walk;

static SCRATCH: LazyLock<(Mutex<File>, PathBuf)> = LazyLock::new(|| {
    let dir = if std::path::Path::new("/dev/shm").is_dir() { PathBuf::from("/dev/shm") } else { std::env::temp_dir() };
    let path = dir.join(format!("rebound-fuzz-mbox-{}", std::process::id()));
    let file = File::options().read(true).write(true).create(true).truncate(true).open(&path).expect("scratch file");
    std::fs::remove_file(&path).expect("unlink scratch file");
    let fd = PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()));
    (Mutex::new(file), fd)
});

fuzz_target!(|data: &[u8]| {
    let (file, path) = &*SCRATCH;
    {
        let mut f = file.lock().expect("scratch lock");
        f.set_len(0).expect("truncate scratch file");
        f.rewind().expect("rewind scratch file");
        f.write_all(data).expect("write scratch file");
    }
    let mut total = 0usize;
    let mut next = 1usize;
    let mut each = |_: &str, pos: Option<usize>, msg: Vec<u8>| {
        if let Some(p) = pos {
            assert_eq!(p, next, "mbox positions out of order");
            next += 1;
        }
        total += msg.len();
        Ok(())
    };
    let mut errors = Vec::new();
    let r = walk(std::slice::from_ref(path), &mut each, &mut |n, e| errors.push(format!("{n}: {e}")));
    assert!(r.is_ok(), "walk failed: {r:?}");
    assert!(errors.is_empty(), "read errors: {errors:?}");
    // Separator lines are dropped and ">From " unquoted, so never more bytes come out.
    assert!(total <= data.len(), "{total} bytes out of {}", data.len());
});
