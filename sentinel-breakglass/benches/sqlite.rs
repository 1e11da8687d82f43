//! Throughput of the SQLite break-glass store: invoke (limits checked and
//! insert in one immediate transaction), get, close, find_active and a
//! review listing, on a file in a temporary directory (WAL, full sync).
//!
//! Run with `cargo bench -p sentinel-breakglass --bench sqlite`.

// A benchmark is not production code: a failed setup should stop it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sentinel_breakglass::{
    BreakGlassQuery, BreakGlassStore, Invocation, NewBreakGlass, RateLimits, ReasonCode,
    SqliteBreakGlassStore,
};

fn invocation(i: usize) -> Invocation {
    Invocation::unchecked(
        NewBreakGlass {
            invoker: sentinel_breakglass::Username::parse(&format!("user{i}")).unwrap(),
            profile: format!("profile{}", i % 7),
            reason_code: ReasonCode::Incident,
            justification: "benchmarking the break-glass store".into(),
            duration: Duration::from_secs(3600),
        },
        // Realistic limits: every invocation reads the profile's recent events.
        RateLimits::none()
            .with_cooldown(Duration::from_secs(1800))
            .with_quotas(Some(1000), Some(1_000_000), Duration::from_secs(86_400))
            .with_escalation(3),
    )
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<SqliteBreakGlassStore> = Arc::new(
        rt.block_on(SqliteBreakGlassStore::open(dir.path().join("bench.db")))
            .unwrap(),
    );
    // A populated database: 2,000 events, half of them closed.
    let ids: Vec<String> = rt.block_on(async {
        let mut ids = Vec::new();
        for i in 0..2_000 {
            let e = store.invoke(&invocation(i)).await.unwrap();
            if i % 2 == 0 {
                store.close(&e.id, "bench", "benchmark").await.unwrap();
            }
            ids.push(e.id);
        }
        ids
    });
    let next = AtomicUsize::new(1_000_000);

    let mut g = c.benchmark_group("sqlite_breakglass");
    g.throughput(Throughput::Elements(1));
    g.sample_size(30);
    g.bench_function("invoke", |b| {
        b.to_async(&rt).iter(|| async {
            let i = next.fetch_add(1, Ordering::Relaxed);
            store.invoke(&invocation(i)).await.unwrap()
        });
    });
    g.bench_function("invoke_and_close", |b| {
        b.to_async(&rt).iter(|| async {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let e = store.invoke(&invocation(i)).await.unwrap();
            store.close(&e.id, "bench", "benchmark").await.unwrap()
        });
    });
    let k = AtomicUsize::new(0);
    g.bench_function("get", |b| {
        b.to_async(&rt).iter(|| async {
            let i = k.fetch_add(1, Ordering::Relaxed) % ids.len();
            store.get(&ids[i]).await.unwrap()
        });
    });
    g.bench_function("find_active", |b| {
        b.to_async(&rt).iter(|| async {
            let i = k.fetch_add(1, Ordering::Relaxed) % 2_000;
            store
                .find_active(&format!("user{i}"), &format!("profile{}", i % 7))
                .await
                .unwrap()
        });
    });
    g.bench_function("list_profile_page_of_50", |b| {
        b.to_async(&rt).iter(|| async {
            store
                .list(&BreakGlassQuery::all().profile("profile3").limit(50))
                .await
                .unwrap()
        });
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
