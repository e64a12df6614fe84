//! `TestApp`: a configured rebound on a fresh database — zero-to-production's `spawn_app`.
//!
//! `TestApp::new` gives the database (migrated, seeded) and the ingest pipeline for tests
//! that drive the stages directly; `serve` also starts the HTTP server and the scheduled jobs
//! in-process on a free loopback port, and `stop` shuts them down the way SIGTERM does. The
//! database lives as long as the `TestApp` (a temporary SQLite file, or a private
//! PostgreSQL schema dropped afterwards).

use super::TestDb;
use rebound::app::App;
use rebound::config::Config;
use rebound::ingest::{Disposition, Item, Pipeline};
use rebound::store::{AnyConnection, Db};
use std::net::SocketAddr;
use std::sync::Arc;

pub struct TestApp {
    pub config: Config,
    pub db: Db,
    pub pipeline: Arc<Pipeline>,
    server: Option<Running>,
    // Last: the database outlives the pool above it.
    _database: TestDb,
}

struct Running {
    address: SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl TestApp {
    /// The app's database and pipeline on `database`, with the config as `tweak` leaves it
    /// (defaults otherwise; the server on a free loopback port).
    pub fn new(database: TestDb, tweak: impl FnOnce(&mut Config)) -> TestApp {
        let mut config = Config { database: database.config(), ..Default::default() };
        config.server.listen = "127.0.0.1:0".into();
        tweak(&mut config);
        let db = Db::connect(&config.database).expect("the test database connects and migrates");
        rebound::classify::repo::seed_if_empty(&mut db.conn().expect("a connection")).expect("rules seeded");
        let pipeline = Arc::new(Pipeline::new(&config).expect("the test config builds a pipeline"));
        TestApp { config, db, pipeline, server: None, _database: database }
    }

    /// Starts the HTTP server and the scheduled jobs (mailbox polls, purges) in-process.
    pub async fn serve(self) -> TestApp {
        self.serve_from(None).await
    }

    /// Like [`TestApp::serve`], naming the config file its `[[mailbox]]` entries come from
    /// (as `rebound serve --config FILE` does; API writes to them are refused naming it).
    pub async fn serve_from(mut self, file: Option<&std::path::Path>) -> TestApp {
        let app = App::build_from(self.config.clone(), file).await.expect("the app builds");
        let address = app.local_addr();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(app.run(async move {
            let _ = stopped.await;
        }));
        self.server = Some(Running { address, stop, task });
        self
    }

    /// `http://ADDR` of the running server.
    pub fn url(&self, path: &str) -> String {
        let running = self.server.as_ref().expect("serve() the app first");
        format!("http://{}{path}", running.address)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        reqwest::get(self.url(path)).await.unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    /// A pooled connection, for reading what the stages wrote.
    pub fn conn(&self) -> diesel::r2d2::PooledConnection<rebound::store::Manager> {
        self.db.conn().expect("a connection")
    }

    /// Ingests one message as if it came from mailbox `source` under `id`.
    pub fn ingest(&self, c: &mut AnyConnection, source: &str, id: &str, raw: &[u8]) -> Disposition {
        let (mut d, _) = self.pipeline.ingest(c, &[Item { source, source_id: id, raw }]).expect("ingest");
        d.remove(0)
    }

    pub async fn count(&self, table: &'static str) -> i64 {
        super::count_rows(&self.db, table).await
    }

    /// Stops the server as SIGTERM would, within `secs`, and says whether it stopped cleanly.
    pub async fn stop(mut self, secs: u64) -> anyhow::Result<()> {
        let Some(running) = self.server.take() else { return Ok(()) };
        let _ = running.stop.send(());
        tokio::time::timeout(std::time::Duration::from_secs(secs), running.task)
            .await
            .map_err(|_| anyhow::anyhow!("the app did not stop within {secs} s"))?
            .map_err(|e| anyhow::anyhow!("the app task failed: {e}"))?
    }
}
