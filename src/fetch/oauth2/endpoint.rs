//! One request to an OAuth2 token endpoint: client credentials or a refresh token, over the
//! `oauth2` crate with our reqwest 0.13 client plugged in through its `AsyncHttpClient`
//! (its own reqwest feature is 0.12, which would be a second HTTP stack).
//!
//! Takes the mailbox's OAuth2 settings and secrets; gives the access token with its lifetime,
//! or a [`Refusal`] with the endpoint, the HTTP status and the provider's `error` and
//! `error_description`. Redirects are not followed (the client secret must go nowhere else)
//! and the answer is capped. It never puts a secret or a response body into an error: a body
//! that is not a token response is described by the field that failed, never quoted.

use crate::config::Secret;
use crate::config::oauth2::{Flow, OAuth2Config, OAuth2Secrets};
use crate::fetch::error::{DETAIL_MAX, ErrorKind, clip};
use oauth2::basic::BasicClient;
use oauth2::{AuthType, ClientId, ClientSecret, RefreshToken, RequestTokenError, Scope, TokenResponse, TokenUrl};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

/// The most of a token endpoint's answer that is read: a token response is a few KB.
const MAX_ANSWER: usize = 256 * 1024;

/// One HTTP client for every token request (connection reuse; redirects off).
static HTTP: LazyLock<Result<reqwest::Client, String>> = LazyLock::new(|| {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().map_err(|e| e.to_string())
});

/// A token the endpoint granted.
pub struct Granted {
    pub access: Secret,
    pub expires_in: Option<Duration>,
    /// A new refresh token, when the provider rotates them.
    pub refresh_token: Option<Secret>,
}

/// Why no token came back, in the endpoint's own words.
#[derive(Debug, Clone)]
pub struct Refusal {
    pub kind: ErrorKind,
    pub status: Option<u16>,
    /// The provider's `error` (`invalid_client`, `invalid_grant`, …).
    pub error: Option<String>,
    pub description: Option<String>,
    /// One sentence: what was asked, what came back.
    pub detail: String,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HttpFail(String, ErrorKind);

/// Asks `cfg.oauth2_token_url` for an access token; `refresh` is the refresh token to use
/// (the configured one, or a newer one the provider rotated to).
pub async fn request(
    cfg: &OAuth2Config,
    secrets: &OAuth2Secrets,
    refresh: Option<&Secret>,
    limit: Duration,
) -> Result<Granted, Refusal> {
    let url = &cfg.oauth2_token_url;
    let flow = cfg.flow();
    let asked = format!("POST {url} ({flow})");
    let local =
        |detail: String| Refusal { kind: ErrorKind::Local, status: None, error: None, description: None, detail };
    let token_url = TokenUrl::new(url.clone()).map_err(|e| local(format!("{asked}: not a usable URL: {e}")))?;
    let http = HTTP.as_ref().map_err(|e| local(format!("{asked}: cannot set up an HTTP client: {e}")))?;
    // Both providers take the client credentials in the form body (Microsoft documents only
    // that); RFC 6749's Basic header is the crate's default.
    let mut client = BasicClient::new(ClientId::new(cfg.oauth2_client_id.clone()))
        .set_token_uri(token_url)
        .set_auth_type(AuthType::RequestBody);
    if let Some(s) = &secrets.client_secret {
        client = client.set_client_secret(ClientSecret::new(s.expose().to_string()));
    }
    let scopes: Vec<Scope> =
        cfg.oauth2_scope.iter().flat_map(|s| s.split_whitespace()).map(|s| Scope::new(s.to_string())).collect();

    let status = Arc::new(Mutex::new(None::<u16>));
    let call = Http { client: http.clone(), limit, status: status.clone() };
    let answer = match (flow, refresh) {
        (Flow::RefreshToken, Some(rt)) => {
            let rt = RefreshToken::new(rt.expose().to_string());
            client.exchange_refresh_token(&rt).add_scopes(scopes).request_async(&call).await
        }
        (Flow::RefreshToken, None) => return Err(local(format!("{asked}: no refresh token to send"))),
        (Flow::ClientCredentials, _) => {
            client.exchange_client_credentials().add_scopes(scopes).request_async(&call).await
        }
    };
    let status = *status.lock().unwrap_or_else(|p| p.into_inner());
    match answer {
        Ok(t) => Ok(Granted {
            access: Secret::new(t.access_token().secret().clone()),
            expires_in: t.expires_in(),
            refresh_token: t.refresh_token().map(|r| Secret::new(r.secret().clone())),
        }),
        Err(e) => Err(refusal(&asked, status, e)),
    }
}

/// reqwest as the oauth2 crate's HTTP client: an owning struct with a boxed `Send` future,
/// not a closure over borrows. The crate asks for `AsyncHttpClient<'c>` at every lifetime
/// when the caller's future is checked for `Send` (`tokio::spawn`), which only an impl for
/// all `'c` satisfies.
struct Http {
    client: reqwest::Client,
    limit: Duration,
    status: Arc<Mutex<Option<u16>>>,
}

type Answer<'c> = Pin<Box<dyn Future<Output = Result<oauth2::HttpResponse, HttpFail>> + Send + 'c>>;

impl<'c> oauth2::AsyncHttpClient<'c> for Http {
    type Error = HttpFail;
    type Future = Answer<'c>;

    fn call(&'c self, request: oauth2::HttpRequest) -> Answer<'c> {
        Box::pin(send(&self.client, request, self.limit, &self.status))
    }
}

/// The oauth2 crate's request through reqwest, keeping the status for the error message.
async fn send(
    http: &reqwest::Client,
    req: oauth2::HttpRequest,
    limit: Duration,
    status: &Mutex<Option<u16>>,
) -> Result<oauth2::HttpResponse, HttpFail> {
    let fail = |e: reqwest::Error| {
        let kind = if e.is_timeout() { ErrorKind::Timeout } else { ErrorKind::Network };
        // reqwest names the URL (never a secret: they travel in the body) and the cause.
        HttpFail(clip(&error_chain(&e), DETAIL_MAX), kind)
    };
    let (parts, body) = req.into_parts();
    let resp = http
        .request(parts.method, parts.uri.to_string())
        .headers(parts.headers)
        .body(body)
        .timeout(limit)
        .send()
        .await
        .map_err(fail)?;
    *status.lock().unwrap_or_else(|p| p.into_inner()) = Some(resp.status().as_u16());
    let mut out = oauth2::http::Response::builder().status(resp.status());
    if let Some(ct) = resp.headers().get(reqwest::header::CONTENT_TYPE) {
        out = out.header(reqwest::header::CONTENT_TYPE, ct);
    }
    let mut resp = resp;
    let mut bytes = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(fail)? {
        if bytes.len() + chunk.len() > MAX_ANSWER {
            return Err(HttpFail(format!("the answer is larger than {MAX_ANSWER} bytes"), ErrorKind::Protocol));
        }
        bytes.extend_from_slice(&chunk);
    }
    out.body(bytes).map_err(|e| HttpFail(e.to_string(), ErrorKind::Local))
}

/// reqwest's error with its causes ("error sending request … : connection refused").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

type CrateError = RequestTokenError<HttpFail, oauth2::basic::BasicErrorResponse>;

fn refusal(asked: &str, status: Option<u16>, e: CrateError) -> Refusal {
    let http = status.map(|s| format!("HTTP {s}")).unwrap_or_else(|| "no HTTP answer".into());
    let mut r = Refusal { kind: ErrorKind::Rejected, status, error: None, description: None, detail: String::new() };
    r.detail = match e {
        RequestTokenError::ServerResponse(body) => {
            let error = body.error().to_string();
            let description = body.error_description().map(|d| clip(d, DETAIL_MAX));
            let said = match &description {
                Some(d) => format!("{error}: {d}"),
                None => error.clone(),
            };
            r.error = Some(clip(&error, 100));
            r.description = description;
            format!("{asked}: {http}, {said}")
        }
        RequestTokenError::Request(HttpFail(why, kind)) => {
            r.kind = kind;
            format!("{asked}: {why}")
        }
        RequestTokenError::Parse(e, _body) => {
            // The body may hold a token: say where it failed, never what it said.
            r.kind = ErrorKind::Protocol;
            let path = e.path().to_string();
            let what = match e.inner().classify() {
                serde_json::error::Category::Data => "a field of the wrong type or a missing field",
                serde_json::error::Category::Syntax | serde_json::error::Category::Eof => "not JSON",
                serde_json::error::Category::Io => "unreadable",
            };
            format!("{asked}: {http}, and the answer is not a token response ({what} at `{path}`)")
        }
        RequestTokenError::Other(why) => format!("{asked}: {http}, {}", clip(&why, DETAIL_MAX)),
    };
    r
}
