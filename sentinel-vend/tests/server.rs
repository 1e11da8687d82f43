//! The credential HTTP service on a real loopback port: token and Host
//! checks, per-request policy and revocation checks, the cache and its
//! refresh margin.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use sentinel_policy::MemoryPolicyStore;
use sentinel_session::{MemorySessionStore, SessionStore};
use sentinel_vend::log::DecisionLog;
use sentinel_vend::server::{
    CredentialService, FixedTargets, LocalAuthenticator, ServiceConfig, new_token,
};
use sentinel_vend::{Caller, FakeVendor, Pipeline, Target};

const ROLE: &str = "arn:aws:iam::123456789012:role/ops";
const ALLOW: &str = "version: '1'\nrules:\n  - name: ops-server\n    effect: require_server\n    conditions: { profiles: [ops] }\n";
const DENY: &str = "version: '1'\nrules:\n  - name: ops-closed\n    effect: deny\n    conditions: { profiles: [ops] }\n";

struct Server {
    url: String,
    port: u16,
    token: String,
    vendor: FakeVendor,
    policies: MemoryPolicyStore,
    sessions: Arc<MemorySessionStore>,
    session_id: String,
    log: DecisionLog,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn start(duration: Option<Duration>) -> Server {
    let policies = MemoryPolicyStore::new();
    policies.put_text("ops", ALLOW).unwrap();
    let vendor = FakeVendor::new();
    let sessions = Arc::new(MemorySessionStore::new());
    let caller = Caller::from_arn("arn:aws:iam::123456789012:user/alice").unwrap();
    let log = DecisionLog::memory();
    let pipeline = Pipeline::new(
        Arc::new(policies.clone()),
        Arc::new(vendor.clone()),
        log.clone(),
    )
    .with_sessions(sessions.clone());
    let session = pipeline
        .start_session(&caller, "ops", "test", Duration::from_secs(3600))
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let token = new_token().unwrap();
    let mut config = ServiceConfig::default();
    config.profile = Some("ops".into());
    config.session_id = Some(session.id.clone());
    config.duration = duration;
    let service = Arc::new(CredentialService::new(
        pipeline,
        Arc::new(LocalAuthenticator::new(&token, port, caller)),
        Arc::new(FixedTargets::default().with("ops", Target::role(ROLE))),
        config,
    ));
    let router = service.router();
    let task = tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    Server {
        url: format!("http://127.0.0.1:{port}/"),
        port,
        token,
        vendor,
        policies,
        sessions,
        session_id: session.id,
        log,
        task,
    }
}

/// The decision log, line by line.
fn log_lines(s: &Server) -> Vec<serde_json::Value> {
    let text = s.log.memory_contents().unwrap();
    sentinel_vend::log::verify(text.as_bytes()).unwrap();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

async fn get(s: &Server, token: Option<&str>, host: Option<&str>) -> (u16, serde_json::Value) {
    let mut req = http_client().get(&s.url);
    if let Some(t) = token {
        req = req.header("Authorization", t);
    }
    if let Some(h) = host {
        req = req.header("Host", h);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let body: serde_json::Value = serde_json::from_str(&resp.text().await.unwrap()).unwrap();
    (status, body)
}

#[tokio::test]
async fn refuses_without_the_token_or_from_a_foreign_host() {
    let s = start(None).await;
    for (token, host) in [
        (None, None),
        (Some("wrong"), None),
        (Some(""), None),
        (Some(s.token.as_str()), Some("evil.example.com".to_owned())),
        (
            Some(s.token.as_str()),
            Some(format!("127.0.0.1:{}", s.port + 1)),
        ),
    ] {
        let (status, body) = get(&s, token, host.as_deref()).await;
        assert_eq!(status, 403, "{token:?} {host:?}: {body}");
        assert_eq!(body["code"], "forbidden");
        assert!(body.get("AccessKeyId").is_none());
    }
    assert!(s.vendor.requests().is_empty());
    // localhost and the right token: served.
    let (status, body) = get(&s, Some(&s.token), Some(&format!("localhost:{}", s.port))).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn serves_cached_credentials_but_checks_every_request() {
    let s = start(None).await;
    let (status, first) = get(&s, Some(&s.token), None).await;
    assert_eq!(status, 200, "{first}");
    assert!(first["AccessKeyId"].as_str().unwrap().starts_with("ASIA"));
    assert!(first["Token"].is_string() && first["Expiration"].is_string());
    let (_, second) = get(&s, Some(&s.token), None).await;
    assert_eq!(first, second, "served from the cache");
    assert_eq!(s.vendor.requests().len(), 1);
    assert_eq!(
        s.vendor.requests()[0].tags,
        vec![("SentinelSessionID".to_owned(), s.session_id.clone())]
    );

    // A policy change takes effect at the next request, cache or not.
    s.policies.put_text("ops", DENY).unwrap();
    let (status, body) = get(&s, Some(&s.token), None).await;
    assert_eq!(status, 403);
    assert_eq!(body["code"], "denied");
    assert_eq!(body["rule"], "ops-closed");
    s.policies.put_text("ops", ALLOW).unwrap();
    assert_eq!(get(&s, Some(&s.token), None).await.0, 200);

    // So does a revocation.
    s.sessions
        .revoke(&s.session_id, "security", "laptop lost")
        .await
        .unwrap();
    let (status, body) = get(&s, Some(&s.token), None).await;
    assert_eq!(status, 403, "{body}");
    assert!(body["message"].as_str().unwrap().contains("revoked"));
    assert!(body.get("AccessKeyId").is_none());
}

#[tokio::test]
async fn never_serves_credentials_inside_the_refresh_margin() {
    // 15-minute credentials are never more than the margin away from
    // expiring: every request vends afresh.
    let s = start(Some(Duration::from_secs(900))).await;
    for _ in 0..3 {
        assert_eq!(get(&s, Some(&s.token), None).await.0, 200);
    }
    assert_eq!(s.vendor.requests().len(), 3);
}

#[tokio::test]
async fn bad_requests_get_json_errors() {
    let s = start(None).await;
    let client = http_client();
    for (query, code) in [
        ("?profile=prod", "wrong_profile"),
        ("?duration=soon", "bad_duration"),
    ] {
        let resp = client
            .get(format!("{}{query}", s.url))
            .header("Authorization", &s.token)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 400);
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(body["code"], code);
    }
    let resp = client
        .get(format!("{}profiles", s.url))
        .header("Authorization", &s.token)
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["profiles"], serde_json::json!(["ops"]));
}

/// Sends `request` as-is on a fresh connection; the status and the body.
async fn raw(s: &Server, request: &str) -> (u16, String, String) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", s.port))
        .await
        .unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let text = String::from_utf8(response).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, head.to_owned(), body.to_owned())
}

#[tokio::test]
async fn refuses_ambiguous_hosts_and_tokens() {
    let s = start(None).await;
    let (port, token) = (s.port, s.token.clone());
    let ours = format!("127.0.0.1:{port}");
    for request in [
        // A second Host after the right one (only one is allowed).
        format!(
            "GET / HTTP/1.1\r\nHost: {ours}\r\nHost: evil.example:{port}\r\nAuthorization: {token}\r\nConnection: close\r\n\r\n"
        ),
        // The right Host, but the request names another server.
        format!(
            "GET http://evil.example:{port}/ HTTP/1.1\r\nHost: {ours}\r\nAuthorization: {token}\r\nConnection: close\r\n\r\n"
        ),
        // Two tokens.
        format!(
            "GET / HTTP/1.1\r\nHost: {ours}\r\nAuthorization: {token}\r\nAuthorization: {token}\r\nConnection: close\r\n\r\n"
        ),
    ] {
        let (status, _, body) = raw(&s, &request).await;
        assert_eq!(status, 403, "{request}: {body}");
        let body: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["code"], "forbidden");
    }
    assert!(s.vendor.requests().is_empty());
    // Absolute form naming this server is fine.
    let (status, _, body) = raw(
        &s,
        &format!(
            "GET http://{ours}/ HTTP/1.1\r\nHost: {ours}\r\nAuthorization: {token}\r\nConnection: close\r\n\r\n"
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn unknown_paths_methods_and_queries_get_json_and_only_after_authentication() {
    let s = start(None).await;
    let (port, token) = (s.port, s.token.clone());
    for (line, status, code, allow) in [
        ("GET /nope", 404, "not_found", None),
        ("PUT /", 405, "method_not_allowed", Some("GET, POST")),
        ("DELETE /profiles", 405, "method_not_allowed", Some("GET")),
        ("GET /?profile=ops&profile=ops", 400, "bad_query", None),
    ] {
        let request = |auth: &str| {
            format!(
                "{line} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{auth}Connection: close\r\nContent-Length: 0\r\n\r\n"
            )
        };
        let (got, head, body) = raw(&s, &request(&format!("Authorization: {token}\r\n"))).await;
        assert_eq!(got, status, "{line}: {body}");
        assert!(head.contains("application/json"), "{line}: {head}");
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(json["code"], code, "{line}");
        if let Some(allow) = allow {
            assert!(
                head.to_ascii_lowercase()
                    .contains(&format!("allow: {}", allow.to_ascii_lowercase())),
                "{head}"
            );
        }
        // Without the token the answer is only a refusal.
        let (got, _, body) = raw(&s, &request("")).await;
        assert_eq!(got, 403, "{line} without a token: {body}");
    }
    // HEAD would issue credentials only to drop them: refused, nothing issued.
    let (got, head, _) = raw(
        &s,
        &format!(
            "HEAD / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: {token}\r\nConnection: close\r\n\r\n"
        ),
    )
    .await;
    assert_eq!(got, 405, "{head}");
    assert!(s.vendor.requests().is_empty());
}

#[tokio::test]
async fn the_cache_stays_bounded_whatever_durations_are_asked() {
    let s = start(Some(Duration::from_secs(12 * 3600))).await;
    let client = http_client();
    let fetch = |duration: u64| {
        client
            .get(format!("{}?duration={duration}", s.url))
            .header("Authorization", &s.token)
            .send()
    };
    let n = sentinel_vend::server::MAX_CACHED as u64 + 20;
    for i in 0..n {
        assert_eq!(fetch(3600 + i).await.unwrap().status(), 200);
    }
    assert_eq!(s.vendor.requests().len() as u64, n);
    // The newest are still cached; the first ones were dropped.
    assert_eq!(fetch(3600 + n - 1).await.unwrap().status(), 200);
    assert_eq!(s.vendor.requests().len() as u64, n, "served from the cache");
    assert_eq!(fetch(3600).await.unwrap().status(), 200);
    assert_eq!(
        s.vendor.requests().len() as u64,
        n + 1,
        "dropped, so issued again"
    );
}

#[tokio::test]
async fn a_client_can_shorten_credentials_but_never_lengthen_them() {
    // Default: one hour, whatever the child asks for.
    let s = start(None).await;
    let client = http_client();
    for asked in ["43200", "12h", "2h"] {
        let res = client
            .get(format!("{}?duration={asked}", s.url))
            .header("Authorization", &s.token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }
    let asked: Vec<_> = s.vendor.requests().iter().map(|r| r.duration).collect();
    assert_eq!(
        asked,
        vec![sentinel_vend::DEFAULT_SERVER_DURATION],
        "capped at the server's lifetime (and then served from the cache)"
    );
    let res = client
        .get(format!("{}?duration=30m", s.url))
        .header("Authorization", &s.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        s.vendor.requests().last().unwrap().duration,
        Duration::from_secs(30 * 60)
    );
}

#[tokio::test]
async fn every_answer_is_logged_cached_serves_and_refusals_too() {
    let s = start(None).await;
    get(&s, Some(&s.token), None).await;
    get(&s, Some(&s.token), None).await;
    get(&s, Some("wrong"), None).await;
    get(&s, Some(&s.token), Some("evil.example.com")).await;
    let lines = log_lines(&s);
    assert_eq!(lines.len(), 4, "{lines:?}");
    assert_eq!(lines[0]["effect"], "allow");
    assert_eq!(lines[1]["effect"], "allow");
    assert!(
        lines[1]["reason"]
            .as_str()
            .unwrap()
            .contains("served from cache"),
        "{}",
        lines[1]
    );
    assert_eq!(lines[1]["source_identity"], lines[0]["source_identity"]);
    assert_eq!(lines[2]["effect"], "deny");
    assert_eq!(lines[2]["user"], "-");
    assert!(
        lines[2]["reason"]
            .as_str()
            .unwrap()
            .contains("not authenticated")
    );
    // What an unauthenticated client sent is not repeated.
    assert!(
        !lines[3].to_string().contains("evil.example.com"),
        "{}",
        lines[3]
    );
}

/// The service's own client ([`sentinel_vend::client`]) against the real
/// router: the wire contract read back into credentials and refusals.
#[cfg(feature = "client")]
mod client {
    use super::*;
    use sentinel_vend::Remedy;
    use sentinel_vend::client::{ClientError, CredentialClient, CredentialsRequest};

    fn client(s: &Server, token: &str) -> CredentialClient {
        CredentialClient::new(&s.url, token, Duration::from_secs(5)).unwrap()
    }

    async fn refusal(c: &CredentialClient, req: &CredentialsRequest) -> ClientError {
        match c.credentials(req).await {
            Ok(creds) => panic!("served {creds:?}"),
            Err(e) => e,
        }
    }

    #[tokio::test]
    async fn fetches_credentials_and_profiles() {
        let s = start(None).await;
        let c = client(&s, &s.token);
        let creds = c.credentials(&CredentialsRequest::default()).await.unwrap();
        assert!(creds.access_key_id.starts_with("ASIA"), "{creds:?}");
        let now = jiff::Timestamp::now();
        assert!(creds.remaining(now) > Duration::from_secs(50 * 60));
        let short = c
            .credentials(
                &CredentialsRequest::default()
                    .profile("ops")
                    .duration(Duration::from_secs(900)),
            )
            .await
            .unwrap();
        assert!(
            short.remaining(now) <= Duration::from_secs(900),
            "{short:?}"
        );
        assert_eq!(s.vendor.requests().len(), 2);
        assert_eq!(c.profiles().await.unwrap(), ["ops"]);
        assert!(!format!("{c:?}").contains(&s.token));
    }

    #[tokio::test]
    async fn refusals_come_back_as_the_pipelines_denial() {
        let s = start(None).await;
        let c = client(&s, &s.token);
        s.policies.put_text("ops", DENY).unwrap();
        match refusal(&c, &CredentialsRequest::default()).await {
            ClientError::Denied(d) => assert_eq!(d.rule.as_deref(), Some("ops-closed")),
            other => panic!("{other:?}"),
        }
        s.policies.put_text("ops", ALLOW).unwrap();
        s.sessions
            .revoke(&s.session_id, "alice", "done")
            .await
            .unwrap();
        match refusal(&c, &CredentialsRequest::default()).await {
            ClientError::Denied(d) => {
                assert_eq!(d.remedy, Some(Remedy::NewServerSession), "{d:?}");
                assert!(d.reason.contains(&s.session_id), "{d:?}");
            }
            other => panic!("{other:?}"),
        }
        assert!(s.vendor.requests().is_empty());
    }

    #[tokio::test]
    async fn other_errors_carry_the_status_and_code() {
        let s = start(None).await;
        match refusal(&client(&s, "wrong"), &CredentialsRequest::default()).await {
            ClientError::Failed { status, body } => {
                assert_eq!((status, body.code.as_str()), (403, "forbidden"));
            }
            other => panic!("{other:?}"),
        }
        let c = client(&s, &s.token);
        match refusal(&c, &CredentialsRequest::default().profile("prod")).await {
            ClientError::Failed { status, body } => {
                assert_eq!((status, body.code.as_str()), (400, "wrong_profile"));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            CredentialClient::new("ftp://127.0.0.1/", "t", Duration::from_secs(1)),
            Err(ClientError::InvalidUrl { .. })
        ));
    }

    #[tokio::test]
    async fn unreachable_and_silent_services_fail_within_the_limit() {
        let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let closed = format!("http://127.0.0.1:{}/", free.local_addr().unwrap().port());
        drop(free);
        let c = CredentialClient::new(&closed, "t", Duration::from_secs(5)).unwrap();
        let e = c
            .credentials(&CredentialsRequest::default())
            .await
            .unwrap_err();
        assert!(matches!(e, ClientError::Unreachable { .. }), "{e:?}");

        // Accepts connections and never answers.
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://127.0.0.1:{}/", silent.local_addr().unwrap().port());
        let held = tokio::spawn(async move {
            let mut open = Vec::new();
            while let Ok((socket, _)) = silent.accept().await {
                open.push(socket);
            }
        });
        let c = CredentialClient::new(&url, "t", Duration::from_millis(300)).unwrap();
        let started = std::time::Instant::now();
        let e = c
            .credentials(&CredentialsRequest::default())
            .await
            .unwrap_err();
        assert!(matches!(e, ClientError::Timeout { .. }), "{e:?}");
        assert!(started.elapsed() < Duration::from_secs(3));
        held.abort();
    }
}

/// A reqwest client (reqwest is built without a crypto provider of its own).
fn http_client() -> reqwest::Client {
    sentinel_store::tls::crypto_provider();
    reqwest::Client::new()
}
