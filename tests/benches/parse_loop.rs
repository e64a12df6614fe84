//! Parses the corpus in memory a few times, for instruction counts under callgrind:
//! `valgrind --tool=callgrind --toggle-collect=parse_loop::run target/release/examples/parse_loop`.
//! Takes the corpus directory (REBOUND_CORPUS, default ../shared/corpus/sisimai-dev/emails)
//! and a pass count (first argument, default 1); prints the number of emails parsed.

use std::path::Path;

#[path = "../support/mod.rs"]
mod support;

use rebound::parse::{ParseOptions, parse};

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
    let files = support::eml_files(Path::new(&dir));
    let mails: Vec<Vec<u8>> = files.iter().filter_map(|f| std::fs::read(f).ok()).collect();
    // Tables are built on first use: one pass outside the measured function builds them.
    run_warm(&mails);
    let start = std::time::Instant::now();
    let with_records = run(&mails, passes);
    let secs = start.elapsed().as_secs_f64();
    let n = mails.len() * passes;
    println!("{n} emails parsed ({with_records} with records), {:.0} emails/s", n as f64 / secs);
}
