//! The conformance suite against every backend, plus SQLite and DynamoDB
//! specifics.

// Test code: failing loudly is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use sentinel_approval::conformance as c;
use sentinel_approval::{
    DynamoRequestStore, ManualClock, MemoryRequestStore, RequestStore, SqliteRequestStore,
    create_request_table,
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
    shared: [racing_approvals, approve_racing_cancel],
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

#[tokio::test]
async fn dynamodb_missing_table_says_how_to_create_it() {
    let Some(endpoint) = sentinel_testkit::aws_endpoint() else {
        return;
    };
    let config = sentinel_testkit::sdk_config(&endpoint).await;
    let store = DynamoRequestStore::new(
        aws_sdk_dynamodb::Client::new(&config),
        sentinel_testkit::unique_name("missing"),
    );
    let err = store.get("abc").await.unwrap_err().to_string();
    assert!(
        err.contains("does not exist") && err.contains("sentinel init"),
        "{err}"
    );
}
