//! `rebound serve` following an `[[mta_log]]` source across rename and copy-truncate
//! rotation and a compressed rotated segment, and `/api/v1/logs` showing its files,
//! checkpoints and lag, on both backends.

use crate::support::api::assert_error;
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

/// Log sources through the admin API: created under an allowed directory and followed by
/// the running serve within seconds, listed beside the config file's, replaced, disabled
/// (no longer followed), enabled, deleted; paths outside `[server] log_source_dirs` and
/// config-file sources are refused; every write is audited.
async fn log_sources_through_the_api(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let allowed = dir.path().join("pmta");
    std::fs::create_dir(&allowed).unwrap();
    let acct = allowed.join("acct.csv");
    append(&acct, &format!("{HEADER}{}", line(0)));
    let file_cfg = format!(
        "[[mta_log]]\nname = \"from-file\"\nformat = \"powermta\"\npath = \"{}/none-*.csv\"\n",
        allowed.display()
    );
    let logs = rebound::config::load_str("t", &file_cfg, std::iter::empty()).unwrap().mta_log;
    let dirs = vec![allowed.display().to_string()];
    let app = TestApp::new(db, |c| {
        c.mta_log = logs;
        c.server.log_source_dirs = dirs;
    })
    .serve()
    .await;
    let admin = app.admin();
    let body = serde_json::json!({"name": "pmta-api", "format": "powermta", "path": format!("{}/acct*.csv", allowed.display()), "node": "pmta-9"});
    // Outside the allowed directories: refused, saying which key to set.
    let outside = serde_json::json!({"name": "shadow", "format": "postfix", "path": "/etc/shadow"});
    let r = admin.post("/api/v1/logs", &outside).await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.to_string().contains("log_source_dirs"), "{}", r.body);
    let climb = serde_json::json!({"name": "climb", "format": "postfix", "path": format!("{}/../../etc/passwd", allowed.display())});
    assert_eq!(admin.post("/api/v1/logs", &climb).await.status, 422);
    assert_eq!(app.viewer().post("/api/v1/logs", &body).await.status, 403);

    let created = admin.post("/api/v1/logs", &body).await.expect(201);
    assert_eq!((created["defined_in"].as_str(), created["source"].as_str()), (Some("api"), Some("log:pmta-api")));
    assert_eq!(admin.post("/api/v1/logs", &body).await.status, 409, "the name is taken");
    events_reach(&app, 1).await;
    let list = admin.get("/api/v1/logs").await.expect(200);
    let names: Vec<&str> = list["sources"].as_array().unwrap().iter().filter_map(|s| s["name"].as_str()).collect();
    assert_eq!(names, ["from-file", "pmta-api"]);

    // Disabled: kept, not followed.
    let off = admin.post("/api/v1/logs/pmta-api/disable", &serde_json::json!({})).await.expect(200);
    assert_eq!(off["enabled"].as_bool(), Some(false));
    tokio::time::sleep(std::time::Duration::from_millis(2600)).await;
    append(&acct, &line(1));
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    assert_eq!(app.count("events").await, 1, "a disabled source is not followed");
    admin.post("/api/v1/logs/pmta-api/enable", &serde_json::json!({})).await.expect(200);
    events_reach(&app, 2).await;

    // Replaced (a full entry; the path names the source).
    let put = serde_json::json!({"format": "powermta", "path": format!("{}/acct*.csv", allowed.display()), "node": "pmta-10"});
    let replaced = admin.put("/api/v1/logs/pmta-api", &put).await.expect(200);
    assert_eq!(replaced["node"].as_str(), Some("pmta-10"));
    // The config file's source is read-only here.
    let r = admin.post("/api/v1/logs/from-file/disable", &serde_json::json!({})).await;
    assert_eq!(r.status, 409);
    assert_error(&r.body, "read_only");
    assert_eq!(admin.delete("/api/v1/logs/from-file").await.status, 409);

    let gone = admin.delete("/api/v1/logs/pmta-api").await.expect(200);
    assert_eq!(gone["deleted"].as_bool(), Some(true));
    assert_eq!(admin.delete("/api/v1/logs/pmta-api").await.status, 404);
    let audit = admin.get("/api/v1/audit").await.expect(200).to_string();
    for action in
        ["log_source.create", "log_source.disable", "log_source.enable", "log_source.update", "log_source.delete"]
    {
        assert!(audit.contains(action), "{action} audited: {audit}");
    }
    app.stop(10).await.unwrap();
}
on_both_backends!(log_sources_api, log_sources_through_the_api);
