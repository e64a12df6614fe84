//! A served rebound for the browser tests — its config (a secrets key, the database), the
//! users alice (admin) and val (viewer), `rebound serve` running — the steps every walk
//! shares, and the timed, screenshot-on-failure frame around a walk.

use crate::browser::Page;
use crate::support::TestDb;
use crate::support::serve::{Serve, free_port, serve_config};
use futures_util::FutureExt;
use std::panic::AssertUnwindSafe;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const ADMIN: (&str, &str) = ("alice", "alice-password-1");
pub const VIEWER: (&str, &str) = ("val", "val-password-1");

/// Runs the rebound binary on `cfg` with `stdin`; gives its standard output.
pub fn rebound(cfg: &std::path::Path, args: &[&str], stdin: &str) -> String {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_rebound"))
        .arg("--config")
        .arg(cfg)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("rebound");
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "rebound {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).to_string()
}

pub struct Site {
    pub dir: tempfile::TempDir,
    pub cfg: std::path::PathBuf,
    pub port: u16,
    /// Taken by [`Site::stop`].
    serve: Mutex<Option<Serve>>,
}

impl Site {
    /// Config, key, migrations, the two users, and `rebound serve` on a free port.
    pub fn start(db: &TestDb) -> Site {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("secret.key");
        let port = free_port();
        let secrets = format!("[secrets]\nkey_file = \"{}\"\n", key.display());
        let cfg = serve_config(dir.path(), "rebound.toml", port, db.url(), &secrets);
        std::fs::write(&key, rebound(&cfg, &["secrets", "generate-key"], "")).unwrap();
        rebound(&cfg, &["migrate"], "");
        for ((name, password), role) in [(ADMIN, "admin"), (VIEWER, "viewer")] {
            rebound(&cfg, &["user", "create", name, "--role", role], &format!("{password}\n"));
        }
        let serve = Mutex::new(Some(Serve::start(&cfg, port)));
        Site { dir, cfg, port, serve }
    }

    /// Stops `rebound serve`; gives its log.
    pub fn stop(&self) -> String {
        self.serve.lock().unwrap().take().map(Serve::stop).unwrap_or_default()
    }

    pub fn base(&self) -> String {
        Serve::base(self.port)
    }

    /// A new API token of `role` (the admin API is how a script seeds what a step needs).
    pub fn token(&self, name: &str, role: &str) -> String {
        rebound(&self.cfg, &["token", "create", "--name", name, "--role", role], "").trim().to_string()
    }

    /// Imports message files as `rebound import` does.
    pub fn import(&self, files: &[(&str, Vec<u8>)]) {
        let paths: Vec<String> = files
            .iter()
            .map(|(name, raw)| {
                let p = self.dir.path().join(name);
                std::fs::write(&p, raw).unwrap();
                p.display().to_string()
            })
            .collect();
        let mut args = vec!["import"];
        args.extend(paths.iter().map(String::as_str));
        rebound(&self.cfg, &args, "");
    }
}

/// Every attribute that loads or links something points into the site itself.
pub async fn no_external_url(page: &Page) {
    let html = page.source().await;
    let re = regex::Regex::new(r#"(?i)(src|href|action|formaction|xlink:href)\s*=\s*["']?\s*(https?:|//|data:text)"#)
        .unwrap();
    assert!(!re.is_match(&html), "{} links outside: {:?}", page.url().await, re.find(&html).map(|m| m.as_str()));
    let css = page.js("return [...document.styleSheets].map(s => s.href || 'inline').join(' ')").await;
    assert!(
        !css.as_str().unwrap_or("").contains("http")
            || css.as_str().unwrap().split(' ').all(|h| h.starts_with(&page.base)),
        "stylesheets: {css}"
    );
}

pub async fn sign_in(page: &Page, (name, password): (&str, &str)) {
    page.go("/mailboxes").await;
    assert!(page.url().await.contains("/login"), "not signed in: the sign-in page first");
    page.fill("#name", name).await;
    page.fill("#password", password).await;
    page.navigate("#sign-in").await;
    page.css("body[data-csrf]").await;
}

/// Named steps and how long each took; the failing one names the screenshot.
#[derive(Default)]
pub struct Steps {
    current: Mutex<Option<(String, Instant)>>,
    timings: Mutex<Vec<(String, Duration)>>,
}

impl Steps {
    /// Ends the step under way (if any) and starts `name`.
    pub fn step(&self, name: &str) {
        let mut current = self.current.lock().unwrap();
        if let Some((was, since)) = current.take() {
            self.timings.lock().unwrap().push((was, since.elapsed()));
        }
        *current = Some((name.to_string(), Instant::now()));
    }
}

/// Runs `body` (the steps of `title` on `page`), then closes the browser and stops serve. On
/// failure: a screenshot of the page named after the failing step, the serve log's tail,
/// and the panic again. Prints every step's time either way; gives the serve log.
pub async fn walk_through(
    title: &str,
    site: &Site,
    page: &Page,
    steps: &Steps,
    started: Instant,
    body: impl Future<Output = ()>,
) -> String {
    let setup = started.elapsed();
    let outcome = AssertUnwindSafe(body).catch_unwind().await;
    let failed = steps.current.lock().unwrap().as_ref().map(|s| s.0.clone()).unwrap_or_default();
    steps.step("");
    if outcome.is_err() {
        let name: String = failed.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
        page.screenshot(&name).await;
    }
    let _ = page.c.clone().close().await;
    let log = site.stop();
    eprintln!("{title} on {}: setup {setup:?}, total {:?}", page.name, started.elapsed());
    for (step, took) in steps.timings.lock().unwrap().iter().filter(|(s, _)| !s.is_empty()) {
        eprintln!("  {step:<44} {took:?}");
    }
    if let Err(p) = outcome {
        let tail: Vec<&str> = log.lines().rev().take(40).collect();
        eprintln!("serve log:\n{}", tail.into_iter().rev().collect::<Vec<_>>().join("\n"));
        std::panic::resume_unwind(p);
    }
    log
}
