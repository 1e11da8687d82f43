//! Who is calling: the caller's principal as STS reports it
//! (ARCHITECTURE.md, step 2 of a request).
//!
//! The CLI learns the caller from STS `GetCallerIdentity` with the base
//! credentials (`caller_identity`, with the `sts` feature); the TVM gets
//! the same ARN from the API Gateway request context. Either way the ARN is
//! parsed into a [`Principal`], and the policy of the profile asked for
//! decides which username, if any, the principal has
//! ([`CompiledPolicy::identify`](sentinel_policy::CompiledPolicy::identify)):
//! a name the caller picked (a role session name of a role anyone may
//! assume) is never an identity.

#[cfg(feature = "sts")]
use std::fmt;

pub use sentinel_policy::{Principal, PrincipalError, PrincipalKind};

#[cfg(feature = "sts")]
use aws_credential_types::provider::error::CredentialsError;
#[cfg(feature = "sts")]
use aws_sdk_sts::error::{ProvideErrorMetadata, SdkError};
#[cfg(feature = "sts")]
use aws_sdk_sts::operation::get_caller_identity::GetCallerIdentityError;

/// Longest value quoted back in an error message.
#[cfg(feature = "sts")]
const MAX_QUOTED: usize = 200;

/// What went wrong while finding out who the caller is.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IdentityError {
    /// STS answered with an ARN that is not a caller Sentinel accepts.
    #[error(transparent)]
    Principal(#[from] PrincipalError),
    /// No base credentials could be found.
    #[error(
        "no AWS base credentials found; configure base credentials: aws configure / AWS_PROFILE (or aws sso login for an SSO profile); {detail}"
    )]
    NoCredentials {
        /// What the credential chain reported, whole: `tried:` and then
        /// one line per provider (`  Environment: environment variable not
        /// set`), each line with the provider's full cause.
        detail: String,
    },
    /// The base credentials could not be loaded for a reason other than
    /// their absence (bad profile, failing credential_process, SSO token …).
    #[error(
        "could not load AWS base credentials: {detail}; fix the base profile (check AWS_PROFILE and ~/.aws/config, or run aws sso login)"
    )]
    CredentialsUnavailable {
        /// What the credential chain reported.
        detail: String,
    },
    /// The base credentials' session token has expired.
    #[error(
        "the AWS base credentials have expired ({code}); refresh them (aws sso login, or new temporary credentials) and try again"
    )]
    ExpiredToken {
        /// The STS error code.
        code: String,
    },
    /// STS does not recognise the base credentials.
    #[error(
        "STS rejected the AWS base credentials ({code}); check the access key and secret (aws configure list) and the system clock"
    )]
    InvalidCredentials {
        /// The STS error code.
        code: String,
    },
    /// The caller may not call `GetCallerIdentity`.
    #[error(
        "STS denied GetCallerIdentity to the base credentials ({code}: {message}); check the identity's policies and any SCP or permissions boundary"
    )]
    AccessDenied {
        /// The STS error code.
        code: String,
        /// The STS error message.
        message: String,
    },
    /// STS throttled the request.
    #[error("STS throttled GetCallerIdentity ({code}); wait a moment and try again")]
    Throttled {
        /// The STS error code.
        code: String,
    },
    /// STS could not be reached or did not answer in time.
    #[error(
        "could not reach STS ({detail}); check the network, proxy settings, AWS_REGION and AWS_ENDPOINT_URL, then try again"
    )]
    Network {
        /// What the transport reported.
        detail: String,
    },
    /// STS answered without a field Sentinel needs.
    #[error(
        "STS GetCallerIdentity answered without {field}; try again, and report this if it persists"
    )]
    IncompleteResponse {
        /// The missing field.
        field: &'static str,
    },
    /// Any other STS failure.
    #[error(
        "STS GetCallerIdentity failed: {detail}; try again, and check the base credentials if it persists"
    )]
    Sts {
        /// What STS or the SDK reported.
        detail: String,
    },
}

/// Result of this module's operations.
pub type Result<T, E = IdentityError> = std::result::Result<T, E>;

/// The caller as STS reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerIdentity {
    /// The 12-digit account id.
    pub account: String,
    /// The caller's ARN.
    pub arn: String,
    /// The unique id (`AIDA…`, `AROA…:session`, …).
    pub user_id: String,
}

impl CallerIdentity {
    /// The principal behind [`CallerIdentity::arn`].
    pub fn principal(&self) -> Result<Principal> {
        Ok(Principal::parse(&self.arn)?)
    }
}

#[cfg(feature = "sts")]
fn quoted(s: &str) -> String {
    s.chars().take(MAX_QUOTED).collect()
}

/// Asks STS who the base credentials belong to (`GetCallerIdentity`).
///
/// The answer is checked with [`Principal::parse`], so a successful
/// result always has a usable principal. Failures are mapped to errors that say
/// what to do: missing credentials, expired or rejected credentials,
/// access denied, throttling, network trouble.
#[cfg(feature = "sts")]
pub async fn caller_identity(client: &aws_sdk_sts::Client) -> Result<CallerIdentity> {
    let (client, endpoint) = crate::vendor::recording(client.clone());
    let out = client
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| map_sdk_error(e, &endpoint))?;
    let account = out
        .account
        .ok_or(IdentityError::IncompleteResponse { field: "Account" })?;
    let arn = out
        .arn
        .ok_or(IdentityError::IncompleteResponse { field: "Arn" })?;
    let user_id = out
        .user_id
        .ok_or(IdentityError::IncompleteResponse { field: "UserId" })?;
    Principal::parse(&arn)?;
    Ok(CallerIdentity {
        account,
        arn,
        user_id,
    })
}

/// The first `CredentialsError` in an error's source chain.
#[cfg(feature = "sts")]
fn find_credentials_error<'a>(
    err: &'a (dyn std::error::Error + 'static),
) -> Option<&'a CredentialsError> {
    let mut cur = Some(err);
    while let Some(e) = cur {
        if let Some(c) = e.downcast_ref::<CredentialsError>() {
            return Some(c);
        }
        cur = e.source();
    }
    None
}

/// The messages of an error and its sources, joined with `: `, whole
/// (never cut: a cause is shortened by structure, see
/// [`credentials_detail`], not by length). Repeats are dropped.
#[cfg(any(feature = "sts", feature = "client"))]
pub(crate) fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut cur = err.source();
    while let Some(e) = cur {
        let s = e.to_string();
        if !out.contains(&s) {
            out.push_str(": ");
            out.push_str(&s);
        }
        cur = e.source();
    }
    out
}

/// The cause of a credential provider's error: its sources' messages
/// (the `CredentialsError` itself only says "the credential provider was
/// not enabled" and the like), or its own message when it has none.
#[cfg(feature = "sts")]
fn provider_cause(err: &CredentialsError) -> String {
    match std::error::Error::source(err) {
        Some(source) => one_line(&chain(source)),
        None => one_line(&err.to_string()),
    }
}

/// Whitespace (newlines included) collapsed to single spaces.
#[cfg(feature = "sts")]
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// What a credential chain reported, whole: when it tried several
/// providers, `tried:` and one line per provider (`  NAME: cause`);
/// otherwise the error's causes on one line.
#[cfg(feature = "sts")]
fn credentials_detail(err: &CredentialsError) -> String {
    use aws_config::meta::ProviderChainError;
    let chain_error = std::error::Error::source(err)
        .and_then(|s| s.downcast_ref::<ProviderChainError<CredentialsError>>());
    match chain_error {
        Some(c) if !c.attempts().is_empty() => {
            let mut out = String::from("tried:");
            for attempt in c.attempts() {
                out.push_str("\n  ");
                out.push_str(attempt.name());
                out.push_str(": ");
                out.push_str(&provider_cause(attempt.error()));
            }
            out
        }
        _ => provider_cause(err),
    }
}

/// Maps a failed `GetCallerIdentity` call to an actionable error.
#[cfg(feature = "sts")]
fn map_sdk_error<R>(
    err: SdkError<GetCallerIdentityError, R>,
    endpoint: &sentinel_store::aws::EndpointRecorder,
) -> IdentityError
where
    R: fmt::Debug + Send + Sync + 'static,
{
    if let Some(c) = find_credentials_error(&err) {
        let detail = credentials_detail(c);
        return match c {
            CredentialsError::CredentialsNotLoaded(_) => IdentityError::NoCredentials { detail },
            _ => IdentityError::CredentialsUnavailable { detail },
        };
    }
    match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => IdentityError::Network {
            detail: sentinel_store::aws::no_answer("STS", endpoint, &err)
                .unwrap_or_else(|| chain(&err)),
        },
        SdkError::ServiceError(se) => {
            let e = se.err();
            let code = e.code().unwrap_or("Unknown").to_owned();
            let message = quoted(e.message().unwrap_or_default());
            match code.as_str() {
                "ExpiredToken" | "ExpiredTokenException" | "RequestExpired" => {
                    IdentityError::ExpiredToken { code }
                }
                "InvalidClientTokenId"
                | "SignatureDoesNotMatch"
                | "UnrecognizedClientException"
                | "IncompleteSignature"
                | "InvalidAccessKeyId" => IdentityError::InvalidCredentials { code },
                "AccessDenied" | "AccessDeniedException" => {
                    IdentityError::AccessDenied { code, message }
                }
                "Throttling" | "ThrottlingException" | "RequestLimitExceeded" => {
                    IdentityError::Throttled { code }
                }
                _ => IdentityError::Sts {
                    detail: format!("{code}: {message}"),
                },
            }
        }
        _ => IdentityError::Sts {
            detail: chain(&err),
        },
    }
}

#[cfg(all(test, feature = "sts"))]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[cfg(feature = "sts")]
    #[test]
    fn chain_deduplicates() {
        let e = std::io::Error::other("boom");
        assert_eq!(chain(&e), "boom");
    }

    /// The default chain with no credentials anywhere: the whole cause of
    /// every provider, one line each, nothing cut.
    #[cfg(feature = "sts")]
    #[tokio::test]
    async fn no_credentials_lists_every_provider_whole() {
        use aws_config::meta::credentials::CredentialsProviderChain;
        use aws_credential_types::provider::{ProvideCredentials, future};

        #[derive(Debug)]
        struct Fails(&'static str);
        impl ProvideCredentials for Fails {
            fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
            where
                Self: 'a,
            {
                future::ProvideCredentials::ready(Err(CredentialsError::not_loaded(self.0)))
            }
        }
        let long = "profile file not found: could not read /home/someone/with/a/rather/long/path/to/the/aws/config/file/that/goes/on/and/on/for/a/while/config (No such file or directory)";
        let chain = CredentialsProviderChain::first_try(
            "Environment",
            Fails("environment variable not set"),
        )
        .or_else("Profile", Fails(long))
        .or_else(
            "WebIdentityToken",
            Fails("$AWS_WEB_IDENTITY_TOKEN_FILE was not set"),
        )
        .or_else("EcsContainer", Fails("ECS provider not configured"))
        .or_else("Ec2InstanceMetadata", Fails("IMDS is disabled"));
        let err = chain.provide_credentials().await.unwrap_err();
        let detail = credentials_detail(&err);
        let lines: Vec<&str> = detail.lines().collect();
        assert_eq!(
            lines,
            [
                "tried:",
                "  Environment: environment variable not set",
                &format!("  Profile: {long}"),
                "  WebIdentityToken: $AWS_WEB_IDENTITY_TOKEN_FILE was not set",
                "  EcsContainer: ECS provider not configured",
                "  Ec2InstanceMetadata: IMDS is disabled",
            ]
        );
        let shown = IdentityError::NoCredentials { detail }.to_string();
        assert!(
            shown.starts_with("no AWS base credentials found;"),
            "{shown}"
        );
        assert!(shown.ends_with("(No such file or directory)\n  WebIdentityToken: $AWS_WEB_IDENTITY_TOKEN_FILE was not set\n  EcsContainer: ECS provider not configured\n  Ec2InstanceMetadata: IMDS is disabled"), "{shown}");
    }
}
