//! Turning a decision into credentials: the [`Vendor`] trait, the STS
//! backend and the credential output formats.

use std::fmt;
#[cfg(any(test, feature = "test-util"))]
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
#[cfg(feature = "sts")]
use aws_sdk_sts::error::{DisplayErrorContext, ProvideErrorMetadata};
#[cfg(feature = "sts")]
use aws_sdk_sts::types::Tag;
use jiff::Timestamp;
#[cfg(feature = "sts")]
use sentinel_store::aws::{EndpointRecorder, no_answer};
use serde::Serialize;

/// STS limits on an assumed-role session: at least 15 minutes.
pub const MIN_SESSION_DURATION: Duration = Duration::from_secs(900);
/// At most 12 hours (the role's own `MaxSessionDuration` may be lower).
pub const MAX_SESSION_DURATION: Duration = Duration::from_secs(43_200);
/// Role chaining (base credentials that are themselves a role session)
/// limits sessions to 1 hour.
pub const MAX_CHAINED_DURATION: Duration = Duration::from_secs(3600);

/// What to ask STS for.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AssumeRoleRequest {
    /// The role.
    pub role_arn: String,
    /// `RoleSessionName`.
    pub role_session_name: String,
    /// `SourceIdentity`: the person, stamped on the session.
    pub source_identity: String,
    /// `ExternalId` the trust policy requires (kept out of `Debug`).
    pub external_id: Option<String>,
    /// `DurationSeconds`.
    pub duration: Duration,
    /// Session tags (`SentinelSessionID` when the session is tracked).
    pub tags: Vec<(String, String)>,
    /// MFA device serial and the current code, when the profile needs MFA.
    pub mfa: Option<(String, String)>,
}

impl AssumeRoleRequest {
    /// A request for `role_arn` as `source_identity`.
    pub fn new(
        role_arn: impl Into<String>,
        role_session_name: impl Into<String>,
        source_identity: impl Into<String>,
        duration: Duration,
    ) -> Self {
        Self {
            role_arn: role_arn.into(),
            role_session_name: role_session_name.into(),
            source_identity: source_identity.into(),
            external_id: None,
            duration,
            tags: Vec::new(),
            mfa: None,
        }
    }

    /// Sets the external id.
    #[must_use]
    pub fn external_id(mut self, id: Option<String>) -> Self {
        self.external_id = id;
        self
    }

    /// Adds a session tag.
    #[must_use]
    pub fn tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.tags.push((key.into(), value.into()));
        self
    }

    /// Sets the MFA serial and code.
    #[must_use]
    pub fn mfa(mut self, serial: impl Into<String>, code: impl Into<String>) -> Self {
        self.mfa = Some((serial.into(), code.into()));
        self
    }
}

impl fmt::Debug for AssumeRoleRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AssumeRoleRequest")
            .field("role_arn", &self.role_arn)
            .field("role_session_name", &self.role_session_name)
            .field("source_identity", &self.source_identity)
            .field(
                "external_id",
                &self.external_id.as_ref().map(|_| "<redacted>"),
            )
            .field("duration", &self.duration)
            .field("tags", &self.tags)
            .field(
                "mfa",
                &self.mfa.as_ref().map(|(serial, _)| (serial, "<redacted>")),
            )
            .finish()
    }
}

/// Temporary AWS credentials. `Debug` shows only the access key id.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// Access key id (`ASIA...`).
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: String,
    /// Session token.
    pub session_token: String,
    /// When they stop working.
    pub expiration: Timestamp,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("session_token", &"<redacted>")
            .field("expiration", &self.expiration)
            .finish()
    }
}

/// The `credential_process` output (AWS CLI and SDKs).
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ProcessJson<'a> {
    version: u8,
    access_key_id: &'a str,
    secret_access_key: &'a str,
    session_token: &'a str,
    expiration: String,
}

impl Credentials {
    /// Time left at `now` (zero when expired).
    pub fn remaining(&self, now: Timestamp) -> Duration {
        self.expiration
            .duration_since(now)
            .try_into()
            .unwrap_or(Duration::ZERO)
    }

    fn expiration_utc(&self) -> String {
        self.expiration.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
    }

    fn check_fresh(&self, now: Timestamp) -> Result<(), VendError> {
        if self.expiration <= now {
            return Err(VendError::Expired {
                expiration: self.expiration,
            });
        }
        Ok(())
    }

    /// The JSON a `credential_process` prints: `Version` 1, the keys and
    /// `Expiration` in RFC 3339 UTC. Expired credentials are refused
    /// (botocore rejects them; the Rust SDK would use them).
    pub fn to_credential_process_json(&self, now: Timestamp) -> Result<String, VendError> {
        self.check_fresh(now)?;
        serde_json::to_string(&ProcessJson {
            version: 1,
            access_key_id: &self.access_key_id,
            secret_access_key: &self.secret_access_key,
            session_token: &self.session_token,
            expiration: self.expiration_utc(),
        })
        .map_err(|e| VendError::Backend(format!("encoding credentials: {e}")))
    }

    /// The JSON a container credential endpoint serves
    /// ([`ContainerCredentials`](crate::wire::ContainerCredentials): `Token`,
    /// not `SessionToken`). Expired credentials are refused.
    pub fn to_container_json(&self, now: Timestamp) -> Result<String, VendError> {
        self.check_fresh(now)?;
        serde_json::to_string(&crate::wire::ContainerCredentials::of(self))
            .map_err(|e| VendError::Backend(format!("encoding credentials: {e}")))
    }
}

/// Why no credentials were vended.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum VendError {
    /// STS refused to let the base credentials assume the role.
    #[error(
        "STS denied AssumeRole on {role_arn}: {message}; the role's trust policy must trust your base identity and allow sts:AssumeRole, sts:SetSourceIdentity and sts:TagSession"
    )]
    AccessDenied {
        /// The role.
        role_arn: String,
        /// What STS said.
        message: String,
    },
    /// STS is throttling.
    #[error("STS is throttling AssumeRole on {role_arn}; retry in a few seconds")]
    Throttled {
        /// The role.
        role_arn: String,
    },
    /// The base credentials have expired.
    #[error(
        "the base AWS credentials have expired ({message}); refresh them (e.g. `aws sso login`) and retry"
    )]
    ExpiredBaseCredentials {
        /// What STS said.
        message: String,
    },
    /// STS rejected a parameter (duration over the role's maximum, ...).
    #[error("STS rejected AssumeRole on {role_arn}: {message}")]
    Invalid {
        /// The role.
        role_arn: String,
        /// What STS said.
        message: String,
    },
    /// STS answered with credentials that had already expired.
    #[error("the credentials expired at {expiration}; request new ones")]
    Expired {
        /// When they expired.
        expiration: Timestamp,
    },
    /// STS did not answer within the configured limits (the message names
    /// the endpoint and the limit); nothing was issued.
    #[error("AssumeRole failed: {0}; no credentials were issued")]
    NoAnswer(String),
    /// Anything else (network, no base credentials, ...).
    #[error("AssumeRole failed: {0}")]
    Backend(String),
}

/// Something that turns an [`AssumeRoleRequest`] into credentials.
#[async_trait]
pub trait Vendor: Send + Sync + fmt::Debug + 'static {
    /// Assumes the role.
    async fn assume_role(&self, request: &AssumeRoleRequest) -> Result<Credentials, VendError>;
}

/// The real thing: STS `AssumeRole` with the base credentials of the
/// client.
#[cfg(feature = "sts")]
#[derive(Debug, Clone)]
pub struct StsVendor {
    client: aws_sdk_sts::Client,
    endpoint: EndpointRecorder,
}

#[cfg(feature = "sts")]
impl StsVendor {
    /// Vends through `client` (built by the caller; this never loads AWS
    /// configuration). The client keeps its configuration, timeouts
    /// included; a timeout names the endpoint that did not answer.
    pub fn new(client: aws_sdk_sts::Client) -> Self {
        let (client, endpoint) = recording(client);
        Self { client, endpoint }
    }
}

/// `client` with an [`EndpointRecorder`] added, and the recorder.
#[cfg(feature = "sts")]
pub(crate) fn recording(client: aws_sdk_sts::Client) -> (aws_sdk_sts::Client, EndpointRecorder) {
    let endpoint = EndpointRecorder::new();
    let client = aws_sdk_sts::Client::from_conf(
        client
            .config()
            .to_builder()
            .interceptor(endpoint.clone())
            .build(),
    );
    (client, endpoint)
}

#[cfg(feature = "sts")]
#[async_trait]
impl Vendor for StsVendor {
    async fn assume_role(&self, r: &AssumeRoleRequest) -> Result<Credentials, VendError> {
        let mut req = self
            .client
            .assume_role()
            .role_arn(&r.role_arn)
            .role_session_name(&r.role_session_name)
            .source_identity(&r.source_identity)
            .duration_seconds(i32::try_from(r.duration.as_secs()).unwrap_or(i32::MAX))
            .set_external_id(r.external_id.clone());
        for (k, v) in &r.tags {
            let tag = Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(|e| VendError::Backend(e.to_string()))?;
            req = req.tags(tag);
        }
        if let Some((serial, code)) = &r.mfa {
            req = req.serial_number(serial).token_code(code);
        }
        let out = req.send().await.map_err(|e| {
            if let Some(m) = no_answer("STS", &self.endpoint, &e) {
                return VendError::NoAnswer(m);
            }
            let message = e.message().unwrap_or_default().to_owned();
            match e.code() {
                Some("AccessDenied" | "AccessDeniedException") => VendError::AccessDenied {
                    role_arn: r.role_arn.clone(),
                    message,
                },
                Some("Throttling" | "ThrottlingException" | "RequestLimitExceeded") => {
                    VendError::Throttled {
                        role_arn: r.role_arn.clone(),
                    }
                }
                Some("ExpiredToken" | "ExpiredTokenException") => {
                    VendError::ExpiredBaseCredentials { message }
                }
                Some("ValidationError" | "MalformedPolicyDocument" | "RegionDisabledException") => {
                    VendError::Invalid {
                        role_arn: r.role_arn.clone(),
                        message,
                    }
                }
                _ => VendError::Backend(DisplayErrorContext(&e).to_string()),
            }
        })?;
        let c = out
            .credentials()
            .ok_or_else(|| VendError::Backend("STS returned no credentials".into()))?;
        let expiration = Timestamp::from_second(c.expiration().secs())
            .map_err(|e| VendError::Backend(format!("STS returned a bad expiration: {e}")))?;
        Ok(Credentials {
            access_key_id: c.access_key_id().to_owned(),
            secret_access_key: c.secret_access_key().to_owned(),
            session_token: c.session_token().to_owned(),
            expiration,
        })
    }
}

/// STS limit on a `GetSessionToken` session of an IAM user: 36 hours (the
/// root user gets at most 1 hour; STS shortens that itself).
pub const MAX_MFA_SESSION_DURATION: Duration = Duration::from_secs(129_600);

/// Why STS `GetSessionToken` gave no MFA session.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum MfaSessionError {
    /// STS did not accept the MFA code for the device: wrong, expired or
    /// already used (each code works once), or a serial that is not the
    /// caller's device.
    #[error("STS did not accept the MFA code for {serial}: {message}")]
    WrongCode {
        /// The MFA device.
        serial: String,
        /// What STS said.
        message: String,
    },
    /// STS is throttling.
    #[error("STS is throttling GetSessionToken; retry in a few seconds")]
    Throttled,
    /// The base identity may not call `GetSessionToken` (a role session or
    /// a federated user, or a policy that denies `sts:GetSessionToken`).
    #[error("STS denied GetSessionToken: {message}")]
    AccessDenied {
        /// What STS said.
        message: String,
    },
    /// The base credentials have expired.
    #[error("the base AWS credentials have expired ({message}); refresh them and retry")]
    ExpiredBaseCredentials {
        /// What STS said.
        message: String,
    },
    /// Anything else (network, no base credentials, a rejected parameter).
    #[error("GetSessionToken failed: {0}")]
    Backend(String),
}

/// Exchanges one MFA code for an MFA session: STS `GetSessionToken` with
/// `SerialNumber` and `TokenCode`, called with the base credentials of
/// `client` (an IAM user's keys; STS refuses role sessions).
///
/// The session's credentials carry the MFA context: roles assumed with
/// them satisfy `aws:MultiFactorAuthPresent` without sending a code again,
/// so a long-running credential server can re-issue role credentials
/// without reusing a one-time code (which STS refuses). `duration` is
/// clamped to what STS allows ([`MIN_SESSION_DURATION`] to
/// [`MAX_MFA_SESSION_DURATION`]).
#[cfg(feature = "sts")]
pub async fn mfa_session(
    client: &aws_sdk_sts::Client,
    serial: &str,
    code: &str,
    duration: Duration,
) -> Result<Credentials, MfaSessionError> {
    let duration = mfa_session_duration(duration);
    let (client, endpoint) = recording(client.clone());
    let out = client
        .get_session_token()
        .serial_number(serial)
        .token_code(code)
        .duration_seconds(i32::try_from(duration.as_secs()).unwrap_or(i32::MAX))
        .send()
        .await
        .map_err(|e| {
            if let Some(m) = no_answer("STS", &endpoint, &e) {
                return MfaSessionError::Backend(m);
            }
            let message = e.message().unwrap_or_default().to_owned();
            match e.code() {
                Some("AccessDenied" | "AccessDeniedException")
                    if message.contains("MultiFactorAuthentication") =>
                {
                    MfaSessionError::WrongCode {
                        serial: serial.to_owned(),
                        message,
                    }
                }
                Some("ValidationError") if message.contains("tokenCode") => {
                    MfaSessionError::WrongCode {
                        serial: serial.to_owned(),
                        message,
                    }
                }
                Some("AccessDenied" | "AccessDeniedException") => {
                    MfaSessionError::AccessDenied { message }
                }
                Some("Throttling" | "ThrottlingException" | "RequestLimitExceeded") => {
                    MfaSessionError::Throttled
                }
                Some("ExpiredToken" | "ExpiredTokenException") => {
                    MfaSessionError::ExpiredBaseCredentials { message }
                }
                _ => MfaSessionError::Backend(DisplayErrorContext(&e).to_string()),
            }
        })?;
    let c = out
        .credentials()
        .ok_or_else(|| MfaSessionError::Backend("STS returned no credentials".into()))?;
    let expiration = Timestamp::from_second(c.expiration().secs())
        .map_err(|e| MfaSessionError::Backend(format!("STS returned a bad expiration: {e}")))?;
    Ok(Credentials {
        access_key_id: c.access_key_id().to_owned(),
        secret_access_key: c.secret_access_key().to_owned(),
        session_token: c.session_token().to_owned(),
        expiration,
    })
}

/// The `DurationSeconds` `mfa_session` (`sts` feature) asks for:
/// `requested`, at least [`MIN_SESSION_DURATION`], at most
/// [`MAX_MFA_SESSION_DURATION`].
pub fn mfa_session_duration(requested: Duration) -> Duration {
    requested.clamp(MIN_SESSION_DURATION, MAX_MFA_SESSION_DURATION)
}

/// A deterministic fake for tests: answers every request with credentials
/// valid for the requested duration from the given clock time and records
/// what it was asked. Can be told to fail.
#[cfg(any(test, feature = "test-util"))]
#[derive(Debug, Clone, Default)]
pub struct FakeVendor {
    requests: Arc<Mutex<Vec<AssumeRoleRequest>>>,
    fail: Arc<Mutex<Option<VendError>>>,
    now: Arc<Mutex<Option<Timestamp>>>,
}

#[cfg(any(test, feature = "test-util"))]
impl FakeVendor {
    /// A fake that always succeeds.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<AssumeRoleRequest> {
        self.requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Makes every following call fail with `e` (`None` to succeed again).
    pub fn fail_with(&self, e: Option<VendError>) {
        *self.fail.lock().unwrap_or_else(PoisonError::into_inner) = e;
    }

    /// Pins the time credentials are issued at (default: the system clock).
    pub fn at(&self, now: Timestamp) {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner) = Some(now);
    }
}

#[cfg(any(test, feature = "test-util"))]
#[async_trait]
impl Vendor for FakeVendor {
    async fn assume_role(&self, r: &AssumeRoleRequest) -> Result<Credentials, VendError> {
        self.requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(r.clone());
        if let Some(e) = self
            .fail
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
        {
            return Err(e);
        }
        let now = self
            .now
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .unwrap_or_else(Timestamp::now);
        let n = self
            .requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len();
        let span = jiff::SignedDuration::try_from(r.duration).unwrap_or(jiff::SignedDuration::ZERO);
        Ok(Credentials {
            access_key_id: format!("ASIAFAKE{n:012}"),
            secret_access_key: format!("fake-secret-{n}"),
            session_token: format!("fake-token-{n}"),
            expiration: now.checked_add(span).unwrap_or(now),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn creds(exp: &str) -> Credentials {
        Credentials {
            access_key_id: "ASIAEXAMPLE".into(),
            secret_access_key: "very-secret".into(),
            session_token: "token-secret".into(),
            expiration: exp.parse().unwrap(),
        }
    }

    #[test]
    fn formats() {
        let now: Timestamp = "2026-03-02T09:00:00Z".parse().unwrap();
        let c = creds("2026-03-02T10:00:00.123Z");
        let v: serde_json::Value =
            serde_json::from_str(&c.to_credential_process_json(now).unwrap()).unwrap();
        assert_eq!(v["Version"], 1);
        assert_eq!(v["AccessKeyId"], "ASIAEXAMPLE");
        assert_eq!(v["SessionToken"], "token-secret");
        assert_eq!(v["Expiration"], "2026-03-02T10:00:00Z");
        let v: serde_json::Value =
            serde_json::from_str(&c.to_container_json(now).unwrap()).unwrap();
        assert_eq!(v["Token"], "token-secret");
        assert!(v.get("Version").is_none());
        let old = creds("2026-03-02T08:59:59Z");
        assert!(matches!(
            old.to_credential_process_json(now),
            Err(VendError::Expired { .. })
        ));
        assert!(matches!(
            old.to_container_json(now),
            Err(VendError::Expired { .. })
        ));
        assert_eq!(c.remaining(now), Duration::from_millis(3_600_123));
    }

    #[test]
    fn mfa_sessions_stay_within_sts_limits() {
        let h = |s| Duration::from_secs(s);
        assert_eq!(mfa_session_duration(h(60)), MIN_SESSION_DURATION);
        assert_eq!(mfa_session_duration(h(43_200)), h(43_200));
        assert_eq!(
            mfa_session_duration(h(7 * 86_400)),
            MAX_MFA_SESSION_DURATION
        );
    }

    /// A one-endpoint STS stand-in that answers every request with `status`
    /// and `body`; STS configured to call it (no retries).
    #[cfg(feature = "sts")]
    fn canned_sts(status: &str, body: &'static str) -> aws_sdk_sts::Client {
        use std::io::{BufRead as _, BufReader, Read as _, Write as _};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let status = status.to_owned();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                let mut length = 0;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some((k, v)) = line.split_once(':')
                        && k.eq_ignore_ascii_case("content-length")
                    {
                        length = v.trim().parse().unwrap_or(0);
                    }
                }
                let mut request = vec![0; length];
                let _ = reader.read_exact(&mut request);
                let _ = write!(
                    conn,
                    "HTTP/1.1 {status}\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        let config = aws_sdk_sts::Config::builder()
            .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
            .http_client(sentinel_store::aws::https_client())
            .region(aws_sdk_sts::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_sts::config::Credentials::new(
                "AKIAEXAMPLE",
                "secret",
                None,
                None,
                "test",
            ))
            .retry_config(aws_sdk_sts::config::retry::RetryConfig::disabled())
            .endpoint_url(url)
            .build();
        aws_sdk_sts::Client::from_conf(config)
    }

    #[cfg(feature = "sts")]
    fn sts_error(code: &str, message: &str) -> &'static str {
        format!(
            "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>r-1</RequestId></ErrorResponse>"
        )
        .leak()
    }

    #[cfg(feature = "sts")]
    #[tokio::test]
    async fn mfa_session_failures_are_told_apart() {
        let serial = "arn:aws:iam::123456789012:mfa/alice";
        let ask = |client: aws_sdk_sts::Client| async move {
            mfa_session(&client, serial, "123456", Duration::from_secs(3600))
                .await
                .unwrap_err()
        };
        let e = ask(canned_sts(
            "403 Forbidden",
            sts_error(
                "AccessDenied",
                "MultiFactorAuthentication failed with invalid MFA one time pass code.",
            ),
        ))
        .await;
        assert!(
            matches!(&e, MfaSessionError::WrongCode { serial: s, .. } if s == serial),
            "{e:?}"
        );
        assert!(!e.to_string().contains("123456\""), "{e}");
        let e = ask(canned_sts(
            "403 Forbidden",
            sts_error(
                "AccessDenied",
                "Cannot call GetSessionToken with session credentials",
            ),
        ))
        .await;
        assert!(matches!(e, MfaSessionError::AccessDenied { .. }), "{e:?}");
        let e = ask(canned_sts(
            "400 Bad Request",
            sts_error("Throttling", "Rate exceeded"),
        ))
        .await;
        assert!(matches!(e, MfaSessionError::Throttled), "{e:?}");
        let e = ask(canned_sts(
            "403 Forbidden",
            sts_error(
                "ExpiredToken",
                "The security token included in the request is expired",
            ),
        ))
        .await;
        assert!(
            matches!(e, MfaSessionError::ExpiredBaseCredentials { .. }),
            "{e:?}"
        );
    }

    #[cfg(feature = "sts")]
    #[tokio::test]
    async fn mfa_session_returns_the_session_credentials() {
        let client = canned_sts(
            "200 OK",
            "<GetSessionTokenResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><GetSessionTokenResult><Credentials>\
             <SessionToken>session-token</SessionToken><SecretAccessKey>session-secret</SecretAccessKey>\
             <Expiration>2026-03-02T21:00:00Z</Expiration><AccessKeyId>ASIASESSION</AccessKeyId>\
             </Credentials></GetSessionTokenResult><ResponseMetadata><RequestId>r-2</RequestId></ResponseMetadata></GetSessionTokenResponse>",
        );
        let c = mfa_session(
            &client,
            "arn:aws:iam::123456789012:mfa/alice",
            "123456",
            Duration::from_secs(43_200),
        )
        .await
        .unwrap();
        assert_eq!(c.access_key_id, "ASIASESSION");
        assert_eq!(c.secret_access_key, "session-secret");
        assert_eq!(c.session_token, "session-token");
        assert_eq!(
            c.expiration,
            "2026-03-02T21:00:00Z".parse::<Timestamp>().unwrap()
        );
    }

    #[test]
    fn secrets_stay_out_of_debug() {
        let c = creds("2026-03-02T10:00:00Z");
        let d = format!("{c:?}");
        assert!(
            !d.contains("very-secret") && !d.contains("token-secret"),
            "{d}"
        );
        let r = AssumeRoleRequest::new(
            "arn:aws:iam::123456789012:role/x",
            "s",
            "sentinel.a.direct.1",
            MIN_SESSION_DURATION,
        )
        .external_id(Some("ext-secret".into()))
        .mfa("arn:aws:iam::123456789012:mfa/alice", "123456");
        let d = format!("{r:?}");
        assert!(!d.contains("ext-secret") && !d.contains("123456\""), "{d}");
    }
}
