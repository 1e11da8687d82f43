//! The credential HTTP service (ARCHITECTURE.md): an axum [`Router`] that serves
//! container credentials (`AWS_CONTAINER_CREDENTIALS_FULL_URI`) through the
//! pipeline, re-checking policy and revocation on every request.
//!
//! The identity of the caller comes from an [`Authenticator`]: on a laptop
//! ([`LocalAuthenticator`]) a random token in `Authorization` and a loopback
//! `Host`, with the caller fixed when the server started; the Lambda TVM
//! plugs in its API Gateway authorizer context instead. Where a profile's
//! role lives comes from [`Targets`].

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use jiff::Timestamp;
use sentinel_policy::{Mode, PolicyStore};
use serde::Deserialize;
use subtle::ConstantTimeEq;

use crate::error::Error;
use crate::pipeline::{
    Authorization, Caller, DEFAULT_SERVER_DURATION, Grant, Outcome, Pipeline, Target, VendRequest,
};
use crate::vendor::Credentials;
use crate::wire::{ErrorBody, codes};

/// SDKs refresh container credentials this long before they expire; a
/// cached credential with less left is never served.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(15 * 60);

/// At most this many credentials are cached (one per user, profile, role,
/// grant and requested duration).
pub const MAX_CACHED: usize = 64;

/// Why a request was refused before the pipeline ran.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// No or a wrong token.
    #[error("missing or wrong authorization token")]
    BadToken,
    /// A `Host` header that is not this server (DNS rebinding).
    #[error("Host {0:?} is not this credential server")]
    BadHost(String),
    /// The frontend could not establish who is calling.
    #[error("{0}")]
    Unidentified(String),
}

/// Establishes who is calling, from a trusted source only.
#[async_trait]
pub trait Authenticator: Send + Sync + fmt::Debug + 'static {
    /// The caller of the request with these parts, or why it is refused
    /// (HTTP 403, no credentials).
    async fn authenticate(&self, parts: &Parts) -> Result<Caller, AuthError>;
}

/// The local server's check (`sentinel exec --server`): the `Authorization`
/// header must equal the random token handed to the child process
/// (compared in constant time), and `Host` must name this server on a
/// loopback name (`127.0.0.1:PORT`, `localhost:PORT`, `[::1]:PORT`), which
/// defeats DNS rebinding. The caller is the one identified at startup.
pub struct LocalAuthenticator {
    token: String,
    hosts: [String; 3],
    caller: Caller,
}

impl fmt::Debug for LocalAuthenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalAuthenticator")
            .field("token", &"<redacted>")
            .field("hosts", &self.hosts)
            .field("caller", &self.caller)
            .finish()
    }
}

impl LocalAuthenticator {
    /// Accepts `token` for `caller` on `port`.
    pub fn new(token: impl Into<String>, port: u16, caller: Caller) -> Self {
        Self {
            token: token.into(),
            hosts: [
                format!("127.0.0.1:{port}"),
                format!("localhost:{port}"),
                format!("[::1]:{port}"),
            ],
            caller,
        }
    }
}

/// A fresh token for [`LocalAuthenticator`]: 256 random bits in hex.
pub fn new_token() -> Result<String, Error> {
    Ok(format!(
        "{}{}",
        sentinel_store::new_id()?,
        sentinel_store::new_id()?
    ))
}

#[async_trait]
impl Authenticator for LocalAuthenticator {
    async fn authenticate(&self, parts: &Parts) -> Result<Caller, AuthError> {
        // Exactly one Host, naming this server; a request in absolute form
        // (`GET http://host/`) must name it there too.
        let host = single(&parts.headers, header::HOST)
            .and_then(|h| h.to_str().ok())
            .ok_or_else(|| AuthError::BadHost(describe_hosts(&parts.headers)))?;
        let ours = |h: &str| self.hosts.iter().any(|ok| ok.eq_ignore_ascii_case(h));
        if !ours(host) {
            return Err(AuthError::BadHost(host.chars().take(100).collect()));
        }
        if let Some(authority) = parts.uri.authority()
            && !ours(authority.as_str())
        {
            return Err(AuthError::BadHost(
                authority.as_str().chars().take(100).collect(),
            ));
        }
        let given = single(&parts.headers, header::AUTHORIZATION)
            .map(HeaderValue::as_bytes)
            .unwrap_or_default();
        if !bool::from(given.ct_eq(self.token.as_bytes())) || given.is_empty() {
            return Err(AuthError::BadToken);
        }
        Ok(self.caller.clone())
    }
}

/// The header's value when it appears exactly once.
fn single(headers: &HeaderMap, name: header::HeaderName) -> Option<&HeaderValue> {
    let mut values = headers.get_all(name).iter();
    match (values.next(), values.next()) {
        (Some(v), None) => Some(v),
        _ => None,
    }
}

/// What was wrong with the Host headers, for [`AuthError::BadHost`].
fn describe_hosts(headers: &HeaderMap) -> String {
    match headers.get_all(header::HOST).iter().count() {
        0 => "(none)".to_owned(),
        1 => "(not text)".to_owned(),
        n => format!("({n} Host headers)"),
    }
}

/// Where each profile's role lives.
#[async_trait]
pub trait Targets: Send + Sync + fmt::Debug + 'static {
    /// The role behind `profile`; `None` when the profile is not served.
    async fn target(&self, profile: &str) -> Result<Option<Target>, Error>;
    /// The profiles served (for `GET /profiles`).
    async fn profiles(&self) -> Result<Vec<String>, Error>;
}

/// A fixed set of profiles (the local server serves the one it was started
/// for, read from `~/.aws/config`).
#[derive(Debug, Clone, Default)]
pub struct FixedTargets(BTreeMap<String, Target>);

impl FixedTargets {
    /// Serves `profile` with `target`.
    #[must_use]
    pub fn with(mut self, profile: impl Into<String>, target: Target) -> Self {
        self.0.insert(profile.into(), target);
        self
    }
}

#[async_trait]
impl Targets for FixedTargets {
    async fn target(&self, profile: &str) -> Result<Option<Target>, Error> {
        Ok(self.0.get(profile).cloned())
    }
    async fn profiles(&self) -> Result<Vec<String>, Error> {
        Ok(self.0.keys().cloned().collect())
    }
}

/// The policy's `profiles` section (the TVM has no `~/.aws/config`).
#[derive(Debug, Clone)]
pub struct PolicyTargets(pub Arc<dyn PolicyStore>);

#[async_trait]
impl Targets for PolicyTargets {
    async fn target(&self, profile: &str) -> Result<Option<Target>, Error> {
        let policy = match self.0.get(profile).await {
            Ok(p) => p,
            Err(sentinel_policy::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        Ok(policy.profile(profile).map(|p| Target {
            role_arn: p.role_arn.clone(),
            external_id: p.external_id.clone(),
            default_duration: p.duration.map(|d| d.get()),
            role_chaining: true,
            mfa: None,
        }))
    }
    async fn profiles(&self) -> Result<Vec<String>, Error> {
        Ok(self.0.list().await?)
    }
}

/// How the service behaves.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ServiceConfig {
    /// Serve only this profile; requests need not name it (the local
    /// server). `None`: every request names its `profile` (the TVM).
    pub profile: Option<String>,
    /// The tracked server session all requests belong to.
    pub session_id: Option<String>,
    /// Credential lifetime asked for when a request names none, and the
    /// longest a request may ask for: a `duration` in the query can only
    /// shorten it. `None`: [`DEFAULT_SERVER_DURATION`].
    pub duration: Option<Duration>,
}

/// The credential service: pipeline, authenticator, targets and a cache.
#[derive(Debug)]
pub struct CredentialService {
    pipeline: Pipeline,
    auth: Arc<dyn Authenticator>,
    targets: Arc<dyn Targets>,
    config: ServiceConfig,
    cache: Mutex<HashMap<CacheKey, Cached>>,
}

/// Credentials kept for reuse, with the SourceIdentity they carry.
#[derive(Debug, Clone)]
struct Cached {
    credentials: Credentials,
    source_identity: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct CacheKey {
    caller_arn: String,
    user: String,
    profile: String,
    role_arn: String,
    grant: String,
    duration: Option<Duration>,
}

impl CredentialService {
    /// A service vending through `pipeline`.
    pub fn new(
        pipeline: Pipeline,
        auth: Arc<dyn Authenticator>,
        targets: Arc<dyn Targets>,
        config: ServiceConfig,
    ) -> Self {
        Self {
            pipeline,
            auth,
            targets,
            config,
            cache: Mutex::default(),
        }
    }

    /// The axum router: `GET|POST /` (query `profile`, `duration` like
    /// `1h` or seconds) answers container credentials, `GET /profiles`
    /// lists the profiles. Every answer, refusals, unknown paths and
    /// methods included, is JSON `{"code", "message"}`
    /// ([`ErrorBody`]), and nothing but
    /// a 403 is said to a caller that is not authenticated.
    pub fn router(self: Arc<Self>) -> Router {
        Router::new()
            .route(
                "/",
                get(credentials).post(credentials).head(method_not_allowed),
            )
            .route("/profiles", get(profiles).head(method_not_allowed))
            .fallback(not_found)
            .method_not_allowed_fallback(method_not_allowed)
            .with_state(self)
    }

    fn cached(&self, key: &CacheKey, now: Timestamp) -> Option<Cached> {
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        match cache.get(key) {
            Some(c) if c.credentials.remaining(now) > REFRESH_MARGIN => Some(c.clone()),
            Some(_) => {
                cache.remove(key);
                None
            }
            None => None,
        }
    }

    /// Caches `c`, first dropping what may no longer be served and, at
    /// [`MAX_CACHED`] entries, the one expiring first: a caller asking for
    /// ever new durations cannot grow the cache without bound.
    fn remember(&self, key: CacheKey, c: Cached, now: Timestamp) {
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        if cache.len() >= MAX_CACHED {
            cache.retain(|_, c| c.credentials.remaining(now) > REFRESH_MARGIN);
        }
        if cache.len() >= MAX_CACHED
            && let Some(first) = cache
                .iter()
                .min_by_key(|(_, c)| c.credentials.expiration)
                .map(|(k, _)| k.clone())
        {
            cache.remove(&first);
        }
        cache.insert(key, c);
    }

    /// Logs a refusal that happened before the pipeline (authentication,
    /// a malformed query): every outcome leaves a line. A log that cannot
    /// be written turns the answer into an internal error.
    async fn refused(&self, profile: Option<&str>, error: ApiError) -> ApiError {
        let reason = error.body.message.clone();
        self.log_refusal(profile, &reason, error).await
    }

    /// [`refused`](Self::refused) for a failed authentication. The log
    /// says what failed but repeats nothing the unauthenticated client
    /// sent (a `Host` value could carry anything).
    async fn unauthenticated(&self, e: AuthError) -> ApiError {
        let reason = match &e {
            AuthError::BadToken => e.to_string(),
            AuthError::BadHost(_) => "Host header is not this credential server".to_owned(),
            AuthError::Unidentified(_) => e.to_string(),
        };
        self.log_refusal(
            None,
            &format!("not authenticated: {reason}"),
            ApiError::auth(e),
        )
        .await
    }

    async fn log_refusal(&self, profile: Option<&str>, reason: &str, error: ApiError) -> ApiError {
        let profile = profile.or(self.config.profile.as_deref()).unwrap_or("");
        match self
            .pipeline
            .log_refused(profile, Mode::Server, reason)
            .await
        {
            Ok(()) => error,
            Err(e) => ApiError::internal(e),
        }
    }

    /// Answers one request.
    async fn serve(&self, parts: &Parts) -> Result<String, ApiError> {
        let caller = match self.auth.authenticate(parts).await {
            Ok(c) => c,
            Err(e) => return Err(self.unauthenticated(e).await),
        };
        // Only now, for an authenticated caller, read the query.
        let q = match Query::<CredentialsQuery>::try_from_uri(&parts.uri) {
            Ok(Query(q)) => q,
            Err(e) => {
                let error = ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "bad_query",
                    format!("{}; use ?profile=NAME&duration=1h", e.body_text()),
                );
                return Err(self.refused(None, error).await);
            }
        };
        let profile = match (&self.config.profile, q.profile) {
            (Some(fixed), Some(asked)) if *fixed != asked => {
                let error = ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "wrong_profile",
                    format!("this server serves profile \"{fixed}\" only"),
                );
                return Err(self.refused(None, error).await);
            }
            (Some(fixed), _) => fixed.clone(),
            (None, Some(asked)) => asked,
            (None, None) => {
                let error = ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "missing_profile",
                    "name the profile: ?profile=NAME",
                );
                return Err(self.refused(None, error).await);
            }
        };
        // The server's lifetime is the longest there is: a client (the
        // child process) may ask for shorter credentials, never longer.
        let longest = self.config.duration.unwrap_or(DEFAULT_SERVER_DURATION);
        let duration = match q.duration.as_deref() {
            None => longest,
            Some(d) => match parse_duration(d) {
                Some(d) => d.min(longest),
                None => {
                    let error = ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "bad_duration",
                        format!("duration {d:?} is not a duration; use seconds or e.g. 1h, 30m"),
                    );
                    return Err(self.refused(Some(&profile), error).await);
                }
            },
        };
        let duration = Some(duration);
        let target = self
            .targets
            .target(&profile)
            .await
            .map_err(ApiError::internal)?
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::NOT_FOUND,
                    "unknown_profile",
                    format!("profile \"{profile}\" is not served here"),
                )
            })?;
        let req = VendRequest {
            caller,
            profile,
            mode: Mode::Server,
            duration,
            target,
            session_id: self.config.session_id.clone(),
        };
        let granted = match self
            .pipeline
            .authorize(&req)
            .await
            .map_err(ApiError::internal)?
        {
            Authorization::Granted(g) => g,
            Authorization::Denied(d) => return Err(ApiError::denied(&d)),
        };
        let now = Timestamp::now();
        let key = CacheKey {
            caller_arn: req.caller.arn().to_owned(),
            user: granted.user.to_string(),
            profile: req.profile.clone(),
            role_arn: req.target.role_arn.clone(),
            grant: match &granted.grant {
                Grant::Direct => "direct".into(),
                Grant::Approval(id) => format!("approval:{id}"),
                Grant::BreakGlass(id) => format!("breakglass:{id}"),
            },
            duration,
        };
        let creds = match self.cached(&key, now) {
            Some(c) => {
                self.pipeline
                    .log_cached(&req, &granted, &c.source_identity)
                    .await
                    .map_err(ApiError::internal)?;
                c.credentials
            }
            None => match self
                .pipeline
                .issue(&req, granted)
                .await
                .map_err(ApiError::internal)?
            {
                Outcome::Issued(issued) => {
                    let cached = Cached {
                        credentials: issued.credentials.clone(),
                        source_identity: issued.source_identity,
                    };
                    self.remember(key, cached, now);
                    issued.credentials
                }
                Outcome::Denied(d) => return Err(ApiError::denied(&d)),
            },
        };
        creds
            .to_container_json(now)
            .map_err(|e| ApiError::internal(Error::from(e)))
    }
}

#[derive(Debug, Deserialize)]
struct CredentialsQuery {
    profile: Option<String>,
    duration: Option<String>,
}

/// Seconds (`3600`) or a policy duration (`1h`, `30m`, `1h30m`).
fn parse_duration(s: &str) -> Option<Duration> {
    let d = match s.parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs),
        Err(_) => s.parse::<sentinel_policy::PolicyDuration>().ok()?.get(),
    };
    (!d.is_zero()).then_some(d)
}

async fn credentials(State(svc): State<Arc<CredentialService>>, parts: Parts) -> Response {
    match svc.serve(&parts).await {
        Ok(body) => json_response(StatusCode::OK, body),
        Err(e) => e.into_response(),
    }
}

async fn profiles(State(svc): State<Arc<CredentialService>>, parts: Parts) -> Response {
    if let Err(e) = svc.auth.authenticate(&parts).await {
        return svc.unauthenticated(e).await.into_response();
    }
    match svc.targets.profiles().await {
        Ok(list) => json_response(
            StatusCode::OK,
            serde_json::json!({ "profiles": list }).to_string(),
        ),
        Err(e) => ApiError::internal(e).into_response(),
    }
}

/// An unknown path: 404 for an authenticated caller, else 403.
async fn not_found(State(svc): State<Arc<CredentialService>>, parts: Parts) -> Response {
    refuse(
        &svc,
        &parts,
        ApiError::new(
            StatusCode::NOT_FOUND,
            codes::NOT_FOUND,
            "no such path; credentials are at / and the profiles at /profiles",
        ),
    )
    .await
}

/// A method a path does not serve (HEAD included: it would issue
/// credentials only to drop them): 405 for an authenticated caller, else
/// 403.
async fn method_not_allowed(State(svc): State<Arc<CredentialService>>, parts: Parts) -> Response {
    let mut response = refuse(
        &svc,
        &parts,
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            codes::METHOD_NOT_ALLOWED,
            format!("{} is not served here; use GET", parts.method),
        ),
    )
    .await;
    if response.status() == StatusCode::METHOD_NOT_ALLOWED {
        let allow = if parts.uri.path() == "/" {
            "GET, POST"
        } else {
            "GET"
        };
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static(allow));
    }
    response
}

/// `error` for an authenticated caller; the authentication failure
/// otherwise.
async fn refuse(svc: &CredentialService, parts: &Parts, error: ApiError) -> Response {
    match svc.auth.authenticate(parts).await {
        Ok(_) => error.into_response(),
        Err(e) => svc.unauthenticated(e).await.into_response(),
    }
}

fn json_response(status: StatusCode, body: String) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    (status, headers, body).into_response()
}

/// An error answer: its status and the JSON [`ErrorBody`] (the wire
/// contract shared with the `client` module).
#[derive(Debug)]
struct ApiError {
    status: StatusCode,
    body: ErrorBody,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            body: ErrorBody::new(code, message),
        }
    }

    fn auth(e: AuthError) -> Self {
        Self::new(StatusCode::FORBIDDEN, codes::FORBIDDEN, e.to_string())
    }

    fn denied(d: &crate::pipeline::Denial) -> Self {
        Self {
            status: StatusCode::FORBIDDEN,
            body: ErrorBody::denied(d),
        }
    }

    fn internal(e: Error) -> Self {
        let (status, code) = match &e {
            Error::Vend(_) => (StatusCode::BAD_GATEWAY, codes::STS_FAILED),
            Error::Policy(sentinel_policy::Error::NotFound { .. }) => {
                (StatusCode::NOT_FOUND, codes::NO_POLICY)
            }
            _ => (StatusCode::INTERNAL_SERVER_ERROR, codes::INTERNAL),
        };
        Self::new(status, code, e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::to_string(&self.body).unwrap_or_else(|_| {
            r#"{"code":"internal","message":"could not encode the error"}"#.to_owned()
        });
        json_response(self.status, body)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("3600"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("15m"), Some(Duration::from_secs(900)));
        assert_eq!(parse_duration("soon"), None);
        assert_eq!(parse_duration("0s"), None);
    }

    #[test]
    fn tokens_are_long_and_random() {
        let a = new_token().unwrap();
        assert_eq!(a.len(), 64);
        assert_ne!(a, new_token().unwrap());
    }
}
