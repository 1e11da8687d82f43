//! Who is calling: the caller's principal and the policy username derived
//! from it (DESIGN §5, step 1).
//!
//! The CLI learns the caller from STS `GetCallerIdentity` with the base
//! credentials (`caller_identity`, with the `sts` feature); the TVM gets the
//! same ARN from the API Gateway request context. Either way the ARN goes
//! through [`parse_principal`] and [`policy_username`], which accept exactly
//! the principals that can hold credentials and call Sentinel:
//!
//! | ARN resource                             | [`PrincipalKind`]  | raw name            |
//! |------------------------------------------|--------------------|---------------------|
//! | `iam::ACCOUNT:user/[path/]NAME`          | `IamUser`          | `NAME`              |
//! | `sts::ACCOUNT:assumed-role/ROLE/SESSION` | `AssumedRole`      | `SESSION`           |
//! | `sts::ACCOUNT:federated-user/NAME`       | `FederatedUser`    | `NAME`              |
//! | `iam::ACCOUNT:root`                      | `Root`             | `root`              |
//!
//! in the partitions `aws`, `aws-cn` and `aws-us-gov`. Roles, groups,
//! policies and everything else are refused: they are not callers.

use std::fmt;

#[cfg(feature = "sts")]
use aws_credential_types::provider::error::CredentialsError;
#[cfg(feature = "sts")]
use aws_sdk_sts::error::{ProvideErrorMetadata, SdkError};
#[cfg(feature = "sts")]
use aws_sdk_sts::operation::get_caller_identity::GetCallerIdentityError;

/// Longest policy username (see [`policy_username`]).
pub const MAX_POLICY_USERNAME_LEN: usize = 20;

/// Longest raw name accepted in an ARN (IAM user names and role session
/// names are at most 64 characters).
const MAX_RAW_NAME_LEN: usize = 64;

/// Partitions Sentinel accepts.
const PARTITIONS: [&str; 3] = ["aws", "aws-cn", "aws-us-gov"];

/// Longest value quoted back in an error message.
const MAX_QUOTED: usize = 200;

/// What went wrong while finding out who the caller is.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IdentityError {
    /// The ARN is not a well-formed IAM/STS principal ARN.
    #[error(
        "caller ARN {arn:?} is malformed: {reason}; expected e.g. arn:aws:iam::123456789012:user/alice"
    )]
    InvalidArn {
        /// The offending ARN (cut to a printable length).
        arn: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The ARN is well formed but names something that is not a caller
    /// (a role, a group, another service's resource …).
    #[error(
        "caller ARN {arn:?} names {what}, which cannot call Sentinel; call it with the credentials of an IAM user, an assumed-role session, a federated user or the account root"
    )]
    UnsupportedPrincipal {
        /// The offending ARN (cut to a printable length).
        arn: String,
        /// What the ARN names, e.g. `an IAM role`.
        what: String,
    },
    /// The caller's name has no ASCII letters or digits left after reduction.
    #[error(
        "caller name {name:?} (from {arn:?}) has no ASCII letters or digits, so it has no policy username; use an IAM user or role session name that contains letters or digits"
    )]
    EmptyUsername {
        /// The caller's raw name.
        name: String,
        /// The ARN it came from.
        arn: String,
    },
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

/// The kind of principal an ARN names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PrincipalKind {
    /// An IAM user (`arn:aws:iam::ACCOUNT:user/[path/]NAME`).
    IamUser,
    /// A role session (`arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`);
    /// the raw name is the session name.
    AssumedRole,
    /// A federated user (`arn:aws:sts::ACCOUNT:federated-user/NAME`).
    FederatedUser,
    /// The account root user (`arn:aws:iam::ACCOUNT:root`).
    Root,
}

impl PrincipalKind {
    /// A short lowercase name, as logged (`iam_user`, `assumed_role`, …).
    pub const fn as_str(self) -> &'static str {
        match self {
            PrincipalKind::IamUser => "iam_user",
            PrincipalKind::AssumedRole => "assumed_role",
            PrincipalKind::FederatedUser => "federated_user",
            PrincipalKind::Root => "root",
        }
    }
}

impl fmt::Display for PrincipalKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

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
    /// The principal kind and raw name of [`CallerIdentity::arn`]
    /// (see [`parse_principal`]).
    pub fn principal(&self) -> Result<(PrincipalKind, String)> {
        parse_principal(&self.arn)
    }

    /// The policy username of [`CallerIdentity::arn`] (see
    /// [`policy_username`]).
    pub fn policy_username(&self) -> Result<String> {
        policy_username(&self.arn)
    }
}

fn quoted(s: &str) -> String {
    s.chars().take(MAX_QUOTED).collect()
}

fn invalid(arn: &str, reason: impl Into<String>) -> IdentityError {
    IdentityError::InvalidArn {
        arn: quoted(arn),
        reason: reason.into(),
    }
}

fn unsupported(arn: &str, what: impl Into<String>) -> IdentityError {
    IdentityError::UnsupportedPrincipal {
        arn: quoted(arn),
        what: what.into(),
    }
}

/// Characters AWS allows in IAM user names, role names and role session
/// names: ASCII letters, digits and `_+=,.@-`.
fn is_iam_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_+=,.@-".contains(c)
}

fn check_name(arn: &str, what: &str, name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(invalid(arn, format!("the {what} is empty")));
    }
    if name.chars().count() > MAX_RAW_NAME_LEN {
        return Err(invalid(
            arn,
            format!("the {what} is longer than {MAX_RAW_NAME_LEN} characters"),
        ));
    }
    if !name.chars().all(is_iam_name_char) {
        return Err(invalid(
            arn,
            format!("the {what} may only contain ASCII letters, digits and _+=,.@-"),
        ));
    }
    Ok(())
}

/// Splits a caller ARN into its principal kind and raw name.
///
/// The raw name is the IAM user name (without path), the role session
/// name, the federated user name, or `root`. See the module docs for the
/// accepted forms. Anything else — a role or group ARN, another service, an
/// unknown partition, a region where IAM/STS ARNs have none, an account id
/// that is not 12 digits, names with characters AWS does not allow — is an
/// error.
///
/// ```
/// use sentinel_vend::identity::{parse_principal, PrincipalKind};
/// let (kind, name) =
///     parse_principal("arn:aws:sts::123456789012:assumed-role/Dev/alice@example.com").unwrap();
/// assert_eq!(kind, PrincipalKind::AssumedRole);
/// assert_eq!(name, "alice@example.com");
/// ```
pub fn parse_principal(arn: &str) -> Result<(PrincipalKind, String)> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [prefix, partition, service, region, account, resource] = parts[..] else {
        return Err(invalid(
            arn,
            "it does not have the six parts arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE",
        ));
    };
    if prefix != "arn" {
        return Err(invalid(arn, "it does not start with \"arn:\""));
    }
    if !PARTITIONS.contains(&partition) {
        return Err(invalid(
            arn,
            format!(
                "partition {:?} is not one of aws, aws-cn, aws-us-gov",
                quoted(partition)
            ),
        ));
    }
    if service != "iam" && service != "sts" {
        return Err(unsupported(
            arn,
            format!("a resource of service {:?}", quoted(service)),
        ));
    }
    if !region.is_empty() {
        return Err(invalid(arn, "IAM and STS principal ARNs have no region"));
    }
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid(arn, "the account id is not 12 digits"));
    }
    let segments: Vec<&str> = resource.split('/').collect();
    match (service, segments.as_slice()) {
        ("iam", ["root"]) => Ok((PrincipalKind::Root, "root".to_owned())),
        ("iam", ["user", .., name]) => {
            check_name(arn, "user name", name)?;
            if segments[1..segments.len() - 1]
                .iter()
                .any(|p| p.is_empty() || !p.chars().all(|c| c.is_ascii_graphic()))
            {
                return Err(invalid(arn, "the user's path is malformed"));
            }
            Ok((PrincipalKind::IamUser, (*name).to_owned()))
        }
        ("sts", ["assumed-role", role, session]) => {
            check_name(arn, "role name", role)?;
            check_name(arn, "role session name", session)?;
            Ok((PrincipalKind::AssumedRole, (*session).to_owned()))
        }
        ("sts", ["federated-user", name]) => {
            check_name(arn, "federated user name", name)?;
            Ok((PrincipalKind::FederatedUser, (*name).to_owned()))
        }
        ("iam", ["role", ..]) => Err(unsupported(
            arn,
            "an IAM role (a role is assumed, it does not call; use the assumed-role session's ARN)",
        )),
        ("iam", ["group", ..]) => Err(unsupported(arn, "an IAM group")),
        (_, [kind, ..]) => Err(unsupported(
            arn,
            format!("an {service} resource of type {:?}", quoted(kind)),
        )),
        _ => Err(invalid(arn, "the resource is empty")),
    }
}

/// Reduces a raw caller name to a policy username: ASCII letters and digits
/// only, lowercased, cut to [`MAX_POLICY_USERNAME_LEN`] characters.
///
/// This is the same rule as `sentinel_approval::normalize_username`, so the
/// name a policy matches is also the key the approval workflow uses to
/// recognise the same person. The result may be empty.
pub fn reduce_name(raw: &str) -> String {
    raw.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .take(MAX_POLICY_USERNAME_LEN)
        .collect()
}

/// The policy username of a caller ARN (DESIGN §5 step 1).
///
/// The raw name from [`parse_principal`] (IAM user name, role session
/// name, federated user name; `root` for the account root) is reduced by
/// [`reduce_name`]: everything but ASCII letters and digits is dropped,
/// letters are lowercased (IAM names are case-insensitive), and the result
/// is cut to 20 characters. Examples:
///
/// | raw name                        | policy username        |
/// |---------------------------------|------------------------|
/// | `alice`                         | `alice`                |
/// | `Alice.Smith`                   | `alicesmith`           |
/// | `alice@example.com`             | `aliceexamplecom`      |
/// | `bob-the-builder@corp.example.com` | `bobthebuildercorpexa` |
///
/// Policies therefore list lowercase letters-and-digits names. Two callers
/// whose names reduce alike are the same policy user; name IAM users and
/// role sessions so that this does not happen. A name that reduces to
/// nothing (e.g. `_-_`) is an error.
///
/// ```
/// use sentinel_vend::identity::policy_username;
/// let user = policy_username("arn:aws:sts::123456789012:assumed-role/Dev/alice@example.com");
/// assert_eq!(user.unwrap(), "aliceexamplecom");
/// ```
pub fn policy_username(arn: &str) -> Result<String> {
    let (kind, raw) = parse_principal(arn)?;
    if kind == PrincipalKind::Root {
        return Ok("root".to_owned());
    }
    let user = reduce_name(&raw);
    if user.is_empty() {
        return Err(IdentityError::EmptyUsername {
            name: raw,
            arn: quoted(arn),
        });
    }
    Ok(user)
}

/// Asks STS who the base credentials belong to (`GetCallerIdentity`).
///
/// The answer is checked with [`parse_principal`], so a successful result
/// always has a usable principal. Failures are mapped to errors that say
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
    parse_principal(&arn)?;
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
#[cfg(feature = "sts")]
fn chain(err: &(dyn std::error::Error + 'static)) -> String {
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn reduce_agrees_with_approval_normalization() {
        for s in [
            "alice",
            "Alice.Smith",
            "alice@example.com",
            "_-_",
            "ÄlïcΣ42",
            "a.very.long.name.with.many.parts@example.com",
        ] {
            assert_eq!(reduce_name(s), sentinel_approval::normalize_username(s));
        }
    }

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
