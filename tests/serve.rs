//! The service as a whole: spawned in-process and as a real process.

mod support;

use rebound::app::App;
use rebound::config::Config;
use std::time::Duration;
use support::TestDb;

fn config_for(db: &TestDb) -> Config {
    let mut cfg = Config::default();
    cfg.server.listen = "127.0.0.1:0".into();
    cfg.database = db.config();
    cfg
}

async fn healthz_reports_ok_then_shutdown_is_clean(db: TestDb) {
    let app = App::build(config_for(&db)).await.expect("app builds");
    let addr = app.local_addr();
    let store = app.db.clone();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(app.run(async move {
        let _ = rx.await;
    }));

    let body: serde_json::Value =
        reqwest::get(format!("http://{addr}/healthz")).await.expect("healthz answers").json().await.unwrap();
    assert_eq!(body["status"], "ok", "{body}");
    assert_eq!(body["database"], "ok");

    tx.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), running).await.expect("stops in time").unwrap().unwrap();
    assert_eq!(support::count_rows(&store, "instances").await, 0, "a clean shutdown deregisters the instance");
}
on_both_backends!(healthz, healthz_reports_ok_then_shutdown_is_clean);

#[test]
fn serve_binary_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let cfg = dir.path().join("rebound.toml");
    std::fs::write(
        &cfg,
        format!(
            "[server]\nlisten = \"127.0.0.1:{port}\"\n[database]\nurl = \"sqlite://{}/r.db\"\n",
            dir.path().display()
        ),
    )
    .unwrap();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_rebound"))
        .args(["--config", cfg.to_str().unwrap(), "serve"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();

    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let up = loop {
        if let Ok(resp) = reqwest::blocking_get(port) {
            break resp;
        }
        assert!(std::time::Instant::now() < deadline, "serve did not come up");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(up.contains("\"status\":\"ok\""), "{up}");

    let kill = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(kill.success());
    let out = child.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "exit {:?}: {log}", out.status);
    assert!(log.contains("rebound stopped"), "{log}");
}

/// A tiny blocking GET over std, to poll a child process without a runtime.
mod reqwest {
    pub use ::reqwest::*;
    pub fn blocking_get(port: u16) -> std::io::Result<String> {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port))?;
        s.write_all(b"GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n")?;
        let mut out = String::new();
        s.read_to_string(&mut out)?;
        Ok(out)
    }
}
