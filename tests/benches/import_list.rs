//! Bulk suppression import (issue #17's goal: ≥ 100,000 addresses/s, flat memory): a
//! 1,000,000-row CSV export with extra columns imported into SQLite and PostgreSQL through
//! `suppress::import`, as `rebound suppression import` runs it; then the rerun that adds
//! nothing. Memory is the growth of this process's resident set over the import (VmRSS
//! after minus before, and the peak: VmHWM is reset first through /proc/self/clear_refs).

use rebound::config::DatabaseConfig;
use rebound::store::Db;
use rebound::suppress::Allowlist;
use rebound::suppress::import::{self, Options};
use rebound::suppress::manual::Actor;
use std::io::Write;
use std::path::Path;
use std::time::Instant;

const ROWS: usize = 1_000_000;

fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn write_export(path: &Path) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    writeln!(f, "Email Address,First Name,Last Name,SuppressionReason,CreatedAt,List").unwrap();
    for i in 0..ROWS {
        writeln!(
            f,
            "User{i}@d{}.example,First{i},Last{i},HardBounce,2025-0{}-1{} 10:00:00,newsletter",
            i % 97,
            1 + i % 9,
            i % 10
        )
        .unwrap();
    }
}

fn measure(label: &str, cfg: DatabaseConfig, file: &Path) {
    let db = Db::connect(&cfg).expect("database");
    let allow = Allowlist::default();
    let opts = Options { label: "bench.csv".into(), ..Options::default() };
    for pass in ["first", "rerun"] {
        let _ = std::fs::write("/proc/self/clear_refs", "5");
        let before = status_kib("VmRSS:");
        let t = Instant::now();
        let input = std::fs::File::open(file).unwrap();
        let now = chrono::Utc::now().naive_utc();
        let r = import::run(&db, &Actor::system("bench"), input, &opts, &allow, now, &mut |_| {}).expect("import");
        let secs = t.elapsed().as_secs_f64();
        let (after, peak) = (status_kib("VmRSS:"), status_kib("VmHWM:"));
        println!(
            "{:<44} {:>9.0} addresses/s  ({:.2} s; added {}, present {}; RSS +{} MiB, peak {} MiB)",
            format!("suppression import 1M CSV, {label}, {pass}"),
            ROWS as f64 / secs,
            secs,
            r.added,
            r.already_present,
            after.saturating_sub(before) / 1024,
            peak / 1024
        );
    }
}

pub fn run() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let file = tmp.path().join("export.csv");
    write_export(&file);
    let sqlite = DatabaseConfig { url: format!("sqlite://{}/import.db", tmp.path().display()), ..Default::default() };
    measure("SQLite", sqlite, &file);
    crate::on_postgres("suppression import, PostgreSQL", "bench_import", |cfg| measure("PostgreSQL", cfg, &file));
}
