//! Storage on both backends: migrations, connection errors, SQLite settings.

mod support;

use diesel::RunQueryDsl;
use rebound::config::DatabaseConfig;
use rebound::store::{Backend, Db};
use support::TestDb;

async fn migrates_once_then_is_up_to_date(db: TestDb) {
    let (_, applied) = Db::connect_and_migrate(&db.config()).expect("first connect");
    assert!(!applied.is_empty(), "a new database gets every migration");
    let (store, again) = Db::connect_and_migrate(&db.config()).expect("second connect");
    assert!(again.is_empty(), "second run applied {again:?}");
    assert_eq!(support::count_rows(&store, "instances").await, 0);
}
on_both_backends!(migrations, migrates_once_then_is_up_to_date);

async fn heartbeat_registers_and_deregisters(db: TestDb) {
    use rebound::instance;
    let store = Db::connect(&db.config()).unwrap();
    let id = instance::new_id();
    instance::heartbeat(&store, &id).await.unwrap();
    instance::heartbeat(&store, &id).await.unwrap();
    assert_eq!(support::count_rows(&store, "instances").await, 1, "a second heartbeat must update, not insert");
    instance::deregister(&store, &id).await.unwrap();
    assert_eq!(support::count_rows(&store, "instances").await, 0);
}
on_both_backends!(instances, heartbeat_registers_and_deregisters);

#[test]
fn sqlite_runs_in_wal_mode_and_creates_its_directory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/deeper/r.db");
    let cfg = DatabaseConfig { url: format!("sqlite://{}", path.display()), ..Default::default() };
    let db = Db::connect(&cfg).unwrap();
    assert_eq!(db.backend(), Backend::Sqlite);
    #[derive(diesel::QueryableByName)]
    struct Mode {
        #[diesel(sql_type = diesel::sql_types::Text)]
        journal_mode: String,
    }
    let mut c = db.conn().unwrap();
    let rebound::store::AnyConnection::Sqlite(c) = &mut *c else { panic!("sqlite expected") };
    let m: Vec<Mode> = diesel::sql_query("PRAGMA journal_mode").load(c).unwrap();
    assert_eq!(m[0].journal_mode, "wal");
    assert!(path.exists());
}

#[test]
fn a_dead_postgres_names_host_port_and_cause() {
    // Port 1 on loopback: nothing listens there.
    let cfg = DatabaseConfig { url: "postgres://rebound@127.0.0.1:1/rebound".into(), ..Default::default() };
    let e = Db::connect(&cfg).unwrap_err().to_string();
    assert!(
        e.contains("127.0.0.1:1") && e.contains("Connection refused") && e.contains("is PostgreSQL running"),
        "{e}"
    );
}

#[test]
fn a_missing_postgres_database_says_to_create_it() {
    let url = support::pg_admin_url();
    let base = url.rsplit_once('/').map(|(b, _)| b).unwrap();
    let cfg = DatabaseConfig { url: format!("{base}/rebound_no_such_db"), ..Default::default() };
    let e = Db::connect(&cfg).unwrap_err().to_string();
    assert!(e.contains("rebound_no_such_db") && e.contains("createdb"), "{e}");
}

#[test]
fn an_unwritable_sqlite_path_names_the_path() {
    let cfg = DatabaseConfig { url: "sqlite:///proc/rebound/r.db".into(), ..Default::default() };
    let e = Db::connect(&cfg).unwrap_err().to_string();
    assert!(e.contains("/proc/rebound"), "{e}");
}
