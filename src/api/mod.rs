//! The admin HTTP server (axum).
//!
//! Takes the shared [`AppState`]; gives the router. Handlers only read and write through
//! `store` and the stage modules; they never hold a database connection across an await.

mod health;

use crate::store::Db;
use axum::{Router, routing::get};

/// What every handler can reach.
#[derive(Clone, Debug)]
pub struct AppState {
    pub db: Db,
    pub instance_id: String,
}

pub fn router(state: AppState) -> Router {
    Router::new().route("/healthz", get(health::healthz)).with_state(state)
}
