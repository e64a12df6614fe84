//! libFuzzer target: the file/mbox splitter of `rebound::fetch::files::walk` on arbitrary
//! file contents. It only reads from paths, so each input is written to one scratch file
//! (under /dev/shm when there is one). Oracles: no panic, no error, mbox positions 1, 2,
//! 3... in order, and never more message bytes out than file bytes in.
#![no_main]

use std::path::PathBuf;
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use rebound::fetch::files::walk;

static SCRATCH: LazyLock<PathBuf> = LazyLock::new(|| {
    let dir = if std::path::Path::new("/dev/shm").is_dir() { PathBuf::from("/dev/shm") } else { std::env::temp_dir() };
    dir.join(format!("rebound-fuzz-mbox-{}", std::process::id()))
});

fuzz_target!(|data: &[u8]| {
    let path = SCRATCH.clone();
    std::fs::write(&path, data).expect("write scratch file");
    let mut total = 0usize;
    let mut next = 1usize;
    let mut each = |_: &str, pos: Option<usize>, msg: &[u8]| {
        if let Some(p) = pos {
            assert_eq!(p, next, "mbox positions out of order");
            next += 1;
        }
        total += msg.len();
        Ok(())
    };
    let mut errors = Vec::new();
    let r = walk(std::slice::from_ref(&path), &mut each, &mut |n, e| errors.push(format!("{n}: {e}")));
    assert!(r.is_ok(), "walk failed: {r:?}");
    assert!(errors.is_empty(), "read errors: {errors:?}");
    // Separator lines are dropped and ">From " unquoted, so never more bytes come out.
    assert!(total <= data.len(), "{total} bytes out of {}", data.len());
});
