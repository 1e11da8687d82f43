//! Arbitrary HTTP requests through the credential HTTP service
//! (`sentinel_vend::server`; ARCHITECTURE.md) as `sentinel exec --server` runs it:
//! `LocalAuthenticator` with a fixed token and port, a `FakeVendor`, a policy
//! that allows alice on `ops` in server mode, a tracked server session in a
//! memory session store and a memory decision log. The axum `Router` is
//! driven directly with `tower::ServiceExt::oneshot`: no socket, so hyper's
//! wire parsing (which trims whitespace around header values, for one) is
//! not in the loop; requests that `http::Request::builder()` refuses are
//! skipped.
//!
//! Invariants checked on every request (a violation panics):
//! - no panic anywhere in the service (a panicking handler propagates out of
//!   `block_on`);
//! - authorized means: exactly one `Authorization`, exactly the token;
//!   exactly one `Host`, one of `127.0.0.1:PORT`, `localhost:PORT` or
//!   `[::1]:PORT` (ASCII case-insensitive); and an authority in the URI
//!   (absolute form), if any, one of those too;
//! - a 2xx only when authorized and the route serves the method (`GET|POST
//!   /`, `GET /profiles`; HEAD is refused); a 2xx is a 200 with
//!   `Content-Type: application/json` and `Cache-Control: no-store`, and its
//!   body is container credentials (`/`) or `{"profiles":["ops"]}`;
//! - liveness: an authorized `GET|POST /` without a query, and an authorized
//!   `GET /profiles`, are answered 200 (so the harness does reach the
//!   success path);
//! - an unauthorized request, to any path with any method, is a 403
//!   `forbidden`: nothing else is said to an unauthenticated caller; an
//!   authorized one gets 404 `not_found` for an unknown path and 405
//!   `method_not_allowed` with `Allow` for a method a route does not serve;
//! - no non-200 response (body or header) contains the fake credentials
//!   (`ASIAFAKE…`, `fake-secret-…`, `fake-token-…`), unless the request
//!   itself carried that text where an error message may echo it (URI,
//!   percent-decoded URI, header values);
//! - no response (body or header) contains the token, unless the request
//!   carried it outside `Authorization` (error messages echo the `Host`);
//! - every non-2xx is JSON `{"code": string, "message": string, ...}` with
//!   `Content-Type: application/json` and `Cache-Control: no-store` (a HEAD
//!   answer has its body stripped by axum, so only the headers are checked).
//!
//! State: the service is built once per process and rebuilt every
//! `REBUILD_EVERY` inputs so the memory decision log, the fake vendor's
//! request list and the credential cache (keyed by the requested duration)
//! stay small. At each rebuild the decision log is checked to hold neither
//! the token nor a fake secret or session token. Credentials are cached, so
//! whether a request vends or is answered from the cache depends on earlier
//! inputs; no invariant depends on it.
#![no_main]

use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use arbitrary::Arbitrary;
use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode, header};
use libfuzzer_sys::fuzz_target;
use sentinel_policy::MemoryPolicyStore;
use sentinel_session::MemorySessionStore;
use sentinel_vend::log::DecisionLog;
use sentinel_vend::server::{CredentialService, FixedTargets, LocalAuthenticator, ServiceConfig};
use sentinel_vend::{Caller, FakeVendor, Pipeline, Target};
use tower::ServiceExt;

/// The server's token (fixed, so seeds and the dictionary can carry it;
/// `new_token()` makes 64 hex characters like these).
const TOKEN: &str = "7f3a9c2e5b8d1f4a6c0e2b9d7f1a3c5e8b0d2f4a6c9e1b3d5f7a0c2e4b6d8f1a";
const PORT: u16 = 41_337;
const PROFILE: &str = "ops";
const ROLE: &str = "arn:aws:iam::123456789012:role/ops";
const POLICY: &str = "version: '1'\nrules:\n  - name: ops-server\n    effect: require_server_session\n    conditions: { profiles: [ops], users: [alice] }\n";
/// What `FakeVendor` puts in every credential it makes.
const SECRET_MARKERS: [&str; 3] = ["ASIAFAKE", "fake-secret-", "fake-token-"];
const REBUILD_EVERY: u32 = 4096;
const MAX_BODY: usize = 1 << 20;

struct Instance {
    router: Router,
    log: DecisionLog,
    runs: u32,
}

struct Harness {
    rt: tokio::runtime::Runtime,
    instance: Mutex<Instance>,
}

fn build(rt: &tokio::runtime::Runtime) -> Instance {
    rt.block_on(async {
        let policies = MemoryPolicyStore::new();
        policies.put_text(PROFILE, POLICY).expect("policy");
        let caller =
            Caller::from_arn("arn:aws:iam::123456789012:user/alice").expect("caller ARN");
        let log = DecisionLog::memory();
        let pipeline = Pipeline::new(Arc::new(policies), Arc::new(FakeVendor::new()), log.clone())
            .with_sessions(Arc::new(MemorySessionStore::new()));
        let session = pipeline
            .start_session(&caller, PROFILE, "fuzz", Duration::from_secs(24 * 3600))
            .await
            .expect("server session");
        let mut config = ServiceConfig::default();
        config.profile = Some(PROFILE.into());
        config.session_id = Some(session.id);
        let service = Arc::new(CredentialService::new(
            pipeline,
            Arc::new(LocalAuthenticator::new(TOKEN, PORT, caller)),
            Arc::new(FixedTargets::default().with(PROFILE, Target::role(ROLE))),
            config,
        ));
        Instance {
            router: service.router(),
            log,
            runs: 0,
        }
    })
}

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let instance = Mutex::new(build(&rt));
        Harness { rt, instance }
    })
}

/// The router for this input; every `REBUILD_EVERY` inputs a fresh service
/// (after checking the old decision log).
fn router(h: &Harness) -> Router {
    let mut inst = h.instance.lock().unwrap_or_else(PoisonError::into_inner);
    inst.runs += 1;
    if inst.runs > REBUILD_EVERY {
        let log = inst.log.memory_contents().unwrap_or_default();
        assert!(!log.contains(TOKEN), "decision log contains the token");
        for m in &SECRET_MARKERS[1..] {
            assert!(!log.contains(m), "decision log contains {m:?}:\n{log}");
        }
        *inst = build(&h.rt);
        inst.runs = 1;
    }
    inst.router.clone()
}

// ------------------------------------------------------------------ input --

#[derive(Debug, Arbitrary)]
enum MethodChoice {
    Get,
    Post,
    Put,
    Head,
    Delete,
    Options,
    Patch,
    Raw(Vec<u8>),
}

#[derive(Debug, Arbitrary)]
enum PathChoice {
    Root,
    Profiles,
    ProfilesSlash,
    DoubleSlash,
    Upper,
    Encoded,
    Empty,
    Star,
    Absolute(HostChoice, bool),
    Raw(String),
}

#[derive(Debug, Arbitrary)]
enum QueryKey {
    Profile,
    Duration,
    ProfileUpper,
    ProfileEncoded,
    Raw(String),
}

#[derive(Debug, Arbitrary)]
enum QueryValue {
    Ops,
    OtherProfile,
    Empty,
    Hours,
    Minutes,
    Seconds(u64),
    Zero,
    Huge,
    Raw(String),
}

#[derive(Debug, Arbitrary)]
enum QueryChoice {
    None,
    Empty,
    Pairs(Vec<(QueryKey, Option<QueryValue>)>),
    Raw(String),
}

#[derive(Debug, Arbitrary)]
enum Loopback {
    V4,
    Localhost,
    V6,
}

#[derive(Debug, Arbitrary)]
enum HostChoice {
    Right(Loopback),
    /// Right name and port, letters' case flipped by the mask bits.
    Cased(Loopback, u64),
    /// Right name, wrong port.
    WrongPort(Loopback, u16),
    /// No port.
    NoPort(Loopback),
    /// Right value with whitespace around it.
    Padded(Loopback, bool, bool),
    /// A rebinding attacker's name, with our port.
    Rebind,
    /// A prefix or an extension of a right value.
    Prefix(Loopback, u8),
    Suffix(Loopback, String),
    Raw(Vec<u8>),
}

#[derive(Debug, Arbitrary)]
enum AuthChoice {
    Right,
    Prefix(u8),
    Suffix(String),
    Cased(u64),
    Bearer,
    Padded(bool, bool),
    /// One character changed.
    Flip(u8, u8),
    Empty,
    Raw(Vec<u8>),
}

#[derive(Debug, Arbitrary)]
enum NameChoice {
    Host,
    Authorization,
    ContentType,
    ContentLength,
    XForwardedHost,
    Forwarded,
    Origin,
    Cookie,
    Raw(String),
}

#[derive(Debug, Arbitrary)]
struct Input {
    method: MethodChoice,
    path: PathChoice,
    query: QueryChoice,
    host: Option<HostChoice>,
    auth: Option<AuthChoice>,
    /// Extra headers, appended after `Host` and `Authorization` (a `Host`
    /// or `Authorization` here is a second value, or the only one).
    headers: Vec<(NameChoice, Vec<u8>)>,
    body: Vec<u8>,
}

fn loopback(l: &Loopback) -> String {
    match l {
        Loopback::V4 => format!("127.0.0.1:{PORT}"),
        Loopback::Localhost => format!("localhost:{PORT}"),
        Loopback::V6 => format!("[::1]:{PORT}"),
    }
}

fn flip_case(s: &str, mask: u64) -> String {
    s.chars()
        .enumerate()
        .map(|(i, c)| {
            if i < 64 && mask & (1 << i) != 0 {
                if c.is_ascii_lowercase() {
                    c.to_ascii_uppercase()
                } else {
                    c.to_ascii_lowercase()
                }
            } else {
                c
            }
        })
        .collect()
}

fn host_value(h: &HostChoice) -> Vec<u8> {
    match h {
        HostChoice::Right(l) => loopback(l).into_bytes(),
        HostChoice::Cased(l, mask) => flip_case(&loopback(l), *mask).into_bytes(),
        HostChoice::WrongPort(l, port) => {
            let name = loopback(l);
            let name = name.rsplit_once(':').map_or(name.as_str(), |(n, _)| n);
            format!("{name}:{port}").into_bytes()
        }
        HostChoice::NoPort(l) => {
            let name = loopback(l);
            name.rsplit_once(':')
                .map_or(name.as_str(), |(n, _)| n)
                .as_bytes()
                .to_vec()
        }
        HostChoice::Padded(l, front, back) => format!(
            "{}{}{}",
            if *front { " " } else { "" },
            loopback(l),
            if *back { "\t" } else { "" }
        )
        .into_bytes(),
        HostChoice::Rebind => format!("attacker.example:{PORT}").into_bytes(),
        HostChoice::Prefix(l, n) => {
            let v = loopback(l);
            v.as_bytes()[..usize::from(*n) % v.len()].to_vec()
        }
        HostChoice::Suffix(l, s) => format!("{}{s}", loopback(l)).into_bytes(),
        HostChoice::Raw(b) => b.clone(),
    }
}

fn auth_value(a: &AuthChoice) -> Vec<u8> {
    match a {
        AuthChoice::Right => TOKEN.as_bytes().to_vec(),
        AuthChoice::Prefix(n) => TOKEN.as_bytes()[..usize::from(*n) % TOKEN.len()].to_vec(),
        AuthChoice::Suffix(s) => format!("{TOKEN}{s}").into_bytes(),
        AuthChoice::Cased(mask) => flip_case(TOKEN, *mask).into_bytes(),
        AuthChoice::Bearer => format!("Bearer {TOKEN}").into_bytes(),
        AuthChoice::Padded(front, back) => format!(
            "{}{TOKEN}{}",
            if *front { " " } else { "" },
            if *back { " " } else { "" }
        )
        .into_bytes(),
        AuthChoice::Flip(at, to) => {
            let mut t = TOKEN.as_bytes().to_vec();
            let i = usize::from(*at) % t.len();
            t[i] = *to;
            t
        }
        AuthChoice::Empty => Vec::new(),
        AuthChoice::Raw(b) => b.clone(),
    }
}

fn query_string(q: &QueryChoice) -> Option<String> {
    match q {
        QueryChoice::None => None,
        QueryChoice::Empty => Some(String::new()),
        QueryChoice::Raw(s) => Some(s.clone()),
        QueryChoice::Pairs(pairs) => Some(
            pairs
                .iter()
                .take(8)
                .map(|(k, v)| {
                    let k = match k {
                        QueryKey::Profile => "profile",
                        QueryKey::Duration => "duration",
                        QueryKey::ProfileUpper => "Profile",
                        QueryKey::ProfileEncoded => "%70rofile",
                        QueryKey::Raw(s) => s,
                    };
                    let v = v.as_ref().map(|v| match v {
                        QueryValue::Ops => PROFILE.to_owned(),
                        QueryValue::OtherProfile => "prod".to_owned(),
                        QueryValue::Empty => String::new(),
                        QueryValue::Hours => "1h".to_owned(),
                        QueryValue::Minutes => "1h30m".to_owned(),
                        QueryValue::Seconds(s) => s.to_string(),
                        QueryValue::Zero => "0".to_owned(),
                        QueryValue::Huge => "18446744073709551616".to_owned(),
                        QueryValue::Raw(s) => s.clone(),
                    });
                    match v {
                        Some(v) => format!("{k}={v}"),
                        None => k.to_owned(),
                    }
                })
                .collect::<Vec<_>>()
                .join("&"),
        ),
    }
}

fn uri(input: &Input) -> String {
    let path = match &input.path {
        PathChoice::Root => "/".to_owned(),
        PathChoice::Profiles => "/profiles".to_owned(),
        PathChoice::ProfilesSlash => "/profiles/".to_owned(),
        PathChoice::DoubleSlash => "//".to_owned(),
        PathChoice::Upper => "/PROFILES".to_owned(),
        PathChoice::Encoded => "/%70rofiles".to_owned(),
        PathChoice::Empty => String::new(),
        PathChoice::Star => "*".to_owned(),
        PathChoice::Absolute(h, profiles) => format!(
            "http://{}/{}",
            String::from_utf8_lossy(&host_value(h)),
            if *profiles { "profiles" } else { "" }
        ),
        PathChoice::Raw(s) => s.clone(),
    };
    match query_string(&input.query) {
        Some(q) => format!("{path}?{q}"),
        None => path,
    }
}

fn header_name(n: &NameChoice) -> Option<HeaderName> {
    Some(match n {
        NameChoice::Host => header::HOST,
        NameChoice::Authorization => header::AUTHORIZATION,
        NameChoice::ContentType => header::CONTENT_TYPE,
        NameChoice::ContentLength => header::CONTENT_LENGTH,
        NameChoice::XForwardedHost => HeaderName::from_static("x-forwarded-host"),
        NameChoice::Forwarded => header::FORWARDED,
        NameChoice::Origin => header::ORIGIN,
        NameChoice::Cookie => header::COOKIE,
        NameChoice::Raw(s) => HeaderName::from_bytes(s.as_bytes()).ok()?,
    })
}

/// The request, or `None` when it is not a valid HTTP request.
fn request(input: &Input) -> Option<Request<Body>> {
    let method = match &input.method {
        MethodChoice::Get => Method::GET,
        MethodChoice::Post => Method::POST,
        MethodChoice::Put => Method::PUT,
        MethodChoice::Head => Method::HEAD,
        MethodChoice::Delete => Method::DELETE,
        MethodChoice::Options => Method::OPTIONS,
        MethodChoice::Patch => Method::PATCH,
        MethodChoice::Raw(b) => Method::from_bytes(b).ok()?,
    };
    let mut b = Request::builder().method(method).uri(uri(input));
    if let Some(h) = &input.host {
        b = b.header(header::HOST, HeaderValue::from_bytes(&host_value(h)).ok()?);
    }
    if let Some(a) = &input.auth {
        b = b.header(
            header::AUTHORIZATION,
            HeaderValue::from_bytes(&auth_value(a)).ok()?,
        );
    }
    for (name, value) in input.headers.iter().take(8) {
        b = b.header(header_name(name)?, HeaderValue::from_bytes(value).ok()?);
    }
    b.body(Body::from(input.body.clone())).ok()
}

// ------------------------------------------------------------- checking --

/// `%XX` and `+` decoded, as `application/x-www-form-urlencoded` does
/// (lossy, like axum's `Query`).
fn form_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                match std::str::from_utf8(&b[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                {
                    Some(v) => {
                        out.push(v);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Everything of the request an error message could echo, except the
/// `Authorization` values: the URI as sent and decoded, other header values.
fn echoable(uri: &str, headers: &HeaderMap) -> String {
    let mut s = format!("{uri}\n{}\n", form_decode(uri));
    for (name, value) in headers {
        if name != header::AUTHORIZATION {
            s.push_str(&String::from_utf8_lossy(value.as_bytes()));
            s.push('\n');
        }
    }
    s
}

fn first_str<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn header_is(headers: &HeaderMap, name: &HeaderName, want: &str) -> bool {
    headers
        .get(name)
        .is_some_and(|v| v.as_bytes() == want.as_bytes())
}

fn check(
    method: &Method,
    uri: &str,
    path: &str,
    query: Option<&str>,
    req_headers: &HeaderMap,
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
) {
    let text = String::from_utf8_lossy(body);
    let ctx = || {
        format!(
            "\nrequest: {method} {uri:?}\n  headers: {req_headers:?}\nresponse: {status}\n  headers: {headers:?}\n  body: {text}"
        )
    };

    let ours = |h: &str| {
        [
            format!("127.0.0.1:{PORT}"),
            format!("localhost:{PORT}"),
            format!("[::1]:{PORT}"),
        ]
        .iter()
        .any(|want| want.eq_ignore_ascii_case(h))
    };
    let authority = uri
        .parse::<axum::http::Uri>()
        .ok()
        .and_then(|u| u.authority().map(|a| a.as_str().to_owned()));
    let host_ok = req_headers.get_all(header::HOST).iter().count() == 1
        && first_str(req_headers, &header::HOST).is_some_and(ours)
        && authority.as_deref().is_none_or(ours);
    let token_ok = req_headers.get_all(header::AUTHORIZATION).iter().count() == 1
        && req_headers
            .get(header::AUTHORIZATION)
            .is_some_and(|v| v.as_bytes() == TOKEN.as_bytes());
    let authorized = host_ok && token_ok;
    let is_root = path == "/";
    let is_profiles = path == "/profiles";
    let route = is_root || is_profiles;
    let served = (is_root && [Method::GET, Method::POST].contains(method))
        || (is_profiles && *method == Method::GET);

    // Nothing secret leaks, and the token is never echoed.
    let echo = echoable(uri, req_headers);
    let mut response_text = text.clone().into_owned();
    for (name, value) in headers {
        response_text.push_str(&format!(
            "\n{name}: {}",
            String::from_utf8_lossy(value.as_bytes())
        ));
    }
    if !echo.contains(TOKEN) {
        assert!(
            !response_text.contains(TOKEN),
            "response echoes the token{}",
            ctx()
        );
    }
    if status != StatusCode::OK {
        for m in SECRET_MARKERS {
            if !echo.contains(m) {
                assert!(
                    !response_text.contains(m),
                    "a {status} carries credential material {m:?}{}",
                    ctx()
                );
            }
        }
    }

    if status.is_success() {
        assert!(
            authorized && served,
            "{status} without authorization (token ok: {token_ok}, host ok: {host_ok}, route served: {served}){}",
            ctx()
        );
        assert_eq!(status, StatusCode::OK, "unexpected success status{}", ctx());
        assert!(
            header_is(headers, &header::CONTENT_TYPE, "application/json")
                && header_is(headers, &header::CACHE_CONTROL, "no-store"),
            "200 without JSON content type or no-store{}",
            ctx()
        );
        if *method == Method::HEAD {
            assert!(body.is_empty(), "HEAD answered with a body{}", ctx());
        } else if is_root {
            let v: serde_json::Value = serde_json::from_slice(body)
                .unwrap_or_else(|e| panic!("200 not JSON: {e}{}", ctx()));
            for (key, prefix) in [
                ("AccessKeyId", "ASIAFAKE"),
                ("SecretAccessKey", "fake-secret-"),
                ("Token", "fake-token-"),
            ] {
                assert!(
                    v[key].as_str().is_some_and(|s| s.starts_with(prefix)),
                    "200 without {key}{}",
                    ctx()
                );
            }
            assert!(
                v["Expiration"].as_str().is_some(),
                "200 without Expiration{}",
                ctx()
            );
        } else {
            let v: serde_json::Value = serde_json::from_slice(body)
                .unwrap_or_else(|e| panic!("200 not JSON: {e}{}", ctx()));
            assert_eq!(v, serde_json::json!({ "profiles": [PROFILE] }), "{}", ctx());
        }
        return;
    }

    // Liveness: the success path is reachable.
    if authorized
        && is_root
        && [Method::GET, Method::POST].contains(method)
        && query.is_none_or(str::is_empty)
    {
        panic!("authorized request refused{}", ctx());
    }
    if authorized && is_profiles && *method == Method::GET {
        panic!("authorized /profiles refused{}", ctx());
    }

    if !authorized {
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "unauthorized request not refused with 403{}",
            ctx()
        );
    } else if !route {
        assert_eq!(status, StatusCode::NOT_FOUND, "unknown path{}", ctx());
    } else if !served {
        assert_eq!(
            status,
            StatusCode::METHOD_NOT_ALLOWED,
            "a route answered a method it does not serve with {status}{}",
            ctx()
        );
        assert!(
            headers.contains_key(header::ALLOW),
            "405 without Allow{}",
            ctx()
        );
    }

    // Every other refusal is a Sentinel JSON error.
    assert!(
        header_is(headers, &header::CONTENT_TYPE, "application/json")
            && header_is(headers, &header::CACHE_CONTROL, "no-store"),
        "{status} without JSON content type or no-store{}",
        ctx()
    );
    if *method == Method::HEAD {
        // axum strips the body of every HEAD answer.
        assert!(body.is_empty(), "HEAD answered with a body{}", ctx());
        return;
    }
    let v: serde_json::Value = serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("{status} body not JSON: {e}{}", ctx()));
    assert!(
        v["code"].as_str().is_some_and(|c| !c.is_empty())
            && v["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{status} without a string code and message{}",
        ctx()
    );
    if !authorized {
        assert_eq!(v["code"], "forbidden", "{}", ctx());
    }
    if authorized {
        assert_ne!(
            v["code"],
            "forbidden",
            "authorized request refused as forbidden{}",
            ctx()
        );
    }
}

fuzz_target!(|input: Input| {
    let Some(req) = request(&input) else {
        return;
    };
    let h = harness();
    let method = req.method().clone();
    let uri = req.uri().to_string();
    let path = req.uri().path().to_owned();
    let query = req.uri().query().map(str::to_owned);
    let req_headers = req.headers().clone();
    let router = router(h);
    let (status, headers, body) = h.rt.block_on(async move {
        let resp = match router.oneshot(req).await {
            Ok(r) => r,
            Err(never) => match never {},
        };
        let (parts, body) = resp.into_parts();
        let body = axum::body::to_bytes(body, MAX_BODY)
            .await
            .unwrap_or_else(|e| panic!("reading the response body: {e}"));
        (parts.status, parts.headers, body)
    });
    if std::env::var_os("SENTINEL_FUZZ_DEBUG").is_some() {
        eprintln!(
            "{method} {uri:?} host={:?} auth_ok={} -> {status} {}",
            req_headers.get(header::HOST),
            req_headers
                .get(header::AUTHORIZATION)
                .is_some_and(|v| v.as_bytes() == TOKEN.as_bytes()),
            String::from_utf8_lossy(&body)
        );
    }
    check(
        &method,
        &uri,
        &path,
        query.as_deref(),
        &req_headers,
        status,
        &headers,
        &body,
    );
});
