//! Metrics: the Prometheus recorder of the process and the metrics the stages report.
//!
//! Takes counts and durations from the stages (ingest, mailbox polls, the HTTP server) through
//! the `metrics` facade; gives the Prometheus text of `GET /metrics`. The recorder is
//! installed once per process ([`install`] is idempotent: tests build many apps in one
//! process, and `metrics` takes one global recorder); before that, or in a CLI command that
//! never installs it, every call here is a no-op. Histogram samples are folded into their
//! buckets by an upkeep thread every few seconds, so memory stays bounded between scrapes.
//! It never labels a metric with anything unbounded (an address, a message id, a raw path).

use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::Duration;

pub const FETCHED: &str = "rebound_messages_fetched_total";
pub const PARSED: &str = "rebound_messages_parsed_total";
pub const CLASSIFIED: &str = "rebound_records_classified_total";
pub const SUPPRESSED: &str = "rebound_suppressions_added_total";
pub const POLL_SECONDS: &str = "rebound_poll_duration_seconds";
pub const POLL_FAILURES: &str = "rebound_poll_failures_total";
pub const REVIEW_QUEUE: &str = "rebound_review_queue_size";
pub const SUPPRESSION_SIZE: &str = "rebound_suppression_size";
pub const RULES_VERSION: &str = "rebound_rules_engine_version";
pub const HTTP_REQUESTS: &str = "rebound_http_requests_total";
pub const HTTP_SECONDS: &str = "rebound_http_request_duration_seconds";

/// Poll durations: a quick empty check to a long drain.
const POLL_BUCKETS: &[f64] = &[0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0];
/// API answers: a millisecond to a long export.
const HTTP_BUCKETS: &[f64] = &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process's recorder (the first call; later ones give the same handle). None
/// when another recorder was installed first (metrics then go there, not to `/metrics`).
pub fn install() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full(POLL_SECONDS.into()), POLL_BUCKETS)
                .and_then(|b| b.set_buckets_for_metric(Matcher::Full(HTTP_SECONDS.into()), HTTP_BUCKETS));
            let handle = match builder.map(PrometheusBuilder::install_recorder) {
                Ok(Ok(h)) => h,
                Ok(Err(e)) | Err(e) => {
                    tracing::warn!(error = %e, "metrics recorder not installed; GET /metrics stays empty");
                    return None;
                }
            };
            describe();
            let upkeep = handle.clone();
            let _ = std::thread::Builder::new().name("metrics-upkeep".into()).spawn(move || {
                loop {
                    std::thread::sleep(UPKEEP_EVERY);
                    upkeep.run_upkeep();
                }
            });
            Some(handle)
        })
        .as_ref()
}

/// The Prometheus text of every metric so far.
pub fn render() -> String {
    install().map(PrometheusHandle::render).unwrap_or_default()
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!(FETCHED, "Messages fetched from a mailbox");
    describe_counter!(PARSED, "Messages committed by the pipeline, by report kind (bounce, complaint, …)");
    describe_counter!(CLASSIFIED, "Bounce and complaint records committed, by classification");
    describe_counter!(SUPPRESSED, "Addresses the policy suppressed");
    describe_histogram!(POLL_SECONDS, metrics::Unit::Seconds, "How long one poll of a mailbox took");
    describe_counter!(POLL_FAILURES, "Polls that failed, by mailbox and stage");
    describe_gauge!(REVIEW_QUEUE, "Messages waiting in the review queue");
    describe_gauge!(SUPPRESSION_SIZE, "Entries of the suppression list");
    describe_gauge!(RULES_VERSION, "Version of the rule list the engine runs (bumped by every rule change)");
    describe_counter!(HTTP_REQUESTS, "HTTP requests answered, by route pattern, method and status");
    describe_histogram!(HTTP_SECONDS, metrics::Unit::Seconds, "How long HTTP requests took, by route pattern");
}

/// `n` messages fetched from `mailbox`.
pub fn fetched(mailbox: &str, n: usize) {
    counter!(FETCHED, "mailbox" => mailbox.to_string()).increment(n as u64);
}

/// A committed ingest: messages by kind, records by classification, suppressions made.
pub fn ingested(stats: &crate::ingest::Stats) {
    for (kind, n) in &stats.by_kind {
        counter!(PARSED, "kind" => kind.clone()).increment(*n as u64);
    }
    for (class, n) in &stats.by_classification {
        counter!(CLASSIFIED, "classification" => class.clone()).increment(*n as u64);
    }
    if stats.suppressed > 0 {
        counter!(SUPPRESSED).increment(stats.suppressed as u64);
    }
}

/// One poll of `mailbox` ended after `took`; `failed` names the stage it failed at.
pub fn polled(mailbox: &str, took: Duration, failed: Option<&str>) {
    histogram!(POLL_SECONDS, "mailbox" => mailbox.to_string()).record(took.as_secs_f64());
    if let Some(stage) = failed {
        counter!(POLL_FAILURES, "mailbox" => mailbox.to_string(), "stage" => stage.to_string()).increment(1);
    }
}

/// The sizes read from the database at a scrape.
pub fn sizes(suppression: i64, review: i64, rules_version: i64) {
    gauge!(SUPPRESSION_SIZE).set(suppression as f64);
    gauge!(REVIEW_QUEUE).set(review as f64);
    gauge!(RULES_VERSION).set(rules_version as f64);
}

/// One HTTP request answered: `route` is the matched pattern (`/api/v1/suppression/{address}`).
pub fn http(route: &str, method: &str, status: u16, took: Duration) {
    counter!(HTTP_REQUESTS, "route" => route.to_string(), "method" => method.to_string(), "status" => status.to_string())
        .increment(1);
    histogram!(HTTP_SECONDS, "route" => route.to_string()).record(took.as_secs_f64());
}
