//! The agent's side of the wire: the three sync routes over HTTP(S) with the node token.
//!
//! Takes the server URL, the token and the node name (optional with a bound token); gives
//! the snapshot as a verified set (its end line's count and checksum must equal what was
//! received, else nothing is returned), pages of changes, and the server's reply to a report.
//! It never logs the token.

use super::AgentError;
use crate::sync::checksum::Checksum;
use crate::sync::protocol::ReportReply;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::time::Duration;

/// How long a request may take besides a long-poll's wait.
const SLACK: Duration = Duration::from_secs(60);

pub struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
    node: Option<String>,
}

/// One change as the server sends it.
#[derive(Debug, Clone, Deserialize)]
pub struct Change {
    pub seq: i64,
    pub address: String,
    pub scope: String,
    pub op: String,
}

#[derive(Debug, Deserialize)]
pub struct Page {
    pub changes: Vec<Change>,
    pub next: i64,
    pub more: bool,
}

/// A snapshot, checked against its end line.
pub struct Snapshot {
    pub seq: i64,
    pub set: BTreeSet<(String, String)>,
}

#[derive(Debug, Serialize)]
pub struct ReportBody<'a> {
    pub node: Option<&'a str>,
    pub seq: i64,
    pub count: i64,
    pub checksum: String,
    pub applied_at: chrono::NaiveDateTime,
    pub error: Option<String>,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    code: String,
    message: String,
}

impl Client {
    pub fn new(server: &str, token: String, node: Option<String>) -> Result<Client, AgentError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| AgentError::Http(format!("cannot set up the HTTP client: {e}")))?;
        Ok(Client { http, base: server.trim_end_matches('/').to_string(), token, node })
    }

    /// GET `path` with `query` (and the node, when named), encoded by `url`.
    fn get(
        &self,
        path: &str,
        query: &[(&str, String)],
        timeout: Duration,
    ) -> Result<reqwest::RequestBuilder, AgentError> {
        let mut u = url::Url::parse(&format!("{}{path}", self.base))
            .map_err(|e| AgentError::Http(format!("--server {}: {e}", self.base)))?;
        {
            let mut q = u.query_pairs_mut();
            if let Some(n) = &self.node {
                q.append_pair("node", n);
            }
            for (k, v) in query {
                q.append_pair(k, v);
            }
        }
        Ok(self.http.get(u.as_str()).bearer_auth(&self.token).timeout(timeout))
    }

    /// The reply, or the server's error (410 as [`AgentError::Gone`]).
    async fn check(what: &str, resp: reqwest::Response) -> Result<reqwest::Response, AgentError> {
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let text = resp.text().await.unwrap_or_default();
        let (code, message) = match serde_json::from_str::<ErrorBody>(&text) {
            Ok(b) => (b.error.code, b.error.message),
            Err(_) => (String::new(), text.chars().take(300).collect()),
        };
        if status == reqwest::StatusCode::GONE {
            return Err(AgentError::Gone { rebuild: code == "rebuild", message });
        }
        Err(AgentError::Server { what: what.to_string(), status: status.as_u16(), message })
    }

    fn http_err(what: &str) -> impl Fn(reqwest::Error) -> AgentError + '_ {
        move |e| AgentError::Http(format!("{what}: {e}"))
    }

    pub async fn snapshot(&self) -> Result<Snapshot, AgentError> {
        let what = "GET /api/v1/sync/snapshot";
        let resp = self
            .get("/api/v1/sync/snapshot", &[], Duration::from_secs(3600))?
            .send()
            .await
            .map_err(Self::http_err(what))?;
        let mut body = Self::check(what, resp).await?.bytes_stream();
        let (mut buf, mut seq, mut set, mut sum) = (Vec::new(), None, BTreeSet::new(), Checksum::default());
        let mut end: Option<(u64, String)> = None;
        let bad = |m: String| AgentError::Protocol(format!("{what}: {m}"));
        while let Some(chunk) = body.next().await {
            buf.extend_from_slice(&chunk.map_err(Self::http_err(what))?);
            let mut start = 0;
            while let Some(nl) = memchr::memchr(b'\n', &buf[start..]) {
                let line = &buf[start..start + nl];
                start += nl + 1;
                if end.is_some() {
                    return Err(bad("data after the end line".into()));
                }
                if line.first() == Some(&b'[') {
                    let (a, s): (String, String) =
                        serde_json::from_slice(line).map_err(|e| bad(format!("an entry line: {e}")))?;
                    sum.add(&a, &s);
                    set.insert((a, s));
                    continue;
                }
                let v: serde_json::Value =
                    serde_json::from_slice(line).map_err(|e| bad(format!("a control line: {e}")))?;
                if seq.is_none() {
                    seq = Some(v["seq"].as_i64().ok_or_else(|| bad("the header line has no seq".into()))?);
                } else if v["end"] == true {
                    let count = v["count"].as_u64().ok_or_else(|| bad("the end line has no count".into()))?;
                    end = Some((count, v["checksum"].as_str().unwrap_or_default().to_string()));
                }
            }
            buf.drain(..start);
        }
        let (Some(seq), Some((count, checksum))) = (seq, end) else {
            return Err(bad("the snapshot was cut short (no end line); nothing applied".into()));
        };
        if count != sum.count() || checksum != sum.hex() || set.len() as u64 != count {
            return Err(bad(format!(
                "the snapshot does not match its end line ({} entries, checksum {}; it says {count}, {checksum}); nothing applied",
                sum.count(),
                sum.hex()
            )));
        }
        Ok(Snapshot { seq, set })
    }

    pub async fn changes(&self, after: i64, limit: i64, wait: u64) -> Result<Page, AgentError> {
        let what = "GET /api/v1/sync/changes";
        let q = [("after", after.to_string()), ("limit", limit.to_string()), ("wait", wait.to_string())];
        let resp = self
            .get("/api/v1/sync/changes", &q, Duration::from_secs(wait) + SLACK)?
            .send()
            .await
            .map_err(Self::http_err(what))?;
        Self::check(what, resp).await?.json().await.map_err(Self::http_err(what))
    }

    pub async fn report(&self, body: &ReportBody<'_>) -> Result<ReportReply, AgentError> {
        let what = "POST /api/v1/sync/report";
        let resp = self
            .http
            .post(format!("{}/api/v1/sync/report", self.base))
            .bearer_auth(&self.token)
            .timeout(SLACK)
            .json(body)
            .send()
            .await
            .map_err(Self::http_err(what))?;
        Self::check(what, resp).await?.json().await.map_err(Self::http_err(what))
    }

    pub fn node(&self) -> Option<&str> {
        self.node.as_deref()
    }
}
