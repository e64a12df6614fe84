//! A client for the admin API of a served [`TestApp`]: tokens, authenticated JSON calls.

use super::app::TestApp;
use rebound::access::{Role, tokens};
use rebound::audit::Actor;
use serde_json::Value;

/// Calls the API of one running app with one token (or none).
#[derive(Clone)]
pub struct Api {
    pub base: String,
    pub token: Option<String>,
    pub http: reqwest::Client,
}

/// A response: status and body (JSON when it parses, else the text as a JSON string).
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub text: String,
    pub content_type: String,
}

impl Reply {
    /// Panics with the body unless the status is `want`.
    #[track_caller]
    pub fn expect(self, want: u16) -> Value {
        assert_eq!(self.status, want, "wanted {want}, got {}: {}", self.status, self.text);
        self.body
    }
}

impl TestApp {
    /// A new token of `role` named `name`, made as `rebound token create` does.
    pub fn token(&self, name: &str, role: Role) -> String {
        let now = chrono::Utc::now().naive_utc();
        tokens::create(&mut self.conn(), &Actor::system("test"), name, role, now).expect("token created").1
    }

    /// An API client with a fresh admin token.
    pub fn admin(&self) -> Api {
        self.api(Some(self.token(&format!("admin-{}", uuid::Uuid::new_v4().simple()), Role::Admin)))
    }

    /// An API client with a fresh viewer token.
    pub fn viewer(&self) -> Api {
        self.api(Some(self.token(&format!("viewer-{}", uuid::Uuid::new_v4().simple()), Role::Viewer)))
    }

    pub fn api(&self, token: Option<String>) -> Api {
        Api { base: self.url(""), token, http: reqwest::Client::new() }
    }
}

impl Api {
    pub async fn call(&self, method: reqwest::Method, path: &str, body: Option<&Value>) -> Reply {
        let mut req = self.http.request(method.clone(), format!("{}{path}", self.base));
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        Reply::read(resp).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.call(reqwest::Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Reply {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: &Value) -> Reply {
        self.call(reqwest::Method::PUT, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> Reply {
        self.call(reqwest::Method::PATCH, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.call(reqwest::Method::DELETE, path, None).await
    }
}

impl Reply {
    pub async fn read(resp: reqwest::Response) -> Reply {
        let status = resp.status().as_u16();
        let content_type =
            resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        let text = resp.text().await.expect("a readable body");
        let body = serde_json::from_str(&text).unwrap_or_else(|_| Value::String(text.clone()));
        Reply { status, body, text, content_type }
    }
}

/// Asserts `body` is the API's error shape with `code`.
#[track_caller]
pub fn assert_error(body: &Value, code: &str) {
    assert_eq!(body["error"]["code"], code, "error shape with code {code}: {body}");
    assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "a message: {body}");
    assert!(body["error"]["problems"].is_array(), "a problems list: {body}");
}
