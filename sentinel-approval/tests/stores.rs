//! The conformance suite against every backend, plus SQLite and DynamoDB
//! specifics.

// Test code: failing loudly is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use sentinel_approval::conformance as c;
use sentinel_approval::{
    DynamoRequestStore, Error, ManualClock, MemoryRequestStore, REQUEST_TABLE_LAYOUT, RequestQuery,
    RequestStatus, RequestStore, SqliteRequestStore, create_request_table,
};

use sentinel_testkit::test_clock as clock;

async fn sqlite(clock: &ManualClock) -> (tempfile::TempDir, Arc<dyn RequestStore>) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteRequestStore::open_with_clock(
        dir.path().join("state/requests.db"),
        Arc::new(clock.clone()),
    )
    .await
    .unwrap();
    (dir, Arc::new(store))
}

/// A fresh table in the emulator, or `None` (skip) without one.
async fn dynamodb(clock: &ManualClock) -> Option<Arc<dyn RequestStore>> {
    let (client, table) = sentinel_testkit::dynamodb_table("requests").await?;
    create_request_table(&client, &table).await.unwrap();
    // scripts/test runs the emulator with requests applied one at a time
    // (scripts/moto_server_serial.py), so the race checks below test the
    // conditional writes the way real DynamoDB applies them.
    Some(Arc::new(DynamoRequestStore::with_clock(
        client,
        table,
        Arc::new(clock.clone()),
    )))
}

fn memory(clock: &ManualClock) -> Arc<dyn RequestStore> {
    Arc::new(MemoryRequestStore::with_clock(Arc::new(clock.clone())))
}

sentinel_testkit::store_conformance! {
    suite: c,
    by_ref: [
        create_get_conflict,
        transitions,
        self_approval_refused,
        expiry_on_read,
        window_starts_at_approval,
        list_filters_and_pages,
    ],
    shared: [racing_approvals, approve_racing_cancel, claim_expired_once],
}

#[tokio::test]
async fn sqlite_data_survives_reopen_and_file_is_private() {
    let clock = clock();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("requests.db");
    let r = c::request(&clock, "alice", "prod", 60);
    {
        let store = SqliteRequestStore::open_with_clock(&path, Arc::new(clock.clone()))
            .await
            .unwrap();
        store.create(&r).await.unwrap();
    }
    let store = SqliteRequestStore::open_with_clock(&path, Arc::new(clock.clone()))
        .await
        .unwrap();
    assert_eq!(store.get(&r.id).await.unwrap(), r);
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
    let path = dir.path().join("requests.db");
    drop(SqliteRequestStore::open(&path).await.unwrap());
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
    }
    let err = SqliteRequestStore::open(&path)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("newer than this Sentinel knows"), "{err}");
}

/// A database written by the first schema (before expiry announcements)
/// upgrades in place and keeps its requests.
#[tokio::test]
async fn sqlite_upgrades_a_version_1_database() {
    let clock = clock();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("requests.db");
    let r = c::request(&clock, "alice", "prod", 60);
    {
        let store = SqliteRequestStore::open_with_clock(&path, Arc::new(clock.clone()))
            .await
            .unwrap();
        store.create(&r).await.unwrap();
    }
    {
        // Turn it back into what version 1 wrote.
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "DROP INDEX requests_unannounced;
             ALTER TABLE requests DROP COLUMN expiry_announced;
             PRAGMA user_version = 1;",
        )
        .unwrap();
    }
    let store = SqliteRequestStore::open_with_clock(&path, Arc::new(clock.clone()))
        .await
        .unwrap();
    assert_eq!(store.get(&r.id).await.unwrap(), r);
    clock.advance(std::time::Duration::from_secs(24 * 3600));
    let claimed = store.claim_expired(10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].id, r.id);
}

/// Run by `sqlite_survives_sigkill_mid_write` in a child process: files
/// and approves requests as fast as it can until it is killed.
#[tokio::test]
async fn writer_child() {
    let Some(path) = sentinel_testkit::writer_db() else {
        return;
    };
    let clock = ManualClock::new(jiff::Timestamp::now());
    let store = SqliteRequestStore::open_with_clock(&path, Arc::new(clock.clone()))
        .await
        .unwrap();
    println!("ready");
    loop {
        let r = c::request(&clock, "killme", "prod", 60);
        store.create(&r).await.unwrap();
        store.approve(&r.id, "bob", Some("ok")).await.unwrap();
    }
}

#[cfg(unix)]
#[tokio::test]
async fn sqlite_survives_sigkill_mid_write() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sentinel.db");
    sentinel_testkit::kill_writer_mid_write(
        "writer_child",
        &path,
        std::time::Duration::from_millis(700),
    );
    assert_eq!(sentinel_testkit::sqlite_integrity(&path), "ok");
    let store = SqliteRequestStore::open(&path).await.unwrap();
    let requests = store
        .list(&RequestQuery::all().requester("killme").limit(1000))
        .await
        .unwrap()
        .requests;
    assert!(
        !requests.is_empty(),
        "the child wrote something before it died"
    );
    for r in &requests {
        // Every stored record is whole: pending with no decision, or
        // approved with all of it.
        match r.status {
            RequestStatus::Pending => assert!(r.approver.is_none() && r.approved_at.is_none()),
            RequestStatus::Approved => {
                assert_eq!(r.approver.as_deref(), Some("bob"));
                assert_eq!(r.approver_comment.as_deref(), Some("ok"));
                assert!(r.approved_at.is_some());
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert!(
        requests
            .iter()
            .filter(|r| r.status == RequestStatus::Pending)
            .count()
            <= 1,
        "at most the request being approved when the child died is pending"
    );
}

#[tokio::test]
async fn dynamodb_missing_table_is_a_structured_error() {
    let Some((client, table)) = sentinel_testkit::dynamodb_table("missing").await else {
        return;
    };
    let store = DynamoRequestStore::new(client, table.clone());
    match store.get("abc").await.unwrap_err() {
        Error::MissingTable { table: t, layout } => {
            assert_eq!((t, layout), (table, &REQUEST_TABLE_LAYOUT));
        }
        e => panic!("{e}"),
    }
}
