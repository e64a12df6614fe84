//! `REBOUND_BENCH_ONLY=web`: the web admin's pages over 1,000,000 seeded events.
//!
//! Seeds like the `views` part (1,000,000 events in one campaign over 30 days, 1,000,000
//! suppression entries), opens a session for an admin user, then times each page through a
//! served rebound on loopback: from request to the last byte of the HTML, so the figure is
//! the server's render time plus a loopback round trip. Prints p50 / p99 per page and
//! backend (`REBOUND_BENCH_VIEWS_EVENTS` resizes it).

use rebound::access::{Role, sessions, users};
use rebound::audit::Actor;
use rebound::config::{Config, DatabaseConfig};
use rebound::store::Db;
use std::time::Instant;

const REQUESTS: usize = 60;

pub fn run(tmp: &std::path::Path) {
    let n: i64 = std::env::var("REBOUND_BENCH_VIEWS_EVENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let sqlite = DatabaseConfig { url: format!("sqlite://{}/web.db", tmp.display()), ..Default::default() };
    measure("SQLite", sqlite, n);
    crate::on_postgres("web pages, PostgreSQL", "bench_web", |cfg| measure("PostgreSQL", cfg, n));
}

fn measure(label: &str, db: DatabaseConfig, n: i64) {
    let mut config = Config { database: db, ..Default::default() };
    config.server.listen = "127.0.0.1:0".into();
    let store = match Db::connect(&config.database) {
        Ok(s) => s,
        Err(e) => return println!("web pages, {label}: skipped: {e}"),
    };
    let mut c = store.conn().expect("connection");
    println!("web admin pages over {n} events, {label} (request to last byte, loopback):");
    crate::views::seed(&mut c, n);
    let now = chrono::Utc::now().naive_utc();
    users::create(&mut c, &Actor::system("bench"), "bench", Role::Admin, "bench-password", now).expect("user");
    let p = users::sign_in(&mut c, "bench", "bench-password", now).expect("sign in").expect("the user");
    let (secret, _) = sessions::open(&mut c, &p, now).expect("session");
    drop(c);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    rt.block_on(async move {
        let app = rebound::app::App::build(config).await.expect("the app builds");
        let base = format!("http://{}", app.local_addr());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(app.run(async move {
            let _ = stopped.await;
        }));
        let http = reqwest::Client::new();
        let cookie = format!("rebound_session={secret}");
        // A cursor half way down BOUNCED, from the page the web shows.
        for (what, path) in [
            ("overview (30-day chart, health)", "/".to_string()),
            ("mailboxes", "/mailboxes".into()),
            ("campaigns list", "/campaigns".into()),
            ("campaign SUMMARY (chart, why it failed)", "/campaigns/big".into()),
            ("campaign BOUNCED, first page", "/campaigns/big?tab=bounced".into()),
            ("campaign BOUNCED, type=soft&domain", "/campaigns/big?tab=bounced&type=soft&domain=d7.example".into()),
            ("campaign BOUNCED, one day", "/campaigns/big?tab=bounced&from=2026-10-15&to=2026-10-15".into()),
            (
                "campaign BOUNCED, a why-it-failed group",
                "/campaigns/big?tab=bounced&status=5.1.1&domain=d7.example".into(),
            ),
            ("campaign COMPLAINTS", "/campaigns/big?tab=complaints".into()),
            ("rules (192)", "/rules".into()),
            ("suppression list (address order)", "/suppression".into()),
            ("suppression search (prefix)", "/suppression?prefix=u5".into()),
            ("address page", "/suppression/address?email=u1%40d1.example".into()),
            ("audit log", "/audit".into()),
            ("review queue", "/review".into()),
        ] {
            let url = format!("{base}{path}");
            let mut times = Vec::with_capacity(REQUESTS);
            for i in 0..REQUESTS + 5 {
                let t = Instant::now();
                let resp = http.get(&url).header("cookie", &cookie).send().await.expect("request");
                assert_eq!(resp.status(), 200, "{url}");
                let body = resp.text().await.expect("html");
                assert!(body.contains("</html>"), "{url}: a whole page");
                if i >= 5 {
                    times.push(t.elapsed().as_secs_f64() * 1e3);
                }
            }
            times.sort_by(f64::total_cmp);
            let p = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)];
            println!("  {what:<42} p50 {:>7.2} ms  p99 {:>7.2} ms", p(0.50), p(0.99));
        }
        let _ = stop.send(());
        let _ = task.await;
    });
}
