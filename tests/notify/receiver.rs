//! A webhook receiver on loopback (axum): checks every POST's Standard Webhooks signature
//! itself (its own HMAC, not rebound's code) and keeps what arrived.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};

/// One POST as received.
#[derive(Debug, Clone)]
pub struct Got {
    pub webhook_id: String,
    pub attempt_id: String,
    pub body: Value,
    /// The signature checked out against the receiver's secret.
    pub signed: bool,
}

#[derive(Default)]
struct Inner {
    key: Vec<u8>,
    got: Mutex<Vec<Got>>,
    status: AtomicU16,
}

pub struct Receiver {
    pub addr: SocketAddr,
    inner: Arc<Inner>,
}

/// The key a `whsec_` secret stands for.
pub fn key_of(secret: &str) -> Vec<u8> {
    match secret.strip_prefix("whsec_") {
        Some(b) => base64::engine::general_purpose::STANDARD.decode(b).unwrap(),
        None => secret.as_bytes().to_vec(),
    }
}

impl Receiver {
    /// Listens on `port` (0: any free one) and answers `status` to every POST.
    pub async fn start(port: u16, secret: &str, status: u16) -> Receiver {
        let inner = Arc::new(Inner { key: key_of(secret), status: AtomicU16::new(status), ..Default::default() });
        let app = axum::Router::new().route("/hook", axum::routing::post(take)).with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.expect("receiver port free");
        let addr = listener.local_addr().unwrap();
        // Lives as long as the test's runtime.
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Receiver { addr, inner }
    }

    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    pub fn set_status(&self, status: u16) {
        self.inner.status.store(status, Ordering::SeqCst);
    }

    pub fn got(&self) -> Vec<Got> {
        self.inner.got.lock().unwrap().clone()
    }

    /// Every event received (a batch's events one by one), in arrival order.
    pub fn events(&self) -> Vec<Value> {
        self.got()
            .into_iter()
            .flat_map(|g| match g.body {
                Value::Array(items) => items,
                one => vec![one],
            })
            .collect()
    }

    /// Waits until `n` events arrived (panics after `secs`).
    pub async fn wait_events(&self, n: usize, secs: u64) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(secs);
        loop {
            let events = self.events();
            if events.len() >= n {
                return events;
            }
            assert!(tokio::time::Instant::now() < deadline, "only {} of {n} events arrived: {events:#?}", events.len());
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}

/// Answers the status set, with a body naming it (so the attempt's excerpt can be checked).
async fn take(State(inner): State<Arc<Inner>>, headers: HeaderMap, body: Bytes) -> (StatusCode, String) {
    let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let (id, ts, sigs) = (h("webhook-id"), h("webhook-timestamp"), h("webhook-signature"));
    let fresh = ts.parse::<i64>().is_ok_and(|t| (chrono::Utc::now().timestamp() - t).abs() < 300);
    let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(&inner.key).unwrap();
    mac.update(format!("{id}.{ts}.").as_bytes());
    mac.update(&body);
    let want = format!("v1,{}", base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes()));
    let signed = fresh && sigs.split(' ').any(|s| s == want);
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    inner.got.lock().unwrap().push(Got { webhook_id: id, attempt_id: h("rebound-attempt-id"), body, signed });
    let status = inner.status.load(Ordering::SeqCst);
    (StatusCode::from_u16(status).unwrap(), format!("receiver answered {status}"))
}
