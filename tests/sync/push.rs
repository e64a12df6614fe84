//! `serve` with a `push = true` node re-renders within seconds of a committed change, far
//! ahead of its schedule.

use crate::support::TestDb;
use crate::support::app::TestApp;
use std::time::{Duration, Instant};

async fn a_push_node_follows_an_import_within_seconds(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("push.txt");
    let toml = format!(
        "[[node]]\nname = \"p\"\ntarget = \"file\"\npath = \"{}\"\npush = true\nschedule = \"0 0 1 1 *\"\n",
        path.display()
    );
    let nodes = rebound::config::load_str("t", &toml, std::iter::empty()).unwrap().node;
    let app = TestApp::new(db, |c| c.node = nodes).serve().await;
    // Rendered at start (empty list).
    let deadline = Instant::now() + Duration::from_secs(10);
    while !path.exists() {
        assert!(Instant::now() < deadline, "not rendered at start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "");

    let raw = crate::support::mail::bounce(7);
    let mut c = app.conn();
    app.ingest(&mut c, "file", "push-1", &raw);
    drop(c);
    let started = Instant::now();
    loop {
        if std::fs::read_to_string(&path).unwrap_or_default() == "gone7@example.org\n" {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "the push node did not follow the import");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!("push node current {:?} after the import committed", started.elapsed());
    app.stop(10).await.unwrap();
}
on_both_backends!(a_push_node_follows_an_import_within_seconds, a_push_node_follows_an_import_within_seconds);
