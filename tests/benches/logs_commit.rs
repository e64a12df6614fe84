//! Part `logs`, into the database: PowerMTA accounting records committed into SQLite per
//! second (the whole path: read, rules, attribution, events with provenance, counters,
//! suppression, checkpoint; one thread, so wall time is one core's, and its CPU time is
//! printed beside it), and the tail lag of a followed file written at 5,000 lines/s — the
//! time from a line's write to the commit that holds it, as `serve` follows (one pass every
//! `log_follow::POLL`). Goals: ≥ 50,000 records/s, lag ≤ 1 s.

use rebound::config::Config;
use rebound::ingest::Pipeline;
use rebound::ingest::log::LogContext;
use rebound::ingest::log_follow::POLL;
use rebound::ingest::log_read::LogSource;
use rebound::logs::{Format, Options};
use rebound::store::Db;
use std::io::Write;
use std::time::{Duration, Instant};

const RECORDS: usize = 100_000;
const RATE: usize = 5_000;
const TAIL_SECS: u64 = 10;

fn cpu_seconds() -> f64 {
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes the struct it is given.
    unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut u) };
    let t = |v: libc::timeval| v.tv_sec as f64 + v.tv_usec as f64 / 1e6;
    t(u.ru_utime) + t(u.ru_stime)
}

fn source() -> LogSource {
    LogSource {
        source: "log:bench".into(),
        format: Format::PowerMta,
        options: Options { node: Some("pmta-1".into()), ..Default::default() },
        context: LogContext { node: Some("pmta-1".into()), ..Default::default() },
    }
}

fn setup(dir: &std::path::Path) -> (Db, Pipeline) {
    let url = format!("sqlite://{}", dir.join("bench.db").display());
    let cfg = Config { database: rebound::config::DatabaseConfig { url, ..Default::default() }, ..Default::default() };
    let store = Db::connect(&cfg.database).expect("database");
    let pipeline = Pipeline::new(&cfg).expect("pipeline");
    pipeline.engine(&mut store.conn().expect("connection")).expect("rules");
    (store, pipeline)
}

pub fn run() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (store, pipeline) = setup(dir.path());
    let file = dir.path().join("acct.csv");
    std::fs::write(&file, super::logs::powermta_lines(RECORDS)).expect("write");
    let mut conn = store.conn().expect("connection");
    let (t, cpu) = (Instant::now(), cpu_seconds());
    let stats = pipeline.log_pass(&mut conn, &source(), &file, &mut |_, _| {}).expect("pass");
    let (secs, cpu) = (t.elapsed().as_secs_f64(), cpu_seconds() - cpu);
    assert_eq!(stats.records, RECORDS);
    println!(
        "{:<44} {:>9.0} records/s  ({RECORDS} records in {secs:.2} s wall, {cpu:.2} s CPU: {:.0} records/CPU-s)",
        "logs: PowerMTA committed into SQLite",
        RECORDS as f64 / secs,
        RECORDS as f64 / cpu
    );
    drop(conn);
    tail_lag();
}

/// A writer appends `RATE` lines/s (in 10 ms slices) for `TAIL_SECS`; the follower makes a
/// pass every POLL, and after each committed chunk knows how many lines are committed. A
/// line's lag is the commit time of the chunk that held it minus its write time; the worst
/// one is printed.
fn tail_lag() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (store, pipeline) = setup(dir.path());
    let file = dir.path().join("acct.csv");
    let text = super::logs::powermta_lines(RATE * TAIL_SECS as usize);
    let (header, body) = text.split_once('\n').expect("header");
    std::fs::write(&file, format!("{header}\n")).expect("write");
    let lines: Vec<String> = body.lines().map(|l| format!("{l}\n")).collect();
    let total = lines.len();
    let written = std::sync::Arc::new(std::sync::Mutex::new(Vec::<Instant>::with_capacity(total)));
    let w = written.clone();
    let path = file.clone();
    let writer = std::thread::spawn(move || {
        let mut f = std::fs::OpenOptions::new().append(true).open(&path).expect("open");
        let per_slice = RATE / 100;
        let start = Instant::now();
        for (n, chunk) in lines.chunks(per_slice).enumerate() {
            let due = start + Duration::from_millis(10 * n as u64);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            // Stamped before the write, so a line is never committed before its stamp exists.
            let now = Instant::now();
            w.lock().unwrap().extend(std::iter::repeat_n(now, chunk.len()));
            f.write_all(chunk.concat().as_bytes()).expect("append");
        }
    });
    let mut conn = store.conn().expect("connection");
    let (mut committed, mut worst) = (0usize, Duration::ZERO);
    // Each chunk's oldest line's lag, with when it was committed (seconds into the run).
    let mut lags: Vec<(Duration, f64)> = Vec::new();
    let began = Instant::now();
    let deadline = Instant::now() + Duration::from_secs(TAIL_SECS * 3);
    while committed < total && Instant::now() < deadline {
        let (before, pass_began) = (committed, Instant::now());
        // Called after each committed chunk with the pass's running counts: the oldest line
        // of the chunk (the first one after those committed before) waited longest.
        let stats = pipeline
            .log_pass(&mut conn, &source(), &file, &mut |_, so_far| {
                let now = Instant::now();
                let done = before + so_far.records;
                if done > committed {
                    let at = written.lock().unwrap()[committed];
                    worst = worst.max(now - at);
                    lags.push((now - at, (now - began).as_secs_f64()));
                    committed = done;
                }
            })
            .expect("pass");
        assert_eq!(committed, before + stats.records);
        // As `rebound serve` follows: a pass every POLL, start to start.
        std::thread::sleep(POLL.saturating_sub(pass_began.elapsed()));
    }
    writer.join().expect("writer");
    lags.sort_by_key(|l| l.0);
    let pick = |q: f64| lags.get(((lags.len() as f64 * q) as usize).min(lags.len().saturating_sub(1))).copied();
    if let (Some(p50), Some(p99), Some(max)) = (pick(0.5), pick(0.99), lags.last().copied()) {
        println!(
            "{:<44} p50 {:.3} s, p99 {:.3} s, worst {:.3} s at {:.1} s into the run ({} chunks)",
            "logs: tail lag per committed chunk",
            p50.0.as_secs_f64(),
            p99.0.as_secs_f64(),
            max.0.as_secs_f64(),
            max.1,
            lags.len()
        );
    }
    println!(
        "{:<44} {:>9.3} s worst lag  ({committed} of {total} lines at {RATE} lines/s, a pass every {} ms start to start)",
        "logs: tail lag of a followed file",
        worst.as_secs_f64(),
        POLL.as_millis()
    );
}
