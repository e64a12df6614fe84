//! `/api/v1/nodes`: API-managed nodes written, validated and audited, followed by the running
//! `serve` within seconds; config-file nodes read-only; status in list and get; sync now.

use crate::support::api::assert_error;
use crate::support::{TestDb, app::TestApp};
use serde_json::json;
use std::path::Path;
use std::time::{Duration, Instant};

async fn appears(path: &Path, content: &str, within: Duration) -> Duration {
    let started = Instant::now();
    while std::fs::read_to_string(path).ok().as_deref() != Some(content) {
        assert!(started.elapsed() < within, "{} holds {content:?} within {within:?}", path.display());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    started.elapsed()
}

async fn nodes_through_the_api(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rebound.toml");
    let toml = "[[node]]\nname = \"from-file\"\ntarget = \"postfix\"\n";
    std::fs::write(&file, toml).unwrap();
    let nodes = rebound::config::load_str("t", toml, std::iter::empty()).unwrap().node;
    let app = TestApp::new(db, |c| c.node = nodes).serve_from(Some(&file)).await;
    let admin = app.admin();
    admin.post("/api/v1/suppression", &json!({"address": "a@example.org"})).await.expect(201);

    // Config-file nodes are read-only here, naming the file.
    let ro = admin.put("/api/v1/nodes/from-file", &json!({"target": "file"})).await;
    assert_eq!(ro.status, 409, "{}", ro.text);
    assert_error(&ro.body, "read_only");
    assert!(ro.text.contains("rebound.toml"), "{}", ro.text);
    assert_eq!(admin.delete("/api/v1/nodes/from-file").await.status, 409);

    // Created through the API: the running serve renders it within seconds.
    let out = dir.path().join("list.txt");
    let body = json!({"name": "api-1", "target": "file", "path": out.to_str().unwrap()});
    let created = admin.post("/api/v1/nodes", &body).await.expect(201);
    assert_eq!((created["source"].as_str(), created["target"].as_str()), (Some("api"), Some("file")));
    let took = appears(&out, "a@example.org\n", Duration::from_secs(15)).await;
    eprintln!("an API-created node rendered by the running serve {took:?} after create");
    assert_eq!(admin.post("/api/v1/nodes", &body).await.status, 409, "the name is taken");

    // Every problem at once, by field.
    let bad = admin.post("/api/v1/nodes", &json!({"name": "Bad Name", "target": "nope"})).await;
    assert_eq!(bad.status, 422, "{}", bad.text);
    let fields: Vec<&str> =
        bad.body["error"]["problems"].as_array().unwrap().iter().map(|p| p["field"].as_str().unwrap()).collect();
    assert!(fields.contains(&"target"), "{fields:?}");

    // Updated: the new path is rendered without a restart.
    let moved = dir.path().join("moved.txt");
    let up = json!({"target": "file", "path": moved.to_str().unwrap(), "format": "csv"});
    admin.put("/api/v1/nodes/api-1", &up).await.expect(200);
    appears(&moved, "address,scope\na@example.org,global\n", Duration::from_secs(15)).await;

    // Sync now, and the status in list and get.
    admin.post("/api/v1/suppression", &json!({"address": "b@example.org"})).await.expect(201);
    let synced = admin.post("/api/v1/nodes/api-1/sync", &json!({})).await.expect(200);
    assert_eq!(synced["entries"], 2, "{synced}");
    assert_eq!(synced["node"]["changes_behind"], 0);
    assert_eq!(synced["node"]["verified"], true);
    let agent_node = admin.post("/api/v1/nodes/from-file/sync", &json!({})).await;
    assert_eq!(agent_node.status, 409, "no path: its agent pulls: {}", agent_node.text);
    let list = app.viewer().get("/api/v1/nodes").await.expect(200);
    let names: Vec<&str> = list["nodes"].as_array().unwrap().iter().map(|n| n["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["api-1", "from-file"]);
    let one = admin.get("/api/v1/nodes/from-file").await.expect(200);
    assert_eq!((one["source"].as_str(), one["changes_behind"].as_i64()), (Some("config"), Some(2)));
    assert!(one.as_object().unwrap().contains_key("last_contact_at"));
    assert_eq!(app.viewer().post("/api/v1/nodes", &body).await.status, 403);

    // Disabled, then deleted: its agent is refused, and it is gone from the list.
    let off = admin.post("/api/v1/nodes/api-1/disable", &json!({})).await.expect(200);
    assert_eq!(off["enabled"], false);
    let refused = admin.get("/api/v1/sync/changes?after=0&node=api-1").await;
    assert_eq!(refused.status, 409, "{}", refused.text);
    admin.post("/api/v1/nodes/api-1/enable", &json!({})).await.expect(200);
    admin.delete("/api/v1/nodes/api-1").await.expect(200);
    assert_eq!(admin.get("/api/v1/nodes/api-1").await.status, 404);
    let audit = admin.get("/api/v1/audit?action=node.create").await.expect(200);
    assert_eq!(audit["entries"][0]["target"], "node:api-1");
    app.stop(10).await.unwrap();
}
on_both_backends!(nodes_through_the_api, nodes_through_the_api);
