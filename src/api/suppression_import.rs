//! `POST /api/v1/suppression/import`: a suppression list uploaded as it is (one address per
//! line, or a gateway's CSV export), streamed, never held whole in memory.
//!
//! A face over `suppress::import`, as `rebound suppression import` is; needs an admin token.
//! The body is read as it arrives on a blocking thread (each batch of rows commits on its
//! own), up to `[server] max_import_bytes`.

use super::{Admin, ApiError, ApiQuery, ApiResult, AppState, ErrorBody};
use crate::suppress::import::{self, Format, ImportError, Options, Report, RowsError};
use crate::suppress::{Allowlist, GLOBAL, Source};
use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use futures_util::StreamExt;
use serde::Deserialize;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// `auto` (default: CSV when the first line has an address column), `plain` or `csv`.
    pub format: Option<Format>,
    /// The CSV column holding the address, when its header is not a known name.
    pub column: Option<String>,
    /// `import` (default) or `manual`.
    pub source: Option<String>,
    /// Reason for rows whose file gives none.
    pub reason: Option<String>,
    /// `global` (default) or a sending domain, for rows without a scope column.
    pub scope: Option<String>,
    /// `true`: check and count, write nothing.
    pub dry_run: Option<bool>,
    /// What the audit log calls the upload (default `upload`).
    pub name: Option<String>,
}

/// Import a suppression list: the body is the file (`text/plain` or `text/csv`). Addresses
/// are normalised and validated; invalid lines are counted and listed (the first 1,000),
/// allowlisted ones reported and not imported, entries already present kept as they are;
/// every addition goes to the change feed. Running it again adds nothing.
#[utoipa::path(post, path = "/api/v1/suppression/import", tag = "suppression", params(ImportQuery),
    request_body(content = String, content_type = "text/csv", description = "The list, as exported"),
    responses((status = 200, body = Report), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 413, description = "Larger than server.max_import_bytes; batches before the cut are kept",
               body = ErrorBody),
              (status = 422, description = "No address column, a bad option", body = ErrorBody)))]
pub async fn import(
    Admin(p): Admin,
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<ImportQuery>,
    body: Body,
) -> ApiResult<Json<Report>> {
    let source = match q.source.as_deref().unwrap_or("import") {
        "import" => Source::Import,
        "manual" => Source::Manual,
        other => return Err(ApiError::field("source", format!("`{other}` is not import or manual"))),
    };
    let scope = q.scope.as_deref().unwrap_or(GLOBAL).trim().to_lowercase();
    if scope != GLOBAL && import::checked_address(&format!("x@{scope}")).is_err() {
        return Err(ApiError::field("scope", format!("`{scope}` is neither global nor a domain")));
    }
    let opts = Options {
        format: q.format.unwrap_or_default(),
        column: q.column,
        source,
        reason: q.reason,
        scope,
        dry_run: q.dry_run.unwrap_or(false),
        label: q.name.unwrap_or_else(|| "upload".into()),
    };
    let limit = state.config.server.max_import_bytes;
    let read = Arc::new(AtomicU64::new(0));
    let counted = read.clone();
    let stream = body.into_data_stream().map(move |chunk| {
        let chunk = chunk.map_err(std::io::Error::other)?;
        let total = counted.fetch_add(chunk.len() as u64, Ordering::Relaxed) + chunk.len() as u64;
        if total > limit {
            return Err(std::io::Error::other("the upload is larger than server.max_import_bytes"));
        }
        Ok(chunk)
    });
    // The bridge blocks its (blocking-pool) thread on the async body: created here, where
    // the runtime handle is, and read on spawn_blocking.
    let input = tokio_util::io::SyncIoBridge::new(tokio_util::io::StreamReader::new(stream));
    let (db, allow_cfg, actor) = (state.db.clone(), state.config.suppression.allowlist.clone(), p.actor());
    let outcome = tokio::task::spawn_blocking(move || -> Result<Report, ImportError> {
        let allowlist = Allowlist::load(&mut *db.conn()?, &allow_cfg)?;
        let now = chrono::Utc::now().naive_utc();
        import::run(&db, &actor, input, &opts, &allowlist, now, &mut |_| {})
    })
    .await
    .map_err(|e| {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", format!("the import task failed: {e}"))
    })?;
    match outcome {
        Ok(report) => Ok(Json(report)),
        Err(_) if read.load(Ordering::Relaxed) > limit => Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!(
                "the upload is larger than server.max_import_bytes ({limit}); the batches read before the \
                 cut are committed: split the file, or raise the limit, and send the rest (repeats are skipped)"
            ),
        )),
        Err(ImportError::Rows(e @ (RowsError::NoAddressColumn { .. } | RowsError::NoSuchColumn(_)))) => {
            Err(ApiError::field("column", e.to_string()))
        }
        Err(ImportError::Rows(e)) => Err(ApiError::bad_request(format!("{e}; batches before it are committed"))),
        Err(ImportError::Source(s)) => Err(ApiError::field("source", s)),
        Err(ImportError::Store(e)) => Err(e.into()),
    }
}
