//! `GET /healthz`: 200 when the database answers, 503 with the cause when it does not.

use super::AppState;
use axum::{Json, extract::State, http::StatusCode};
use diesel::RunQueryDsl;
use serde_json::{Value, json};

pub async fn healthz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let probe = state.db.run(|c| diesel::sql_query("SELECT 1").execute(c).map_err(Into::into)).await;
    let (code, status, database) = match probe {
        Ok(_) => (StatusCode::OK, "ok", "ok".to_string()),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable", e.to_string()),
    };
    let body = json!({
        "status": status,
        "database": database,
        "backend": format!("{:?}", state.db.backend()).to_lowercase(),
        "version": env!("CARGO_PKG_VERSION"),
        "instance": state.instance_id,
    });
    (code, Json(body))
}
