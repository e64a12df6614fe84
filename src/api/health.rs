//! `GET /healthz`: 200 when the database answers, 503 with the cause when it does not.

use super::AppState;
use crate::store::StoreError;
use axum::{Json, extract::State, http::StatusCode};
use diesel::RunQueryDsl;
use serde_json::{Value, json};
use std::time::Duration;

/// A health check must answer even when the database does not (a black-holed PostgreSQL
/// holds a query for minutes): past this, the database counts as unavailable.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// Liveness and database reachability (open: no token needed).
#[utoipa::path(get, path = "/healthz", tag = "meta", security(()),
    responses((status = 200, description = "The database answers"),
              (status = 503, description = "The database does not answer; `database` says why")))]
pub async fn healthz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let probe = state.db.run(|c| diesel::sql_query("SELECT 1").execute(c).map_err(StoreError::from));
    let (code, status, database) = match tokio::time::timeout(PROBE_TIMEOUT, probe).await {
        Ok(Ok(_)) => (StatusCode::OK, "ok", "ok".to_string()),
        Ok(Err(e)) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable", e.to_string()),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            format!("the database did not answer within {} s", PROBE_TIMEOUT.as_secs()),
        ),
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
