//! The service as a whole: spawned in-process and as a real process.

mod support;

use rebound::app::App;
use rebound::config::Config;
use std::time::Duration;
use support::TestDb;
use support::serve::{Serve, free_port, serve_config};

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

/// The keys of a `[[mailbox]]` entry for `user` on the test Dovecot (IMAPS, polled every
/// second, committed mail deleted), as the admin API will receive them.
fn entry(d: &support::Dovecot, user: &support::MailUser, name: &str, dir: &std::path::Path) -> String {
    let pw = dir.join(format!("{}.pw", user.name));
    std::fs::write(&pw, &user.password).unwrap();
    format!(
        "name = \"{name}\"\nprotocol = \"imap\"\nhost = \"localhost\"\nport = {}\nsecurity = \"ssl\"\n\
         ca_file = \"{}\"\nusername = \"{}\"\npassword_file = \"{}\"\nafter_processing = \"delete\"\n\
         schedule = \"* * * * * *\"\ntimeout_seconds = 10\nlease_seconds = 5\n",
        d.imaps_port,
        d.ca_file.display(),
        user.name,
        pw.display()
    )
}

fn bounce(i: usize) -> Vec<u8> {
    support::mail::dsn(
        "bounces@sender.example",
        &format!("gone{i}@example.org"),
        "5.1.1",
        "550 5.1.1 User unknown",
        &support::mail::original(Some("c1"), &format!("m{i}@sender.example")),
        "Tue, 10 Nov 2026 10:00:00 +0000",
    )
}

async fn wait_for_events(store: &rebound::store::Db, n: i64, within: Duration) -> i64 {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let got = support::count_rows(store, "events").await;
        if got >= n || tokio::time::Instant::now() > deadline {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn with_conn<T>(store: &rebound::store::Db, f: impl FnOnce(&mut rebound::store::AnyConnection) -> T) -> T {
    f(&mut store.conn().unwrap())
}

/// A mailbox created in the database while `serve` runs is polled within seconds, keeps its
/// status through a rename, and once deleted is polled no more (its mail stays in Dovecot).
async fn mailboxes_created_renamed_and_deleted_at_run_time(db: TestDb) {
    use rebound::mailbox::{repo, state};
    let d = support::Dovecot::get();
    let user = d.add_user();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let serve = Serve::start(&serve_config(dir.path(), "rebound.toml", port, db.url(), ""), port);
    let store = rebound::store::Db::connect(&db.config()).unwrap();

    user.deliver("INBOX", &bounce(1));
    let name = format!("api-{}", user.name);
    let created = with_conn(&store, |c| {
        repo::create(
            c,
            &rebound::audit::Actor::system("test"),
            &repo::Entry::new(toml::from_str(&entry(&d, &user, &name, dir.path())).unwrap()),
            None,
        )
    })
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(created.source, repo::ManagedBy::Api);
    assert!(serve.logged("polling", &name, Duration::from_secs(10)).await, "the new mailbox was not picked up");
    assert_eq!(wait_for_events(&store, 1, Duration::from_secs(15)).await, 1, "its bounce was not recorded");
    assert_eq!(user.count("INBOX"), 0);

    // Renamed: same id, so the same status row (and checkpoints, ledger) carry on.
    let renamed = format!("renamed-{}", user.name);
    let new_entry = entry(&d, &user, &renamed, dir.path());
    with_conn(&store, |c| {
        repo::update(
            c,
            &rebound::audit::Actor::system("test"),
            created.id,
            &repo::Entry::new(toml::from_str(&new_entry).unwrap()),
            None,
        )
    })
    .unwrap();
    assert!(serve.logged("polling", &renamed, Duration::from_secs(10)).await, "the rename was not picked up");
    user.deliver("INBOX", &bounce(2));
    assert_eq!(wait_for_events(&store, 2, Duration::from_secs(15)).await, 2);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let status = loop {
        let s = with_conn(&store, |c| state::get(c, created.id)).unwrap().expect("status");
        if s.messages_processed == 2 || tokio::time::Instant::now() > deadline {
            break s;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(status.messages_processed, 2, "the status row went on counting under the new name: {status:?}");

    // Deleted: no longer polled; the mail delivered after stays where it is.
    with_conn(&store, |c| repo::delete(c, &rebound::audit::Actor::system("test"), created.id)).unwrap();
    assert!(serve.logged("stopped", &renamed, Duration::from_secs(10)).await, "the delete was not picked up");
    user.deliver("INBOX", &bounce(3));
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(support::count_rows(&store, "events").await, 2, "a deleted mailbox was polled");
    assert_eq!(user.count("INBOX"), 1);
    assert!(with_conn(&store, |c| state::get(c, created.id)).unwrap().is_some(), "its history stays");
    serve.stop();
}
on_both_backends!(run_time_mailboxes, mailboxes_created_renamed_and_deleted_at_run_time);

/// Two instances on one PostgreSQL: both pick up a mailbox created in the database, the lease
/// keeps each bounce to one poller, and a config change that one of them registers at its
/// start is picked up by the other, which keeps running.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_one_postgres_see_each_others_changes() {
    use rebound::mailbox::repo;
    let db = TestDb::postgres();
    let d = support::Dovecot::get();
    let (u1, u2) = (d.add_user(), d.add_user());
    let dir = tempfile::tempdir().unwrap();
    let (pa, pb) = (free_port(), free_port());
    let a = Serve::start(&serve_config(dir.path(), "a.toml", pa, db.url(), ""), pa);
    let b_cfg = serve_config(dir.path(), "b.toml", pb, db.url(), "");
    let b = Serve::start(&b_cfg, pb);
    let store = rebound::store::Db::connect(&db.config()).unwrap();

    let api = format!("api-{}", u1.name);
    let m = with_conn(&store, |c| {
        repo::create(
            c,
            &rebound::audit::Actor::system("test"),
            &repo::Entry::new(toml::from_str(&entry(&d, &u1, &api, dir.path())).unwrap()),
            None,
        )
    })
    .unwrap();
    assert!(a.logged("polling", &api, Duration::from_secs(10)).await, "instance A did not pick it up");
    assert!(b.logged("polling", &api, Duration::from_secs(10)).await, "instance B did not pick it up");
    for i in 0..3 {
        u1.deliver("INBOX", &bounce(i));
    }
    assert_eq!(wait_for_events(&store, 3, Duration::from_secs(15)).await, 3);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(support::count_rows(&store, "events").await, 3, "two pollers recorded the same bounce");

    // B restarts with a [[mailbox]] added to its file: its start registers it, and A — which
    // was never told — polls it within seconds.
    b.stop();
    let cfg_name = format!("cfg-{}", u2.name);
    let section = format!("[[mailbox]]\n{}", entry(&d, &u2, &cfg_name, dir.path()));
    std::fs::write(&b_cfg, std::fs::read_to_string(&b_cfg).unwrap() + &section).unwrap();
    let b = Serve::start(&b_cfg, pb);
    assert!(a.logged("polling", &cfg_name, Duration::from_secs(10)).await, "A did not see B's config mailbox");
    u2.deliver("INBOX", &bounce(10));
    assert_eq!(wait_for_events(&store, 4, Duration::from_secs(15)).await, 4);

    // Disabled in the database: both stop.
    with_conn(&store, |c| repo::set_enabled(c, &rebound::audit::Actor::system("test"), m.id, false)).unwrap();
    assert!(a.logged("stopped", &api, Duration::from_secs(10)).await);
    assert!(b.logged("stopped", &api, Duration::from_secs(10)).await);
    a.stop();
    b.stop();
}
