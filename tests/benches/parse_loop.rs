//! Parses the corpus in memory a few times, for instruction counts under callgrind:
//! `valgrind --tool=callgrind --toggle-collect=parse_loop::run target/release/examples/parse_loop`.
//! Takes the corpus directory (REBOUND_CORPUS, default ../shared/corpus/sisimai-dev/emails)
//! and a pass count (first argument, default 1); prints the number of emails parsed.

use std::path::{Path, PathBuf};

use rebound::parse::{ParseOptions, parse};

fn walk(p: &Path, out: &mut Vec<PathBuf>) {
    if p.is_dir() {
        let mut entries: Vec<_> = std::fs::read_dir(p).into_iter().flatten().flatten().map(|e| e.path()).collect();
        entries.sort();
        for e in entries {
            walk(&e, out);
        }
    } else if p.extension().is_some_and(|e| e == "eml") {
        out.push(p.to_path_buf());
    }
}

/// The measured part: every email parsed `passes` times.
#[inline(never)]
fn run(mails: &[Vec<u8>], passes: usize) -> usize {
    let opts = ParseOptions::default();
    let mut n = 0;
    for _ in 0..passes {
        for m in mails {
            n += std::hint::black_box(parse(m, &opts)).records.len().min(1);
        }
    }
    n
}

#[inline(never)]
fn run_warm(mails: &[Vec<u8>]) {
    let opts = ParseOptions::default();
    for m in mails {
        std::hint::black_box(parse(m, &opts));
    }
}

fn main() {
    let dir = std::env::var("REBOUND_CORPUS").unwrap_or_else(|_| "../shared/corpus/sisimai-dev/emails".into());
    let passes = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(1);
    let mut files = Vec::new();
    walk(Path::new(&dir), &mut files);
    let mails: Vec<Vec<u8>> = files.iter().filter_map(|f| std::fs::read(f).ok()).collect();
    // Tables are built on first use: one pass outside the measured function builds them.
    run_warm(&mails);
    let start = std::time::Instant::now();
    let with_records = run(&mails, passes);
    let secs = start.elapsed().as_secs_f64();
    let n = mails.len() * passes;
    println!("{n} emails parsed ({with_records} with records), {:.0} emails/s", n as f64 / secs);
}
