//! The statistics page in Chromium against a real `rebound serve`: a PowerMTA accounting file
//! the test writes is imported by `rebound import-log`; the page, reached from the menu, shows
//! per-domain and "why it failed" figures equal to the counts the test makes from what it
//! wrote, with a chart drawn by rebound; a mistake in the form is said above it; and
//! `GET /api/v1/stats` answers the same figures.

use crate::browser::{Driver, Page};
use crate::site::{ADMIN, Site, no_external_url, rebound, sign_in};
use crate::support::TestDb;
use std::collections::BTreeMap;

const HEADER: &str =
    "type,timeLogged,rcpt,orig,dsnStatus,dsnDiag,dsnMta,bounceCat,dlvSourceIp,vmta,header_X-Campaign-ID\n";

/// (type, domain, status, diagnostic, source IP) of each line, in a fixed mix.
fn lines() -> Vec<(&'static str, &'static str, &'static str, &'static str, &'static str)> {
    let mut v = Vec::new();
    for i in 0..60usize {
        let domain = ["isp-a.example", "isp-b.example", "isp-c.example"][i % 3];
        let ip = ["198.51.100.1", "198.51.100.2"][i % 2];
        v.push(match i % 5 {
            0 | 1 => ("d", domain, "2.0.0", "smtp;250 2.0.0 OK", ip),
            2 => ("t", domain, "4.7.0", "smtp;421 4.7.0 try later", ip),
            3 => ("b", domain, "5.1.1", "smtp;550 5.1.1 user unknown", ip),
            _ => ("b", domain, "5.7.1", "smtp;550 5.7.1 blocked by policy", ip),
        });
    }
    v
}

fn accounting() -> String {
    let mut s = String::from(HEADER);
    for (i, (ty, domain, status, diag, ip)) in lines().into_iter().enumerate() {
        s += &format!(
            "{ty},2026-11-20 {:02}:{:02}:00+0000,u{i}@{domain},bounce@news.example.com,{status} (x),{diag},mx.{domain} (192.0.2.1),,{ip},vmta-1,spring\n",
            i % 24,
            i % 60
        );
    }
    s
}

/// The table's rows: first cell → the next four numbers (delivered, deferred, bounced, expired).
async fn table(page: &Page) -> BTreeMap<String, Vec<i64>> {
    let mut out = BTreeMap::new();
    for row in page.all("#stats-table tbody tr").await {
        let cells: Vec<String> = {
            let mut v = Vec::new();
            for c in row.find_all(fantoccini::Locator::Css("th, td")).await.unwrap() {
                v.push(c.text().await.unwrap());
            }
            v
        };
        out.insert(cells[0].clone(), cells[1..5].iter().map(|n| n.parse().unwrap()).collect());
    }
    out
}

async fn stats_page(db: TestDb, offset: u16) {
    let site = Site::start(&db);
    let file = site.dir.path().join("acct.csv");
    std::fs::write(&file, accounting()).unwrap();
    rebound(&site.cfg, &["import-log", "--format", "powermta", "--node", "pmta-1", file.to_str().unwrap()], "");
    // What the test wrote, counted by the test.
    let mut by_domain: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    let mut why: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for (ty, domain, status, _, ip) in lines() {
        let i = match ty {
            "d" => 0,
            "t" => 1,
            _ => 2,
        };
        by_domain.entry(domain.to_string()).or_insert_with(|| vec![0; 4])[i] += 1;
        if ty == "b" {
            why.entry(format!("{status} / {domain} / pmta-1 / {ip}")).or_insert_with(|| vec![0; 4])[2] += 1;
        }
    }

    let driver = Driver::start(offset);
    let page = Page { c: driver.session().await, base: site.base(), name: format!("stats-{offset}") };
    sign_in(&page, ADMIN).await;
    page.go("/").await;
    page.navigate("header nav a[href='/stats']").await;
    assert_eq!(page.text("h1").await, "Statistics");
    page.fill("#stats-form input[name=from]", "2026-11-20").await;
    page.fill("#stats-form input[name=to]", "2026-11-20").await;
    page.select("#stats-form select[name=by]", "domain").await;
    page.navigate("#stats-form button").await;
    assert_eq!(table(&page).await, by_domain, "per domain");
    let total = page.text("#stats-total").await;
    assert!(total.starts_with("total 24 12 24 0"), "{total}");
    let bars = page.all("#stats-chart svg.chart g rect").await.len();
    assert!(bars >= 3 * 3, "three domains, each delivered, deferred and bounced: {bars} rects");
    no_external_url(&page).await;

    // The campaign's "why it failed".
    page.fill("#stats-form input[name=campaign]", "spring").await;
    page.navigate("#stats-form button").await;
    page.navigate("#stats-range a").await;
    assert_eq!(table(&page).await, why, "why it failed");

    // A mistake is said, with the form kept.
    page.fill("#stats-form input[name=offset]", "99").await;
    page.navigate("#stats-form button").await;
    assert!(page.text("#stats-error").await.contains("offset"), "the error names the field");
    assert_eq!(page.css("#stats-form input[name=offset]").await.prop("value").await.unwrap().as_deref(), Some("99"));

    // The API answers the same figures.
    let token = site.token("stats", "viewer");
    let url = format!("{}/api/v1/stats?from=2026-11-20&to=2026-11-20&by=domain", site.base());
    let body: serde_json::Value =
        reqwest::Client::new().get(url).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
    let api: BTreeMap<String, Vec<i64>> = body["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            let n = |k: &str| g[k].as_i64().unwrap();
            (g["key"].as_str().unwrap().to_string(), vec![n("delivered"), n("deferred"), n("bounced"), n("expired")])
        })
        .collect();
    assert_eq!(api, by_domain, "API per domain");
    let bad = reqwest::Client::new()
        .get(format!("{}/api/v1/stats?by=planet", site.base()))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 422);
    assert!(bad.text().await.unwrap().contains("one of total, month"), "the error lists the groupings");
    let _ = page.c.clone().close().await;
    site.stop();
}

on_both_backends!(the_stats_page_shows_what_was_logged, stats_on);

async fn stats_on(db: TestDb) {
    let offset = if matches!(db, TestDb::Sqlite { .. }) { 4 } else { 5 };
    stats_page(db, offset).await
}
