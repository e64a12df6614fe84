//! `[server] tls_cert_file` / `tls_key_file`: the admin server speaks HTTPS itself.

use crate::support::TestDb;
use rebound::app::App;
use rebound::config::Config;
use std::path::Path;
use std::process::Command;

/// A CA and a `localhost` certificate it signed, made with the openssl command.
fn make_certs(dir: &Path) {
    let run = |args: &[&str]| {
        let out =
            Command::new("openssl").args(args).current_dir(dir).output().expect("openssl runs (make test installs it)");
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=rebound test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    ]);
    run(&["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout", "key.pem", "-out", "srv.csr"]);
    std::fs::write(dir.join("san.ext"), "subjectAltName=DNS:localhost,IP:127.0.0.1\n").unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "srv.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "san.ext",
        "-out",
        "cert.pem",
    ]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_serves_https_with_its_own_certificate() {
    let dir = tempfile::tempdir().unwrap();
    make_certs(dir.path());
    let db = TestDb::sqlite();
    let mut cfg = Config { database: db.config(), ..Default::default() };
    cfg.server.listen = "127.0.0.1:0".into();
    cfg.server.tls_cert_file = Some(dir.path().join("cert.pem").display().to_string());
    cfg.server.tls_key_file = Some(dir.path().join("key.pem").display().to_string());
    let app = App::build(cfg.clone()).await.expect("the app builds with TLS");
    let port = app.local_addr().port();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(app.run(async move {
        let _ = rx.await;
    }));

    let ca = reqwest::Certificate::from_pem(&std::fs::read(dir.path().join("ca.pem")).unwrap()).unwrap();
    let client = reqwest::Client::builder().add_root_certificate(ca).build().unwrap();
    let health = client.get(format!("https://localhost:{port}/healthz")).send().await.expect("HTTPS answers");
    assert_eq!(health.status(), 200);
    let api = client.get(format!("https://localhost:{port}/api/v1/audit")).send().await.unwrap();
    assert_eq!(api.status(), 401, "the API behind TLS still needs a token");
    // Plain HTTP on the TLS port gets no HTTP answer.
    let plain = reqwest::get(format!("http://127.0.0.1:{port}/healthz")).await;
    assert!(plain.is_err() || plain.unwrap().status() != 200, "plain HTTP is not served on the TLS port");
    // A client that does not trust the CA refuses the connection.
    assert!(reqwest::get(format!("https://localhost:{port}/healthz")).await.is_err());

    tx.send(()).unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(10), running).await.expect("stops").unwrap().unwrap();

    // A key that is not PEM stops the server at start, naming the keys.
    std::fs::write(dir.path().join("bad.pem"), "not a key").unwrap();
    cfg.server.tls_key_file = Some(dir.path().join("bad.pem").display().to_string());
    let err = App::build(cfg).await.err().expect("a bad key is refused at start").to_string();
    assert!(err.contains("server.tls_key_file"), "{err}");
}
