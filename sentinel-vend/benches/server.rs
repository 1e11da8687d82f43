//! The local credential server with cached credentials, over loopback
//! HTTP with a keep-alive client (as SDKs use it): each request runs the
//! token and Host checks, loads the policy (file store behind the cache),
//! evaluates it, checks the user kill switch and the server session in
//! SQLite, and answers from the credential cache.
//!
//! Run with `cargo bench -p sentinel-vend --features test-util --bench server`.
//! Besides Criterion's estimates it prints p50/p99 over 20,000 requests
//! from a lean keep-alive HTTP/1.1 client on one TCP connection (what the
//! server costs, plus loopback), with the sessions in SQLite and, for
//! comparison, in memory; and from reqwest (what a full client stack adds).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use sentinel_policy::Mode;
use sentinel_policy::{Cached, FilePolicyStore};
use sentinel_session::{MemorySessionStore, SessionStore, SqliteSessionStore};
use sentinel_vend::log::DecisionLog;
use sentinel_vend::server::{
    CredentialService, FixedTargets, LocalAuthenticator, ServiceConfig, new_token,
};
use sentinel_vend::{Caller, FakeVendor, Pipeline, Target, VendRequest};
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpStream;

const POLICY: &str = "version: '1'\nrules:\n  - name: ops-server\n    effect: require_server_session\n    conditions: { profiles: [ops], users: [alice] }\n";

/// A running local server for alice on `ops` with its server session in
/// `sessions`: its URL, token, the pipeline behind it and a request as the
/// server makes it.
async fn start(
    dir: &std::path::Path,
    sessions: Arc<dyn SessionStore>,
) -> (String, String, Pipeline, VendRequest) {
    let policy = Arc::new(Cached::new(
        FilePolicyStore::new(dir.join("policy.yaml")),
        Duration::from_secs(5),
    ));
    let caller = Caller::from_arn("arn:aws:iam::123456789012:user/alice").unwrap();
    let log = DecisionLog::open_file(dir.join("decisions.jsonl")).unwrap();
    let pipeline = Pipeline::new(policy, Arc::new(FakeVendor::new()), log).with_sessions(sessions);
    let direct = pipeline.clone();
    let session = pipeline
        .start_session(&caller, "ops", "bench", Duration::from_secs(8 * 3600))
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let token = new_token().unwrap();
    let mut config = ServiceConfig::default();
    config.profile = Some("ops".into());
    config.session_id = Some(session.id.clone());
    let req = VendRequest {
        caller: caller.clone(),
        profile: "ops".into(),
        mode: Mode::Server,
        duration: None,
        target: Target::role("arn:aws:iam::123456789012:role/ops"),
        session_id: Some(session.id),
    };
    let service = Arc::new(CredentialService::new(
        pipeline,
        Arc::new(LocalAuthenticator::new(&token, port, caller)),
        Arc::new(
            FixedTargets::default().with("ops", Target::role("arn:aws:iam::123456789012:role/ops")),
        ),
        config,
    ));
    let router = service.router();
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (format!("http://127.0.0.1:{port}/"), token, direct, req)
}

/// p50, p99 and max of `n` sequential requests.
fn percentiles<F: std::future::Future>(
    rt: &tokio::runtime::Runtime,
    n: usize,
    mut fetch: impl FnMut() -> F,
) -> (Duration, Duration, Duration) {
    let mut samples: Vec<Duration> = rt.block_on(async {
        let mut v = Vec::with_capacity(n);
        for _ in 0..n {
            let t = Instant::now();
            fetch().await;
            v.push(t.elapsed());
        }
        v
    });
    samples.sort();
    let pct = |p: f64| samples[((samples.len() as f64 - 1.0) * p) as usize];
    (pct(0.50), pct(0.99), *samples.last().unwrap())
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("policy.yaml"), POLICY).unwrap();

    // For comparison: the same server with its sessions in memory, so what
    // the SQLite reads cost per request shows.
    let memory = tempfile::tempdir().unwrap();
    std::fs::write(memory.path().join("policy.yaml"), POLICY).unwrap();
    let (memory_url, memory_token, _, _) =
        rt.block_on(start(memory.path(), Arc::new(MemorySessionStore::new())));
    let memory_client = Arc::new(tokio::sync::Mutex::new(
        rt.block_on(LeanClient::connect(&port_of(&memory_url))),
    ));
    let memory_request = get_request(&memory_url, "/", &memory_token);
    let (p50, p99, max) = percentiles(&rt, 20_000, || {
        let (lean, request) = (Arc::clone(&memory_client), memory_request.clone());
        async move { lean.lock().await.get(&request).await }
    });
    println!(
        "local server, cached credentials, 20000 requests, lean keep-alive client, sessions in memory: p50 {p50:?}  p99 {p99:?}  max {max:?}"
    );

    let (url, token, pipeline, req) = rt.block_on(async {
        let sessions = SqliteSessionStore::open(dir.path().join("sessions.db"))
            .await
            .unwrap();
        start(dir.path(), Arc::new(sessions)).await
    });
    sentinel_store::tls::crypto_provider(); // reqwest has no provider of its own
    let client = reqwest::Client::new();
    let fetch = || async {
        let resp = client
            .get(&url)
            .header("Authorization", &token)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200);
        resp.bytes().await.unwrap()
    };
    // Warm the credential and policy caches.
    rt.block_on(fetch());

    let request = get_request(&url, "/", &token);
    let lean = Arc::new(tokio::sync::Mutex::new(
        rt.block_on(LeanClient::connect(&port_of(&url))),
    ));
    let lean_fetch = || {
        let (lean, request) = (Arc::clone(&lean), request.clone());
        async move { lean.lock().await.get(&request).await }
    };
    let (p50, p99, max) = percentiles(&rt, 20_000, lean_fetch);
    println!(
        "local server, cached credentials, 20000 requests, lean keep-alive client, sessions in SQLite: p50 {p50:?}  p99 {p99:?}  max {max:?}"
    );
    let (p50, p99, max) = percentiles(&rt, 20_000, fetch);
    println!(
        "local server, cached credentials, 20000 requests, reqwest, sessions in SQLite: p50 {p50:?}  p99 {p99:?}  max {max:?}"
    );

    c.bench_function("local_server_cached_request_lean_client", |b| {
        b.to_async(&rt).iter(lean_fetch);
    });
    c.bench_function("local_server_cached_request", |b| {
        b.to_async(&rt).iter(fetch);
    });
    // HTTP and the token check alone: `GET /profiles`.
    let profiles = get_request(&url, "/profiles", &token);
    c.bench_function("local_server_profiles_request_lean_client", |b| {
        b.to_async(&rt).iter(|| {
            let (lean, request) = (Arc::clone(&lean), profiles.clone());
            async move { lean.lock().await.get(&request).await }
        });
    });
    // The checks alone, without HTTP: policy, kill switch, session.
    c.bench_function("pipeline_authorize", |b| {
        b.to_async(&rt).iter(|| async {
            assert!(matches!(
                pipeline.authorize(&req).await.unwrap(),
                sentinel_vend::Authorization::Granted(_)
            ));
        });
    });
}

/// The port of a `http://127.0.0.1:PORT/` URL.
fn port_of(url: &str) -> String {
    url.trim_start_matches("http://127.0.0.1:")
        .trim_end_matches('/')
        .to_owned()
}

/// `GET path` with the token, as bytes on the wire.
fn get_request(url: &str, path: &str, token: &str) -> Vec<u8> {
    let port = port_of(url);
    format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: {token}\r\n\r\n")
        .into_bytes()
}

/// One keep-alive HTTP/1.1 connection: writes a request, reads the status
/// line, the headers and `Content-Length` bytes of body.
struct LeanClient(BufReader<TcpStream>);

impl LeanClient {
    async fn connect(port: &str) -> Self {
        let stream = TcpStream::connect(format!("127.0.0.1:{port}"))
            .await
            .unwrap();
        stream.set_nodelay(true).unwrap();
        Self(BufReader::new(stream))
    }

    async fn get(&mut self, request: &[u8]) -> Vec<u8> {
        self.0.get_mut().write_all(request).await.unwrap();
        let mut line = String::new();
        self.0.read_line(&mut line).await.unwrap();
        assert!(line.starts_with("HTTP/1.1 200"), "{line}");
        let mut length = 0;
        loop {
            line.clear();
            self.0.read_line(&mut line).await.unwrap();
            if line == "\r\n" {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap();
            }
        }
        let mut body = vec![0; length];
        self.0.read_exact(&mut body).await.unwrap();
        body
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
