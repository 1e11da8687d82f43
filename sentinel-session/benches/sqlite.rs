//! Throughput of the SQLite session store: create, get, touch, revoke and a
//! filtered list, on a file in a temporary directory (WAL, full sync).
//!
//! Run with `cargo bench -p sentinel-session --bench sqlite`.

// A benchmark is not production code: a failed setup should stop it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sentinel_session::{
    NewSession, ServerSession, SessionQuery, SessionStatus, SessionStore, SqliteSessionStore,
};

fn new_session(i: usize) -> ServerSession {
    ServerSession::start(
        NewSession {
            user: sentinel_session::Username::parse(&format!("user{}", i % 50)).unwrap(),
            profile: format!("profile{}", i % 7),
            server_instance_id: "bench".into(),
            duration: Duration::from_secs(3600),
            source_identity: Some(format!("sentinel.user{}.direct.{i:016x}", i % 50)),
        },
        jiff::Timestamp::now(),
    )
    .unwrap()
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<SqliteSessionStore> = Arc::new(
        rt.block_on(SqliteSessionStore::open(dir.path().join("bench.db")))
            .unwrap(),
    );
    // A populated database: 10,000 sessions.
    let ids: Vec<String> = rt.block_on(async {
        let mut ids = Vec::new();
        for i in 0..10_000 {
            let s = new_session(i);
            store.create(&s).await.unwrap();
            ids.push(s.id);
        }
        ids
    });

    let mut g = c.benchmark_group("sqlite_session_store");
    g.throughput(Throughput::Elements(1));
    g.measurement_time(Duration::from_secs(4));
    g.warm_up_time(Duration::from_secs(1));

    let mut n = 10_000;
    g.bench_function("create", |b| {
        b.to_async(&rt).iter(|| {
            n += 1;
            let s = new_session(n);
            let store = Arc::clone(&store);
            async move { store.create(&s).await.unwrap() }
        })
    });
    let mut k = 0;
    g.bench_function("get", |b| {
        b.to_async(&rt).iter(|| {
            k = (k + 1) % ids.len();
            let (store, id) = (Arc::clone(&store), ids[k].clone());
            async move { store.get(&id).await.unwrap() }
        })
    });
    // What the credential server reads on every request: the kill switch
    // and the session, in one step.
    g.bench_function("access", |b| {
        b.to_async(&rt).iter(|| {
            k = (k + 1) % ids.len();
            let (store, id) = (Arc::clone(&store), ids[k].clone());
            async move {
                let a = store.access("user7", "profile3", Some(&id)).await.unwrap();
                assert!(a.session.is_some());
            }
        })
    });
    g.bench_function("touch", |b| {
        b.to_async(&rt).iter(|| {
            k = (k + 1) % ids.len();
            let (store, id) = (Arc::clone(&store), ids[k].clone());
            async move { store.touch(&id).await.unwrap() }
        })
    });
    g.bench_function("list_user_active_page_of_50", |b| {
        b.to_async(&rt).iter(|| {
            k = (k + 1) % 50;
            let store = Arc::clone(&store);
            let q = SessionQuery::all()
                .user(&format!("user{k}"))
                .status(SessionStatus::Active)
                .limit(50);
            async move { store.list(&q).await.unwrap() }
        })
    });
    let mut r = 0;
    g.bench_function("revoke", |b| {
        b.to_async(&rt).iter(|| {
            r += 1;
            let store = Arc::clone(&store);
            let id = if r < ids.len() {
                ids[r].clone()
            } else {
                String::new()
            };
            async move {
                if !id.is_empty() {
                    let _ = store.revoke(&id, "bench", "benchmark").await;
                }
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
