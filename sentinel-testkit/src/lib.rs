//! Internal test helpers for the Sentinel workspace (not published).
//!
//! Tests that talk to AWS run against a local emulator (moto in server mode).
//! `scripts/test` starts it on a free loopback port, exports its URL in
//! [`ENDPOINT_VAR`] (`SENTINEL_TEST_AWS_ENDPOINT`) and stops it afterwards.
//!
//! - [`require_aws!`] / [`aws_endpoint`]: get the emulator URL, or skip the
//!   test with a visible `SKIPPED: ...` line when it is not set. Under
//!   `CI=true` a missing emulator is a test failure instead of a skip.
//! - [`sdk_config`]: an [`aws_config::SdkConfig`] for the emulator with static
//!   test credentials and region `us-east-1`, independent of the host's AWS
//!   environment variables and profile files.
//! - [`SilentServer`] and [`sdk_config_with_timeouts`]: a loopback endpoint
//!   that accepts connections and never answers, and an SDK configuration
//!   with short limits pointed at it, for timeout tests.
//! - [`unique_name`]: resource names that never collide, because all tests of
//!   a run share one emulator and run in parallel. Never reset the emulator
//!   from a test.
//! - Store tests: [`test_clock`] (a [`ManualClock`] at [`TEST_START`]),
//!   [`dynamodb_table`] (a client and a fresh table name) and
//!   [`store_conformance!`] (one test per conformance check and backend).
//!
//! ```no_run
//! # async fn example() {
//! use aws_sdk_ssm::types::ParameterType;
//!
//! let endpoint = sentinel_testkit::require_aws!();
//! let config = sentinel_testkit::sdk_config(&endpoint).await;
//! let ssm = aws_sdk_ssm::Client::new(&config);
//! let name = format!("/{}/policy", sentinel_testkit::unique_name("example"));
//! ssm.put_parameter()
//!     .name(&name)
//!     .value("{}")
//!     .r#type(ParameterType::String)
//!     .send()
//!     .await
//!     .expect("put_parameter against the emulator");
//! # }
//! ```
#![deny(missing_docs)]
// This crate is only ever used from tests. Failing loudly is its job: under
// CI a missing emulator must fail the test rather than silently skip it, so
// the workspace-wide `clippy::panic = "deny"` (meant for library code) is
// relaxed here.
#![allow(clippy::panic)]

use std::hash::{BuildHasher, RandomState};
use std::io::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use sentinel_store::{ManualClock, Timeouts};

/// Environment variable holding the URL of the local AWS emulator
/// (for example `http://127.0.0.1:45123`). Set by `scripts/test`.
pub const ENDPOINT_VAR: &str = "SENTINEL_TEST_AWS_ENDPOINT";

/// Region used by [`sdk_config`].
pub const TEST_REGION: &str = "us-east-1";

/// Longest prefix kept by [`unique_name`]; longer prefixes are truncated so
/// the result stays within the 64-character limit of IAM user names.
pub const MAX_PREFIX_LEN: usize = 32;

/// Message printed when a test is skipped because no emulator is configured.
const SKIP_MESSAGE: &str =
    "SKIPPED: SENTINEL_TEST_AWS_ENDPOINT is not set; run scripts/test to start the moto emulator";

/// What to do given the values of `SENTINEL_TEST_AWS_ENDPOINT` and `CI`.
#[derive(Debug, PartialEq, Eq)]
enum Resolution {
    /// The emulator URL to use.
    Endpoint(String),
    /// Not configured, not under CI: skip the test.
    Skip,
    /// Not configured under CI: fail the test.
    MissingUnderCi,
}

fn resolve(endpoint: Option<&str>, ci: Option<&str>) -> Resolution {
    match endpoint.map(str::trim) {
        Some(url) if !url.is_empty() => Resolution::Endpoint(url.to_owned()),
        _ if ci.is_some_and(|v| v.trim().eq_ignore_ascii_case("true")) => {
            Resolution::MissingUnderCi
        }
        _ => Resolution::Skip,
    }
}

/// Returns the URL of the local AWS emulator from `SENTINEL_TEST_AWS_ENDPOINT`
/// if it is set and non-empty.
///
/// When it is not set:
///
/// - under CI (`CI=true`, case-insensitive) this **panics**: tests that need
///   the emulator must fail rather than skip there;
/// - otherwise it prints `SKIPPED: SENTINEL_TEST_AWS_ENDPOINT is not set; run
///   scripts/test to start the moto emulator` (plus the test name) to stderr
///   and returns `None`. The line is written straight to the process's stderr,
///   so the test harness does not capture it and it is visible even for tests
///   that pass.
///
/// Most tests should use [`require_aws!`] instead of calling this directly.
///
/// # Panics
///
/// When the variable is unset or empty and `CI` is `true`.
pub fn aws_endpoint() -> Option<String> {
    let endpoint = std::env::var(ENDPOINT_VAR).ok();
    let ci = std::env::var("CI").ok();
    match resolve(endpoint.as_deref(), ci.as_deref()) {
        Resolution::Endpoint(url) => Some(url),
        Resolution::Skip => {
            let thread = std::thread::current();
            let test = thread.name().unwrap_or("<unnamed test>");
            // Bypass libtest's output capture (which only applies to the
            // print macros) so the skip is visible in a normal `cargo test`.
            let _ = writeln!(std::io::stderr().lock(), "{SKIP_MESSAGE} [{test}]");
            None
        }
        Resolution::MissingUnderCi => panic!(
            "the AWS emulator is required under CI (CI=true) but {ENDPOINT_VAR} is not set; \
             run the tests through scripts/test, which starts moto (`moto_server -H 127.0.0.1 \
             -p PORT`, from `pip install 'moto[server]'`) and exports \
             {ENDPOINT_VAR}=http://127.0.0.1:PORT"
        ),
    }
}

/// Gets the emulator URL or returns early from the enclosing test.
///
/// Expands to `match sentinel_testkit::aws_endpoint() { Some(e) => e, None =>
/// return }`, so use it at the top of a test returning `()`:
///
/// ```no_run
/// # async fn a_test() {
/// let endpoint = sentinel_testkit::require_aws!();
/// let config = sentinel_testkit::sdk_config(&endpoint).await;
/// # let _ = config;
/// # }
/// ```
///
/// See [`aws_endpoint`] for the skip / fail-under-CI behaviour.
#[macro_export]
macro_rules! require_aws {
    () => {
        match $crate::aws_endpoint() {
            ::core::option::Option::Some(endpoint) => endpoint,
            ::core::option::Option::None => return,
        }
    };
}

/// Builds an SDK configuration for the emulator at `endpoint`.
///
/// Region [`TEST_REGION`], static credentials `testing`/`testing` and the
/// given endpoint URL. Host environment variables (`AWS_PROFILE`,
/// `AWS_ENDPOINT_URL*`, …) and `~/.aws` profile files are ignored, and no
/// default credential or region chain runs, so nothing can reach real AWS or
/// the instance metadata service.
pub async fn sdk_config(endpoint: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .empty_test_environment()
        .http_client(sentinel_store::aws::https_client())
        .region(Region::new(TEST_REGION))
        .credentials_provider(Credentials::new(
            "testing",
            "testing",
            None,
            None,
            "sentinel-testkit",
        ))
        .endpoint_url(endpoint)
        .load()
        .await
}

/// [`sdk_config`] with the limits `timeouts` (see
/// [`sentinel_store::Timeouts::timeout_config`]), for tests that point a
/// client at a [`SilentServer`].
pub async fn sdk_config_with_timeouts(endpoint: &str, timeouts: Timeouts) -> SdkConfig {
    sdk_config(endpoint)
        .await
        .into_builder()
        .timeout_config(timeouts.timeout_config())
        .build()
}

/// A loopback TCP server that accepts every connection and never answers
/// (nor closes): the "silent endpoint" that made Sentinel hang. It runs on
/// its own thread and stops when dropped.
#[derive(Debug)]
pub struct SilentServer {
    addr: std::net::SocketAddr,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl SilentServer {
    /// Starts listening on a free port of 127.0.0.1.
    pub fn start() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap_or_else(|e| panic!("binding a loopback port: {e}"));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("loopback address: {e}"));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            // Held open, never read or written.
            let mut held = Vec::new();
            for conn in listener.incoming() {
                if flag.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(c) = conn {
                    held.push(c);
                }
            }
        });
        Self {
            addr,
            stop,
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for SilentServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop so it sees the flag.
        let _ = std::net::TcpStream::connect(self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Returns a name that is unique per call, within and across processes.
///
/// Format: `{prefix}-{pid}-{counter}-{8 hex chars}`, where the hex part is
/// derived from the current time and a randomly keyed hash. Characters of
/// `prefix` other than ASCII letters, digits and `-` are replaced by `-`, an
/// empty prefix becomes `test`, and the prefix is cut to [`MAX_PREFIX_LEN`]
/// characters. The result therefore contains only `[A-Za-z0-9-]`, is at most
/// 64 characters long in practice, and is valid as an SSM parameter path
/// segment, a DynamoDB table name and an IAM user name. (SSM rejects names
/// whose first segment starts with `aws` or `ssm`; do not use such prefixes.)
pub fn unique_name(prefix: &str) -> String {
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let pid = std::process::id();
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    // `RandomState` is seeded randomly per process (and per thread), which
    // separates processes that happen to reuse a pid.
    let salt = RandomState::new().hash_one((nanos, pid, count));
    let mut prefix: String = prefix
        .chars()
        .take(MAX_PREFIX_LEN)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    if prefix.is_empty() {
        prefix.push_str("test");
    }
    format!("{prefix}-{pid}-{count}-{:08x}", salt as u32)
}

/// Environment variable through which [`kill_writer_mid_write`] tells its
/// child which database to write.
pub const WRITER_DB_VAR: &str = "SENTINEL_TEST_WRITER_DB";

/// In the writer child of [`kill_writer_mid_write`]: the database to write
/// to. `None` in a normal test run, where the child test returns at once.
pub fn writer_db() -> Option<std::path::PathBuf> {
    std::env::var_os(WRITER_DB_VAR).map(std::path::PathBuf::from)
}

/// The durability check of the SQLite stores: runs the test `child_test` of
/// the current test binary in a child process (with [`WRITER_DB_VAR`] set
/// to `db`), waits for it to print `ready`, lets it write for `run_for`,
/// then kills it with SIGKILL (no chance to finish a write or clean up).
/// The child test starts with `let Some(path) = writer_db() else { return };`
/// and writes in a loop.
pub fn kill_writer_mid_write(child_test: &str, db: &std::path::Path, run_for: std::time::Duration) {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("no test binary path: {e}"));
    let mut child = Command::new(exe)
        .args(["--exact", child_test, "--nocapture", "--test-threads=1"])
        .env(WRITER_DB_VAR, db)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("starting the writer child: {e}"));
    let Some(stdout) = child.stdout.take() else {
        panic!("the writer child has no stdout");
    };
    // Kept open until the child is dead, so it never writes to a closed pipe.
    let mut lines = BufReader::new(stdout).lines();
    let ready = lines
        .by_ref()
        .map_while(Result::ok)
        .any(|line| line.contains("ready"));
    if !ready {
        let _ = child.kill();
        panic!("the writer child {child_test} exited before it was ready");
    }
    std::thread::sleep(run_for);
    // Child::kill sends SIGKILL on Unix.
    if let Err(e) = child.kill() {
        panic!("killing the writer child: {e}");
    }
    let _ = child.wait();
    drop(lines);
}

/// `PRAGMA integrity_check` of a SQLite file: `"ok"` when the file is
/// sound.
pub fn sqlite_integrity(db: &std::path::Path) -> String {
    let conn =
        rusqlite::Connection::open(db).unwrap_or_else(|e| panic!("opening {}: {e}", db.display()));
    conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap_or_else(|e| panic!("integrity check of {}: {e}", db.display()))
}

/// Where the clock of store tests starts: 2026-03-02T09:00:00Z, a Monday
/// morning, as seconds since the Unix epoch.
pub const TEST_START: i64 = 1_772_442_000;

/// A [`ManualClock`] standing at [`TEST_START`].
pub fn test_clock() -> ManualClock {
    match jiff::Timestamp::from_second(TEST_START) {
        Ok(at) => ManualClock::new(at),
        Err(e) => panic!("TEST_START is not a timestamp: {e}"),
    }
}

/// A DynamoDB client for the emulator and a table name (starting with
/// `prefix`) that no other test uses; the caller creates the table. `None`
/// when the test should skip (see [`aws_endpoint`]).
pub async fn dynamodb_table(prefix: &str) -> Option<(aws_sdk_dynamodb::Client, String)> {
    let endpoint = aws_endpoint()?;
    let config = sdk_config(&endpoint).await;
    Some((aws_sdk_dynamodb::Client::new(&config), unique_name(prefix)))
}

/// Runs a store conformance suite against every backend: for each check, a
/// module with the tests `memory`, `sqlite` and `dynamodb`.
///
/// The calling test file provides `memory(&ManualClock) -> Arc<dyn Store>`,
/// `async sqlite(&ManualClock) -> (TempDir, Arc<dyn Store>)` and
/// `async dynamodb(&ManualClock) -> Option<Arc<dyn Store>>` (`None` skips),
/// and names the suite module (`suite`). Checks listed under `by_ref` are
/// called as `check(&*store, &clock)`, those under `shared` (races, which
/// spawn tasks) as `check(store, &clock)`. Every test starts from
/// [`test_clock`].
///
/// ```ignore
/// use sentinel_session::conformance as c;
/// sentinel_testkit::store_conformance! {
///     suite: c,
///     by_ref: [create_get_conflict, touch_and_expiry],
///     shared: [racing_revokes],
/// }
/// ```
#[macro_export]
macro_rules! store_conformance {
    (suite: $c:ident, by_ref: [$($name:ident),* $(,)?], shared: [$($shared:ident),* $(,)?] $(,)?) => {
        $( $crate::store_conformance!(@module $c, $name, by_ref); )*
        $( $crate::store_conformance!(@module $c, $shared, shared); )*
    };
    (@module $c:ident, $name:ident, $how:ident) => {
        mod $name {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn memory() {
                let clock = $crate::test_clock();
                let store = super::memory(&clock);
                $crate::store_conformance!(@call $how, $c::$name, store, clock);
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                let clock = $crate::test_clock();
                let (_dir, store) = super::sqlite(&clock).await;
                $crate::store_conformance!(@call $how, $c::$name, store, clock);
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn dynamodb() {
                let clock = $crate::test_clock();
                let Some(store) = super::dynamodb(&clock).await else {
                    return;
                };
                $crate::store_conformance!(@call $how, $c::$name, store, clock);
            }
        }
    };
    (@call by_ref, $f:path, $store:ident, $clock:ident) => {
        $f(&*$store, &$clock).await
    };
    (@call shared, $f:path, $store:ident, $clock:ident) => {
        $f($store, &$clock).await
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn allowed(name: &str) -> bool {
        !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    }

    #[test]
    fn unique_name_is_unique_across_threads() {
        let handles: Vec<_> = (0..8)
            .map(|_| std::thread::spawn(|| (0..2000).map(|_| unique_name("t")).collect::<Vec<_>>()))
            .collect();
        let mut seen = HashSet::new();
        for handle in handles {
            for name in handle.join().unwrap() {
                assert!(seen.insert(name.clone()), "duplicate name {name}");
            }
        }
        assert_eq!(seen.len(), 8 * 2000);
    }

    #[test]
    fn unique_name_uses_only_allowed_characters() {
        for prefix in [
            "policy-test",
            "",
            "a b/c_d.e:f",
            "ünï©ødé",
            "UPPER-lower-123",
        ] {
            let name = unique_name(prefix);
            assert!(allowed(&name), "{prefix:?} gave {name:?}");
            assert!(name.len() >= 3, "{name:?} too short for DynamoDB");
        }
        assert!(unique_name("policy-test").starts_with("policy-test-"));
        assert!(unique_name("a b/c").starts_with("a-b-c-"));
        assert!(unique_name("").starts_with("test-"));
    }

    #[test]
    fn unique_name_stays_within_iam_user_name_limit() {
        let name = unique_name(&"x".repeat(200));
        assert!(name.len() <= 64, "{name:?} is {} chars", name.len());
        assert!(name.starts_with(&"x".repeat(MAX_PREFIX_LEN)));
    }

    #[test]
    fn resolve_uses_the_endpoint_when_set() {
        assert_eq!(
            resolve(Some("http://127.0.0.1:5000"), Some("true")),
            Resolution::Endpoint("http://127.0.0.1:5000".into())
        );
        assert_eq!(
            resolve(Some(" http://x "), None),
            Resolution::Endpoint("http://x".into())
        );
    }

    #[test]
    fn resolve_skips_locally_and_fails_under_ci() {
        assert_eq!(resolve(None, None), Resolution::Skip);
        assert_eq!(resolve(Some(""), Some("false")), Resolution::Skip);
        assert_eq!(resolve(None, Some("1")), Resolution::Skip);
        assert_eq!(resolve(None, Some("true")), Resolution::MissingUnderCi);
        assert_eq!(
            resolve(Some("  "), Some("TRUE")),
            Resolution::MissingUnderCi
        );
    }

    #[test]
    fn test_clock_starts_at_test_start() {
        use sentinel_store::Clock as _;
        assert_eq!(test_clock().now().to_string(), "2026-03-02T09:00:00Z");
    }

    #[tokio::test]
    async fn sdk_config_points_at_the_endpoint() {
        let config = sdk_config("http://127.0.0.1:1").await;
        assert_eq!(config.endpoint_url(), Some("http://127.0.0.1:1"));
        assert_eq!(config.region().map(Region::as_ref), Some(TEST_REGION));
        assert!(config.credentials_provider().is_some());
    }
}
