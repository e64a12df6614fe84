//! ChromeDriver and a Chromium session: started per test on a port from
//! REBOUND_TEST_PORT_BASE, headless, stopped when dropped.

use fantoccini::{Client, ClientBuilder, Locator};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct Driver {
    child: Child,
    pub port: u16,
}

impl Driver {
    /// `chromedriver` on REBOUND_TEST_PORT_BASE + 970 + `offset` (default base 10000).
    pub fn start(offset: u16) -> Driver {
        let base: u16 = std::env::var("REBOUND_TEST_PORT_BASE").ok().and_then(|b| b.parse().ok()).unwrap_or(10000);
        let port = base + 970 + offset;
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("chromedriver: {e}; `make test` installs Debian's chromium-driver"));
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(std::time::Instant::now() < deadline, "chromedriver did not listen on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        Driver { child, port }
    }

    /// A headless Chromium at 1280×900 (root needs --no-sandbox).
    pub async fn session(&self) -> Client {
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({"args": ["--headless", "--no-sandbox", "--disable-gpu", "--window-size=1280,900", "--disable-dev-shm-usage"]}),
        );
        ClientBuilder::native()
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .expect("a Chromium session from chromedriver")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The page, for the walk's steps.
#[derive(Clone)]
pub struct Page {
    pub c: Client,
    pub base: String,
    pub name: String,
}

impl Page {
    pub async fn go(&self, path: &str) {
        self.c.goto(&format!("{}{path}", self.base)).await.expect("goto");
    }

    pub async fn css(&self, css: &str) -> fantoccini::elements::Element {
        match self.c.wait().at_most(Duration::from_secs(10)).for_element(Locator::Css(css)).await {
            Ok(e) => e,
            Err(e) => panic!("no `{css}` on {}: {e}", self.url().await),
        }
    }

    pub async fn all(&self, css: &str) -> Vec<fantoccini::elements::Element> {
        self.c.find_all(Locator::Css(css)).await.expect("find_all")
    }

    pub async fn text(&self, css: &str) -> String {
        self.css(css).await.text().await.expect("text")
    }

    pub async fn url(&self) -> String {
        self.c.current_url().await.map(|u| u.to_string()).unwrap_or_default()
    }

    pub async fn fill(&self, css: &str, value: &str) {
        let e = self.css(css).await;
        e.clear().await.expect("clear");
        e.send_keys(value).await.expect("type");
    }

    pub async fn click(&self, css: &str) {
        self.css(css).await.click().await.unwrap_or_else(|e| panic!("click `{css}`: {e}"));
    }

    /// Clicks something that loads a new page, and waits until the new one is there.
    pub async fn navigate(&self, css: &str) {
        self.js("window.__old_page = true;").await;
        self.click(css).await;
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        // Until the script answers from a document without the mark (during the navigation
        // it may fail or still answer from the old one).
        while !matches!(
            self.c.execute("return window.__old_page !== true && document.readyState === 'complete'", vec![]).await,
            Ok(serde_json::Value::Bool(true))
        ) {
            assert!(std::time::Instant::now() < deadline, "`{css}` loaded no new page");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.css("body").await;
    }

    pub async fn select(&self, css: &str, value: &str) {
        self.css(css).await.select_by_value(value).await.unwrap_or_else(|e| panic!("select {value} in `{css}`: {e}"));
    }

    pub async fn source(&self) -> String {
        self.c.source().await.expect("source")
    }

    pub async fn js(&self, script: &str) -> serde_json::Value {
        self.c.execute(script, vec![]).await.unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Saves what the browser shows, beside the test output, and says where.
    pub async fn screenshot(&self, step: &str) {
        let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("web-{}-{step}.png", self.name));
        match self.c.screenshot().await {
            Ok(png) => {
                let _ = std::fs::write(&path, png);
                eprintln!("screenshot of the failing page ({}): {}", self.url().await, path.display());
            }
            Err(e) => eprintln!("no screenshot: {e}"),
        }
    }
}
