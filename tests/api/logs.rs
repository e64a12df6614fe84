//! `rebound serve` following an `[[mta_log]]` source across rename and copy-truncate
//! rotation and a compressed rotated segment, and `/api/v1/logs` showing its files,
//! checkpoints and lag, on both backends.

use crate::support::{TestDb, app::TestApp};
use std::io::Write;
use std::time::{Duration, Instant};

const HEADER: &str = "type,timeLogged,orig,rcpt,dsnStatus,dsnDiag,dsnMta,vmta,header_X-Campaign-ID\n";

fn line(i: usize) -> String {
    format!(
        "b,2026-12-01 10:00:{:02}+0000,bounce@news.example.com,u{i}@example.net,5.1.1 (bad destination mailbox address),smtp;550 5.1.1 user unknown,mx.example.net (192.0.2.10),vmta-1,camp-f\n",
        i % 60
    )
}

fn append(path: &std::path::Path, text: &str) {
    std::fs::OpenOptions::new().create(true).append(true).open(path).unwrap().write_all(text.as_bytes()).unwrap();
}

async fn events_reach(app: &TestApp, n: i64) {
    let started = Instant::now();
    while app.count("events").await < n {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{n} events within 20 s (have {})",
            app.count("events").await
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // And no more than that.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(app.count("events").await, n);
}

async fn serve_follows_a_rotated_log(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let current = dir.path().join("acct.csv");
    let pattern = format!("{}/acct.csv*", dir.path().display());
    let cfg =
        format!("[[mta_log]]\nname = \"pmta-1\"\nformat = \"powermta\"\npath = \"{pattern}\"\nnode = \"pmta-1\"\n");
    let logs = rebound::config::load_str("t", &cfg, std::iter::empty()).unwrap().mta_log;
    append(&current, &format!("{HEADER}{}{}", line(0), line(1)));
    let app = TestApp::new(db, |c| c.mta_log = logs).serve().await;
    events_reach(&app, 2).await;

    // Appended, with a partial last line finished later.
    let l3 = line(3);
    append(&current, &format!("{}{}", line(2), &l3[..20]));
    events_reach(&app, 3).await;
    append(&current, &l3[20..]);
    events_reach(&app, 4).await;

    // Rename rotation: the old file keeps its place, the new one starts at 0.
    std::fs::rename(&current, dir.path().join("acct.csv.1")).unwrap();
    append(&dir.path().join("acct.csv.1"), &line(4));
    append(&current, &format!("{HEADER}{}", line(5)));
    events_reach(&app, 6).await;

    // Copy-truncate: the copy is the same lines (recorded once), the truncated file starts over.
    let copy = dir.path().join("acct.csv.2");
    std::fs::copy(&current, &copy).unwrap();
    std::fs::OpenOptions::new().write(true).truncate(true).open(&current).unwrap();
    append(&current, &format!("{HEADER}{}", line(6)));
    events_reach(&app, 7).await;

    // The rotated file compressed (as logrotate's delaycompress does): nothing new.
    let gz = dir.path().join("acct.csv.1.gz");
    let mut enc = flate2::write::GzEncoder::new(std::fs::File::create(&gz).unwrap(), Default::default());
    enc.write_all(&std::fs::read(dir.path().join("acct.csv.1")).unwrap()).unwrap();
    enc.finish().unwrap();
    std::fs::remove_file(dir.path().join("acct.csv.1")).unwrap();
    events_reach(&app, 7).await;
    assert_eq!(app.count("suppressions").await, 7);

    let viewer = app.viewer();
    let list = viewer.get("/api/v1/logs").await.expect(200);
    let src = &list["sources"][0];
    assert_eq!(
        (src["name"].as_str(), src["source"].as_str(), src["format"].as_str()),
        (Some("pmta-1"), Some("log:pmta-1"), Some("powermta"))
    );
    assert_eq!(src["records"].as_i64(), Some(7), "{src}");
    assert_eq!(src["lag_bytes"].as_i64(), Some(0), "{src}");
    let current_file =
        src["files"].as_array().unwrap().iter().find(|f| f["path"].as_str() == current.to_str()).unwrap();
    assert_eq!(current_file["read_offset"].as_u64(), Some(std::fs::metadata(&current).unwrap().len()));
    let one = viewer.get("/api/v1/logs/pmta-1").await.expect(200);
    assert_eq!(one["records"].as_i64(), Some(7));
    assert_eq!(viewer.get("/api/v1/logs/nope").await.status, 404);
    app.stop(10).await.unwrap();
}
on_both_backends!(follows_rotation, serve_follows_a_rotated_log);
