//! Every PolicyStore backend runs the same conformance suite; backend
//! specifics (file layouts, SSM errors, the cache) are tested here too.

// Test code: failing loudly is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ssm::types::ParameterType;
use sentinel_policy::conformance::{self, Seed};
use sentinel_policy::{
    Cached, CompiledPolicy, Error, FilePolicyStore, MemoryPolicyStore, Mode, PolicyStore, Request,
    SsmPolicyStore,
};

#[derive(Debug)]
struct MemorySeed(MemoryPolicyStore);

#[async_trait]
impl Seed for MemorySeed {
    async fn put(&self, profile: &str, text: &str) {
        self.0.put_text(profile, text).unwrap();
    }
}

#[tokio::test]
async fn memory_conforms() {
    let store = MemoryPolicyStore::new();
    conformance::run_all(&store, &MemorySeed(store.clone())).await;
}

#[derive(Debug)]
struct DirSeed(std::path::PathBuf);

#[async_trait]
impl Seed for DirSeed {
    async fn put(&self, profile: &str, text: &str) {
        tokio::fs::write(self.0.join(format!("{profile}.yaml")), text)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn file_directory_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let store = FilePolicyStore::new(dir.path());
    conformance::run_all(&store, &DirSeed(dir.path().to_owned())).await;
}

#[tokio::test]
async fn file_directory_layout_rules() {
    let dir = tempfile::tempdir().unwrap();
    let store = FilePolicyStore::new(dir.path());
    std::fs::write(
        dir.path().join("dev.json"),
        r#"{"version":"1","rules":[{"name":"a","effect":"allow"}]}"#,
    )
    .unwrap();
    std::fs::write(dir.path().join("README.md"), "not a policy").unwrap();
    assert_eq!(store.get("dev").await.unwrap().rule_count(), 1);
    // Two files for one profile is ambiguous and refused.
    std::fs::write(dir.path().join("dev.yaml"), conformance::DENY_ALL).unwrap();
    match store.get("dev").await {
        Err(Error::Invalid { problems, .. }) => {
            assert!(problems[0].message.contains("more than one policy file"))
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
    assert_eq!(store.list().await.unwrap(), vec!["dev".to_owned()]);
    // A missing directory is NotFound with a hint, not a crash.
    let gone = FilePolicyStore::new(dir.path().join("nope"));
    match gone.get("dev").await {
        Err(Error::NotFound { profile, help, .. }) => {
            assert_eq!(profile, "dev");
            assert!(help.contains("does not exist"), "{help}");
        }
        other => panic!("expected NotFound, got {other:?}"),
    }
}

#[tokio::test]
async fn single_file_governs_every_profile() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("policy.yaml");
    std::fs::write(&path, include_str!("../examples/policies/prod.yaml")).unwrap();
    let store = FilePolicyStore::new(&path);
    let policy = store.get("prod").await.unwrap();
    assert_eq!(policy.origin(), path.display().to_string());
    let other = store.get("anything-else").await.unwrap();
    let d = other.evaluate(&Request::new(
        &sentinel_policy::Username::parse("alice").unwrap(),
        "anything-else",
        Mode::Cli,
        "2026-03-02T15:00:00Z".parse().unwrap(),
    ));
    assert!(!d.is_allowed(), "not named by any rule: default deny");
    assert_eq!(
        store.list().await.unwrap(),
        vec!["prod".to_owned(), "prod-readonly".to_owned()]
    );
    // A broken file is Invalid with the file's path and line numbers.
    std::fs::write(&path, conformance::BROKEN).unwrap();
    match store.get("prod").await {
        Err(e @ Error::Invalid { .. }) => {
            let listing = e.problems().unwrap().to_string();
            assert!(
                listing.contains(&format!("{}:4:13: rules[0].effect", path.display())),
                "{listing}"
            );
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
}

// ---- SSM against the emulator ----

#[derive(Debug)]
struct SsmSeed {
    client: aws_sdk_ssm::Client,
    store: SsmPolicyStore,
    secure: bool,
}

#[async_trait]
impl Seed for SsmSeed {
    async fn put(&self, profile: &str, text: &str) {
        self.client
            .put_parameter()
            .name(self.store.parameter_name(profile))
            .value(text)
            .r#type(if self.secure {
                ParameterType::SecureString
            } else {
                ParameterType::String
            })
            .overwrite(true)
            .send()
            .await
            .unwrap();
    }
}

async fn ssm(root_prefix: &str) -> Option<(aws_sdk_ssm::Client, SsmPolicyStore)> {
    let endpoint = sentinel_testkit::aws_endpoint()?;
    let config = sentinel_testkit::sdk_config(&endpoint).await;
    let client = aws_sdk_ssm::Client::new(&config);
    let root = format!("/{}/policies", sentinel_testkit::unique_name(root_prefix));
    let store = SsmPolicyStore::new(client.clone(), root);
    Some((client, store))
}

#[tokio::test]
async fn ssm_conforms() {
    let Some((client, store)) = ssm("conf").await else {
        return;
    };
    let seed = SsmSeed {
        client,
        store: store.clone(),
        secure: false,
    };
    conformance::run_all(&store, &seed).await;
}

#[tokio::test]
async fn ssm_secure_string_is_decrypted() {
    let Some((client, store)) = ssm("secure").await else {
        return;
    };
    let seed = SsmSeed {
        client,
        store: store.clone(),
        secure: true,
    };
    seed.put("prod", conformance::ALLOW_ALICE).await;
    let policy = store.get("prod").await.unwrap();
    assert_eq!(policy.rule_count(), 1);
    assert_eq!(
        policy.origin(),
        format!("ssm:{}", store.parameter_name("prod"))
    );
}

#[tokio::test]
async fn ssm_missing_parameter_names_the_parameter() {
    let Some((_, store)) = ssm("missing").await else {
        return;
    };
    match store.get("prod").await {
        Err(e @ Error::NotFound { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains(&store.parameter_name("prod")), "{msg}");
            // The library names no command; frontends build advice from
            // the parameter name.
            assert!(!msg.contains("aws ssm"), "{msg}");
            if let Error::NotFound { parameter, .. } = &e {
                assert_eq!(parameter.as_deref(), Some(&*store.parameter_name("prod")));
            }
        }
        other => panic!("expected NotFound, got {other:?}"),
    }
    // An empty root lists nothing rather than failing.
    assert!(store.list().await.unwrap().is_empty());
}

#[tokio::test]
async fn ssm_unreachable_endpoint_is_a_backend_error() {
    // A closed loopback port: the SDK cannot connect; we must get an error
    // (and the caller denies), never a policy.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let store = ssm_against(&format!("http://127.0.0.1:{port}")).await;
    match store.get("prod").await {
        Err(Error::Backend { backend: "ssm", .. }) => {}
        other => panic!("expected Backend error, got {other:?}"),
    }
}

// ---- the cache ----

/// Counts backend calls and can be told to fail.
#[derive(Debug, Default)]
struct Counting {
    inner: MemoryPolicyStore,
    calls: AtomicUsize,
    delay: Duration,
}

#[async_trait]
impl PolicyStore for Counting {
    async fn get(&self, profile: &str) -> sentinel_policy::Result<Arc<CompiledPolicy>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        self.inner.get(profile).await
    }
    async fn list(&self) -> sentinel_policy::Result<Vec<String>> {
        self.inner.list().await
    }
    fn describe(&self) -> String {
        "counting".into()
    }
}

#[tokio::test(start_paused = true)]
async fn cache_reuses_until_ttl_then_reloads() {
    let backend = Arc::new(Counting::default());
    backend
        .inner
        .put_text("dev", conformance::ALLOW_ALICE)
        .unwrap();
    let cached = Cached::new(Arc::clone(&backend), Duration::from_secs(60));
    cached.get("dev").await.unwrap();
    cached.get("dev").await.unwrap();
    assert_eq!(backend.calls.load(Ordering::SeqCst), 1);
    // An update is seen only after the TTL.
    backend
        .inner
        .put_text("dev", conformance::DENY_ALL)
        .unwrap();
    tokio::time::advance(Duration::from_secs(59)).await;
    assert_eq!(cached.get("dev").await.unwrap().rule_count(), 1);
    assert_eq!(
        cached.get("dev").await.unwrap().document().rules[0].name,
        "alice-allowed"
    );
    tokio::time::advance(Duration::from_secs(2)).await;
    assert_eq!(
        cached.get("dev").await.unwrap().document().rules[0].name,
        "nobody"
    );
    assert_eq!(backend.calls.load(Ordering::SeqCst), 2);
    cached.invalidate("dev");
    cached.get("dev").await.unwrap();
    assert_eq!(backend.calls.load(Ordering::SeqCst), 3);
}

#[tokio::test(start_paused = true)]
async fn cache_never_keeps_errors() {
    let backend = Arc::new(Counting::default());
    let cached = Cached::new(Arc::clone(&backend), Duration::from_secs(60));
    assert!(matches!(
        cached.get("dev").await,
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        cached.get("dev").await,
        Err(Error::NotFound { .. })
    ));
    assert_eq!(
        backend.calls.load(Ordering::SeqCst),
        2,
        "errors are not cached"
    );
    backend.inner.put_text("dev", conformance::BROKEN).unwrap();
    assert!(matches!(
        cached.get("dev").await,
        Err(Error::Invalid { .. })
    ));
    // Fixed document is picked up at once, because the error was not kept.
    backend
        .inner
        .put_text("dev", conformance::ALLOW_ALICE)
        .unwrap();
    assert!(cached.get("dev").await.is_ok());
    assert_eq!(backend.calls.load(Ordering::SeqCst), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_misses_make_one_backend_call() {
    let backend = Arc::new(Counting {
        delay: Duration::from_millis(50),
        ..Default::default()
    });
    backend
        .inner
        .put_text("prod", conformance::ALLOW_ALICE)
        .unwrap();
    backend
        .inner
        .put_text("dev", conformance::ALLOW_ALICE)
        .unwrap();
    let cached = Arc::new(Cached::new(Arc::clone(&backend), Duration::from_secs(60)));
    let mut tasks = Vec::new();
    for i in 0..32 {
        let cached = Arc::clone(&cached);
        let profile = if i % 2 == 0 { "prod" } else { "dev" };
        tasks.push(tokio::spawn(async move {
            cached.get(profile).await.map(|p| p.rule_count())
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap(), 1);
    }
    assert_eq!(
        backend.calls.load(Ordering::SeqCst),
        2,
        "one call per profile"
    );
}

#[tokio::test]
async fn cache_passes_through_list_and_profile_checks() {
    let memory = MemoryPolicyStore::new();
    memory.put_text("b", conformance::ALLOW_ALICE).unwrap();
    memory.put_text("a", conformance::ALLOW_ALICE).unwrap();
    let cached = Cached::new(memory.clone(), Duration::from_secs(5));
    conformance::run_all(&cached_uncached(memory.clone()), &MemorySeed(memory)).await;
    assert_eq!(
        cached.list().await.unwrap()[..2],
        ["a".to_owned(), "b".to_owned()]
    );
    assert!(matches!(
        cached.get("../x").await,
        Err(Error::InvalidProfile { .. })
    ));
}

/// A zero-TTL cache must behave exactly like the store it wraps.
fn cached_uncached(store: MemoryPolicyStore) -> Cached<MemoryPolicyStore> {
    Cached::new(store, Duration::ZERO)
}

/// Serves one canned HTTP response to every request on a loopback port,
/// the way SSM answers a caller without permission. Stops when dropped.
struct CannedServer {
    url: String,
    stop: Arc<std::sync::atomic::AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl CannedServer {
    fn start(status: &'static str, body: &'static str) -> Self {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let handle = std::thread::spawn(move || {
            while !flag.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((mut conn, _)) => {
                        conn.set_nonblocking(false).unwrap();
                        conn.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
                        let mut buf = vec![0u8; 64 * 1024];
                        let _ = conn.read(&mut buf);
                        let response = format!(
                            "HTTP/1.1 {status}\r\ncontent-type: application/x-amz-json-1.1\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                            body.len()
                        );
                        let _ = conn.write_all(response.as_bytes());
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Self {
            url,
            stop,
            handle: Some(handle),
        }
    }
}

impl Drop for CannedServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

async fn ssm_against(url: &str) -> SsmPolicyStore {
    let config = sentinel_testkit::sdk_config(url).await;
    let config = config
        .into_builder()
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .build();
    SsmPolicyStore::new(aws_sdk_ssm::Client::new(&config), "/sentinel/policies")
}

#[tokio::test]
async fn ssm_access_denied_is_its_own_error() {
    let server = CannedServer::start(
        "400 Bad Request",
        r#"{"__type":"AccessDeniedException","message":"User: arn:aws:iam::123456789012:user/bob is not authorized to perform: ssm:GetParameter"}"#,
    );
    let store = ssm_against(&server.url).await;
    match store.get("prod").await {
        Err(e @ Error::AccessDenied { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains("ssm:GetParameter"), "{msg}");
            assert!(msg.contains("/sentinel/policies/prod"), "{msg}");
            assert!(msg.contains("kms:Decrypt"), "{msg}");
        }
        other => panic!("expected AccessDenied, got {other:?}"),
    }
    match store.list().await {
        Err(Error::AccessDenied { .. }) => {}
        other => panic!("expected AccessDenied from list, got {other:?}"),
    }
}

#[tokio::test]
async fn ssm_throttling_is_a_backend_error_that_says_so() {
    let server = CannedServer::start(
        "400 Bad Request",
        r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#,
    );
    let store = ssm_against(&server.url).await;
    match store.get("prod").await {
        Err(e @ Error::Backend { .. }) => assert!(e.to_string().contains("throttling"), "{e}"),
        other => panic!("expected Backend, got {other:?}"),
    }
}

/// A backend that fails slowly, counting its calls.
#[derive(Debug, Default)]
struct Failing {
    calls: AtomicUsize,
}

#[async_trait]
impl PolicyStore for Failing {
    async fn get(&self, _profile: &str) -> sentinel_policy::Result<Arc<CompiledPolicy>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(200)).await;
        Err(Error::AccessDenied {
            profile: "prod".into(),
            origin: "failing".into(),
            message: "nope".into(),
        })
    }
    async fn list(&self) -> sentinel_policy::Result<Vec<String>> {
        Ok(Vec::new())
    }
    fn describe(&self) -> String {
        "failing".into()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_callers_share_one_failure() {
    let backend = Arc::new(Failing::default());
    let cached = Arc::new(Cached::new(Arc::clone(&backend), Duration::from_secs(60)));
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let cached = Arc::clone(&cached);
            tokio::spawn(async move { cached.get("prod").await })
        })
        .collect();
    for t in tasks {
        assert!(matches!(t.await.unwrap(), Err(Error::AccessDenied { .. })));
    }
    assert_eq!(
        backend.calls.load(Ordering::SeqCst),
        1,
        "waiters share the failure"
    );
    // ...and the failure is not kept.
    assert!(cached.get("prod").await.is_err());
    assert_eq!(backend.calls.load(Ordering::SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn cache_forever_and_bounded_capacity() {
    let backend = Arc::new(Counting::default());
    for name in ["a", "b", "c"] {
        backend
            .inner
            .put_text(name, conformance::ALLOW_ALICE)
            .unwrap();
    }
    // Duration::MAX means "until invalidated", not an overflow.
    let forever = Cached::new(Arc::clone(&backend), Duration::MAX);
    forever.get("a").await.unwrap();
    tokio::time::advance(Duration::from_secs(10 * 365 * 86400)).await;
    forever.get("a").await.unwrap();
    assert_eq!(backend.calls.load(Ordering::SeqCst), 1);

    let small = Cached::with_capacity(Arc::clone(&backend), Duration::from_secs(60), 2);
    for name in ["a", "b", "c", "a", "b", "c"] {
        small.get(name).await.unwrap();
    }
    // Never more than two kept, so some were fetched again; all answers right.
    assert!(backend.calls.load(Ordering::SeqCst) > 1 + 3);
    assert!(format!("{small:?}").contains("entries: 2"), "{small:?}");
    // Invalid names are refused before they take a slot.
    assert!(matches!(
        small.get("../etc").await,
        Err(Error::InvalidProfile { .. })
    ));
}

#[tokio::test]
async fn file_store_reads_only_regular_files_with_exact_names() {
    let dir = tempfile::tempdir().unwrap();
    let store = FilePolicyStore::new(dir.path());
    // A directory (or device, or FIFO) named like a policy is refused.
    std::fs::create_dir(dir.path().join("odd.yaml")).unwrap();
    match store.get("odd").await {
        Err(Error::Invalid { problems, .. }) => {
            assert!(problems[0].message.contains("not a regular file"))
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink("/dev/zero", dir.path().join("zero.yaml")).unwrap();
        assert!(matches!(
            store.get("zero").await,
            Err(Error::Invalid { .. })
        ));
    }
    // Names match byte for byte: PROD is not prod, even where the file
    // system would open prod.yaml for PROD.yaml.
    std::fs::write(dir.path().join("prod.yaml"), conformance::ALLOW_ALICE).unwrap();
    assert!(store.get("prod").await.is_ok());
    assert!(matches!(
        store.get("PROD").await,
        Err(Error::NotFound { .. })
    ));
}

#[tokio::test]
async fn single_file_is_parsed_once_until_it_changes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("policy.yaml");
    std::fs::write(&path, conformance::ALLOW_ALICE).unwrap();
    let store = FilePolicyStore::new(&path);
    let a = store.get("a").await.unwrap();
    let b = store.get("b").await.unwrap();
    assert!(
        Arc::ptr_eq(&a, &b),
        "one compiled policy shared by every profile"
    );
    std::fs::write(&path, conformance::DENY_ALL).unwrap();
    let c = store.get("a").await.unwrap();
    assert!(!Arc::ptr_eq(&a, &c));
    assert_eq!(c.document().rules[0].name, "nobody");
}

#[tokio::test]
async fn ssm_root_slash_means_top_level() {
    let Some(endpoint) = sentinel_testkit::aws_endpoint() else {
        return;
    };
    let config = sentinel_testkit::sdk_config(&endpoint).await;
    let client = aws_sdk_ssm::Client::new(&config);
    let store = SsmPolicyStore::new(client.clone(), "/");
    let profile = sentinel_testkit::unique_name("toplevel");
    assert_eq!(store.parameter_name(&profile), format!("/{profile}"));
    client
        .put_parameter()
        .name(format!("/{profile}"))
        .value(conformance::ALLOW_ALICE)
        .r#type(ParameterType::String)
        .send()
        .await
        .unwrap();
    assert_eq!(store.get(&profile).await.unwrap().rule_count(), 1);
    assert!(store.list().await.unwrap().contains(&profile));
}

/// A policy whose line-by-line prefixes parse into wider policies: cut
/// after `profiles: [dev]` it allows everyone on dev.
const TORN_OLD: &str = r#"version: "1"
rules:
  - name: ops
    effect: allow
    conditions:
      profiles: [dev]
      users: [alice]
      mode: [server]
"#;

const TORN_NEW: &str = r#"version: "1"
rules:
  - name: ops
    effect: allow
    conditions:
      profiles: [dev]
      users: [bob]
      mode: [server]
  - name: nobody-else
    effect: deny
    conditions: {}
"#;

/// Rewrites `path` in place, as an editor or `cat > file` without a rename
/// does: truncate, then write the lines in groups of `sizes`, waiting `gap`
/// after each.
fn rewrite_in_place(path: &std::path::Path, text: &str, sizes: &[usize], gap: Duration) {
    use std::io::Write as _;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)
        .unwrap();
    let mut lines = text.split_inclusive('\n').peekable();
    for &n in sizes.iter().chain(std::iter::repeat(&usize::MAX)) {
        if lines.peek().is_none() {
            break;
        }
        let chunk: String = lines.by_ref().take(n).collect();
        f.write_all(chunk.as_bytes()).unwrap();
        f.flush().unwrap();
        std::thread::sleep(gap);
    }
}

#[tokio::test]
async fn file_rewritten_in_place_is_never_read_half_written() {
    // The cut documents really are different policies that parse: what a
    // torn read would hand out.
    let cut = TORN_NEW.split_inclusive('\n').take(6).collect::<String>();
    let wide = CompiledPolicy::parse(&cut, "cut.yaml").unwrap();
    assert!(
        wide.evaluate(&Request::new(
            &sentinel_policy::Username::parse("mallory").unwrap(),
            "dev",
            Mode::Cli,
            "2026-03-02T15:00:00Z".parse().unwrap(),
        ))
        .is_allowed(),
        "a cut document allows more"
    );

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("policy.yaml");
    std::fs::write(&path, TORN_OLD).unwrap();
    let old = CompiledPolicy::parse(TORN_OLD, "x")
        .unwrap()
        .document()
        .clone();
    let new = CompiledPolicy::parse(TORN_NEW, "x")
        .unwrap()
        .document()
        .clone();
    let store = FilePolicyStore::new(&path).with_settle_time(Duration::from_millis(300));

    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (path, done) = (path.clone(), Arc::clone(&done));
        std::thread::spawn(move || {
            for round in 0..4 {
                let text = if round % 2 == 0 { TORN_NEW } else { TORN_OLD };
                // The second group ends after `profiles: [dev]`.
                rewrite_in_place(&path, text, &[2, 4, 2], Duration::from_millis(20));
                // Long enough for the new text to settle and be read.
                std::thread::sleep(Duration::from_millis(1500));
            }
            done.store(true, Ordering::SeqCst);
        })
    };

    let (mut saw_old, mut saw_new, mut refused) = (0, 0, 0);
    let mut torn = Vec::new();
    while !done.load(Ordering::SeqCst) {
        match store.get("dev").await {
            Ok(p) if *p.document() == old => saw_old += 1,
            Ok(p) if *p.document() == new => saw_new += 1,
            Ok(p) => torn.push(format!("a different policy: {:?}", p.document().rules)),
            // Refusing fails closed (the caller denies): allowed.
            Err(_) => refused += 1,
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    writer.join().unwrap();
    assert!(
        torn.is_empty(),
        "{} torn reads (old {saw_old}, new {saw_new}, refused {refused}), first: {}",
        torn.len(),
        torn[0]
    );
    assert!(saw_old > 0 && saw_new > 0, "old {saw_old}, new {saw_new}");
    // The last text written is what the store serves now.
    assert_eq!(*store.get("dev").await.unwrap().document(), old);
}

#[tokio::test]
async fn file_that_keeps_changing_is_refused_not_parsed() {
    const SETTLE: Duration = Duration::from_millis(100);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("policy.yaml");
    std::fs::write(&path, TORN_OLD).unwrap();
    // Waits at most 1 s (or 20 settle times) for a settled file.
    let store = FilePolicyStore::new(&path).with_settle_time(SETTLE);
    // On a loaded machine the writer thread can itself stall for a settle
    // time; the file then really was left alone and reading it is right.
    // Such a run says nothing, so it is run again (a few times at most).
    for attempt in 1..=5 {
        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let writer = {
            let (path, done) = (path.clone(), Arc::clone(&done));
            std::thread::spawn(move || {
                let until = std::time::Instant::now() + Duration::from_millis(3500);
                let mut last = std::time::Instant::now();
                let mut longest_gap = Duration::ZERO;
                while std::time::Instant::now() < until {
                    rewrite_in_place(&path, TORN_NEW, &[1], Duration::from_millis(1));
                    longest_gap = longest_gap.max(last.elapsed());
                    last = std::time::Instant::now();
                }
                done.store(true, Ordering::SeqCst);
                longest_gap
            })
        };
        // Let the writer start.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let started = std::time::Instant::now();
        let result = store.get("dev").await;
        let waited = started.elapsed();
        let longest_gap = writer.join().unwrap();
        match result {
            Err(Error::Backend { backend, source }) => {
                assert_eq!(backend, "file");
                let message = source.to_string();
                assert!(message.contains(&path.display().to_string()), "{message}");
                assert!(message.contains("kept changing"), "{message}");
                assert!(message.contains("renamed"), "{message}");
                // Refused before the writer stopped: the wait is bounded.
                assert!(
                    waited < Duration::from_millis(3500),
                    "bounded wait, took {waited:?}"
                );
                // Once the file is left alone it is read again.
                tokio::time::sleep(SETTLE + Duration::from_millis(50)).await;
                assert_eq!(store.get("dev").await.unwrap().rule_count(), 2);
                return;
            }
            other if longest_gap >= SETTLE && attempt < 5 => {
                eprintln!(
                    "attempt {attempt}: the writer stalled for {longest_gap:?} ({other:?}); again"
                );
            }
            other => panic!(
                "expected a backend error, got {other:?} (the writer's longest stall: {longest_gap:?})"
            ),
        }
    }
}

#[tokio::test]
async fn a_just_written_file_is_read_once_settled() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("policy.yaml");
    std::fs::write(&path, TORN_NEW).unwrap();
    let store = FilePolicyStore::new(&path).with_settle_time(Duration::from_millis(200));
    let started = std::time::Instant::now();
    assert_eq!(store.get("dev").await.unwrap().rule_count(), 2);
    assert!(
        started.elapsed() >= Duration::from_millis(100),
        "waited for the file to settle: {:?}",
        started.elapsed()
    );
    // Settled files are read without waiting.
    tokio::time::sleep(Duration::from_millis(250)).await;
    let started = std::time::Instant::now();
    assert_eq!(store.get("dev").await.unwrap().rule_count(), 2);
    assert!(started.elapsed() < Duration::from_millis(100));
}

#[tokio::test]
async fn a_same_size_rewrite_and_a_rename_are_seen_by_the_next_read() {
    // The store answers from the last document while the file's metadata
    // is unchanged: a rewrite that keeps the size, or a new file renamed
    // over the old one, must still be read on the next call.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("policy.yaml");
    let policy = |user: &str| {
        format!(
            "version: '1'\nrules:\n  - name: only\n    effect: allow\n    conditions: {{ profiles: [dev], users: [{user}] }}\n"
        )
    };
    let allowed = |p: &CompiledPolicy, user: &str| {
        p.evaluate(&Request::new(
            &sentinel_policy::Username::parse(user).unwrap(),
            "dev",
            Mode::Cli,
            "2026-03-02T15:00:00Z".parse().unwrap(),
        ))
        .is_allowed()
    };
    let settle = Duration::from_millis(50);
    std::fs::write(&path, policy("alice")).unwrap();
    let store = FilePolicyStore::new(&path).with_settle_time(settle);
    tokio::time::sleep(settle * 2).await;
    let first = store.get("dev").await.unwrap();
    assert!(allowed(&first, "alice"));
    assert!(Arc::ptr_eq(&first, &store.get("dev").await.unwrap()));

    std::fs::write(&path, policy("bobby")).unwrap();
    tokio::time::sleep(settle * 2).await;
    let rewritten = store.get("dev").await.unwrap();
    assert!(allowed(&rewritten, "bobby") && !allowed(&rewritten, "alice"));

    let next = dir.path().join("policy.yaml.new");
    std::fs::write(&next, policy("carol")).unwrap();
    tokio::time::sleep(settle * 2).await;
    std::fs::rename(&next, &path).unwrap();
    let renamed = store.get("dev").await.unwrap();
    assert!(allowed(&renamed, "carol") && !allowed(&renamed, "bobby"));
}
