//! A real `rebound serve` process (the binary), its JSON log collected line by line.
//!
//! For tests that must see what the process logs (a secret must never be there) or run
//! several instances on one database.

use std::time::Duration;

/// The `rebound` binary (integration tests only; examples and benches include this file too).
fn binary() -> &'static str {
    match option_env!("CARGO_BIN_EXE_rebound") {
        Some(b) => b,
        None => panic!("only integration tests can start `rebound serve`"),
    }
}

/// `GET /healthz` over a plain socket, to wait for a child process without a runtime.
pub fn healthz(port: u16) -> std::io::Result<String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port))?;
    s.write_all(b"GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n")?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
}

/// A real `rebound serve` process whose JSON log lines are collected as they come.
pub struct Serve {
    child: std::process::Child,
    log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Serve {
    pub fn start(cfg: &std::path::Path, port: u16) -> Serve {
        Self::start_in(cfg, port, None, &[])
    }

    /// [`Serve::start`] from working directory `cwd` (relative paths in the config resolve
    /// there) with extra environment variables (`REBOUND__…` overrides).
    pub fn start_in(cfg: &std::path::Path, port: u16, cwd: Option<&std::path::Path>, env: &[(&str, String)]) -> Serve {
        use std::io::BufRead;
        let mut cmd = std::process::Command::new(binary());
        cmd.args(["--config", cfg.to_str().unwrap(), "serve"]).stderr(std::process::Stdio::piped());
        if let Some(dir) = cwd {
            cmd.current_dir(dir);
        }
        cmd.envs(env.iter().map(|(k, v)| (k, v)));
        let mut child = cmd.spawn().unwrap();
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (sink, stderr) = (log.clone(), child.stderr.take().unwrap());
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while healthz(port).is_err() {
            assert!(std::time::Instant::now() < deadline, "serve did not come up: {:?}", log.lock().unwrap());
            std::thread::sleep(Duration::from_millis(100));
        }
        Serve { child, log }
    }

    /// Whether a log line with message `message` about mailbox `name` arrives within `within`.
    pub async fn logged(&self, message: &str, name: &str, within: Duration) -> bool {
        let (m, n) = (format!("\"message\":\"{message}\""), format!("\"mailbox\":\"{name}\""));
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if self.log.lock().unwrap().iter().any(|l| l.contains(&m) && l.contains(&n)) {
                return true;
            }
            if tokio::time::Instant::now() > deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// SIGKILL: the process dies at once, mid-work, as in a crash.
    pub fn kill(self) {
        // Drop does it.
    }

    /// SIGTERM, then a clean exit; returns the log.
    pub fn stop(mut self) -> String {
        let kill = std::process::Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        assert!(kill.success());
        let status = self.child.wait().unwrap();
        std::thread::sleep(Duration::from_millis(200));
        let log = self.log.lock().unwrap().join("\n");
        assert!(status.success(), "exit {status:?}: {log}");
        log
    }
}

/// A test that fails leaves no `serve` behind (after `stop` this finds it gone already).
impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A config file for `serve` on `db_url` with JSON logs and `mailboxes` appended.
pub fn serve_config(dir: &std::path::Path, file: &str, port: u16, db_url: &str, mailboxes: &str) -> std::path::PathBuf {
    let p = dir.join(file);
    std::fs::write(
        &p,
        format!("[server]\nlisten = \"127.0.0.1:{port}\"\n[database]\nurl = \"{db_url}\"\n[log]\nformat = \"json\"\n\n{mailboxes}"),
    )
    .unwrap();
    p
}

impl Serve {
    /// Every log line so far.
    pub fn lines(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base(port: u16) -> String {
        format!("http://127.0.0.1:{port}")
    }
}
