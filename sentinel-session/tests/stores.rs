//! The conformance suite against every backend, plus SQLite specifics:
//! reopening, migrations, durability under SIGKILL.

// Test code: failing loudly is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use sentinel_session::conformance as c;
use sentinel_session::{
    DynamoSessionStore, Error, ManualClock, MemorySessionStore, SESSION_TABLE_LAYOUT, SessionQuery,
    SessionStore, SqliteSessionStore, create_session_table,
};

use sentinel_testkit::test_clock as clock;

async fn sqlite(clock: &ManualClock) -> (tempfile::TempDir, Arc<dyn SessionStore>) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteSessionStore::open_with_clock(
        dir.path().join("state/sentinel.db"),
        Arc::new(clock.clone()),
    )
    .await
    .unwrap();
    (dir, Arc::new(store))
}

/// A fresh table in the emulator, or `None` (skip) without one.
async fn dynamodb(clock: &ManualClock) -> Option<Arc<dyn SessionStore>> {
    let (client, table) = sentinel_testkit::dynamodb_table("sessions").await?;
    create_session_table(&client, &table).await.unwrap();
    Some(Arc::new(DynamoSessionStore::with_clock(
        client,
        table,
        Arc::new(clock.clone()),
    )))
}

fn memory(clock: &ManualClock) -> Arc<dyn SessionStore> {
    Arc::new(MemorySessionStore::with_clock(Arc::new(clock.clone())))
}

sentinel_testkit::store_conformance! {
    suite: c,
    by_ref: [
        create_get_conflict,
        touch_and_expiry,
        revoke_transitions,
        list_filters_and_pages,
        find_by_source_identity,
        kill_switch,
        access_reads_revocation_and_session,
    ],
    shared: [racing_revokes, revoke_racing_touch],
}

#[tokio::test]
async fn sqlite_data_survives_reopen_and_file_is_private() {
    let clock = clock();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sentinel.db");
    let s = c::session(&clock, "alice", "prod", 60);
    {
        let store = SqliteSessionStore::open_with_clock(&path, Arc::new(clock.clone()))
            .await
            .unwrap();
        store.create(&s).await.unwrap();
    }
    let store = SqliteSessionStore::open_with_clock(&path, Arc::new(clock.clone()))
        .await
        .unwrap();
    assert_eq!(store.get(&s.id).await.unwrap(), s);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the state file is readable only by its owner");
    }
}

#[tokio::test]
async fn sqlite_refuses_a_newer_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sentinel.db");
    drop(SqliteSessionStore::open(&path).await.unwrap());
    {
        let conn = rusqlite_conn(&path);
        conn.pragma_update(None, "user_version", 99).unwrap();
    }
    let err = SqliteSessionStore::open(&path)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("newer than this Sentinel knows"), "{err}");
}

fn rusqlite_conn(path: &std::path::Path) -> rusqlite::Connection {
    rusqlite::Connection::open(path).unwrap()
}

/// Run by `sqlite_survives_sigkill_mid_write` in a child process: creates
/// sessions as fast as it can until it is killed.
#[tokio::test]
async fn writer_child() {
    let Some(path) = sentinel_testkit::writer_db() else {
        return;
    };
    let store = SqliteSessionStore::open(&path).await.unwrap();
    let clock = ManualClock::new(jiff::Timestamp::now());
    println!("ready");
    loop {
        let s = c::session(&clock, "killme", "prod", 60);
        store.create(&s).await.unwrap();
        store.touch(&s.id).await.unwrap();
    }
}

#[cfg(unix)]
#[tokio::test]
async fn sqlite_survives_sigkill_mid_write() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sentinel.db");
    sentinel_testkit::kill_writer_mid_write("writer_child", &path, Duration::from_millis(700));
    assert_eq!(sentinel_testkit::sqlite_integrity(&path), "ok");
    let store = SqliteSessionStore::open(&path).await.unwrap();
    let page = store
        .list(&SessionQuery::all().user("killme").limit(1000))
        .await
        .unwrap();
    assert!(
        !page.sessions.is_empty(),
        "the child wrote something before it died"
    );
    for s in &page.sessions {
        // Every stored record is whole: all fields present and consistent.
        assert_eq!(s.user, "killme");
        assert!(s.request_count <= 1);
        assert!(s.expires_at > s.created_at);
    }
}

#[tokio::test]
async fn dynamodb_missing_table_is_a_structured_error() {
    let Some((client, table)) = sentinel_testkit::dynamodb_table("missing").await else {
        return;
    };
    let store = DynamoSessionStore::new(client, table.clone());
    match store.get("abc").await.unwrap_err() {
        Error::MissingTable { table: t, layout } => {
            assert_eq!((t, layout), (table, &SESSION_TABLE_LAYOUT));
        }
        e => panic!("{e}"),
    }
}
