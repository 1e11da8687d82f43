//! The conformance suite against every backend, plus SQLite and DynamoDB
//! specifics: reopening, schema versions, durability under SIGKILL, the
//! missing-table message.

// Test code: failing loudly is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use sentinel_breakglass::conformance as c;
use sentinel_breakglass::{
    BREAKGLASS_TABLE_LAYOUT, BreakGlassQuery, BreakGlassStatus, BreakGlassStore,
    DynamoBreakGlassStore, Error, ManualClock, MemoryBreakGlassStore, SqliteBreakGlassStore,
    create_breakglass_table,
};

use sentinel_testkit::test_clock as clock;

async fn sqlite(clock: &ManualClock) -> (tempfile::TempDir, Arc<dyn BreakGlassStore>) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteBreakGlassStore::open_with_clock(
        dir.path().join("state/breakglass.db"),
        Arc::new(clock.clone()),
    )
    .await
    .unwrap();
    (dir, Arc::new(store))
}

/// A fresh table in the emulator, or `None` (skip) without one.
async fn dynamodb(clock: &ManualClock) -> Option<Arc<dyn BreakGlassStore>> {
    let (client, table) = sentinel_testkit::dynamodb_table("breakglass").await?;
    create_breakglass_table(&client, &table).await.unwrap();
    // scripts/test runs the emulator with requests applied one at a time
    // (scripts/moto_server_serial.py), so the races below test the
    // conditional transactions the way real DynamoDB applies them.
    Some(Arc::new(DynamoBreakGlassStore::with_clock(
        client,
        table,
        Arc::new(clock.clone()),
    )))
}

fn memory(clock: &ManualClock) -> Arc<dyn BreakGlassStore> {
    Arc::new(MemoryBreakGlassStore::with_clock(Arc::new(clock.clone())))
}

sentinel_testkit::store_conformance! {
    suite: c,
    by_ref: [
        invoke_and_get,
        one_active_per_invoker_and_profile,
        close_rules,
        cooldown,
        quotas,
        escalation,
        list_filters_and_pages,
        claim_expired_once,
    ],
    shared: [racing_invocations, racing_quota, racing_claims],
}

#[tokio::test]
async fn sqlite_data_survives_reopen_and_file_is_private() {
    let clock = clock();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("breakglass.db");
    let e = {
        let store = SqliteBreakGlassStore::open_with_clock(&path, Arc::new(clock.clone()))
            .await
            .unwrap();
        store
            .invoke(&c::unlimited("alice", "prod", 60))
            .await
            .unwrap()
    };
    let store = SqliteBreakGlassStore::open_with_clock(&path, Arc::new(clock.clone()))
        .await
        .unwrap();
    assert_eq!(store.get(&e.id).await.unwrap(), e);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the state file is readable only by its owner");
    }
}

/// Two stores on one file (as two `sentinel` processes would be): the
/// immediate transaction keeps the one-active rule across them.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_two_handles_on_one_file_race_safely() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("breakglass.db");
    let a: Arc<dyn BreakGlassStore> = Arc::new(SqliteBreakGlassStore::open(&path).await.unwrap());
    let b: Arc<dyn BreakGlassStore> = Arc::new(SqliteBreakGlassStore::open(&path).await.unwrap());
    let mut tasks = Vec::new();
    for i in 0..20 {
        let store = Arc::clone(if i % 2 == 0 { &a } else { &b });
        tasks.push(tokio::spawn(async move {
            store
                .invoke(&c::unlimited("alice", "prod", 60))
                .await
                .is_ok()
        }));
    }
    let mut won = 0;
    for t in tasks {
        won += usize::from(t.await.unwrap());
    }
    assert_eq!(won, 1);
}

/// Run by `sqlite_survives_sigkill_mid_write` in a child process: invokes
/// and closes events as fast as it can until it is killed.
#[tokio::test]
async fn writer_child() {
    let Some(path) = sentinel_testkit::writer_db() else {
        return;
    };
    let store = SqliteBreakGlassStore::open(&path).await.unwrap();
    println!("ready");
    for i in 0u64.. {
        let e = store
            .invoke(&c::unlimited(&format!("killme{i}"), "prod", 60))
            .await
            .unwrap();
        store
            .close(&e.id, "killer", "closing at once")
            .await
            .unwrap();
    }
}

#[cfg(unix)]
#[tokio::test]
async fn sqlite_survives_sigkill_mid_write() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sentinel.db");
    sentinel_testkit::kill_writer_mid_write("writer_child", &path, Duration::from_millis(700));
    assert_eq!(sentinel_testkit::sqlite_integrity(&path), "ok");
    let store = SqliteBreakGlassStore::open(&path).await.unwrap();
    let events = store
        .list(&BreakGlassQuery::all().profile("prod").limit(1000))
        .await
        .unwrap()
        .events;
    assert!(
        !events.is_empty(),
        "the child wrote something before it died"
    );
    for e in &events {
        // Every stored record is whole: an event is either active with no
        // close data, or closed with all of it.
        assert!(e.invoker.starts_with("killme"));
        match e.status {
            BreakGlassStatus::Active => assert!(e.closed_at.is_none() && e.close_reason.is_none()),
            BreakGlassStatus::Closed => {
                assert!(e.closed_at.is_some() && e.closed_by.as_deref() == Some("killer"));
                assert_eq!(e.close_reason.as_deref(), Some("closing at once"));
            }
            BreakGlassStatus::Expired => panic!("nothing expires within the test"),
            _ => panic!("unknown status"),
        }
    }
    assert!(
        events
            .iter()
            .filter(|e| e.status == BreakGlassStatus::Active)
            .count()
            <= 1,
        "at most the event being closed when the child died is still active"
    );
}

#[tokio::test]
async fn dynamodb_missing_table_is_a_structured_error() {
    let Some((client, table)) = sentinel_testkit::dynamodb_table("missing").await else {
        return;
    };
    let store = DynamoBreakGlassStore::new(client, table.clone());
    match store.get("abc").await.unwrap_err() {
        Error::MissingTable { table: t, layout } => {
            assert_eq!((t, layout), (table, &BREAKGLASS_TABLE_LAYOUT));
        }
        e => panic!("{e}"),
    }
}
