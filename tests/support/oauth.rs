//! A local stand-in for an OAuth2 provider (the one remote service of the OAuth2 tests):
//! its token endpoint (client credentials, refresh token) and the token introspection
//! endpoint the test Dovecot's oauth2 passdb asks (tests/support/dovecot.sh points it at
//! 127.0.0.1:REBOUND_TEST_OAUTH_PORT). One per test process, on that fixed port; each test
//! registers clients of its own, so tests run side by side.

use axum::extract::{Form, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use rebound::config::oauth2::{Mechanism, OAuth2Config};
use rebound::config::{Auth, MailboxConfig, Secret};
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

#[derive(Default)]
struct ClientRec {
    secret: String,
    refresh_token: String,
    username: String,
    revoked: bool,
    expires_in: u64,
    token_requests: usize,
    /// The grant type of every token issued.
    grants: Vec<String>,
    issued: Vec<String>,
}

#[derive(Default)]
struct Books {
    clients: HashMap<String, ClientRec>,
    /// Access token → (client id, active).
    tokens: HashMap<String, (String, bool)>,
    introspections: HashMap<String, usize>,
}

type Shared = Arc<Mutex<Books>>;

pub struct Provider {
    port: u16,
    books: Shared,
}

/// A client registered with the stand-in: its id and secret, a refresh token, the mailbox
/// user its tokens log in as.
pub struct Client {
    pub id: String,
    pub secret: String,
    pub refresh_token: String,
    pub username: String,
    books: Shared,
    port: u16,
}

/// The stand-in of this test process, started on first use.
pub fn provider() -> &'static Provider {
    static ONE: OnceLock<Provider> = OnceLock::new();
    ONE.get_or_init(|| {
        let port = super::Dovecot::get().oauth_port;
        let listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap_or_else(|e| {
            panic!("the OAuth2 stand-in cannot listen on 127.0.0.1:{port} (REBOUND_TEST_PORT_BASE + 1980): {e}")
        });
        listener.set_nonblocking(true).expect("non-blocking listener");
        let books: Shared = Arc::default();
        let app =
            Router::new().route("/token", post(token)).route("/introspect", post(introspect)).with_state(books.clone());
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                axum::serve(listener, app).await.expect("OAuth2 stand-in");
            });
        });
        Provider { port, books }
    })
}

impl Provider {
    /// A new client whose tokens log in as `username`, with one-hour tokens.
    pub fn client(&self, username: &str) -> Client {
        let id = format!("client-{}", uuid::Uuid::new_v4().simple());
        let secret = format!("secret-{}", uuid::Uuid::new_v4().simple());
        let refresh_token = format!("refresh-{}", uuid::Uuid::new_v4().simple());
        let rec = ClientRec {
            secret: secret.clone(),
            refresh_token: refresh_token.clone(),
            username: username.to_string(),
            expires_in: 3600,
            ..ClientRec::default()
        };
        self.books.lock().unwrap().clients.insert(id.clone(), rec);
        Client { id, secret, refresh_token, username: username.into(), books: self.books.clone(), port: self.port }
    }
}

impl Client {
    pub fn token_url(&self) -> String {
        format!("http://127.0.0.1:{}/token", self.port)
    }

    fn with<T>(&self, f: impl FnOnce(&mut ClientRec) -> T) -> T {
        f(self.books.lock().unwrap().clients.get_mut(&self.id).expect("registered client"))
    }

    pub fn token_requests(&self) -> usize {
        self.with(|c| c.token_requests)
    }

    /// The grant type of every token issued, oldest first.
    pub fn grants(&self) -> Vec<String> {
        self.with(|c| c.grants.clone())
    }

    /// Every access token issued to this client, oldest first.
    pub fn issued(&self) -> Vec<String> {
        self.with(|c| c.issued.clone())
    }

    /// How often Dovecot asked about this client's tokens.
    pub fn introspections(&self) -> usize {
        let b = self.books.lock().unwrap();
        b.tokens
            .iter()
            .filter(|(_, (c, _))| *c == self.id)
            .map(|(t, _)| b.introspections.get(t).copied().unwrap_or(0))
            .sum()
    }

    /// Every token issued so far stops being active (as a revoked or expired one).
    pub fn revoke_tokens(&self) {
        let mut b = self.books.lock().unwrap();
        for (_, (client, active)) in b.tokens.iter_mut() {
            if *client == self.id {
                *active = false;
            }
        }
    }

    /// The endpoint refuses the client from now on (`invalid_client`).
    pub fn revoke_client(&self) {
        self.with(|c| c.revoked = true);
    }

    pub fn set_expires_in(&self, seconds: u64) {
        self.with(|c| c.expires_in = seconds);
    }

    /// `cfg` logging in with this client: client credentials, or with `refresh` the
    /// refresh-token flow; the secrets inline (as the admin API gives them).
    pub fn mailbox(&self, cfg: MailboxConfig, refresh: bool, mechanism: Option<Mechanism>) -> MailboxConfig {
        let oauth2 = OAuth2Config {
            oauth2_token_url: self.token_url(),
            oauth2_client_id: self.id.clone(),
            oauth2_client_secret_env: None,
            oauth2_client_secret_file: None,
            oauth2_refresh_token_env: None,
            oauth2_refresh_token_file: None,
            oauth2_scope: Some("https://mail.example.test/.default".into()),
            oauth2_mechanism: mechanism,
            inline_client_secret: Some(Secret::new(self.secret.clone())),
            inline_refresh_token: refresh.then(|| Secret::new(self.refresh_token.clone())),
        };
        MailboxConfig { auth: Auth::OAuth2, oauth2: Some(oauth2), username: self.username.clone(), ..cfg }
    }
}

fn refuse(status: StatusCode, error: &str, description: &str) -> Response {
    (status, Json(json!({ "error": error, "error_description": description }))).into_response()
}

async fn token(State(books): State<Shared>, Form(form): Form<HashMap<String, String>>) -> Response {
    let mut b = books.lock().unwrap();
    let field = |k: &str| form.get(k).cloned().unwrap_or_default();
    let Some(client) = b.clients.get_mut(&field("client_id")) else {
        return refuse(StatusCode::UNAUTHORIZED, "invalid_client", "AADSTS700016: Application not found (stand-in).");
    };
    client.token_requests += 1;
    if client.revoked || form.get("client_secret").is_some_and(|s| *s != client.secret) {
        return refuse(StatusCode::UNAUTHORIZED, "invalid_client", "AADSTS7000215: Invalid client secret provided.");
    }
    match field("grant_type").as_str() {
        "client_credentials" if form.contains_key("client_secret") => {}
        "refresh_token" if field("refresh_token") == client.refresh_token => {}
        "refresh_token" => {
            return refuse(StatusCode::BAD_REQUEST, "invalid_grant", "Token has been expired or revoked.");
        }
        other => {
            return refuse(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                &format!("grant_type `{other}` (stand-in)"),
            );
        }
    }
    let access = format!("at-{}", uuid::Uuid::new_v4().simple());
    client.issued.push(access.clone());
    client.grants.push(field("grant_type"));
    let expires_in = client.expires_in;
    let id = field("client_id");
    b.tokens.insert(access.clone(), (id, true));
    Json(json!({ "access_token": access, "token_type": "Bearer", "expires_in": expires_in })).into_response()
}

async fn introspect(State(books): State<Shared>, Form(form): Form<HashMap<String, String>>) -> Json<serde_json::Value> {
    let mut b = books.lock().unwrap();
    let token = form.get("token").cloned().unwrap_or_default();
    *b.introspections.entry(token.clone()).or_default() += 1;
    let active = b.tokens.get(&token).filter(|(_, active)| *active).map(|(client, _)| client.clone());
    match active.and_then(|c| b.clients.get(&c)) {
        Some(c) => Json(json!({ "active": "true", "username": c.username })),
        None => Json(json!({ "active": "false" })),
    }
}
