//! Throughput of the SQLite request store: create, get, approve (a
//! conditional update), find_approved (what the issuing pipeline asks on
//! every credential request) and a filtered list, on a file in a temporary
//! directory (WAL, full sync).
//!
//! Run with `cargo bench -p sentinel-approval --bench sqlite`.

// A benchmark is not production code: a failed setup should stop it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sentinel_approval::{
    AccessRequest, NewRequest, RequestQuery, RequestStore, SqliteRequestStore,
};

fn request(i: usize) -> AccessRequest {
    AccessRequest::new(
        NewRequest {
            requester: sentinel_approval::Username::parse(&format!("user{}", i % 50)).unwrap(),
            profile: format!("profile{}", i % 7),
            justification: "benchmarking the request store".into(),
            duration: Duration::from_secs(3600),
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
    let store: Arc<SqliteRequestStore> = Arc::new(
        rt.block_on(SqliteRequestStore::open(dir.path().join("bench.db")))
            .unwrap(),
    );
    // A populated database: 10,000 requests, every third approved.
    let ids: Vec<String> = rt.block_on(async {
        let mut ids = Vec::new();
        for i in 0..10_000 {
            let r = request(i);
            store.create(&r).await.unwrap();
            if i % 3 == 0 {
                store.approve(&r.id, "approver", None).await.unwrap();
            }
            ids.push(r.id);
        }
        ids
    });
    let next = AtomicUsize::new(0);

    let mut g = c.benchmark_group("sqlite_requests");
    g.throughput(Throughput::Elements(1));
    g.sample_size(30);
    g.bench_function("create", |b| {
        b.to_async(&rt).iter(|| async {
            let r = request(next.fetch_add(1, Ordering::Relaxed));
            store.create(&r).await.unwrap();
        });
    });
    g.bench_function("create_and_approve", |b| {
        b.to_async(&rt).iter(|| async {
            let r = request(next.fetch_add(1, Ordering::Relaxed));
            store.create(&r).await.unwrap();
            store.approve(&r.id, "approver", None).await.unwrap()
        });
    });
    let k = AtomicUsize::new(0);
    g.bench_function("get", |b| {
        b.to_async(&rt).iter(|| async {
            let i = k.fetch_add(1, Ordering::Relaxed) % ids.len();
            store.get(&ids[i]).await.unwrap()
        });
    });
    g.bench_function("find_approved", |b| {
        b.to_async(&rt).iter(|| async {
            let i = k.fetch_add(1, Ordering::Relaxed);
            store
                .find_approved(
                    &format!("user{}", i % 50),
                    &format!("profile{}", i % 7),
                    jiff::Timestamp::now(),
                )
                .await
                .unwrap()
        });
    });
    g.bench_function("list_requester_page_of_50", |b| {
        b.to_async(&rt).iter(|| async {
            store
                .list(&RequestQuery::all().requester("user7").limit(50))
                .await
                .unwrap()
        });
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
