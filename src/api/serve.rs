//! Serving the router: plain HTTP (axum), or HTTPS with rustls when `[server] tls_cert_file`
//! and `tls_key_file` are set — both stop accepting on the same signal and let open requests
//! finish.

use crate::config::ServerConfig;
use axum::Router;
use axum_server::tls_rustls::RustlsConfig;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The server's TLS settings, loaded (and so checked) before it starts, or None for HTTP.
pub async fn tls_config(server: &ServerConfig) -> anyhow::Result<Option<RustlsConfig>> {
    let (Some(cert), Some(key)) = (&server.tls_cert_file, &server.tls_key_file) else { return Ok(None) };
    // One process-wide provider (ring); a second install (tests start many servers) is a no-op.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config = RustlsConfig::from_pem_file(cert, key).await.map_err(|e| {
        anyhow::anyhow!(
            "cannot load the TLS certificate {cert} and key {key} (server.tls_cert_file, server.tls_key_file): {e}; \
             both must be PEM, the key unencrypted"
        )
    })?;
    Ok(Some(config))
}

/// Serves `router` on `listener` until `stop` turns true.
pub fn spawn(
    listener: TcpListener,
    router: Router,
    tls: Option<RustlsConfig>,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<JoinHandle<std::io::Result<()>>> {
    let Some(tls) = tls else {
        let serve = axum::serve(listener, router).with_graceful_shutdown(async move {
            let _ = stop.wait_for(|s| *s).await;
        });
        return Ok(tokio::spawn(serve.into_future()));
    };
    let handle = axum_server::Handle::new();
    let server = axum_server::from_tcp_rustls(listener.into_std()?, tls)?.handle(handle.clone());
    tokio::spawn(async move {
        let _ = stop.wait_for(|s| *s).await;
        // The caller bounds the wait with the grace period.
        handle.graceful_shutdown(None);
    });
    Ok(tokio::spawn(server.serve(router.into_make_service())))
}
