//! `make bench`: throughput and cost figures, measured (never asserted in tests).
//!
//! Over the corpus emails held in memory (`REBOUND_CORPUS`, default
//! ../shared/corpus/sisimai-dev/emails): parse, parse + classify, classify alone with the
//! default library and with 1,000 rules, import into SQLite and PostgreSQL (10 copies, each
//! made distinct so none is a duplicate), the whole `rebound parse --json` process over a
//! directory of 10 copies, and peak memory parsing a 1 GB mbox. Single-threaded: figures
//! are per core. Each timed loop keeps its best pass, the least disturbed by the machine.
//! Part `api` (see `api.rs`, needs no corpus): the admin API over 1,000,000 suppression
//! entries on both backends.
//! Part `sync` (see `sync.rs` and `sync_protocol.rs`): a 1M-entry Postfix cdb rendered, the
//! node agents' snapshot of 1M entries and a delta of 10,000 changes, and (`sync_idle.rs`) a
//! bounce landing in Dovecot until Postfix refuses it, with IDLE and a push node.
//! Part `views` (see `views.rs`, needs no corpus): a campaign's BOUNCED pages over 1,000,000
//! seeded events through the HTTP API, p50/p99, its report and its CSV export.
//! Part `notify` (see `notify.rs`, needs no corpus): webhook events enqueued in the ingest
//! transaction and the import slowdown, deliveries per second to a local receiver, alert
//! evaluation per rule over 1,000,000 events.
//! Part `web` (see `web.rs`, needs no corpus): every web admin page over the same 1,000,000
//! seeded events, p50/p99 per page.
//! Part `logs` (see `logs.rs`, needs no corpus): lines/s of each MTA log reader.
//! Part `stats` (see `stats.rs`, needs no corpus): statistics queries over 10,000,000 events
//! on both backends, p50/p99, and what keeping the statistics costs the log ingest.

mod api;
mod import_list;
mod logs;
mod logs_commit;
mod notify;
mod stats;
#[path = "../support/mod.rs"]
mod support;
mod sync;
mod sync_idle;
mod sync_protocol;
mod views;
mod web;

use rebound::classify::{Condition, Engine, Field, Op, Origin, Outcome, Rule, library};
use rebound::config::{Config, DatabaseConfig};
use rebound::ingest::{Item, Pipeline};
use rebound::parse::{ParseOptions, parse};
use rebound::store::Db;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Best seconds per pass of `f` over at least `secs` seconds.
fn best_pass(secs: f64, mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    let mut best = f64::MAX;
    while start.elapsed() < Duration::from_secs_f64(secs) {
        let t = Instant::now();
        f();
        best = best.min(t.elapsed().as_secs_f64());
    }
    best
}

/// `n` copies of every mail, each made distinct by a header so none is a duplicate.
fn copies(mails: &[Vec<u8>], n: usize) -> Vec<Vec<u8>> {
    let mut out = Vec::with_capacity(mails.len() * n);
    for i in 0..n {
        for (j, m) in mails.iter().enumerate() {
            let mut v = format!("X-Bench-Copy: {i}-{j}\r\n").into_bytes();
            v.extend_from_slice(m);
            out.push(v);
        }
    }
    out
}

fn thousand_rules() -> Vec<Rule> {
    let words = ["quota", "blocked", "spamhaus", "unknown", "disabled", "relay", "policy", "greylist", "dmarc", "ptr"];
    let mut rules = Vec::new();
    for i in 0..1000 {
        let w = words[i % words.len()];
        let when = match i % 5 {
            0 => vec![Condition::new(Field::Diagnostic, Op::Contains, format!("{w} marker {i}"))],
            1 => vec![Condition::new(Field::Diagnostic, Op::Matches, format!(r"{w}\s+code\s+{i}\b"))],
            2 => vec![Condition::any_of(
                Field::RecipientDomain,
                Op::In,
                &[&format!("d{i}.example"), &format!("e{i}.example")],
            )],
            3 => vec![
                Condition::new(Field::Status, Op::Like, format!("5.{}.*", i % 8)),
                Condition::new(Field::RemoteMta, Op::EndsWith, format!("mx{i}.example")),
            ],
            _ => vec![Condition::new(Field::Subject, Op::StartsWith, format!("{w} {i}"))],
        };
        rules.push(Rule {
            key: format!("custom-{i}"),
            name: format!("custom rule {i}"),
            description: None,
            enabled: true,
            origin: Origin::Custom,
            when,
            outcome: Outcome::Soft,
            reason: None,
        });
    }
    rules.extend(library::defaults());
    rules
}

fn import_rate(label: &str, db: DatabaseConfig, mails: &[Vec<u8>]) {
    let cfg = Config { database: db, ..Default::default() };
    let store = match Db::connect(&cfg.database) {
        Ok(s) => s,
        Err(e) => return println!("{label:<44} skipped: {e}"),
    };
    let pipeline = Pipeline::new(&cfg).expect("pipeline");
    let mut conn = store.conn().expect("connection");
    pipeline.engine(&mut conn).expect("rules");
    let names: Vec<String> = (0..mails.len()).map(|i| format!("bench/{i}")).collect();
    let t = Instant::now();
    for chunk in (0..mails.len()).collect::<Vec<_>>().chunks(256) {
        let items: Vec<Item> =
            chunk.iter().map(|&i| Item { source: "file", source_id: &names[i], raw: &mails[i] }).collect();
        pipeline.ingest(&mut conn, &items).expect("ingest");
    }
    let secs = t.elapsed().as_secs_f64();
    println!("{label:<44} {:>9.0} emails/s  ({} emails in {secs:.2} s)", mails.len() as f64 / secs, mails.len());
}

/// Runs `program args` to completion; returns (wall seconds, peak RSS in KiB, success).
/// Measured through GNU time: Linux carries a process's peak RSS across exec, so a child
/// this (large) benchmark process spawns itself reports at least the benchmark's own size;
/// time's small process forks the measured one, whose figure is then its own.
fn run_measured(program: &Path, args: &[&std::ffi::OsStr]) -> (f64, i64, bool) {
    let out = tempfile::NamedTempFile::new().expect("temp file");
    let t = Instant::now();
    let status = Command::new("/usr/bin/time")
        .args(["-f", "%M", "-o"])
        .arg(out.path())
        .arg(program)
        .args(args)
        .stdout(std::process::Stdio::null())
        .status()
        .expect("run /usr/bin/time (Debian package `time`; tests/support/deps.sh installs it)");
    let secs = t.elapsed().as_secs_f64();
    let text = std::fs::read_to_string(out.path()).unwrap_or_default();
    // The last line holds %M (a failing command adds a line before it).
    let rss = text.lines().last().and_then(|l| l.trim().parse().ok()).unwrap_or(-1);
    (secs, rss, status.success())
}

/// Drains a mailbox of `n` corpus messages over `protocol` with `rebound poll` (fetch +
/// parse + classify + commit + delete into SQLite).
fn mailbox_drain(label: &str, mails: &[Vec<u8>], n: usize, protocol: &str) {
    let d = support::Dovecot::get();
    let user = d.add_user();
    let mut i = 0;
    user.drop_into_maildir(std::iter::from_fn(|| {
        (i < n).then(|| {
            let mut m = format!("X-Bench-Message: {i}\n").into_bytes();
            m.extend(support::lf(&mails[i % mails.len()]));
            i += 1;
            m
        })
    }));
    let dir = tempfile::tempdir().expect("temp dir");
    let pw = dir.path().join("pw");
    std::fs::write(&pw, &user.password).expect("password file");
    let port = if protocol == "imap" { d.imaps_port } else { d.pop3s_port };
    let cfg = dir.path().join("rebound.toml");
    std::fs::write(
        &cfg,
        format!(
            "[database]\nurl = \"sqlite://{}/bench.db\"\n[[mailbox]]\nname = \"bench\"\nprotocol = \"{protocol}\"\nhost = \"localhost\"\nport = {port}\nsecurity = \"ssl\"\nca_file = \"{}\"\nusername = \"{}\"\npassword_file = \"{}\"\nafter_processing = \"delete\"\nmax_messages_per_poll = {n}\ntimeout_seconds = 60\n",
            dir.path().display(),
            d.ca_file.display(),
            user.name,
            pw.display()
        ),
    )
    .expect("config");
    let bin = env!("CARGO_BIN_EXE_rebound");
    let (secs, rss, ok) = run_measured(
        Path::new(bin),
        &[OsStr::new("--config"), cfg.as_os_str(), OsStr::new("poll"), OsStr::new("--once")],
    );
    assert!(ok, "poll failed");
    assert_eq!(user.count("INBOX"), 0, "the mailbox was not drained");
    println!(
        "{label:<44} {:>9.0} messages/s  ({n} messages in {secs:.1} s, peak RSS {} MiB)",
        n as f64 / secs,
        rss / 1024
    );
}

/// Runs `f` on a PostgreSQL schema of its own (dropped after), or says why it is skipped.
pub fn on_postgres(label: &str, prefix: &str, f: impl FnOnce(DatabaseConfig)) {
    use diesel::{Connection, PgConnection, connection::SimpleConnection};
    let admin =
        std::env::var("REBOUND_TEST_PG_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let schema = format!("{prefix}_{}", std::process::id());
    let sql = |sql: &str| {
        PgConnection::establish(&admin)
            .map_err(|e| e.to_string())
            .and_then(|mut c| c.batch_execute(sql).map_err(|e| e.to_string()))
    };
    match sql(&format!("CREATE SCHEMA {schema}")) {
        Ok(()) => {
            let sep = if admin.contains('?') { '&' } else { '?' };
            f(DatabaseConfig { url: format!("{admin}{sep}options=-csearch_path%3D{schema}"), ..Default::default() });
            let _ = sql(&format!("DROP SCHEMA {schema} CASCADE"));
        }
        Err(e) => println!("{label:<44} skipped: PostgreSQL not reachable at {admin}: {e}"),
    }
}

/// `REBOUND_BENCH_ONLY=classify,import` runs only those parts (parse, classify, import,
/// mailbox, process, views, web, api, sync, import_list, notify, logs, stats).
fn wanted(part: &str) -> bool {
    std::env::var("REBOUND_BENCH_ONLY").map_or(true, |v| v.split(',').any(|p| p.trim() == part))
}

fn main() {
    // The views need no corpus: their data is seeded in bulk.
    if wanted("views") {
        let tmp = tempfile::tempdir().expect("temp dir");
        views::run(tmp.path());
    }
    if wanted("web") {
        let tmp = tempfile::tempdir().expect("temp dir");
        web::run(tmp.path());
    }
    if wanted("api") {
        api::run();
    }
    if wanted("sync") {
        sync::run();
        sync_protocol::run();
        sync_idle::run();
    }
    if wanted("import_list") {
        import_list::run();
    }
    if wanted("logs") {
        logs::run();
    }
    if wanted("stats") {
        let tmp = tempfile::tempdir().expect("temp dir");
        stats::run(tmp.path());
    }
    if wanted("notify") {
        let tmp = tempfile::tempdir().expect("temp dir");
        notify::run(tmp.path());
    }
    if !["parse", "classify", "import", "mailbox", "process"].into_iter().any(wanted) {
        return;
    }
    let dir = std::env::var("REBOUND_CORPUS").unwrap_or_else(|_| "../shared/corpus/sisimai-dev/emails".into());
    let files = support::eml_files(Path::new(&dir));
    if files.is_empty() {
        eprintln!("bench: no .eml files under {dir}; set REBOUND_CORPUS");
        std::process::exit(1);
    }
    let mails: Vec<Vec<u8>> = files.iter().filter_map(|f| std::fs::read(f).ok()).collect();
    let bytes: usize = mails.iter().map(Vec::len).sum();
    let n = mails.len() as f64;
    let mb = bytes as f64 / 1e6;
    println!("corpus: {} emails, {:.2} MB from {dir}", mails.len(), mb);

    let opts = ParseOptions::default();
    let cfg = Config::default();
    let pipeline = Pipeline::new(&cfg).expect("pipeline");
    let defaults = Engine::new(library::defaults()).expect("library");
    if wanted("parse") {
        let t = best_pass(3.0, || {
            for m in &mails {
                std::hint::black_box(parse(m, &opts));
            }
        });
        println!(
            "{:<44} {:>9.0} emails/s  {:>7.1} MB/s  ({:.1} us/email)",
            "parse (one core)",
            n / t,
            mb / t,
            t * 1e6 / n
        );

        let t = best_pass(3.0, || {
            for m in &mails {
                std::hint::black_box(pipeline.prepare(&defaults, m));
            }
        });
        println!("{:<44} {:>9.0} emails/s  {:>7.1} MB/s", "parse + attribute + classify (one core)", n / t, mb / t);
    }

    // Classification alone, per record, over every record of the corpus.
    if wanted("classify") {
        let reports: Vec<_> = mails.iter().map(|m| parse(m, &opts)).collect();
        let records: Vec<_> = reports.iter().flat_map(|r| r.records.iter().map(move |rec| (r, rec))).collect();
        let big = Engine::new(thousand_rules()).expect("1000 rules");
        for (label, engine) in
            [("classify, default library", &defaults), ("classify, 1,000 custom rules + library", &big)]
        {
            let t = best_pass(2.0, || {
                for (r, rec) in &records {
                    std::hint::black_box(rebound::ingest::classify(engine, r, rec, None, None));
                }
            });
            println!("{label:<44} {:>9.2} us/record ({} rules)", t * 1e6 / records.len() as f64, engine.len());
        }
    }

    let ten = copies(&mails, 10);
    let tmp = tempfile::tempdir().expect("temp dir");
    if wanted("import") {
        import_rate(
            "import 10 copies into SQLite",
            DatabaseConfig { url: format!("sqlite://{}/bench.db", tmp.path().display()), ..Default::default() },
            &ten,
        );
        on_postgres("import 10 copies into PostgreSQL", "bench", |cfg| {
            import_rate("import 10 copies into PostgreSQL", cfg, &ten)
        });
    }
    if wanted("mailbox") {
        let n: usize = std::env::var("REBOUND_BENCH_MAILBOX").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000);
        mailbox_drain("drain IMAPS mailbox into SQLite (process)", &mails, n, "imap");
        mailbox_drain("drain POP3S mailbox into SQLite (process)", &mails, n, "pop3");
        let big: usize =
            std::env::var("REBOUND_BENCH_MAILBOX_LARGE").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000);
        mailbox_drain("drain a large IMAPS mailbox (memory)", &mails, big, "imap");
    }
    if !wanted("process") {
        return;
    }

    // The whole process, as operators run it.
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_rebound"));
    let copies_dir = tmp.path().join("copies");
    for (i, m) in ten.iter().enumerate() {
        let d = copies_dir.join(format!("{}", i / 1000));
        std::fs::create_dir_all(&d).expect("dir");
        std::fs::write(d.join(format!("{i}.eml")), m).expect("write");
    }
    let t = Instant::now();
    let status = Command::new(&bin)
        .args(["--config", "/nonexistent-so-defaults-apply", "parse", "--json"])
        .arg(&copies_dir)
        .stdout(std::process::Stdio::null())
        .status()
        .expect("run rebound parse");
    let secs = t.elapsed().as_secs_f64();
    assert!(status.success());
    println!(
        "{:<44} {:>9.0} emails/s  ({} emails, {secs:.2} s wall)",
        "rebound parse --json, 10 copies (process)",
        ten.len() as f64 / secs,
        ten.len()
    );

    // Memory stays flat on a 1 GB mbox: peak RSS of the parse process.
    let target: usize =
        std::env::var("REBOUND_BENCH_MBOX_MB").ok().and_then(|v| v.parse().ok()).unwrap_or(1024) * 1_000_000;
    let mbox = tmp.path().join("big.mbox");
    {
        use std::io::Write;
        let mut w = std::io::BufWriter::new(std::fs::File::create(&mbox).expect("mbox"));
        let mut written = 0usize;
        'outer: loop {
            for m in &mails {
                let body = String::from_utf8_lossy(m).replace("\r\n", "\n");
                let quoted: String = body
                    .lines()
                    .map(|l| if l.starts_with("From ") { format!(">{l}\n") } else { format!("{l}\n") })
                    .collect();
                write!(w, "From bench@example.com Mon Jan  1 00:00:00 2024\n{quoted}\n").expect("write");
                written += quoted.len() + 50;
                if written >= target {
                    break 'outer;
                }
            }
        }
    }
    let size = std::fs::metadata(&mbox).map(|m| m.len()).unwrap_or(0);
    let args = ["--config", "/nonexistent-so-defaults-apply", "parse", "--json"].map(OsStr::new);
    let (secs, rss, ok) = run_measured(&bin, &[&args[..], &[mbox.as_os_str()]].concat());
    assert!(ok, "rebound parse on the mbox failed");
    println!(
        "{:<44} {:>9.1} MB/s   peak RSS {} MiB for a {:.0} MB mbox",
        "rebound parse --json, mbox (process)",
        size as f64 / 1e6 / secs,
        rss / 1024,
        size as f64 / 1e6
    );
}
