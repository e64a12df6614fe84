//! `rebound node-agent` (the binary) against an in-process `serve`: a bounce reaches a real
//! Postfix through the agent and a release lets the address through again; a SIGKILL during
//! an apply leaves the previous table and the next run converges; a compacted cursor
//! re-snapshots; a node down for 10,000 changes converges to the exact set, its checksum
//! verified by the server.

use crate::common::{POSTFIX_TABLE, Postfix};
use crate::support::TestDb;
use crate::support::app::TestApp;
use rebound::access::{Role, tokens};
use rebound::audit::Actor;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

/// A served app with one agent-pulled node `name` and a token bound to it.
async fn served(db: TestDb, name: &str) -> (TestApp, String) {
    let toml = format!("[[node]]\nname = \"{name}\"\ntarget = \"postfix\"\n");
    let nodes = rebound::config::load_str("t", &toml, std::iter::empty()).unwrap().node;
    let app = TestApp::new(db, |c| c.node = nodes).serve().await;
    let now = chrono::Utc::now().naive_utc();
    let token =
        tokens::create_bound(&mut app.conn(), &Actor::system("test"), "agent", Role::Node, Some(name), now).unwrap().1;
    (app, token)
}

fn agent(app: &TestApp, token: &str, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rebound"));
    c.arg("node-agent").arg("--server").arg(app.url("")).args(args).env("REBOUND_AGENT_TOKEN", token);
    c.env("RUST_LOG", "info");
    c
}

fn once(app: &TestApp, token: &str, args: &[&str]) -> Output {
    let o = agent(app, token, args).arg("--once").output().unwrap();
    assert!(o.status.success(), "node-agent --once: {}", String::from_utf8_lossy(&o.stderr));
    o
}

fn manual(app: &TestApp, address: &str) {
    let now = chrono::Utc::now().naive_utc();
    rebound::suppress::manual::suppress(&mut app.conn(), &Actor::system("test"), address, "global", None, now).unwrap();
}

fn release(app: &TestApp, address: &str) {
    let now = chrono::Utc::now().naive_utc();
    rebound::suppress::manual::release(&mut app.conn(), &Actor::system("test"), address, "global", None, now).unwrap();
}

fn node_view(app: &TestApp, name: &str) -> rebound::sync::view::NodeView {
    let all = rebound::sync::view::all(&mut app.conn(), chrono::Utc::now().naive_utc()).unwrap();
    all.into_iter().find(|n| n.name == name).expect("the node")
}

/// What the server says the node should hold.
fn expected(app: &TestApp, name: &str) -> rebound::sync::Checksum {
    let node = rebound::sync::status::find(&mut app.conn(), name).unwrap().unwrap();
    rebound::sync::expected(&mut app.conn(), &node.config, chrono::Utc::now().naive_utc()).unwrap()
}

/// The state file's header.
fn state_header(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap();
    serde_json::from_str(text.lines().next().unwrap()).unwrap()
}

async fn until(what: &str, within: Duration, mut f: impl FnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !f() {
        assert!(started.elapsed() < within, "{what} within {within:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    started.elapsed()
}

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn a_bounce_reaches_postfix_through_the_agent(db: TestDb) {
    let pf = Postfix::get();
    let _turn = POSTFIX_TABLE.lock().await;
    let (app, token) = served(db, "pf").await;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let (table, conf) = (pf.table.to_str().unwrap().to_string(), pf.dir.to_str().unwrap().to_string());
    let args = ["--target", "postfix", "--out", &table, "--config-dir", &conf, "--state", state.to_str().unwrap()];
    let _agent = Running(agent(&app, &token, &args).args(["--wait", "20"]).spawn().unwrap());
    let dead = format!("dead-{}@example.org", uuid::Uuid::new_v4().simple());
    let alive = format!("alive-{}@example.org", uuid::Uuid::new_v4().simple());
    until("the agent's first apply", Duration::from_secs(20), || state.exists()).await;

    let raw = crate::support::mail::dsn(
        "bounces@sender.example",
        &dead,
        "5.1.1",
        "550 5.1.1 User unknown",
        &crate::support::mail::original(Some("c1"), &format!("{dead}-m@sender.example")),
        "Tue, 10 Nov 2026 10:00:00 +0000",
    );
    app.ingest(&mut app.conn(), "file", "agent-1", &raw);
    let took = until("Postfix refuses the bounced address", Duration::from_secs(15), || {
        pf.rcpt(&dead).starts_with("554 5.1.1")
    })
    .await;
    eprintln!("bounce imported -> Postfix refuses it through the agent in {took:?}");
    assert!(pf.rcpt(&alive).starts_with("250"), "another address passes");

    release(&app, &dead);
    until("Postfix accepts the released address", Duration::from_secs(15), || pf.rcpt(&dead).starts_with("250")).await;
    // The agent reported what it holds, and the server checked it.
    let sum = expected(&app, "pf");
    until("a verified report", Duration::from_secs(10), || {
        let v = node_view(&app, "pf");
        v.verified == Some(true) && v.checksum.as_deref() == Some(sum.hex().as_str())
    })
    .await;
    let v = node_view(&app, "pf");
    assert_eq!((v.entries, v.changes_behind), (Some(0), 0), "{v:?}");
    assert!(v.last_contact_at.is_some() && v.last_error.is_none(), "{v:?}");
    app.stop(10).await.unwrap();
}
on_both_backends!(a_bounce_reaches_postfix_through_the_agent, a_bounce_reaches_postfix_through_the_agent);

/// A postmap that takes its time, so the agent can be killed in the middle of an apply.
fn slow_postmap(dir: &Path) -> PathBuf {
    let p = dir.join("slow-postmap");
    std::fs::write(&p, "#!/bin/sh\ntouch \"$0.started\"\nsleep 3\nexec postmap \"$@\"\n").unwrap();
    std::process::Command::new("chmod").arg("+x").arg(&p).status().unwrap();
    p
}

/// `postmap -q`: the value the cdb table at `table` holds for `key`, if any.
fn lookup(conf: &str, table: &Path, key: &str) -> Option<String> {
    let o =
        Command::new("postmap").args(["-c", conf, "-q", key]).arg(format!("cdb:{}", table.display())).output().unwrap();
    o.status.success().then(|| String::from_utf8_lossy(&o.stdout).trim().to_string())
}

async fn killed_mid_apply_keeps_the_old_table_and_resumes(db: TestDb) {
    let pf = Postfix::get();
    let (app, token) = served(db, "pf2").await;
    let dir = tempfile::tempdir().unwrap();
    let (table, state) = (dir.path().join("suppressed"), dir.path().join("state"));
    let conf = pf.dir.to_str().unwrap().to_string();
    let base = [
        "--target",
        "postfix",
        "--out",
        table.to_str().unwrap(),
        "--config-dir",
        &conf,
        "--state",
        state.to_str().unwrap(),
    ];
    manual(&app, "first@example.org");
    once(&app, &token, &base);
    assert!(lookup(&conf, &table, "first@example.org").is_some());
    let seq_before = state_header(&state)["seq"].as_i64().unwrap();

    manual(&app, "second@example.org");
    release(&app, "first@example.org");
    let slow = slow_postmap(dir.path());
    let mut child = agent(&app, &token, &base).args(["--postmap-command", slow.to_str().unwrap()]).spawn().unwrap();
    let started = dir.path().join("slow-postmap.started");
    until("the apply to start", Duration::from_secs(20), || started.exists()).await;
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    // The previous table is intact and in force; the state still names it.
    assert!(lookup(&conf, &table, "first@example.org").is_some(), "the old table stays");
    assert!(lookup(&conf, &table, "second@example.org").is_none());
    assert!(std::fs::read_to_string(&table).unwrap().contains("first@example.org"));
    assert_eq!(state_header(&state)["seq"].as_i64(), Some(seq_before));

    // The next run resumes from the saved cursor to the right set.
    once(&app, &token, &base);
    assert!(lookup(&conf, &table, "first@example.org").is_none());
    assert!(lookup(&conf, &table, "second@example.org").is_some());
    let sum = expected(&app, "pf2");
    let h = state_header(&state);
    assert_eq!((h["checksum"].as_str(), h["count"].as_u64()), (Some(sum.hex().as_str()), Some(1)));
    assert_eq!(node_view(&app, "pf2").verified, Some(true));
    // No temporary file of the killed run is left once an apply succeeded.
    let stray = crate::common::files_named(dir.path(), "rebound-tmp");
    assert!(stray.is_empty(), "{stray:?}");
    app.stop(10).await.unwrap();
}
on_both_backends!(killed_mid_apply_resumes, killed_mid_apply_keeps_the_old_table_and_resumes);

/// A `file` target in `dir`: its output, its state file and the agent's arguments.
fn file_target(dir: &Path) -> (PathBuf, PathBuf, Vec<String>) {
    let (out, state) = (dir.join("list.txt"), dir.join("state"));
    let args = ["--target", "file", "--out", out.to_str().unwrap(), "--state", state.to_str().unwrap()];
    (out.clone(), state.clone(), args.iter().map(|s| s.to_string()).collect())
}

async fn a_compacted_cursor_resnapshots_and_converges(db: TestDb) {
    let (app, token) = served(db, "f").await;
    let dir = tempfile::tempdir().unwrap();
    let (out, state, args) = file_target(dir.path());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    manual(&app, "a@example.org");
    manual(&app, "b@example.org");
    once(&app, &token, &args);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "a@example.org\nb@example.org\n");
    // While the node is away: a release and an add, then the log is compacted past its cursor.
    release(&app, "a@example.org");
    manual(&app, "c@example.org");
    let later = chrono::Utc::now().naive_utc() + chrono::Duration::days(40);
    assert!(rebound::sync::retention::compact(&mut app.conn(), 30, later).unwrap() > 0);
    let o = once(&app, &token, &args);
    let log = String::from_utf8_lossy(&o.stderr);
    assert!(log.contains("fresh snapshot"), "the agent was sent back to a snapshot: {log}");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "b@example.org\nc@example.org\n");
    assert_eq!(state_header(&state)["checksum"].as_str(), Some(expected(&app, "f").hex().as_str()));
    assert_eq!(node_view(&app, "f").verified, Some(true));
    app.stop(10).await.unwrap();
}
on_both_backends!(a_compacted_cursor_resnapshots, a_compacted_cursor_resnapshots_and_converges);

async fn a_node_down_for_10000_changes_converges(db: TestDb) {
    let (app, token) = served(db, "f").await;
    let dir = tempfile::tempdir().unwrap();
    let (out, state, args) = file_target(dir.path());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    manual(&app, "keep@example.org");
    once(&app, &token, &args);
    // 6,000 adds and 4,000 removes while the agent is not running.
    let now = chrono::Utc::now().naive_utc();
    let entries: Vec<rebound::suppress::Suppression> = (0..6000)
        .map(|i| rebound::suppress::Suppression {
            address: format!("u{i:05}@example.org"),
            scope: "global".into(),
            source: "manual".into(),
            event_id: None,
            reason: None,
            note: None,
            created_at: now,
            expires_at: None,
        })
        .collect();
    let mut c = app.conn();
    rebound::store::transaction(&mut c, |c| rebound::suppress::list::insert_many(c, &entries)).unwrap();
    rebound::store::transaction(&mut c, |c| {
        for e in entries.iter().step_by(3).chain(entries.iter().skip(1).step_by(3)).take(4000) {
            rebound::suppress::list::remove(c, &e.address, "global", "manual", now, None)?;
        }
        Ok::<_, rebound::store::StoreError>(())
    })
    .unwrap();
    drop(c);
    let behind = node_view(&app, "f");
    assert_eq!(behind.changes_behind, 10_000, "{behind:?}");

    once(&app, &token, &args);
    let sum = expected(&app, "f");
    assert_eq!(sum.count(), 2001);
    let text = std::fs::read_to_string(&out).unwrap();
    assert_eq!(text.lines().count(), 2001);
    let file_sum = rebound::sync::Checksum::of(text.lines().map(|a| (a, "global")));
    assert_eq!(file_sum, sum, "the file holds exactly the set");
    assert_eq!(state_header(&state)["checksum"].as_str(), Some(sum.hex().as_str()), "and the state says so");
    let v = node_view(&app, "f");
    assert_eq!((v.verified, v.changes_behind, v.checksum.as_deref()), (Some(true), 0, Some(sum.hex().as_str())));
    app.stop(10).await.unwrap();
}
on_both_backends!(a_node_down_for_10000_changes_converges, a_node_down_for_10000_changes_converges);
