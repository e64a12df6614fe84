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

/// The first migration of the id-keyed mailbox tables; everything before it is the old state.
const MAILBOXES_TABLE: &str = "2026-12-01-000003";

/// Applies every migration older than `before` from `dir` (as `rebound` did before it).
fn migrate_to_before<C>(c: &mut C, dir: &str, before: &str)
where
    C: diesel_migrations::MigrationHarness<C::Backend> + diesel::migration::MigrationConnection,
{
    use diesel::migration::MigrationSource;
    c.setup().expect("the migrations table");
    let source = diesel_migrations::FileBasedMigrations::from_path(dir).expect("migrations dir");
    let mut all = MigrationSource::<C::Backend>::migrations(&source).expect("read migrations");
    all.sort_by_key(|m| m.name().to_string());
    let before = before.replace('-', "");
    for m in all.iter().filter(|m| m.name().version().to_string() < before) {
        c.run_migration(&**m).unwrap_or_else(|e| panic!("migration {}: {e}", m.name()));
    }
}

/// A database created by the previous release, with name-keyed status, checkpoints, ledger
/// and events, upgraded by the new migration: every row now belongs to the mailbox's id, and
/// the next `serve` start fills in the settings (or marks deleted what the file no longer has).
async fn name_keyed_rows_move_to_mailbox_ids(db: TestDb) {
    use diesel::Connection;
    use diesel::connection::SimpleConnection;
    use rebound::mailbox::{repo, state};
    let old_rows = "
        INSERT INTO mailbox_status (name, state, messages_processed, consecutive_failures, last_error, last_error_stage)
            VALUES ('bounces-main', 'failing', 7, 2, 'login refused', 'login');
        INSERT INTO mailbox_checkpoints (mailbox, folder, uidvalidity, last_uid) VALUES ('bounces-main', 'INBOX', 42, 17);
        INSERT INTO mailbox_checkpoints (mailbox, folder, uidvalidity, last_uid) VALUES ('old-box', 'INBOX', 5, 3);
        INSERT INTO messages (digest, kind, dialect, state, size, records, received_at)
            VALUES ('d1', 'dsn', 'rfc3464', 'processed', 10, 1, '2026-11-30 10:00:00');
        INSERT INTO message_sources (source, source_id, message_id, seen_at)
            SELECT 'bounces-main', '42:17', id, '2026-11-30 10:00:00' FROM messages WHERE digest = 'd1';
        INSERT INTO message_sources (source, source_id, message_id, seen_at)
            SELECT 'file', '/tmp/a.eml', id, '2026-11-30 10:00:00' FROM messages WHERE digest = 'd1';
        INSERT INTO events (message_id, idx, kind, classification, reason, parsed_reason, attribution, source,
                            dialect, occurred_at, ingested_at)
            SELECT id, 0, 'bounce', 'hard', 'user_unknown', 'user_unknown', 'none', 'bounces-main', 'rfc3464',
                   '2026-11-30 10:00:00', '2026-11-30 10:00:00' FROM messages WHERE digest = 'd1';";
    match &db {
        TestDb::Sqlite { .. } => {
            let path = db.url().trim_start_matches("sqlite://").to_string();
            let mut c = diesel::SqliteConnection::establish(&path).unwrap();
            migrate_to_before(&mut c, "migrations/sqlite", MAILBOXES_TABLE);
            c.batch_execute(old_rows).unwrap();
        }
        TestDb::Postgres { .. } => {
            let mut c = diesel::PgConnection::establish(db.url()).unwrap();
            migrate_to_before(&mut c, "migrations/postgres", MAILBOXES_TABLE);
            c.batch_execute(old_rows).unwrap();
        }
    }
    let (store, applied) = Db::connect_and_migrate(&db.config()).expect("upgrade");
    assert!(applied.iter().any(|v| v.starts_with(&MAILBOXES_TABLE.replace('-', ""))), "{applied:?}");
    let mut c = store.conn().unwrap();
    let main = repo::by_name(&mut c, "bounces-main").expect("a row for the old name");
    assert_eq!(main.source, repo::ManagedBy::Config);
    let s = state::get(&mut c, main.id).unwrap().expect("status moved to the id");
    assert_eq!((s.state.as_str(), s.messages_processed, s.consecutive_failures), ("failing", 7, 2));
    assert_eq!(s.last_error_stage.as_deref(), Some("login"));
    let cps = state::checkpoints(&mut c, main.id).unwrap();
    assert_eq!((cps.len(), cps[0].uidvalidity, cps[0].last_uid), (1, 42, 17));
    let source = repo::ledger_source(main.id);
    assert_eq!(rebound::record::ledger::seen_ids(&mut c, &source, &["42:17"]).unwrap().len(), 1, "ledger by id");
    assert_eq!(rebound::record::ledger::seen_ids(&mut c, "file", &["/tmp/a.eml"]).unwrap().len(), 1, "imports stay");
    #[derive(diesel::QueryableByName)]
    struct Src {
        #[diesel(sql_type = diesel::sql_types::Text)]
        source: String,
    }
    let ev: Vec<Src> = diesel::sql_query("SELECT source FROM events").load(&mut *c).unwrap();
    assert_eq!(ev[0].source, source, "event sources name the id too");
    let old = repo::by_name(&mut c, "old-box").expect("checkpoint-only names get a row too");

    // The first start after the upgrade: the file has bounces-main (same id, settings filled
    // in) and no longer has old-box (deleted, its checkpoints kept).
    let mut cfg = rebound::config::MailboxConfig::from_value(
        // password_env: any variable that is set (the check resolves it, as for the file).
        toml::from_str::<toml::Value>(
            "name = 'bounces-main'\nprotocol = 'imap'\nhost = 'mail.example.com'\nusername = 'b'\npassword_env = 'PATH'",
        )
        .unwrap(),
        "mailbox[0]",
    )
    .unwrap();
    let report = repo::sync_config(&mut c, std::slice::from_ref(&cfg), Some("/etc/rebound.toml")).unwrap();
    assert_eq!((report.updated, report.deleted), (vec!["bounces-main".to_string()], vec!["old-box".to_string()]));
    let synced = repo::by_name(&mut c, "bounces-main").unwrap();
    assert_eq!(synced.id, main.id);
    assert_eq!(synced.config().unwrap(), cfg, "the row mirrors the file");
    assert!(matches!(repo::by_name(&mut c, "old-box"), Err(repo::MailboxError::NotFound(_))));
    assert_eq!(state::checkpoints(&mut c, old.id).unwrap().len(), 1, "a deleted mailbox keeps its history");
    // Put back in the file, it comes back with its id and history.
    let back = rebound::config::MailboxConfig { name: "old-box".into(), ..cfg.clone() };
    cfg.schedule = "*/10 * * * *".into();
    let report = repo::sync_config(&mut c, &[cfg, back], Some("/etc/rebound.toml")).unwrap();
    assert_eq!(report.added, vec!["old-box".to_string()]);
    assert_eq!(repo::by_name(&mut c, "old-box").unwrap().id, old.id);
}
on_both_backends!(mailbox_ids_migration, name_keyed_rows_move_to_mailbox_ids);

/// The repository's typed answers: the config validation's problems (all at once), a taken
/// name, config mailboxes read-only (naming their file), and a version that moves on every
/// change and only then.
async fn mailbox_repository_answers_by_kind(db: TestDb) {
    use rebound::mailbox::repo::{self, MailboxError};
    let store = Db::connect(&db.config()).unwrap();
    let mut c = store.conn().unwrap();
    let table = |s: &str| toml::from_str::<toml::Table>(s).unwrap();
    let by = rebound::audit::Actor::system("test");
    let good = "name = 'api-one'\nprotocol = 'imap'\nhost = 'mail.example.com'\nusername = 'b'\npassword_env = 'PATH'";

    let bad = table("name = 'Bad Name'\nprotocol = 'imap'\nhost = ''\nusername = 'b'\npassword_env = 'PATH'\nfoo = 1");
    match repo::create(&mut c, &by, &repo::Entry::new(bad), None) {
        Err(MailboxError::Invalid(p)) => {
            let keys: Vec<&str> = p.iter().map(|p| p.key.as_str()).collect();
            assert!(keys.contains(&"mailbox.name") && keys.contains(&"mailbox.host"), "{keys:?}");
            assert!(keys.contains(&"mailbox.foo"), "unknown keys are refused as in the file: {keys:?}");
        }
        other => panic!("{other:?}"),
    }
    let v0 = repo::version(&mut c).unwrap();
    let one = repo::create(&mut c, &by, &repo::Entry::new(table(good)), None).unwrap();
    assert_eq!(repo::version(&mut c).unwrap(), v0 + 1);
    assert!(
        matches!(repo::create(&mut c, &by, &repo::Entry::new(table(good)), None), Err(MailboxError::Exists(n)) if n == "api-one")
    );
    repo::update(&mut c, &by, one.id, &repo::Entry::new(table(good)), None).unwrap();
    assert_eq!(repo::version(&mut c).unwrap(), v0 + 1, "an update that changes nothing bumps nothing");
    repo::set_enabled(&mut c, &by, one.id, false).unwrap();
    assert_eq!(repo::version(&mut c).unwrap(), v0 + 2);
    assert!(!repo::get(&mut c, one.id).unwrap().enabled);

    let file_entry = rebound::config::MailboxConfig::from_value(
        toml::Value::Table(table(&good.replace("api-one", "from-file"))),
        "mailbox[0]",
    )
    .unwrap();
    repo::sync_config(&mut c, std::slice::from_ref(&file_entry), Some("/etc/rebound/rebound.toml")).unwrap();
    let cfg = repo::by_name(&mut c, "from-file").unwrap();
    for e in [
        repo::update(&mut c, &by, cfg.id, &repo::Entry::new(table(good)), None).unwrap_err(),
        repo::delete(&mut c, &by, cfg.id).unwrap_err(),
        repo::set_enabled(&mut c, &by, cfg.id, false).unwrap_err(),
    ] {
        assert!(matches!(&e, MailboxError::ReadOnly { file, .. } if file == "/etc/rebound/rebound.toml"), "{e:?}");
    }
    let same_name = rebound::config::MailboxConfig { name: "api-one".into(), ..file_entry };
    assert!(
        matches!(repo::sync_config(&mut c, &[same_name], None), Err(MailboxError::Clash { id, .. }) if id == one.id)
    );
    assert!(repo::by_name(&mut c, "from-file").is_ok(), "a refused sync changes nothing");

    repo::delete(&mut c, &by, one.id).unwrap();
    assert!(matches!(repo::get(&mut c, one.id), Err(MailboxError::NotFound(_))));
    let again = repo::create(&mut c, &by, &repo::Entry::new(table(good)), None).unwrap();
    assert_ne!(again.id, one.id, "a deleted API mailbox's name may be reused, by a new mailbox");
}
on_both_backends!(mailbox_repository, mailbox_repository_answers_by_kind);

/// Rows whose keys repeat each get their own id, in order (PostgreSQL cannot tell them apart
/// by a key, so they go one by one).
async fn ids_in_order_even_when_keys_repeat(db: TestDb) {
    use diesel::prelude::*;
    use rebound::store::schema::audit_log;
    #[derive(Insertable)]
    #[diesel(table_name = audit_log)]
    struct Row {
        at: chrono::NaiveDateTime,
        actor: String,
        action: String,
        subject: String,
        detail: Option<String>,
    }
    let (store, _) = Db::connect_and_migrate(&db.config()).unwrap();
    let mut c = store.conn().unwrap();
    let at = chrono::NaiveDate::from_ymd_opt(2026, 12, 3).unwrap().and_hms_opt(10, 0, 0).unwrap();
    let row = |subject: &str, n: u8| Row {
        at,
        actor: "test".into(),
        action: "insert".into(),
        subject: subject.into(),
        detail: Some(n.to_string()),
    };
    let rows = [row("a", 1), row("b", 2), row("a", 3)];
    let got = (|| -> Result<Vec<i64>, rebound::store::StoreError> {
        Ok(rebound::insert_rows_returning_ids!(
            &mut *c,
            audit_log::table,
            rows,
            500,
            audit_log::subject => String,
            audit_log::id,
            |r: &Row| r.subject.clone()
        ))
    })()
    .unwrap();
    let details: Vec<Option<String>> =
        got.iter().map(|id| audit_log::table.find(id).select(audit_log::detail).first(&mut *c).unwrap()).collect();
    assert_eq!(details, ["1", "2", "3"].map(|d| Some(d.to_string())), "ids {got:?}");
}
on_both_backends!(insert_ids, ids_in_order_even_when_keys_repeat);
